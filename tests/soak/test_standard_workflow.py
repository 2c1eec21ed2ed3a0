"""The small seeded soak of StandardWorkflow (tests/soak/standard_workflow.py): its books balance
under faults. A run this small drives the app's own stack (see the driver)."""

from tests.soak import standard_workflow
from tests.soak.engine import small_soak


def test_the_books_balance_under_seeded_faults(cloud_assembly):
    small_soak(standard_workflow, cloud_assembly.directory, seed=22, count=3)
