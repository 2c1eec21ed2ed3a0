"""The small seeded soak of Webhook (tests/soak/webhook.py): its books balance under faults."""

from tests.soak import webhook
from tests.soak.engine import small_soak


def test_the_books_balance_under_seeded_faults(cloud_assembly):
    small_soak(webhook, cloud_assembly.directory, seed=22, count=80)
