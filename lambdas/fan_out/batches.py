"""The batches table and every write to it, each one conditional on the state it moves from.

One table, string partition key `pk`, no sort key, two kinds of item:

    batch  pk = "batch#<batch_id>"
        batch_id            S  "b-" + 32 hex digits
        status              S  running -> aggregating -> complete, or running|aggregating -> failed
        currency            S
        item_count          N
        chunks_total        N  fixed when the batch is created
        chunks_done         N  +1 in the same transaction that records a chunk's result
        created_at          S  ISO 8601, UTC
        updated_at          S
        expires_at          N  epoch seconds: the table's TTL attribute
        aggregation_claim   S  the child run aggregating, while `aggregating`
        aggregation_until   N  epoch seconds: that run's own deadline, after which another may take over
        result              M  the merged report, when complete
        error, failed_chunk S, N  when failed

    chunk  pk = "batch#<batch_id>#chunk#<chunk:05d>"
        batch_id, chunk     S, N
        summary             M  the chunk's result (sales.ChunkSummary), money as strings
        recorded_at         S
        expires_at          N  same as its batch

Exactly once: a chunk's item is put only if absent, in one transaction with the batch's
`chunks_done + 1`, so a retried child cannot count its chunk twice. The fan-in is claimed with
one conditional update (`status = running AND chunks_done = chunks_total`), so it runs once
however many children see the last chunk done.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from shared.lease import Lease, LeaseLost, conditional_failed
from shared.timestamps import iso

RUNNING, AGGREGATING, COMPLETE, FAILED = "running", "aggregating", "complete", "failed"
TERMINAL = frozenset({COMPLETE, FAILED})
BATCH_ID = re.compile(r"^b-[0-9a-f]{32}$")


class Recorded(Enum):
    NOW = "recorded"  # this call recorded the chunk and counted it
    ALREADY = "already recorded"  # an earlier attempt did: nothing was written
    BATCH_NOT_RUNNING = "batch not running"  # the batch failed (or is gone): nothing was written


class AggregationLost(LeaseLost):
    """Another run holds the aggregation now (this run's claim expired): stop without writing."""


def new_batch_id() -> str:
    return f"b-{uuid.uuid4().hex}"


def batch_key(batch_id: str) -> dict[str, str]:
    return {"pk": f"batch#{batch_id}"}


def chunk_key(batch_id: str, chunk: int) -> dict[str, str]:
    return {"pk": f"batch#{batch_id}#chunk#{chunk:05d}"}


def _aggregation(table: Any, batch_id: str) -> Lease:
    """A child run's claim on the fan-in: running -> aggregating until the run's deadline."""
    return Lease(
        table,
        batch_key(batch_id),
        free=RUNNING,
        held=AGGREGATING,
        claim_attribute="aggregation_claim",
        until_attribute="aggregation_until",
        lost=AggregationLost,
    )


def create(
    table: Any, batch_id: str, *, currency: str, item_count: int, chunks_total: int, now: float, ttl_seconds: int
) -> dict[str, Any]:
    item = {
        **batch_key(batch_id),
        "batch_id": batch_id,
        "status": RUNNING,
        "currency": currency,
        "item_count": item_count,
        "chunks_total": chunks_total,
        "chunks_done": 0,
        "created_at": iso(now),
        "updated_at": iso(now),
        "expires_at": int(now) + ttl_seconds,
    }
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    return item


def get(table: Any, batch_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = table.get_item(Key=batch_key(batch_id), ConsistentRead=True).get("Item")
    return item


def record_chunk(
    table: Any, batch_id: str, chunk: int, summary: dict[str, Any], *, expires_at: int, now: float
) -> Recorded:
    """Put the chunk's result and count it, both or neither, once."""
    try:
        table.meta.client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table.name,
                        "Item": {
                            **chunk_key(batch_id, chunk),
                            "batch_id": batch_id,
                            "chunk": chunk,
                            "summary": summary,
                            "recorded_at": iso(now),
                            "expires_at": expires_at,
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": table.name,
                        "Key": batch_key(batch_id),
                        "UpdateExpression": "SET chunks_done = chunks_done + :one, updated_at = :now",
                        "ConditionExpression": "#status = :running AND chunks_done < chunks_total",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":one": 1, ":now": iso(now), ":running": RUNNING},
                    }
                },
            ]
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
        if reasons[:1] == ["ConditionalCheckFailed"]:
            return Recorded.ALREADY
        if reasons[1:2] == ["ConditionalCheckFailed"]:
            return Recorded.BATCH_NOT_RUNNING
        raise  # a conflicting transaction or throttling: transient, the child is retried
    return Recorded.NOW


def claim_aggregation(table: Any, batch_id: str, claim: str, *, now: float, until: float) -> bool:
    """running -> aggregating for this run, only once every chunk is counted; False if not ours to do."""
    return _aggregation(table, batch_id).take(claim, now=now, until=until, requires="chunks_done = chunks_total")


def chunk_summaries(table: Any, batch_id: str, chunks_total: int) -> Iterator[dict[str, Any]]:
    """Every chunk's stored summary (strongly consistent reads, 100 keys per request)."""
    keys = [chunk_key(batch_id, chunk) for chunk in range(chunks_total)]
    found = 0
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table.name: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
        while request:
            response = table.meta.client.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table.name, []):
                found += 1
                yield item["summary"]
            request = response.get("UnprocessedKeys") or {}
    if found != chunks_total:
        raise RuntimeError(f"batch {batch_id}: {found} chunk results stored, expected {chunks_total}")


def complete(table: Any, batch_id: str, claim: str, result: dict[str, Any], *, now: float) -> None:
    sets, values = "#status = :complete, #result = :result", {":complete": COMPLETE, ":result": result}
    _aggregation(table, batch_id).write(claim, sets, values, names={"#result": "result"}, now=now, release=True)


def release_aggregation(table: Any, batch_id: str, claim: str, *, now: float) -> None:
    """aggregating -> running after a transient error, so a retried child can claim the fan-in again."""
    _aggregation(table, batch_id).write(claim, "#status = :running", {":running": RUNNING}, now=now, release=True)


def fail(table: Any, batch_id: str, *, chunk: int | None, error: str, now: float) -> bool:
    """running|aggregating -> failed, naming the chunk; False when already failed, complete or gone."""
    try:
        table.update_item(
            Key=batch_key(batch_id),
            UpdateExpression="SET #status = :failed, #error = :error, failed_chunk = :chunk, updated_at = :now",
            ConditionExpression="#status IN (:running, :aggregating)",
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues={
                ":failed": FAILED,
                ":error": error,
                ":chunk": chunk,
                ":now": iso(now),
                ":running": RUNNING,
                ":aggregating": AGGREGATING,
            },
        )
    except ClientError as exc:
        if conditional_failed(exc):
            return False
        raise
    return True
