"""The small seeded soak of ApiSync (tests/soak/api_sync.py): its books balance under faults."""

from tests.soak import api_sync
from tests.soak.engine import small_soak


def test_the_books_balance_under_seeded_faults(cloud_assembly):
    small_soak(api_sync, cloud_assembly.directory, seed=21, count=150)
