"""A new account's quota (10, LocalCloud's default) leaves nothing to reserve: a stack whose
function reserves concurrency fails to deploy, naming the function, with Lambda's message."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def refused(local_cloud, fixture_assembly) -> str:
    with pytest.raises(RuntimeError) as raised:
        local_cloud.deploy(fixture_assembly, "ReservedFixture")
    return str(raised.value)


def test_a_reservation_a_new_account_cannot_give_fails_the_stack_naming_the_function(refused, fixture_assembly):
    assert "ReservedFixture: ROLLBACK_COMPLETE" in refused
    assert "Capped" in refused.split("ROLLBACK_COMPLETE", 1)[1]
    assert "decreases account's UnreservedConcurrentExecution below its minimum value of [10]" in refused


def test_the_failed_stack_is_rolled_back_as_cloudformation_reports_it(refused, local_cloud):
    events = local_cloud.client("cloudformation").describe_stack_events(StackName="ReservedFixture")["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [(e["ResourceType"], e["LogicalResourceId"].startswith("Capped")) for e in failed] == [
        ("AWS::Lambda::Function", True)
    ]
    statuses = [e["ResourceStatus"] for e in events if e["ResourceType"] == "AWS::CloudFormation::Stack"]
    assert "ROLLBACK_COMPLETE" in statuses


def test_stacks_without_reservations_deploy_into_the_same_account(refused, deploy, fixture_assembly):
    assert deploy(fixture_assembly, "ThrottleFixture").invoke("Double", {"value": 1}) == ({"value": 2}, None)


def test_a_failed_stack_holds_no_functions_and_no_reservations(refused, local_cloud):
    cloudformation = local_cloud.client("cloudformation")
    cloudformation.describe_stacks(StackName="ReservedFixture")  # a read must not create what was rolled back
    assert cloudformation.list_stack_resources(StackName="ReservedFixture")["StackResourceSummaries"] == []
    assert local_cloud.concurrency.reserved_total() == 0
    assert local_cloud.concurrency.unreserved_limit() == 10
