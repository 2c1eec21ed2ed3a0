"""StandardWorkflow handlers: one entry point per Task state, each reading its input into a model
below (`SplitInput`, ...). Only S3 keys travel in state.

  split           {"job_id", "source_key", "group_by"}
                  -> {"job_id", "chunk_count", "chunks": [{"manifest_key", "chunk"}]}
  process_chunk   {"job_id", "manifest_key", "chunk"}  -> {"result_key"}
  merge           {"job_id", "results": [{"result_key"}]} -> {"merged_key", "groups"}
  request_approval {"job_id", "merged_key", "task_token", "attempt", "requested_at", "timeout_seconds"}
                  -> {"deadline"} (the execution waits for the token; a retry brings a new one)
  publish         {"job_id", "merged_key"}             -> {"published_key"}
  record_failure  {"job_id", "error": {"Error", "Cause"}} -> {"job_id", "status"}

Bad data, an input that does not fit its model included, raises MalformedData (not retried);
throttling raises TransientError (retried).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, StrictInt, field_validator

from shared import aws
from shared.errors import MalformedData, TransientError
from shared.tasks import Text, task_input
from standard_workflow import aggregate, jobs, names

THROTTLING = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "ServiceUnavailable",
    "InternalError",
}

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
s3 = aws.client("s3")
sns = aws.client("sns")
BUCKET = os.environ[names.BUCKET_ENV]
table = aws.table(os.environ[names.JOBS_TABLE_ENV])


class SplitInput(BaseModel):
    job_id: Text
    source_key: Text
    etag: Text  # the version the upload's event is about
    group_by: Text


class ChunkInput(BaseModel):
    """One item of the Map state."""

    job_id: Text
    manifest_key: Text
    chunk: StrictInt


class ChunkResult(BaseModel):
    result_key: Text


class MergeInput(BaseModel):
    job_id: Text
    results: list[ChunkResult]

    @field_validator("results")
    @classmethod
    def _some(cls, results: list[ChunkResult]) -> list[ChunkResult]:
        if not results:
            raise ValueError("no results from the Map state")
        return results


class ApprovalInput(BaseModel):
    job_id: Text
    merged_key: Text
    task_token: Text
    attempt: Any = 0  # $$.State.RetryCount
    requested_at: Any = None  # $$.State.EnteredTime; jobs.approval_deadline says what is wrong with it
    timeout_seconds: Any = None

    @field_validator("attempt")
    @classmethod
    def _attempt(cls, attempt: Any) -> int:
        return attempt if isinstance(attempt, int) else 0


class PublishInput(BaseModel):
    job_id: Text
    merged_key: Text


class FailureInput(BaseModel):
    """What a Catch passes: the job and the caught error ({"Error", "Cause"}, either may be missing)."""

    job_id: Text
    error: Any = None

    @field_validator("error")
    @classmethod
    def _caught(cls, error: Any) -> dict[str, Any]:
        return error if isinstance(error, dict) else {}


def _aws(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call AWS; throttling and 5xx become TransientError, a missing object MalformedData."""
    try:
        return call(*args, **kwargs)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in THROTTLING:
            raise TransientError(f"{code}: {error}") from error
        if code in ("NoSuchKey", "404", "NotFound"):
            raise MalformedData(f"no such object: {kwargs.get('Key')}") from None
        raise


def _put_json(key: str, body: Any) -> None:
    _aws(s3.put_object, Bucket=BUCKET, Key=key, Body=json.dumps(body).encode(), ContentType="application/json")


def _get_json(key: str) -> Any:
    return json.loads(_aws(s3.get_object, Bucket=BUCKET, Key=key)["Body"].read())


def job_prefix(job_id: str) -> str:
    return f"{names.JOBS_PREFIX}{job_id}/"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def split(event: Any, context: LambdaContext) -> dict[str, Any]:
    task = task_input(SplitInput, event, expected='{"job_id", "source_key", "etag", "group_by"} from the Start state')
    job_id, source_key, group_by = task.job_id, task.source_key, task.group_by
    jobs.start(table, job_id, source_key)
    # The upload this job is for, not what the key holds now: an upload that replaced it has its
    # own event and its own job, so this one fails rather than process the newer data twice.
    try:
        head = _aws(s3.head_object, Bucket=BUCKET, Key=source_key, IfMatch=f'"{task.etag}"')
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("PreconditionFailed", "412"):
            raise
        raise MalformedData(
            f"{source_key} was replaced after this job's upload (ETag {task.etag}); the newer upload is its own job"
        ) from None
    size, etag = head["ContentLength"], head["ETag"]
    first = (
        _aws(s3.get_object, Bucket=BUCKET, Key=source_key, Range=f"bytes=0-{aggregate.MAX_ROW_BYTES}", IfMatch=etag)[
            "Body"
        ].read()
        if size
        else b""
    )
    columns, data_start = aggregate.parse_header(first, group_by)
    ranges = aggregate.byte_ranges(data_start, size, int(os.environ[names.CHUNK_BYTES_ENV]))
    if len(ranges) > int(os.environ[names.MAX_CHUNKS_ENV]):
        raise MalformedData(f"the dataset needs {len(ranges)} chunks; the limit is {os.environ[names.MAX_CHUNKS_ENV]}")
    chunks = []
    for index, (start, end) in enumerate(ranges):
        manifest_key = f"{job_prefix(job_id)}chunks/{index:05d}.json"
        _put_json(
            manifest_key,
            {
                "source_key": source_key,
                "etag": etag,
                "size": size,
                "start": start,
                "end": end,
                "columns": columns,
                "group_by": group_by,
            },
        )
        chunks.append({"manifest_key": manifest_key, "chunk": index})
    jobs.processing(table, job_id, len(chunks))
    logger.info("split", extra={"job_id": job_id, "bytes": size, "chunks": len(chunks)})
    return {"job_id": job_id, "chunk_count": len(chunks), "chunks": chunks}


