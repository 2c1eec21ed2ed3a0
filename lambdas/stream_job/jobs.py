"""The jobs table and every write to it, each one conditional on the state it moves from.

One item per job, keyed on `job_id` (string partition key, no sort key):

    job_id         S  "j-" + 32 hex digits; the partition key
    status         S  pending -> processing -> complete | failed
    request        M  the validated request, money and rates as strings
    created_at     S  ISO 8601, UTC
    updated_at     S  ISO 8601, UTC, on every transition and progress write
    expires_at     N  epoch seconds: the table's TTL attribute; DynamoDB deletes the job after it
    attempts       N  how many times a processor has claimed the job
    claim_id       S  the processor run holding the job while it is `processing`
    claimed_until  N  epoch seconds: that run's own deadline, after which the claim is void
    progress       N  percent done (0-100), written while processing and 100 when complete
    result         M  the report, when complete
    error          S  why the job failed, when failed: the work's own error, or why the
                      processor gave up on it (the failed-jobs handler)
    last_error     S  the transient error that made the last run give the job back, if any

Only the job API inserts items, always with status `pending`: the processor's mapping filters on
exactly that (names.PENDING_INSERT_FILTER), so its own updates never trigger it again.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

PENDING, PROCESSING, COMPLETE, FAILED = "pending", "processing", "complete", "failed"
TERMINAL = frozenset({COMPLETE, FAILED})
JOB_ID = re.compile(r"^j-[0-9a-f]{32}$")


class ClaimLost(Exception):
    """Another run holds the job now (this run's claim expired): stop without writing."""


class ClaimHeld(Exception):
    """A run holds the job under a claim that has not expired: it may still be running."""


def new_job_id() -> str:
    return f"j-{uuid.uuid4().hex}"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _conditional_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def insert_pending(table: Any, job_id: str, request: dict[str, Any], *, now: float, ttl_seconds: int) -> dict[str, Any]:
    item = {
        "job_id": job_id,
        "status": PENDING,
        "request": request,
        "created_at": _iso(now),
        "updated_at": _iso(now),
        "expires_at": int(now) + ttl_seconds,
        "attempts": 0,
        "progress": 0,
    }
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(job_id)")
    return item


def get(table: Any, job_id: str) -> dict[str, Any] | None:
    return table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")


def claim(table: Any, job_id: str, claim_id: str, *, now: float, until: float) -> bool:
    """pending -> processing for this run; False when the job is not there to take.

    A `processing` job whose claim has expired (its run timed out or crashed) is taken over.
    """
    try:
        table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="SET #status = :processing, claim_id = :claim, claimed_until = :until, updated_at = :now ADD attempts :one",
            ConditionExpression="#status = :pending OR (#status = :processing AND claimed_until < :epoch)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":processing": PROCESSING,
                ":pending": PENDING,
                ":claim": claim_id,
                ":until": Decimal(int(until)),
                ":epoch": Decimal(int(now)),
                ":now": _iso(now),
                ":one": 1,
            },
        )
    except ClientError as error:
        if _conditional_failed(error):
            return False
        raise
    return True


def _held(
    table: Any, job_id: str, claim_id: str, sets: str, values: dict[str, Any], *, now: float,
    names: dict[str, str] | None = None, release: bool = False,
) -> None:
    """`SET sets` only while this run still holds the job; `release` also drops the claim."""
    remove = " REMOVE claim_id, claimed_until" if release else ""
    try:
        table.update_item(
            Key={"job_id": job_id},
            UpdateExpression=f"SET {sets}, updated_at = :now{remove}",
            ConditionExpression="#status = :processing AND claim_id = :claim",
            ExpressionAttributeNames={"#status": "status", **(names or {})},
            ExpressionAttributeValues={**values, ":processing": PROCESSING, ":claim": claim_id, ":now": _iso(now)},
        )
    except ClientError as error:
        if _conditional_failed(error):
            raise ClaimLost(job_id) from None
        raise


def set_progress(table: Any, job_id: str, claim_id: str, percent: int, *, now: float) -> None:
    _held(table, job_id, claim_id, "progress = :p", {":p": percent}, now=now)


def complete(table: Any, job_id: str, claim_id: str, result: dict[str, Any], *, now: float) -> None:
    _held(
        table, job_id, claim_id,
        "#status = :complete, #result = :result, progress = :hundred",
        {":complete": COMPLETE, ":result": result, ":hundred": 100},
        names={"#result": "result"}, now=now, release=True,
    )  # fmt: skip


def fail(table: Any, job_id: str, claim_id: str, error: str, *, now: float) -> None:
    _held(
        table, job_id, claim_id,
        "#status = :failed, #error = :error",
        {":failed": FAILED, ":error": error},
        names={"#error": "error"}, now=now, release=True,
    )  # fmt: skip


def release(table: Any, job_id: str, claim_id: str, error: str, *, now: float) -> None:
    """processing -> pending: give the job back after a transient error, so the retried record can claim it."""
    _held(
        table, job_id, claim_id,
        "#status = :pending, last_error = :error",
        {":pending": PENDING, ":error": error},
        now=now, release=True,
    )  # fmt: skip


def give_up(table: Any, job_id: str, error: str, *, now: float) -> bool:
    """-> failed with `error`, for a job the processor's mapping gave up on; False when it is not
    there to fail (finished already, or gone). Raises ClaimHeld while a run's claim is live.

    Only a job nobody is running moves: `pending` (given back by a failed run, or never run), or
    `processing` under an expired claim (its run died holding it).
    """
    try:
        table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="SET #status = :failed, #error = :error, updated_at = :now REMOVE claim_id, claimed_until",
            ConditionExpression="#status = :pending OR (#status = :processing AND claimed_until < :epoch)",
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues={
                ":failed": FAILED,
                ":error": error,
                ":pending": PENDING,
                ":processing": PROCESSING,
                ":epoch": Decimal(int(now)),
                ":now": _iso(now),
            },
        )
    except ClientError as error_:
        if not _conditional_failed(error_):
            raise
        current = get(table, job_id)
        if current is None or current["status"] in TERMINAL:
            return False
        raise ClaimHeld(f"job {job_id} is {current['status']} under a claim until {current.get('claimed_until')}") from None
    return True
