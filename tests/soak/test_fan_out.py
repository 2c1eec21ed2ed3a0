"""The small seeded soak of FanOut (tests/soak/fan_out.py): its books balance under faults."""

from tests.soak import fan_out
from tests.soak.engine import small_soak


def test_the_books_balance_under_seeded_faults(cloud_assembly):
    small_soak(fan_out, cloud_assembly.directory, seed=57, count=7)
