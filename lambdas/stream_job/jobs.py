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
from typing import Any

from shared.lease import Lease, LeaseLost
from shared.timestamps import iso

PENDING, PROCESSING, COMPLETE, FAILED = "pending", "processing", "complete", "failed"
TERMINAL = frozenset({COMPLETE, FAILED})
JOB_ID = re.compile(r"^j-[0-9a-f]{32}$")


class ClaimLost(LeaseLost):
    """Another run holds the job now (this run's claim expired): stop without writing."""


class ClaimHeld(Exception):
    """A run holds the job under a claim that has not expired: it may still be running."""


def new_job_id() -> str:
    return f"j-{uuid.uuid4().hex}"


def _lease(table: Any, job_id: str) -> Lease:
    """A processor run's claim on the job: pending -> processing until the run's deadline."""
    return Lease(
        table,
        {"job_id": job_id},
        free=PENDING,
        held=PROCESSING,
        claim_attribute="claim_id",
        until_attribute="claimed_until",
        lost=ClaimLost,
    )


def insert_pending(table: Any, job_id: str, request: dict[str, Any], *, now: float, ttl_seconds: int) -> dict[str, Any]:
    item = {
        "job_id": job_id,
        "status": PENDING,
        "request": request,
        "created_at": iso(now),
        "updated_at": iso(now),
        "expires_at": int(now) + ttl_seconds,
        "attempts": 0,
        "progress": 0,
    }
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(job_id)")
    return item


def get(table: Any, job_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
    return item


def claim(table: Any, job_id: str, claim_id: str, *, now: float, until: float) -> bool:
    """pending -> processing for this run; False when the job is not there to take.

    A `processing` job whose claim has expired (its run timed out or crashed) is taken over.
    """
    return _lease(table, job_id).take(claim_id, now=now, until=until, also="ADD attempts :one", values={":one": 1})


def set_progress(table: Any, job_id: str, claim_id: str, percent: int, *, now: float) -> None:
    _lease(table, job_id).write(claim_id, "progress = :p", {":p": percent}, now=now)


def complete(table: Any, job_id: str, claim_id: str, result: dict[str, Any], *, now: float) -> None:
    sets = "#status = :complete, #result = :result, progress = :hundred"
    values = {":complete": COMPLETE, ":result": result, ":hundred": 100}
    _lease(table, job_id).write(claim_id, sets, values, names={"#result": "result"}, now=now, release=True)


def fail(table: Any, job_id: str, claim_id: str, error: str, *, now: float) -> None:
    values = {":failed": FAILED, ":error": error}
    _lease(table, job_id).write(
        claim_id, "#status = :failed, #error = :error", values, names={"#error": "error"}, now=now, release=True
    )


def release(table: Any, job_id: str, claim_id: str, error: str, *, now: float) -> None:
    """processing -> pending: give the job back after a transient error, so the retried record can claim it."""
    values = {":pending": PENDING, ":error": error}
    _lease(table, job_id).write(claim_id, "#status = :pending, last_error = :error", values, now=now, release=True)


def give_up(table: Any, job_id: str, error: str, *, now: float) -> bool:
    """-> failed with `error`, for a job the processor's mapping gave up on; False when it is not
    there to fail (finished already, or gone). Raises ClaimHeld while a run's claim is live.

    Only a job nobody is running moves: `pending` (given back by a failed run, or never run), or
    `processing` under an expired claim (its run died holding it).
    """
    values = {":failed": FAILED, ":error": error}
    if _lease(table, job_id).seize("#status = :failed, #error = :error", values, names={"#error": "error"}, now=now):
        return True
    current = get(table, job_id)
    if current is None or current["status"] in TERMINAL:
        return False
    raise ClaimHeld(f"job {job_id} is {current['status']} under a claim until {current.get('claimed_until')}")
