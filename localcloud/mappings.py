"""OUR EMULATION of Lambda event source mappings (moto delivers each SQS message or stream record
inside the producer's own API call, one at a time, ignoring batch size, partial batch responses,
filters, retries and destinations; `moto_patches` detaches the mappings so these poll instead).

- SQS (`drain_sqs`): batches of up to `BatchSize` messages, up to `pollers` at once and never
  more than `ScalingConfig.MaximumConcurrency`; a batch the function's concurrency throttles goes
  back on the queue; with `ReportBatchItemFailures` only
  the messages listed in `batchItemFailures` stay on the queue, and without it the response body
  is ignored (as AWS does); a function error keeps the whole batch. A kept message becomes visible
  again once the drain has nothing else to do: no other message visible and no batch in flight
  (its visibility timeout, minutes in AWS, compressed to the moment the work beside it ends: a
  message that failed because a batch running beside it held a claim is not received again while
  that batch still runs), and moto's own redrive moves it to the dead-letter queue after
  `maxReceiveCount` receives. A throttled batch's messages are visible again at once.
- DynamoDB streams (`drain_stream`): `StartingPosition`, `FilterCriteria`, `BatchSize`,
  `MaximumRetryAttempts`, `BisectBatchOnFunctionError`, `ReportBatchItemFailures` and the
  `OnFailure` destination with AWS's stream failure record. The checkpoint per mapping belongs to
  the LocalCloud; each drain reads the shard after it, GetRecords page after page. A throttled
  batch ends the drain with the checkpoint before it (no retry is counted); the next drain reads
  it again.
- When a stream mapping starts polling: AWS begins polling minutes after a mapping is created, and
  where it begins is its `StartingPosition`, fixed then: `LATEST` skips every record written
  before, `TRIM_HORIZON` starts at the oldest record still in the stream. Here a mapping begins
  polling at its first `drain_stream` after it was created (deployed) or restarted
  (`restart_stream`, standing for a mapping replaced by a new one): records written before that
  drain are "written before the mapping started polling". The test chooses the delay by where it
  drains first; nothing sleeps.

Polling happens when a test asks (`cloud.drain_sqs(name)`), in the test's thread.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3

from localcloud.async_invoke import client, now, queue_url
from localcloud.concurrency import TooManyRequestsException

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

    from localcloud.cloud import LocalCloud

# A stream mapping with MaximumRetryAttempts -1 retries until the record expires; here, this often.
UNBOUNDED_STREAM_RETRIES = 10
# DynamoDB Streams' GetRecords answers at most this many records a call: a mapping reads page after page.
GET_RECORDS_LIMIT = 1000


@dataclass
class Batch:
    """One invocation by an event source mapping."""

    records: list[dict[str, Any]]
    errored: bool
    response: Any
    failed_ids: list[str]
    throttled: bool = False  # the function had no free concurrency slot: the batch never ran


def _mapping(function_name: str, service: str) -> dict[str, Any]:
    mappings = [
        m
        for m in boto3.client("lambda").list_event_source_mappings(FunctionName=function_name)["EventSourceMappings"]
        if m["EventSourceArn"].split(":")[2] == service and m.get("State", "Enabled") != "Disabled"
    ]
    if len(mappings) != 1:
        raise LookupError(f"{function_name} has {len(mappings)} {service} mappings")
    mapping: dict[str, Any] = mappings[0]
    return mapping


def _matches(pattern: Any, value: Any) -> bool:
    """EventBridge-style content filtering, the subset Lambda filter criteria use."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for key, sub in pattern.items():
            if isinstance(sub, list) and sub and all(isinstance(s, dict) and "exists" in s for s in sub):
                if (key in value) != sub[0]["exists"]:
                    return False
            elif key not in value or not _matches(sub, value[key]):
                return False
        return True
    if isinstance(pattern, list):
        return any(_matches_leaf(option, value) for option in pattern)
    return bool(pattern == value)


def _matches_leaf(option: Any, value: Any) -> bool:
    if isinstance(option, dict):
        if "prefix" in option:
            return isinstance(value, str) and value.startswith(option["prefix"])
        if "anything-but" in option:
            excluded = option["anything-but"]
            return value not in (excluded if isinstance(excluded, list) else [excluded])
        if "exists" in option:
            return bool(option["exists"])
        return _matches(option, value)
    return bool(option == value)


def passes_filters(filter_criteria: dict[str, Any] | None, record: dict[str, Any]) -> bool:
    filters = (filter_criteria or {}).get("Filters", [])
    return not filters or any(_matches(json.loads(f["Pattern"]), record) for f in filters)


def _failed_ids(response: Any, reports_failures: bool, ids: list[str]) -> list[str] | None:
    """IDs to keep per the response, or None when the response is invalid (whole batch fails)."""
    if not reports_failures:
        return []
    if response is None or response == {}:
        return []
    if not isinstance(response, dict) or not isinstance(response.get("batchItemFailures", []), list):
        return None
    failed = []
    for item in response.get("batchItemFailures", []):
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if identifier not in ids:
            return None  # AWS treats an unknown or empty identifier as a failure of the whole batch
        failed.append(identifier)
    return failed


