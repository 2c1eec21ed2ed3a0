"""The small seeded soak of ExpressWorkflow (tests/soak/express_workflow.py): its books balance under faults."""

from tests.soak import express_workflow
from tests.soak.engine import small_soak


def test_the_books_balance_under_seeded_faults(cloud_assembly):
    small_soak(express_workflow, cloud_assembly.directory, seed=24, count=20)
