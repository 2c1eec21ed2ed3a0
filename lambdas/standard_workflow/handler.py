"""StandardWorkflow handlers: one entry point per Task state. Only S3 keys travel in state.

  split           {"job_id", "source_key", "group_by"} -> {"job_id", "chunk_count", "chunks": [{"manifest_key", "chunk"}]}
  process_chunk   {"job_id", "manifest_key", "chunk"}  -> {"result_key"}
  merge           {"job_id", "results": [{"result_key"}]} -> {"merged_key", "groups"}
  request_approval {"job_id", "merged_key", "task_token", "attempt", "requested_at", "timeout_seconds"}
                  -> {"deadline"} (the execution waits for the token; a retry brings a new one)
  publish         {"job_id", "merged_key"}             -> {"published_key"}
  record_failure  {"job_id", "error": {"Error", "Cause"}} -> {"job_id", "status"}

Bad data raises MalformedData (not retried); throttling raises TransientError (retried).
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from shared import aws
from shared.errors import MalformedData, TransientError
from standard_workflow import aggregate, jobs, names

THROTTLING = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "ProvisionedThroughputExceededException", "ServiceUnavailable", "InternalError"}

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
s3 = aws.client("s3")
sns = aws.client("sns")
BUCKET = os.environ[names.BUCKET_ENV]
table = aws.table(os.environ[names.JOBS_TABLE_ENV])


def _field(event: Any, name: str) -> str:
    value = event.get(name) if isinstance(event, dict) else None
    if not isinstance(value, str) or not value:
        raise MalformedData(f"the task input has no {name!r}")
    return value


def _aws(call, *args, **kwargs):
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
    job_id, source_key, group_by = _field(event, "job_id"), _field(event, "source_key"), _field(event, "group_by")
    jobs.start(table, job_id, source_key)
    head = _aws(s3.head_object, Bucket=BUCKET, Key=source_key)
    size, etag = head["ContentLength"], head["ETag"]
    first = _aws(s3.get_object, Bucket=BUCKET, Key=source_key, Range=f"bytes=0-{aggregate.MAX_ROW_BYTES}", IfMatch=etag)["Body"].read() if size else b""
    columns, data_start = aggregate.parse_header(first, group_by)
    ranges = aggregate.byte_ranges(data_start, size, int(os.environ[names.CHUNK_BYTES_ENV]))
    if len(ranges) > int(os.environ[names.MAX_CHUNKS_ENV]):
        raise MalformedData(f"the dataset needs {len(ranges)} chunks; the limit is {os.environ[names.MAX_CHUNKS_ENV]}")
    chunks = []
    for index, (start, end) in enumerate(ranges):
        manifest_key = f"{job_prefix(job_id)}chunks/{index:05d}.json"
        _put_json(manifest_key, {"source_key": source_key, "etag": etag, "size": size, "start": start, "end": end, "columns": columns, "group_by": group_by})
        chunks.append({"manifest_key": manifest_key, "chunk": index})
    jobs.processing(table, job_id, len(chunks))
    logger.info("split", extra={"job_id": job_id, "bytes": size, "chunks": len(chunks)})
    return {"job_id": job_id, "chunk_count": len(chunks), "chunks": chunks}


@tracer.capture_lambda_handler
def process_chunk(event: Any, context: LambdaContext) -> dict[str, Any]:
    job_id, manifest_key = _field(event, "job_id"), _field(event, "manifest_key")
    chunk = event.get("chunk")
    if not isinstance(chunk, int):
        raise MalformedData("the task input has no integer 'chunk'")
    manifest = _get_json(manifest_key)
    start, end, size = manifest["start"], manifest["end"], manifest["size"]
    if end - start > int(os.environ[names.CHUNK_BYTES_ENV]):
        raise MalformedData(f"chunk {chunk} spans {end - start} bytes; the limit is {os.environ[names.CHUNK_BYTES_ENV]}")
    window_start = max(start - 1, 0)
    window_end = min(end + aggregate.MAX_ROW_BYTES, size) - 1
    window = _aws(s3.get_object, Bucket=BUCKET, Key=manifest["source_key"], Range=f"bytes={window_start}-{window_end}", IfMatch=manifest["etag"])["Body"].read()
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
    job_id = _field(event, "job_id")
    results = event.get("results")
    if not isinstance(results, list) or not results:
        raise MalformedData("the task input has no 'results' from the Map state")
    merged = aggregate.merge_results([_get_json(_field(r, "result_key")) for r in results])
    merged_key = f"{job_prefix(job_id)}merged.json"
    _put_json(merged_key, merged)
    return {"merged_key": merged_key, "groups": len(merged)}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def request_approval(event: Any, context: LambdaContext) -> dict[str, Any]:
    job_id, merged_key, token = _field(event, "job_id"), _field(event, "merged_key"), _field(event, "task_token")
    attempt = event.get("attempt") if isinstance(event.get("attempt"), int) else 0  # $$.State.RetryCount
    deadline = jobs.approval_deadline(event.get("requested_at"), event.get("timeout_seconds"))
    jobs.awaiting_approval(table, job_id, token, merged_key, attempt)
    _aws(sns.publish, TopicArn=os.environ[names.APPROVAL_TOPIC_ENV], Subject=f"Approve job {job_id}"[:100], Message=approval_message(job_id, merged_key, deadline, attempt))
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
    job_id, merged_key = _field(event, "job_id"), _field(event, "merged_key")
    published_key = f"{names.PUBLISHED_PREFIX}{job_id}.json"
    _aws(s3.copy_object, Bucket=BUCKET, Key=published_key, CopySource={"Bucket": BUCKET, "Key": merged_key})
    jobs.published(table, job_id, published_key)
    return {"published_key": published_key}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def record_failure(event: Any, context: LambdaContext) -> dict[str, Any]:
    job_id = _field(event, "job_id")
    caught = event.get("error") if isinstance(event.get("error"), dict) else {}
    error, cause = str(caught.get("Error") or "Unknown"), str(caught.get("Cause") or "")
    try:  # a Lambda error's Cause is JSON with errorMessage; keep the message, not the stack trace
        cause = json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        pass
    status = jobs.status_for(error)
    jobs.finished_badly(table, job_id, status, error, cause)
    logger.warning("job did not finish", extra={"job_id": job_id, "status": status, "error": error, "reason": cause})
    return {"job_id": job_id, "status": status}
