"""FanOut child: one chunk, invoked asynchronously by the parent (InvocationType=Event).

1. Summarise the chunk (`sales.summarize_chunk`, plain Python).
2. Record the summary and count the chunk, once (batches.record_chunk: a transaction that puts
   the chunk item only if absent and increments the batch's chunks_done). A retried child whose
   chunk is already recorded writes nothing and goes on to step 3, in case it stopped before it.
3. Fan in, if every chunk is counted: claim the aggregation with a conditional update, merge
   every chunk's summary, and complete the batch. Only one run wins the claim, however many see
   the last chunk done; one that dies while aggregating leaves a claim that expires at its own
   deadline, so a retry can take over.

Errors raise, so Lambda's async retries run the chunk again and, after the last, the on-failure
destination (an SQS queue) gets the invocation record and `chunk_failed` marks the batch failed:
- permanent: an event that is not a chunk, a chunk the work rejects (`ChunkRejected`);
- transient: throttling, timeouts, DynamoDB errors, transaction conflicts.
A chunk of a batch that has already failed is dropped: returning normally, nothing written.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from fan_out import batches, names
from fan_out.sales import ChunkSummary, SaleLine, merge, summarize_chunk
from shared import aws

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
table = aws.table(os.environ[names.BATCHES_TABLE_ENV])


class ChunkEvent(BaseModel):
    """What the parent sends (api.chunk_payload)."""

    model_config = ConfigDict(extra="forbid")

    batch_id: StrictStr = Field(pattern=batches.BATCH_ID.pattern)
    chunk: StrictInt = Field(ge=0)
    currency: StrictStr
    lines: list[SaleLine] = Field(min_length=1)


@tracer.capture_method
def fan_in(batch_id: str, context: LambdaContext) -> bool:
    """Aggregate the batch if every chunk is counted and no other run is at it; True if this run did."""
    batch = batches.get(table, batch_id)
    if batch is None or batch["chunks_done"] != batch["chunks_total"] or batch["status"] in batches.TERMINAL:
        return False
    claim = uuid.uuid4().hex
    deadline = time.time() + context.get_remaining_time_in_millis() / 1000
    if not batches.claim_aggregation(table, batch_id, claim, now=time.time(), until=deadline):
        return False
    try:
        summaries = [
            ChunkSummary.model_validate(stored)
            for stored in batches.chunk_summaries(table, batch_id, int(batch["chunks_total"]))
        ]
        report = merge(summaries)
        batches.complete(table, batch_id, claim, report.model_dump(mode="json"), now=time.time())
    except batches.AggregationLost:
        logger.warning("aggregation claim expired and was taken over; this run stops", extra={"batch_id": batch_id})
        return False
    except Exception:
        try:
            batches.release_aggregation(table, batch_id, claim, now=time.time())
        except Exception:  # the claim then expires at `deadline` and a retried child takes over
            logger.exception("could not release the aggregation claim", extra={"batch_id": batch_id})
        raise
    logger.info("batch complete", extra={"batch_id": batch_id, "chunks": int(batch["chunks_total"])})
    return True


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def main(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    chunk = ChunkEvent.model_validate(event)
    summary = summarize_chunk(chunk.lines)
    batch = batches.get(table, chunk.batch_id)
    if batch is None:
        logger.warning("batch gone (expired?); chunk dropped", extra={"batch_id": chunk.batch_id, "chunk": chunk.chunk})
        return {"batch_id": chunk.batch_id, "chunk": chunk.chunk, "recorded": batches.Recorded.BATCH_NOT_RUNNING.value}
    recorded = batches.record_chunk(
        table,
        chunk.batch_id,
        chunk.chunk,
        summary.model_dump(mode="json"),
        expires_at=int(batch["expires_at"]),
        now=time.time(),
    )
    logger.info("chunk processed", extra={"batch_id": chunk.batch_id, "chunk": chunk.chunk, "recorded": recorded.value})
    aggregated = recorded is not batches.Recorded.BATCH_NOT_RUNNING and fan_in(chunk.batch_id, context)
    return {"batch_id": chunk.batch_id, "chunk": chunk.chunk, "recorded": recorded.value, "aggregated": aggregated}
