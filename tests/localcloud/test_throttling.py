"""The account's concurrency limit (a new account's 10, the default): what each way in gets when
every slot is taken. Slots are taken by real invocations held in flight (`hold_invocations`),
never by sleeping; every wait polls an outcome with a deadline."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from localcloud import Deployment
from localcloud.concurrency import NEW_ACCOUNT_LIMIT, Hold
from tests.localcloud import rendezvous
from tests.localcloud.fixture_app import MAPPING_MAX_CONCURRENCY


@pytest.fixture(scope="module")
def localcloud_options():
    # Enough workers to fill the account with held async invocations and still run one more.
    # A throttled event's age grows one backoff step per tick of real time while no slot frees:
    # 0.25 s ticks age the 6-hour events past their maximum only after 20 s (a stalled test thread
    # never expires them by accident), and the short-lived function's 60 s in under 2 s.
    return {"async_workers": NEW_ACCOUNT_LIMIT + 2, "throttle_tick": 0.25}


@pytest.fixture(scope="module")
def stack(deploy, fixture_assembly) -> Deployment:
    return deploy(fixture_assembly, "ThrottleFixture")


@pytest.fixture(autouse=True)
def fresh(stack):
    stack.cloud.async_invocations.clear()
    rendezvous.reset(1)
    yield
    stack.settle()
    for queue in ("Evidence", "Failed", "DeadLetters", "Work"):
        stack.messages(queue)


@contextlib.contextmanager
def fill_the_account(stack: Deployment) -> Iterator[Hold]:
    """NEW_ACCOUNT_LIMIT async invocations of Open held in flight while the block runs."""
    with stack.hold_invocations("Open") as held:
        for i in range(NEW_ACCOUNT_LIMIT):
            stack.invoke_async("Open", {"id": f"held-{i}"})
        held.wait_for(NEW_ACCOUNT_LIMIT)
        yield held


def throttle_reason(error: ClientError) -> tuple[int, str, str]:
    return (
        error.response["ResponseMetadata"]["HTTPStatusCode"],
        error.response["Error"]["Code"],
        error.response.get("Reason", ""),
    )


def attempts(stack: Deployment, function_prefix: str) -> list[dict]:
    name = stack.function_name(function_prefix)
    return [
        m["body"]["payload"]
        for m in stack.messages("Evidence")
        if m["body"]["function"] == name and m["body"]["kind"] == "attempt"
    ]


def test_with_every_slot_taken_a_synchronous_invoke_of_any_function_gets_429(stack):
    with fill_the_account(stack):
        with pytest.raises(ClientError) as raised:
            stack.invoke("Double", {"value": 2})
        assert throttle_reason(raised.value) == (429, "TooManyRequestsException", "ConcurrentInvocationLimitExceeded")
    stack.settle()
    assert stack.invoke("Double", {"value": 2}) == ({"value": 4}, None)


def test_ten_invocations_run_at_once_in_a_new_account(stack):
    with fill_the_account(stack) as held:
        assert held.held == NEW_ACCOUNT_LIMIT
        assert stack.cloud.concurrency.unreserved_in_flight == NEW_ACCOUNT_LIMIT


def test_a_throttled_async_event_waits_then_runs_once_a_slot_frees_without_spending_a_retry(stack):
    # Open retries nothing (retry_attempts=0): an event throttled once would be lost if a throttle counted.
    with fill_the_account(stack):
        stack.invoke_async("Open", {"id": "waiting"})
        (waiting,) = [i for i in stack.cloud.async_invocations if i.event == {"id": "waiting"}]
        stack.cloud.wait_for(lambda: waiting.condition == "Throttled", what="a throttled event")
        assert waiting.attempts == 0
    invocations = stack.settle()
    assert (waiting.condition, waiting.attempts) == ("Success", 1)
    assert waiting.throttles >= 1
    assert [i.condition for i in invocations] == ["Success"] * (NEW_ACCOUNT_LIMIT + 1)
    assert [a["id"] for a in attempts(stack, "Open")].count("waiting") == 1


def test_an_event_throttled_past_its_maximum_event_age_goes_to_its_failure_destination_and_dlq(stack):
    with fill_the_account(stack):
        stack.invoke_async("ShortLived", {"id": "expires"})
        (expiring,) = [i for i in stack.cloud.async_invocations if i.function_name == stack.function_name("ShortLived")]
        stack.cloud.wait_for(lambda: expiring.finished is not None, what="the event to expire")
    stack.settle()
    assert (expiring.condition, expiring.attempts) == ("EventAgeExceeded", 0)
    assert expiring.age > 60  # the function's MaximumEventAgeInSeconds
    (record,) = [m["body"] for m in stack.messages("Failed")]
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"id": "expires"}
    (dead,) = stack.messages("DeadLetters")
    assert dead["body"] == {"id": "expires"}
    assert attempts(stack, "ShortLived") == []  # it never ran


def test_a_function_url_request_beyond_the_limit_gets_429_and_the_function_does_not_run(stack):
    url = stack.outputs["HttpUrl"]
    with fill_the_account(stack):
        response = stack.request("GET", url + "dict")
        assert (response.status, response.headers["x-amzn-errortype"], response.invoked) == (
            429,
            "TooManyRequestsException",
            False,
        )
        assert rendezvous.calls == []
    stack.settle()
    assert stack.request("GET", url + "dict").status == 200
    assert len(rendezvous.calls) == 1


def test_a_step_functions_task_beyond_the_limit_fails_with_lambdas_throttling_error(stack):
    arn = stack.state_machine_arn("Express")
    with fill_the_account(stack):
        result = stack.cloud.start_sync_execution(arn, {"value": 3})
    assert (result["status"], result.get("error")) == ("FAILED", "Lambda.TooManyRequestsException")
    stack.settle()  # the released invocations finish and free their slots
    assert json.loads(stack.cloud.start_sync_execution(arn, {"value": 3})["output"]) == {"value": 6}


def mapping_id(stack: Deployment, function_prefix: str) -> str:
    (mapping,) = stack.client("lambda").list_event_source_mappings(FunctionName=stack.function_name(function_prefix))[
        "EventSourceMappings"
    ]
    return mapping["UUID"]


def test_maximum_concurrency_caps_the_batches_of_a_mapping_in_flight(stack):
    sqs, url = stack.client("sqs"), stack.queue_url("Work")
    for i in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=f"job-{i}")
    uuid = mapping_id(stack, "Consumer")
    batches: list = []
    with stack.hold_invocations("Consumer") as held:
        drain = threading.Thread(target=lambda: batches.extend(stack.drain_sqs("Consumer", pollers=4)))
        drain.start()
        held.wait_for(MAPPING_MAX_CONCURRENCY)
        # The other two pollers wait for a batch slot instead of receiving: the cap, not chance.
        stack.cloud.concurrency.wait_until(
            lambda c: c.mapping_waiting.get(uuid) == 2, what="two pollers waiting for a batch slot"
        )
        assert held.held == MAPPING_MAX_CONCURRENCY
        assert stack.cloud.concurrency.mapping_in_flight[uuid] == MAPPING_MAX_CONCURRENCY
    drain.join(timeout=30)
    assert not drain.is_alive()
    assert sorted(b.records[0]["body"] for b in batches) == [f"job-{i}" for i in range(4)]
    assert not any(b.errored for b in batches)


def test_a_mapping_throttled_by_the_functions_concurrency_leaves_the_batch_on_the_queue(stack):
    sqs, url = stack.client("sqs"), stack.queue_url("Work")
    sqs.send_message(QueueUrl=url, MessageBody="job")
    with fill_the_account(stack):
        (batch,) = stack.drain_sqs("Consumer")
        assert (batch.throttled, batch.records[0]["body"]) == (True, "job")
    stack.settle()
    consumer = stack.function_name("Consumer")
    assert [m for m in stack.messages("Evidence") if m["body"]["function"] == consumer] == []  # it never ran
    (again,) = stack.drain_sqs("Consumer")  # back on the queue after its visibility timeout
    assert (again.throttled, again.errored, again.records[0]["body"]) == (False, False, "job")
    assert again.records[0]["attributes"]["ApproximateReceiveCount"] == "2"
