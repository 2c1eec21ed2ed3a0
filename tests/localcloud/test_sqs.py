"""Emulated SQS event source mappings, driven by each mapping's BatchSize and FunctionResponseTypes
and each queue's RedrivePolicy."""

from __future__ import annotations

from collections import Counter

import pytest

from localcloud import Deployment
from tests.localcloud.fixture_app import MAX_RECEIVE_COUNT, SQS_BATCH_SIZE


@pytest.fixture(scope="module")
def stack(deploy, fixture_assembly) -> Deployment:
    return deploy(fixture_assembly, "QueueFixture")


@pytest.fixture(autouse=True)
def empty_queues(stack):
    yield
    for queue in ("Evidence", "ReportingQueue", "ReportingDLQ", "IgnoringQueue", "IgnoringDLQ"):
        stack.messages(queue)


def send(stack: Deployment, queue: str, bodies: list[str]) -> None:
    for body in bodies:
        stack.client("sqs").send_message(QueueUrl=stack.queue_url(queue), MessageBody=body)


def deliveries(stack: Deployment) -> Counter:
    return Counter(m["body"]["payload"]["body"] for m in stack.messages("Evidence") if m["body"]["kind"] == "record")


def test_mapping_keeps_the_templates_configuration(stack):
    (mapping,) = stack.client("lambda").list_event_source_mappings(
        FunctionName=stack.function_name("ReportingConsumer")
    )["EventSourceMappings"]
    assert mapping["BatchSize"] == SQS_BATCH_SIZE
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_nothing_is_delivered_until_the_mapping_polls(stack):
    send(stack, "ReportingQueue", ["early"])
    assert deliveries(stack) == Counter()
    stack.drain_sqs("ReportingConsumer")
    assert deliveries(stack) == Counter({"early": 1})


def test_batches_are_at_most_batch_size(stack):
    send(stack, "ReportingQueue", [f"m{i}" for i in range(12)])
    batches = stack.drain_sqs("ReportingConsumer")
    assert [len(b.records) for b in batches] == [5, 5, 2]


def test_reported_failure_is_redelivered_alone_until_the_dlq(stack):
    send(stack, "ReportingQueue", ["good-1", "good-2", "poison", "good-3"])
    stack.drain_sqs("ReportingConsumer")
    assert deliveries(stack) == Counter({"good-1": 1, "good-2": 1, "good-3": 1, "poison": MAX_RECEIVE_COUNT})
    (dead,) = stack.messages("ReportingDLQ")
    assert dead["body"] == "poison"


def test_without_report_batch_item_failures_the_response_is_ignored(stack):
    # The same handler returns batchItemFailures, but this mapping never declared it: AWS deletes
    # the whole batch on success, so the poison message is silently gone, not in the DLQ.
    send(stack, "IgnoringQueue", ["good-1", "poison"])
    stack.drain_sqs("IgnoringConsumer")
    assert deliveries(stack) == Counter({"good-1": 1, "poison": 1})
    assert stack.messages("IgnoringDLQ") == []


def test_a_function_error_retries_the_whole_batch(stack):
    send(stack, "ReportingQueue", ["good", "crash"])
    stack.drain_sqs("ReportingConsumer")
    counts = deliveries(stack)
    assert counts["crash"] == MAX_RECEIVE_COUNT
    assert counts["good"] == MAX_RECEIVE_COUNT  # processed again with its failing batch-mate
    assert sorted(m["body"] for m in stack.messages("ReportingDLQ")) == ["crash", "good"]


def test_receivers_at_the_same_time_move_each_message_to_the_dlq_once(stack):
    """Several pollers receiving at once (a mapping's pollers, a consumer's threads): each message
    reaches the DLQ once after maxReceiveCount receives, and no receive fails (moto's queue moves
    messages to its DLQ inside ReceiveMessage with no lock of its own)."""
    from concurrent.futures import ThreadPoolExecutor

    sqs, url = stack.client("sqs"), stack.queue_url("ReportingQueue")
    bodies = [f"race-{i}" for i in range(120)]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies[start : start + 10])]
        )

    def receive_until_empty() -> int:
        received = 0
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        ):
            received += len(messages)
        return received

    with ThreadPoolExecutor(6) as pool:
        received = sum(f.result() for f in [pool.submit(receive_until_empty) for _ in range(6)])
    assert received >= len(bodies) * MAX_RECEIVE_COUNT
    assert sorted(m["body"] for m in stack.messages("ReportingDLQ")) == sorted(bodies)


def test_a_failed_message_comes_back_after_the_messages_waiting_beside_it(stack):
    """Its visibility timeout (a minute here, 30 in the patterns) is compressed, not skipped: the
    queue's other messages are received first, so a failure is never retried while the work beside
    it still runs (a duplicate that lost an idempotency claim finds the claim settled)."""
    bodies = ["poison", *[f"m{i}" for i in range(2 * SQS_BATCH_SIZE - 1)]]
    send(stack, "ReportingQueue", bodies)
    batches = stack.drain_sqs("ReportingConsumer")
    assert [[r["body"] for r in b.records] for b in batches] == [
        bodies[:SQS_BATCH_SIZE],
        bodies[SQS_BATCH_SIZE:],
        *[["poison"]] * (MAX_RECEIVE_COUNT - 1),
    ]
    (dead,) = stack.messages("ReportingDLQ")
    assert dead["body"] == "poison"