def _invoke(cloud: LocalCloud, function: LambdaFunction, event: Any) -> tuple[Any, bool]:
    payload, errored = cloud.runtime.invoke(function, event)
    return json.loads(payload) if payload else None, errored


def drain_sqs(cloud: LocalCloud, function_name: str, *, max_batches: int = 100, pollers: int = 1) -> list[Batch]:
    """Poll the function's SQS mapping until no message is visible; return each batch.

    `pollers` batches may run at once (each poller in its own thread when more than one), never
    more than the mapping's `ScalingConfig.MaximumConcurrency`: a poller waits for a free batch
    slot before it receives. A batch the function's concurrency throttles goes back on the queue
    (its receive counted, as in SQS) and ends this drain: the batch is `throttled`. A message that
    failed is received again only when nothing else is visible and no batch is in flight (its
    visibility timeout passes once the work beside it has ended), so a message that lost a claim
    to a batch running beside it meets that claim settled, as after AWS's minutes-long timeout.
    """
    if pollers < 1:
        raise ValueError("at least one poller")
    mapping = _mapping(function_name, "sqs")
    queue_arn = mapping["EventSourceArn"]
    url = queue_url(queue_arn)
    sqs = client("sqs", queue_arn)
    batch_size = mapping.get("BatchSize", 10)
    maximum = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
    reports_failures = "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", [])
    function = cloud.lambda_function(mapping["FunctionArn"])
    batches: list[Batch] = []
    state = {"polls": 0, "stop": False, "in_flight": 0}
    lock = threading.Lock()
    settled = threading.Condition(lock)  # notified when a batch ends
    kept_back: list[str] = []  # receipt handles of failed messages, invisible until nothing else is to do

    def release_kept_back() -> bool:
        """Make the failed messages visible again (their visibility timeout has passed): any?"""
        with lock:
            handles = kept_back[:]
            kept_back.clear()
        for handle in handles:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        return bool(handles)

    def nothing_visible() -> bool:
        """The queue has nothing visible: wait for the batches in flight to end, then let the
        failed messages back. True when there may be more to receive."""
        with settled:
            while state["in_flight"] and not state["stop"]:
                settled.wait()
            if state["stop"]:
                return False
        return release_kept_back()

    def poll_once() -> bool:
        """One batch: False when there is nothing more to do for this poller."""
        with lock:
            if state["stop"]:
                return False
            if state["polls"] >= max_batches:
                raise RuntimeError(f"{function_name}: queue not drained after {max_batches} batches")
            state["polls"] += 1
        with cloud.concurrency.mapping_slot(mapping["UUID"], maximum):
            messages = receive()
            if messages:
                with lock:
                    state["in_flight"] += 1
                try:
                    return run_batch(messages)
                finally:
                    with settled:
                        state["in_flight"] -= 1
                        settled.notify_all()
        return nothing_visible()  # outside the batch slot: a poller waiting here holds none

    def receive() -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < batch_size:
            received = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, batch_size - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not received:
                break
            messages.extend(received)
        return messages

    def run_batch(messages: list[dict[str, Any]]) -> bool:
        records = [_sqs_record(m, queue_arn) for m in messages]
        kept = [r for r in records if passes_filters(mapping.get("FilterCriteria"), r)]
        for record in records:  # records filtered out are deleted without an invocation
            if record not in kept:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
        if not kept:
            return True
        ids = [r["messageId"] for r in kept]
        try:
            response, errored = _invoke(cloud, function, {"Records": kept})
        except TooManyRequestsException:
            for record in kept:  # back on the queue at once: the batch never ran
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0)
            with lock:
                batches.append(Batch(kept, True, None, ids, throttled=True))
                state["stop"] = True
            return False
        failed = ids if errored else _failed_ids(response, reports_failures, ids)
        failed = ids if failed is None else failed
        with lock:
            batches.append(Batch(kept, errored, response, failed))
            kept_back.extend(r["receiptHandle"] for r in kept if r["messageId"] in failed)
        for record in kept:
            if record["messageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
        return True

    def poller() -> None:
        while poll_once():
            pass

    try:
        if pollers == 1:
            poller()
        else:
            with ThreadPoolExecutor(pollers, thread_name_prefix="localcloud-poller") as pool:
                for future in [pool.submit(poller) for _ in range(pollers)]:
                    future.result()
    finally:
        release_kept_back()  # a drain ended early (a throttled batch, an error) leaves none invisible
    return batches


def _sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"]}
            for k, v in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def drain_stream(cloud: LocalCloud, function_name: str) -> list[Batch]:
    """Deliver every new stream record to the function, as its mapping is configured.

    A mapping that has not polled yet begins now, at its `StartingPosition` (see the module doc).
    """
    mapping = _mapping(function_name, "dynamodb")
    stream_arn = mapping["EventSourceArn"]
    streams = client("dynamodbstreams", stream_arn)
    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    checkpoint = cloud.stream_checkpoints.get(mapping["UUID"])
    if checkpoint is None:  # the mapping begins polling now
        in_stream = _read_shard(streams, stream_arn, shard["ShardId"], after=-1)
        checkpoint = cloud.stream_checkpoints[mapping["UUID"]] = _starting_checkpoint(mapping, in_stream)
    else:
        in_stream = _read_shard(streams, stream_arn, shard["ShardId"], after=checkpoint)
    records = [_as_delivered(r, stream_arn) for r in in_stream if int(r["dynamodb"]["SequenceNumber"]) > checkpoint]
    if records:
        cloud.stream_checkpoints[mapping["UUID"]] = int(records[-1]["dynamodb"]["SequenceNumber"])
    records = [r for r in records if passes_filters(mapping.get("FilterCriteria"), r)]
    function = cloud.lambda_function(mapping["FunctionArn"])
    batches: list[Batch] = []
    batch_size = mapping.get("BatchSize", 100)
    for start in range(0, len(records), batch_size):
        batch = records[start : start + batch_size]
        try:
            _deliver_stream_batch(cloud, function, mapping, shard["ShardId"], batch, batches)
        except TooManyRequestsException:  # the shard waits: the batch is read again by the next drain
            cloud.stream_checkpoints[mapping["UUID"]] = int(batch[0]["dynamodb"]["SequenceNumber"]) - 1
            batches.append(Batch(batch, True, None, [r["dynamodb"]["SequenceNumber"] for r in batch], throttled=True))
            break
    return batches


def _read_shard(streams: Any, stream_arn: str, shard_id: str, *, after: int) -> list[dict[str, Any]]:
    """Every record of the shard after sequence number `after` (-1: from its oldest), read with
    GetRecords page after page (a call answers at most GET_RECORDS_LIMIT records)."""
    position = (
        {"ShardIteratorType": "TRIM_HORIZON"}
        if after < 0
        else {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": str(after)}
    )
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, **position)["ShardIterator"]
    records: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=GET_RECORDS_LIMIT)
        if not page["Records"]:  # read to the end of what the shard holds now
            break
        records.extend(page["Records"])
        iterator = page.get("NextShardIterator")
    return records


