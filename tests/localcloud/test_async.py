"""Emulated asynchronous invoke, driven by each function's EventInvokeConfig and DeadLetterConfig."""

from __future__ import annotations

import pytest

from localcloud import Deployment


@pytest.fixture(scope="module")
def stack(deploy, fixture_assembly) -> Deployment:
    return deploy(fixture_assembly, "AsyncFixture")


@pytest.fixture(autouse=True)
def empty_queues(stack):
    yield
    for queue in ("Evidence", "Succeeded", "Failed", "DeadLetters"):
        stack.messages(queue)


def attempts(stack: Deployment, function_prefix: str) -> int:
    name = stack.function_name(function_prefix)
    return sum(
        1 for m in stack.messages("Evidence") if m["body"]["function"] == name and m["body"]["kind"] == "attempt"
    )


def test_event_invoke_is_accepted_with_202(stack):
    assert stack.invoke_async("RetryTwice", {"id": "ok-1"}) == 202
    stack.settle()


def test_success_goes_to_the_on_success_destination(stack):
    stack.invoke_async("RetryTwice", {"id": "ok-2"})
    stack.settle()
    assert attempts(stack, "RetryTwice") == 1
    (record,) = [m["body"] for m in stack.messages("Succeeded")]
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"id": "ok-2"}
    assert record["responsePayload"] == {"ok": True, "id": "ok-2"}
    assert stack.messages("Failed") == [] and stack.messages("DeadLetters") == []


@pytest.mark.parametrize(("function", "retry_attempts"), [("RetryTwice", 2), ("RetryNone", 0)])
def test_failure_is_tried_retry_attempts_plus_one_times_then_lands_in_on_failure(stack, function, retry_attempts):
    stack.invoke_async(function, {"id": "bad", "fail": True})
    stack.settle()
    assert attempts(stack, function) == retry_attempts + 1
    (record,) = [m["body"] for m in stack.messages("Failed")]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == retry_attempts + 1
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "asked to fail: bad"
    assert record["requestPayload"] == {"id": "bad", "fail": True}


def test_failure_also_lands_in_the_dead_letter_queue_with_the_error(stack):
    stack.invoke_async("RetryTwice", {"id": "dlq", "fail": True})
    stack.settle()
    (message,) = stack.messages("DeadLetters")
    assert message["body"] == {"id": "dlq", "fail": True}
    assert message["attributes"]["ErrorMessage"]["StringValue"] == "asked to fail: dlq"


def test_function_without_a_dlq_sends_nothing_there(stack):
    stack.invoke_async("RetryNone", {"id": "no-dlq", "fail": True})
    stack.settle()
    assert stack.messages("DeadLetters") == []


def test_event_older_than_maximum_event_age_is_dropped_to_on_failure(stack):
    # Attempts come at 0 s, 60 s and 180 s; a 60-second maximum age allows only the first two.
    stack.invoke_async("ShortLived", {"id": "old", "fail": True})
    stack.settle()
    assert attempts(stack, "ShortLived") == 2
    (record,) = [m["body"] for m in stack.messages("Failed")]
    assert record["requestContext"]["condition"] == "EventAgeExceeded"


def test_held_invocations_are_queued_but_start_only_after_the_block(stack):
    stack.cloud.async_invocations.clear()
    with stack.cloud.hold_async():
        assert stack.invoke_async("RetryTwice", {"id": "held"}) == 202
        (invocation,) = stack.cloud.async_invocations
        assert (invocation.condition, invocation.attempts) == ("Pending", 0)
        assert attempts(stack, "RetryTwice") == 0
    stack.settle()
    assert (invocation.condition, invocation.attempts) == ("Success", 1)
    assert attempts(stack, "RetryTwice") == 1
