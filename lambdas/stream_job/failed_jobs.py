"""StreamJob failed-jobs handler: the processor mapping's on-failure destination, consumed from SQS.

When the processor's mapping gives up on a batch (every retry failed, or its records grew older
than the maximum record age) it moves past it for good and sends ProcessorFailures a record that
names the batch, not its jobs: `DDBStreamBatchInfo` (stream, shard, first and last sequence
numbers), `requestContext.condition` and `approximateInvokeCount`. This handler reads those
records back from the stream (DynamoDB keeps them 24 hours) and ends each of their jobs `failed`
with the reason, so the client polling a job sees why instead of `pending` or `processing` forever.

Which jobs: the batch's INSERTs of `pending` jobs (what the mapping's filter lets through).
- `pending` (a failed run gave it back, or no run started) or `processing` under an expired claim
  (its run timed out or crashed holding it): -> failed with the reason (jobs.give_up).
- complete, failed or gone (TTL): left alone; a redelivered message changes nothing.
- `processing` under a claim that has not expired (the last run crashed less than the processor's
  timeout ago): the message fails and comes back after the queue's visibility timeout, which is at
  least the processor's timeout, when the claim has expired.

A message this handler cannot handle (its records already trimmed from the stream, a record that
is not a stream failure record) raises and ends in ProcessorFailuresDLQ, whose alarm fires.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr

from shared import aws
from stream_job import jobs, names

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

MAX_ERROR_CHARS = 1000
MAX_PAGES = 50  # GetRecords calls to reach the end of one batch (an open shard may answer empty pages)

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
# A batch whose every message fails still returns batchItemFailures rather than raising: a live
# claim (ClaimHeld) is a wait the queue's visibility timeout is for, and a bad record is the DLQ's
# business (alarmed); an invocation error, which pages through the Errors alarm, stays for the
# function itself failing.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
table = aws.table(os.environ[names.JOBS_TABLE_ENV])
streams = aws.client("dynamodbstreams")


class BatchInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    shardId: StrictStr
    startSequenceNumber: StrictStr
    endSequenceNumber: StrictStr
    streamArn: StrictStr


class StreamFailure(BaseModel):
    """The parts of Lambda's on-failure record for a stream batch this handler reads."""

    model_config = ConfigDict(extra="ignore")

    requestContext: dict[str, Any]
    responseContext: dict[str, Any] = {}
    DDBStreamBatchInfo: BatchInfo


class Attempts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    condition: StrictStr = "failed"
    approximateInvokeCount: StrictInt | None = None


def reason(failure: StreamFailure, job: dict[str, Any]) -> str:
    """What the client reads as the job's `error`: why the processor gave up, and what went wrong."""
    attempts = Attempts.model_validate(failure.requestContext)
    if attempts.condition == "RecordAgeExceeded":
        why = "its stream record grew older than the processor's maximum record age"
    else:
        count = f" after {attempts.approximateInvokeCount} attempts" if attempts.approximateInvokeCount else ""
        why = f"every attempt failed{count} ({attempts.condition})"
    if job["status"] == jobs.PROCESSING:
        what = "the last run stopped while holding the job (it timed out or crashed) and its claim expired"
    elif job.get("last_error"):
        what = f"last error: {job['last_error']}"
    else:
        what = f"the processor failed before running it ({failure.responseContext.get('functionError', 'error')})"
    return f"The job could not be processed: {why}; {what}."[:MAX_ERROR_CHARS]


def batch_records(info: BatchInfo) -> list[dict[str, Any]]:
    """The stream records from the batch's first sequence number to its last, read back."""
    start, end = int(info.startSequenceNumber), int(info.endSequenceNumber)
    iterator = streams.get_shard_iterator(
        StreamArn=info.streamArn,
        ShardId=info.shardId,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info.startSequenceNumber,
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        page = streams.get_records(ShardIterator=iterator)
        for record in page["Records"]:
            sequence = int(record["dynamodb"]["SequenceNumber"])
            if sequence > end:
                return records
            if sequence >= start:
                records.append(record)
        if records and int(records[-1]["dynamodb"]["SequenceNumber"]) == end:
            return records
        iterator = page.get("NextShardIterator")
        if not iterator:  # the shard is closed and read to its end
            return records
    raise RuntimeError(f"could not read {info.shardId} up to {end} in {MAX_PAGES} pages")


def pending_job_ids(records: list[dict[str, Any]]) -> list[str]:
    """The jobs the mapping was given: INSERTs of `pending` jobs (names.PENDING_INSERT_FILTER)."""
    found = [
        image["job_id"]["S"]
        for record in records
        if record["eventName"] == "INSERT"
        and (image := record["dynamodb"].get("NewImage", {})).get("status", {}).get("S") == jobs.PENDING
        and "S" in image.get("job_id", {})
    ]
    return list(dict.fromkeys(found))


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    failure = StreamFailure.model_validate(json.loads(record.body))
    info = failure.DDBStreamBatchInfo
    job_ids = pending_job_ids(batch_records(info))
    for job_id in job_ids:
        current = jobs.get(table, job_id)
        if current is None or current["status"] in jobs.TERMINAL:
            continue
        if jobs.give_up(table, job_id, reason(failure, current), now=time.time()):
            logger.warning(
                "job failed: the processor gave up on it",
                extra={"job_id": job_id, "condition": failure.requestContext.get("condition")},
            )
    logger.info(
        "stream failure handled",
        extra={
            "shard": info.shardId,
            "start": info.startSequenceNumber,
            "end": info.endSequenceNumber,
            "jobs": job_ids,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def main(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
