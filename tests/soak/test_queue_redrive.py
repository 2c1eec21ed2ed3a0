"""The small seeded soak of QueueRedrive (tests/soak/queue_redrive.py): its books balance under faults."""

from tests.soak import queue_redrive
from tests.soak.engine import small_soak


def test_the_books_balance_under_seeded_faults(cloud_assembly):
    small_soak(queue_redrive, cloud_assembly.directory, seed=21, count=60)
