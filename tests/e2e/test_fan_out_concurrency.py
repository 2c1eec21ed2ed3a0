"""FanOut in a new account (the local cloud's default quota of 10 concurrent executions).

A reserved child (the old default, 10) cannot deploy there: Lambda keeps all ten unreserved. With
no reservation it deploys, and a batch of more chunks than there are free slots completes: the
throttled chunks wait in Lambda's queue and run as slots free, spending no retry. That is why the
child alarms on events at risk (their age), not on throttles (tests/templates/test_fan_out.py)."""

from __future__ import annotations

import pytest

from localcloud import Deployment
from localcloud.concurrency import NEW_ACCOUNT_LIMIT
from tests.conftest import cdk_context, synthesized_once
from tests.e2e.test_fan_out import children, sales, status, submit
from tests.oracles import sales_report

OLD_DEFAULT_RESERVATION = 10


@pytest.fixture(scope="module")
def localcloud_options():
    # More workers than the account has slots, so chunks beyond them are throttled, as in Lambda;
    # 5 s ticks of throttled waiting (a freed slot retries at once): the child's 1-hour event age is
    # 100 s of held time away, far beyond what a loaded machine takes to start ten chunks.
    return {"async_workers": NEW_ACCOUNT_LIMIT + 2, "throttle_tick": 5.0}


@pytest.fixture(scope="module")
def reserved_assembly(tmp_path_factory: pytest.TempPathFactory) -> str:
    """FanOut as it was: the child reserving 10."""

    def synth(outdir: str) -> None:
        from aws_cdk import App

        from stacks.fan_out import FanOutStack

        app = App(outdir=outdir, context=cdk_context(), analytics_reporting=False)
        FanOutStack(app, "FanOutReserved", child_concurrency=OLD_DEFAULT_RESERVATION)
        app.synth()

    return str(synthesized_once(tmp_path_factory, "fan-out-reserved.out", synth))


def test_with_the_child_reserving_ten_fanout_cannot_deploy_into_a_new_account(local_cloud, reserved_assembly):
    with pytest.raises(RuntimeError) as raised:
        local_cloud.deploy(reserved_assembly, "FanOutReserved")
    message = str(raised.value)
    assert "FanOutReserved: ROLLBACK_COMPLETE" in message
    assert "ChildFunction" in message.split("ROLLBACK_COMPLETE", 1)[1]
    assert "UnreservedConcurrentExecution below its minimum value of [10]" in message


@pytest.fixture(scope="module")
def stack(deploy, cloud_assembly) -> Deployment:
    return deploy(cloud_assembly.directory, "FanOut")


def test_with_no_reservation_fanout_deploys_and_a_batch_throttled_on_the_way_completes(stack):
    items = sales(1234)  # 13 chunks
    # Every chunk is held once it runs: whichever ten start first take every slot of the account,
    # so the others are throttled whatever order the workers pick them in.
    with stack.hold_invocations(
        "ChildFunction", when=lambda event: isinstance(event, dict) and "chunk" in event
    ) as held:
        batch_id = submit(stack, items)
        held.wait_for(NEW_ACCOUNT_LIMIT)  # ten chunks take every slot of the account
        stack.cloud.wait_for(lambda: any(i.condition == "Throttled" for i in children(stack)), what="a throttled chunk")
    stack.settle()
    view = status(stack, batch_id)
    assert (view["status"], view["chunks_done"], view["chunks_total"]) == ("complete", 13, 13)
    assert view["result"] == sales_report(items)
    runs = children(stack)
    assert {(i.condition, i.attempts) for i in runs} == {("Success", 1)}, "a throttle spent no retry"
    assert sum(i.throttles for i in runs) >= 1
