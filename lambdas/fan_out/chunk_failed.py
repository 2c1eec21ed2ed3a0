"""FanOut chunk-failed handler: the child's on-failure destination, consumed from SQS.

Lambda sends the child's async invocation record to an SQS queue after its last retry:
`requestContext.condition` (RetriesExhausted, EventAgeExceeded), `requestPayload` (the chunk
event), `responsePayload` (the last error, errorType and errorMessage). This handler marks the
batch failed, naming the chunk and the error.

Why an SQS queue rather than a Lambda destination: the record is kept (14 days) until it is
handled, a queue alarm shows failures at once, a record this handler cannot handle moves to a DLQ
after maxReceiveCount instead of vanishing, and it can be redriven; a Lambda destination would need
its own retries and destination again.

Idempotent: the update is conditional on the batch still running or aggregating, so a redelivered
record, or a second failed chunk of the same batch, changes nothing (the first failure is kept).
A record that is not an invocation record of a chunk raises, and ends in the queue's DLQ.
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

from fan_out import batches, names
from shared import aws

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

MAX_ERROR_CHARS = 1000

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
# A batch whose every message fails is reported, not raised: a bad record is the queue's business
# (retried, then its DLQ, alarmed); the Errors alarm stays for the function itself failing.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
table = aws.table(os.environ[names.BATCHES_TABLE_ENV])


class FailedChunk(BaseModel):
    model_config = ConfigDict(extra="ignore")

    batch_id: StrictStr
    chunk: StrictInt


class InvocationRecord(BaseModel):
    """The parts of Lambda's async invocation record this handler reads."""

    model_config = ConfigDict(extra="ignore")

    requestContext: dict[str, Any]
    requestPayload: FailedChunk
    responsePayload: Any = None


def describe(record: InvocationRecord) -> str:
    response = record.responsePayload if isinstance(record.responsePayload, dict) else {}
    error = f"{response.get('errorType', 'Error')}: {response.get('errorMessage', 'no error message')}"
    condition = record.requestContext.get("condition", "failed")
    attempts = record.requestContext.get("approximateInvokeCount", "?")
    return f"chunk {record.requestPayload.chunk} failed ({condition} after {attempts} attempts): {error}"[
        :MAX_ERROR_CHARS
    ]


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    failure = InvocationRecord.model_validate(json.loads(record.body))
    batch_id, chunk = failure.requestPayload.batch_id, failure.requestPayload.chunk
    changed = batches.fail(table, batch_id, chunk=chunk, error=describe(failure), now=time.time())
    logger.warning("chunk failed", extra={"batch_id": batch_id, "chunk": chunk, "batch_marked_failed": changed})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def main(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