def _starting_checkpoint(mapping: dict[str, Any], in_stream: list[dict[str, Any]]) -> int:
    """The checkpoint a mapping that begins polling now starts from: the sequence number before
    the first record it will deliver."""
    position = mapping.get("StartingPosition")
    if position == "TRIM_HORIZON":  # the oldest record still in the stream (moto trims nothing)
        return -1
    if position == "LATEST":  # only records written from now on
        return int(in_stream[-1]["dynamodb"]["SequenceNumber"]) if in_stream else -1
    raise ValueError(
        f"{mapping['FunctionArn']}: a DynamoDB stream mapping starts at TRIM_HORIZON or LATEST, not {position!r}"
    )


def restart_stream(cloud: LocalCloud, function_name: str) -> None:
    """The function's stream mapping starts over as a newly created one: it has not polled yet and
    forgets its checkpoint, so its next drain begins at its `StartingPosition`. Stands for a mapping
    replaced by a new one (CloudFormation replaces it when, for example, its position changes)."""
    cloud.stream_checkpoints.pop(_mapping(function_name, "dynamodb")["UUID"], None)


def _as_delivered(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda delivers it: with its stream's ARN, and the creation time as
    epoch seconds (a number in the event's JSON; boto3 parses it into a datetime)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn}


def _deliver_stream_batch(
    cloud: LocalCloud,
    function: LambdaFunction,
    mapping: dict[str, Any],
    shard_id: str,
    batch: list[dict[str, Any]],
    batches: list[Batch],
) -> None:
    max_retries = mapping.get("MaximumRetryAttempts", -1)
    max_retries = UNBOUNDED_STREAM_RETRIES if max_retries in (-1, None) else max_retries
    reports_failures = "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", [])
    retries = 0
    while batch:
        response, errored = _invoke(cloud, function, {"Records": batch})
        ids = [r["dynamodb"]["SequenceNumber"] for r in batch]
        failed = ids if errored else _failed_ids(response, reports_failures, ids)
        failed = ids if failed is None else failed
        batches.append(Batch(batch, errored, response, failed))
        if not failed:
            return
        batch = batch[ids.index(min(failed, key=int)) :]  # the checkpoint moves to the first failure
        if mapping.get("BisectBatchOnFunctionError") and len(batch) > 1:
            middle = len(batch) // 2  # splitting does not count against the retry quota
            _deliver_stream_batch(cloud, function, mapping, shard_id, batch[:middle], batches)
            _deliver_stream_batch(cloud, function, mapping, shard_id, batch[middle:], batches)
            return
        if retries >= max_retries:
            _stream_failure(cloud, mapping, shard_id, batch, retries + 1)
            return
        retries += 1


def _stream_failure(
    cloud: LocalCloud, mapping: dict[str, Any], shard_id: str, batch: list[dict[str, Any]], attempts: int
) -> None:
    destination = (mapping.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
    if not destination:
        return  # AWS discards the batch and moves on
    record = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": mapping["FunctionArn"],
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": now(),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
            "batchSize": len(batch),
            "streamArn": mapping["EventSourceArn"],
        },
    }
    cloud.async_invoker.send_to_destination(destination, record)
