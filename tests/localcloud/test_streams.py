"""Emulated DynamoDB stream event source mappings, driven by each mapping's StartingPosition,
FilterCriteria, BatchSize, MaximumRetryAttempts, BisectBatchOnFunctionError and OnFailure
destination."""

from __future__ import annotations

import pytest

from localcloud import Deployment
from tests.localcloud.fixture_app import STREAM_BATCH_SIZE


@pytest.fixture(scope="module")
def stack(deploy, fixture_assembly) -> Deployment:
    return deploy(fixture_assembly, "StreamFixture")


@pytest.fixture(autouse=True)
def empty_queues(stack):
    yield
    for queue in ("Evidence", "Failed"):
        stack.messages(queue)


def put(stack: Deployment, table: str, *keys: str) -> None:
    name = stack.table_name(table)
    for key in keys:
        stack.client("dynamodb").put_item(TableName=name, Item={"pk": {"S": key}})


def delivered_batches(stack: Deployment, function_prefix: str) -> list[list[str]]:
    name = stack.function_name(function_prefix)
    return [m["body"]["payload"] for m in stack.messages("Evidence") if m["body"]["function"] == name]


def test_filter_criteria_drop_records_before_the_function(stack):
    put(stack, "Bisecting", "a")
    put(stack, "Bisecting", "a")  # the same item again: a MODIFY record, filtered out
    stack.drain_stream("BisectingProcessor")
    assert [len(batch) for batch in delivered_batches(stack, "BisectingProcessor")] == [1]


def test_records_arrive_in_batches_of_batch_size(stack):
    put(stack, "Plain", *[f"k{i}" for i in range(STREAM_BATCH_SIZE + 3)])
    stack.drain_stream("PlainProcessor")
    assert [len(batch) for batch in delivered_batches(stack, "PlainProcessor")] == [STREAM_BATCH_SIZE, 3]


def test_failing_batch_is_retried_then_reported_to_on_failure(stack):
    put(stack, "Plain", "p1", "poison-p2", "p3")
    stack.drain_stream("PlainProcessor")
    batches = delivered_batches(stack, "PlainProcessor")
    assert len(batches) == 2 + 1  # MaximumRetryAttempts 2: the first try and two retries
    assert all(len(batch) == 3 for batch in batches)
    (failure,) = [m["body"] for m in stack.messages("Failed")]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 3
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == batches[0][0]


def test_bisect_isolates_the_poison_record(stack):
    put(stack, "Bisecting", "b1", "b2", "poison-b3", "b4")
    stack.drain_stream("BisectingProcessor")
    batches = delivered_batches(stack, "BisectingProcessor")
    first = batches[0]
    poison = first[2]
    assert len(first) == 4
    # Halves are tried on their own; only the half with the poison record keeps failing.
    assert [poison] in batches
    assert batches.count([poison]) == 1 + 1  # MaximumRetryAttempts 1 once it is alone
    (failure,) = [m["body"] for m in stack.messages("Failed")]
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == poison


# --- StartingPosition: where a mapping begins when it starts polling --------------------------


def delivered_keys(batches) -> list[str]:
    return [r["dynamodb"]["Keys"]["pk"]["S"] for batch in batches for r in batch.records]


def test_at_latest_records_written_before_the_mapping_starts_polling_are_never_delivered(stack):
    stack.restart_stream("LatestProcessor")  # as if just created: AWS polls minutes later
    put(stack, "Latest", "written-before-polling")
    assert stack.drain_stream("LatestProcessor") == []  # polling begins here, after that record
    put(stack, "Latest", "written-after")
    assert delivered_keys(stack.drain_stream("LatestProcessor")) == ["written-after"]
    assert stack.drain_stream("LatestProcessor") == []  # and the skipped one never comes


def test_at_trim_horizon_every_record_still_in_the_stream_is_delivered(stack):
    stack.restart_stream("TrimHorizonProcessor")
    put(stack, "TrimHorizon", "h-before-polling")
    first = delivered_keys(stack.drain_stream("TrimHorizonProcessor"))
    assert first[-1] == "h-before-polling"
    put(stack, "TrimHorizon", "h-after")
    assert delivered_keys(stack.drain_stream("TrimHorizonProcessor")) == ["h-after"]
    # A mapping that starts over (replaced) reads the whole stream again, from its oldest record.
    stack.restart_stream("TrimHorizonProcessor")
    assert delivered_keys(stack.drain_stream("TrimHorizonProcessor")) == [*first, "h-after"]


def test_a_stream_longer_than_one_get_records_page_is_delivered_to_its_end(stack, monkeypatch):
    """GetRecords answers at most 1,000 records a call (here: 2); the mapping reads page after
    page, so records beyond the first page are delivered too, and only once."""
    from localcloud import mappings

    stack.drain_stream("PlainProcessor")  # the stream's earlier records are behind the checkpoint
    monkeypatch.setattr(mappings, "GET_RECORDS_LIMIT", 2)
    put(stack, "Plain", *[f"page-{i}" for i in range(5)])
    assert delivered_keys(stack.drain_stream("PlainProcessor")) == [f"page-{i}" for i in range(5)]
    put(stack, "Plain", "page-5")
    assert delivered_keys(stack.drain_stream("PlainProcessor")) == ["page-5"]
