"""The job record in DynamoDB: one item per job, moved through its statuses by conditional updates.

SPLITTING -> PROCESSING (chunks_done of chunks_total) -> AWAITING_APPROVAL (task_token of the
latest approval request; a retried request replaces it) -> PUBLISHED
any unfinished status -> FAILED (with error and reason), REJECTED, or EXPIRED (approval timed out)
A transition from the wrong status fails its condition, so a late retry cannot undo a later state.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.errors import MalformedData
from shared.timestamps import iso

SPLITTING, PROCESSING, AWAITING_APPROVAL = "SPLITTING", "PROCESSING", "AWAITING_APPROVAL"
PUBLISHED, FAILED, REJECTED, EXPIRED = "PUBLISHED", "FAILED", "REJECTED", "EXPIRED"
FINISHED = (PUBLISHED, FAILED, REJECTED, EXPIRED)


def start(table: Any, job_id: str, source_key: str) -> None:
    table.update_item(
        Key={"job_id": job_id},
        UpdateExpression="SET #s = :s, source_key = :k, created_at = if_not_exists(created_at, :t), updated_at = :t",
        ConditionExpression="attribute_not_exists(job_id) OR #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": SPLITTING, ":k": source_key, ":t": iso(timespec="seconds")},
    )


def processing(table: Any, job_id: str, chunks_total: int) -> None:
    table.update_item(
        Key={"job_id": job_id},
        UpdateExpression=(
            "SET #s = :s, chunks_total = :n, chunks_done = if_not_exists(chunks_done, :z), updated_at = :t"
        ),
        ConditionExpression="#s IN (:from, :s)",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":s": PROCESSING,
            ":from": SPLITTING,
            ":n": chunks_total,
            ":z": 0,
            ":t": iso(timespec="seconds"),
        },
    )


def chunk_done(table: Any, job_id: str, chunk: int) -> bool:
    """Idempotent: a chunk index joins a set once, however often its task is retried.

    False when the job has left PROCESSING (another chunk failed it while this one ran): the
    late chunk's result is not counted, and it is no failure of its own.
    """
    try:
        table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="ADD done_chunks :c SET updated_at = :t",
            ConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":c": {chunk}, ":s": PROCESSING, ":t": iso(timespec="seconds")},
        )
    except table.meta.client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def awaiting_approval(table: Any, job_id: str, task_token: str, merged_key: str, attempt: int = 0) -> None:
    """Store the approval request's task token. Step Functions retries the request with a new
    token (attempt = `$$.State.RetryCount`): a retry replaces the token of an earlier attempt of
    this job, never a later one, and never moves a job that has left PROCESSING or AWAITING_APPROVAL."""
    table.update_item(
        Key={"job_id": job_id},
        UpdateExpression="SET #s = :s, task_token = :tok, approval_attempt = :a, merged_key = :m, updated_at = :t",
        ConditionExpression=(
            "#s = :from OR (#s = :s AND (attribute_not_exists(approval_attempt) OR approval_attempt <= :a))"
        ),
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":s": AWAITING_APPROVAL,
            ":from": PROCESSING,
            ":tok": task_token,
            ":a": attempt,
            ":m": merged_key,
            ":t": iso(timespec="seconds"),
        },
    )


def approval_deadline(requested_at: Any, timeout_seconds: Any) -> str:
    """When an approval request expires, as `YYYY-MM-DDTHH:MM:SSZ` (UTC): the time the approval state
    was entered (`$$.State.EnteredTime`, ISO 8601) plus the state's TimeoutSeconds. A retried request
    is timed from its own start, so this is never later than its real deadline."""
    if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, int) or timeout_seconds <= 0:
        raise MalformedData("the approval request has no positive integer 'timeout_seconds'")
    try:
        entered = datetime.fromisoformat(str(requested_at).replace("Z", "+00:00"))
    except ValueError:
        raise MalformedData(
            f"the approval request's 'requested_at' is not an ISO 8601 time: {requested_at!r}"
        ) from None
    if entered.tzinfo is None:
        entered = entered.replace(tzinfo=UTC)
    deadline = entered + timedelta(seconds=timeout_seconds)
    return iso(deadline.timestamp(), timespec="seconds")


def published(table: Any, job_id: str, published_key: str) -> None:
    table.update_item(
        Key={"job_id": job_id},
        UpdateExpression="SET #s = :s, published_key = :p, updated_at = :t REMOVE task_token",
        ConditionExpression="#s IN (:from, :s)",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":s": PUBLISHED,
            ":from": AWAITING_APPROVAL,
            ":p": published_key,
            ":t": iso(timespec="seconds"),
        },
    )


def finished_badly(table: Any, job_id: str, status: str, error: str, reason: str) -> None:
    table.update_item(
        Key={"job_id": job_id},
        UpdateExpression="SET #s = :s, #e = :e, reason = :r, updated_at = :t REMOVE task_token",
        ConditionExpression="attribute_not_exists(#s) OR NOT #s IN (:published)",
        ExpressionAttributeNames={"#s": "status", "#e": "error"},
        ExpressionAttributeValues={
            ":s": status,
            ":e": error,
            ":r": reason[:1000],
            ":published": PUBLISHED,
            ":t": iso(timespec="seconds"),
        },
    )


def status_for(error: str) -> str:
    """A caught error's status: an approval timeout expires the job, a rejection rejects it."""
    if error in ("States.Timeout", "States.HeartbeatTimeout"):
        return EXPIRED
    if error == "Rejected":
        return REJECTED
    return FAILED


def job_id_for(key: str, sequencer: str) -> str:
    """The job id (and execution name) of one upload event: the object's key and the event's
    `sequencer`, which S3 gives every event of a key, in order, and repeats when it delivers the
    same event again. So a duplicate or retried S3 event cannot start a second job, while every
    new upload of the key, the same bytes included, is a job of its own (Standard execution names
    cannot be reused for 90 days). Execution names allow 80 characters of [A-Za-z0-9_-]."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", key.rsplit("/", 1)[-1].rsplit(".", 1)[0]).strip("-")[:40] or "job"
    digest = hashlib.sha256(f"{key}\n{sequencer.upper()}".encode()).hexdigest()[:16]
    return f"{stem}-{digest}"
