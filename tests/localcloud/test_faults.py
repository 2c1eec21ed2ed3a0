"""Injected failures: evidence for retry and exactly-once tests of the patterns.

The probe writes an "attempt" to an evidence queue each time its handler really runs, so these
tests count handler runs independently of the fault's own bookkeeping.
"""

from __future__ import annotations

import pytest

from localcloud import Deployment


@pytest.fixture(scope="module")
def stack(deploy, fixture_assembly) -> Deployment:
    return deploy(fixture_assembly, "AsyncFixture")


@pytest.fixture(autouse=True)
def empty_queues(stack):
    yield
    stack.cloud.runtime.faults.clear()
    for queue in ("Evidence", "Succeeded", "Failed", "DeadLetters"):
        stack.messages(queue)


def handler_runs(stack: Deployment) -> list[dict]:
    return [m["body"]["payload"] for m in stack.messages("Evidence") if m["body"]["kind"] == "attempt"]


def test_a_failure_before_the_handler_is_retried_and_the_handler_runs_once(stack):
    fault = stack.inject_failure("RetryTwice", times=1, error_type="TransientError", message="cold start crashed")
    stack.invoke_async("RetryTwice", {"id": "f-1"})
    (invocation,) = stack.settle()[-1:]
    assert (invocation.attempts, invocation.condition) == (2, "Success")
    assert fault.injected == 1
    assert handler_runs(stack) == [{"id": "f-1"}]
    (record,) = [m["body"] for m in stack.messages("Succeeded")]
    assert record["requestContext"]["approximateInvokeCount"] == 2


def test_a_failure_after_the_handler_keeps_its_side_effects_and_is_retried(stack):
    stack.inject_failure("RetryTwice", times=1, after_handler=True, error_type="Sandbox.Timedout")
    stack.invoke_async("RetryTwice", {"id": "f-2"})
    stack.settle()
    assert handler_runs(stack) == [{"id": "f-2"}, {"id": "f-2"}]  # the work ran, the retry ran it again
    assert [m["body"]["requestContext"]["approximateInvokeCount"] for m in stack.messages("Succeeded")] == [2]


def test_a_synchronous_invoke_reports_the_injected_error(stack):
    stack.inject_failure("RetryNone", error_type="Lambda.ServiceException", message="boom")
    payload, error = stack.invoke("RetryNone", {"id": "f-3"})
    assert error == "Unhandled"
    assert (payload["errorType"], payload["errorMessage"]) == ("Lambda.ServiceException", "boom")
    assert handler_runs(stack) == []
    payload, error = stack.invoke("RetryNone", {"id": "f-4"})  # used up: the next call runs
    assert error is None and payload == {"ok": True, "id": "f-4"}


def test_when_selects_which_events_fail(stack):
    stack.inject_failure("RetryNone", times=5, when=lambda event: event.get("id") == "chosen")
    assert stack.invoke("RetryNone", {"id": "other"})[1] is None
    assert stack.invoke("RetryNone", {"id": "chosen"})[1] == "Unhandled"
    assert handler_runs(stack) == [{"id": "other"}]


def test_failures_exhausting_retries_reach_the_failure_destination(stack):
    fault = stack.inject_failure("RetryTwice", times=3)
    stack.invoke_async("RetryTwice", {"id": "f-5"})
    stack.settle()
    assert fault.injected == 3
    (record,) = [m["body"] for m in stack.messages("Failed")]
    assert record["responsePayload"]["errorType"] == "TransientError"
    assert handler_runs(stack) == []


def test_an_injected_throttle_is_a_429_to_a_synchronous_caller_and_the_handler_does_not_run(stack):
    from botocore.exceptions import ClientError

    name = stack.function_name("RetryNone")
    before = stack.cloud.concurrency.throttles.get(name, 0)
    fault = stack.inject_failure("RetryNone", throttle=True)
    with pytest.raises(ClientError) as refused:
        stack.invoke("RetryNone", {"id": "t-1"})
    assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert fault.injected == 1 and stack.cloud.concurrency.throttles[name] == before + 1
    assert handler_runs(stack) == []
    assert stack.cloud.concurrency.in_flight.get(name, 0) == 0  # no slot was taken, none is leaked


def test_an_injected_throttle_makes_an_async_event_wait_and_run_once_without_spending_a_retry(stack):
    stack.inject_failure("RetryTwice", throttle=True, times=2)
    stack.cloud.async_invocations.clear()
    stack.invoke_async("RetryTwice", {"id": "t-2"})
    (invocation,) = stack.settle()
    assert (invocation.throttles, invocation.attempts, invocation.condition) == (2, 1, "Success")
    assert handler_runs(stack) == [{"id": "t-2"}]
