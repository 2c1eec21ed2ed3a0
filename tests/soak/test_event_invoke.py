"""The small seeded soak of EventInvoke (tests/soak/event_invoke.py): its books balance under faults."""

from tests.soak import event_invoke
from tests.soak.engine import small_soak


def test_the_books_balance_under_seeded_faults(cloud_assembly):
    small_soak(event_invoke, cloud_assembly.directory, seed=21, count=50)