@tracer.capture_lambda_handler
def process_chunk(event: Any, context: LambdaContext) -> dict[str, Any]:
    task = task_input(ChunkInput, event, expected='{"job_id", "manifest_key", "chunk"} from the Map state')
    job_id, manifest_key, chunk = task.job_id, task.manifest_key, task.chunk
    manifest = _get_json(manifest_key)
    start, end, size = manifest["start"], manifest["end"], manifest["size"]
    if end - start > int(os.environ[names.CHUNK_BYTES_ENV]):
        raise MalformedData(
            f"chunk {chunk} spans {end - start} bytes; the limit is {os.environ[names.CHUNK_BYTES_ENV]}"
        )
    window_start = max(start - 1, 0)
    window_end = min(end + aggregate.MAX_ROW_BYTES, size) - 1
    window = _aws(
        s3.get_object,
        Bucket=BUCKET,
        Key=manifest["source_key"],
        Range=f"bytes={window_start}-{window_end}",
        IfMatch=manifest["etag"],
    )["Body"].read()
    lines = aggregate.owned_lines(window, window_start, start, end, size)
    result = aggregate.aggregate_rows(lines, manifest["columns"], manifest["group_by"])
    result_key = f"{job_prefix(job_id)}results/{chunk:05d}.json"
    _put_json(result_key, result)
    if not jobs.chunk_done(table, job_id, chunk):
        logger.info("job no longer processing: chunk not counted", extra={"job_id": job_id, "chunk": chunk})
    return {"result_key": result_key}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def merge(event: Any, context: LambdaContext) -> dict[str, Any]:
    task = task_input(MergeInput, event, expected='{"job_id", "results": [{"result_key"}, ...]} from the Map state')
    job_id = task.job_id
    merged = aggregate.merge_results([_get_json(result.result_key) for result in task.results])
    merged_key = f"{job_prefix(job_id)}merged.json"
    _put_json(merged_key, merged)
    return {"merged_key": merged_key, "groups": len(merged)}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def request_approval(event: Any, context: LambdaContext) -> dict[str, Any]:
    task = task_input(
        ApprovalInput,
        event,
        expected='{"job_id", "merged_key", "task_token", "attempt", "requested_at", "timeout_seconds"}',
    )
    job_id, merged_key, token, attempt = task.job_id, task.merged_key, task.task_token, task.attempt
    deadline = jobs.approval_deadline(task.requested_at, task.timeout_seconds)
    jobs.awaiting_approval(table, job_id, token, merged_key, attempt)
    _aws(
        sns.publish,
        TopicArn=os.environ[names.APPROVAL_TOPIC_ENV],
        Subject=f"Approve job {job_id}"[:100],
        Message=approval_message(job_id, merged_key, deadline, attempt),
    )
    logger.info("approval requested", extra={"job_id": job_id, "attempt": attempt, "deadline": deadline})
    return {"deadline": deadline}


def approval_message(job_id: str, merged_key: str, deadline: str, attempt: int) -> str:
    again = "\nThis request replaces an earlier one for the same job: answer this one.\n" if attempt else ""
    return (
        f"Job {job_id} has finished aggregating and waits for your approval.\n"
        f"Answer before {deadline}; after that the job ends EXPIRED and publishes nothing.\n"
        f"Review s3://{BUCKET}/{merged_key}, then run one of:\n"
        f"  make approve JOB={job_id}\n"
        f"  make approve JOB={job_id} DECISION=reject REASON='why'\n"
        f"{again}"
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def publish(event: Any, context: LambdaContext) -> dict[str, Any]:
    task = task_input(PublishInput, event, expected='{"job_id", "merged_key"} from the approval')
    job_id, merged_key = task.job_id, task.merged_key
    published_key = f"{names.PUBLISHED_PREFIX}{job_id}.json"
    _aws(s3.copy_object, Bucket=BUCKET, Key=published_key, CopySource={"Bucket": BUCKET, "Key": merged_key})
    jobs.published(table, job_id, published_key)
    return {"published_key": published_key}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def record_failure(event: Any, context: LambdaContext) -> dict[str, Any]:
    task = task_input(FailureInput, event, expected='{"job_id", "error": {"Error", "Cause"}} from a Catch')
    job_id, caught = task.job_id, task.error
    error, cause = str(caught.get("Error") or "Unknown"), str(caught.get("Cause") or "")
    try:  # a Lambda error's Cause is JSON with errorMessage; keep the message, not the stack trace
        cause = json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        pass
    status = jobs.status_for(error)
    jobs.finished_badly(table, job_id, status, error, cause)
    logger.warning("job did not finish", extra={"job_id": job_id, "status": status, "error": error, "reason": cause})
    return {"job_id": job_id, "status": status}
