"""The small seeded soak of StreamJob (tests/soak/stream_job.py): its books balance under faults."""

from tests.soak import stream_job
from tests.soak.engine import small_soak


def test_the_books_balance_under_seeded_faults(cloud_assembly):
    small_soak(stream_job, cloud_assembly.directory, seed=23, count=20)
