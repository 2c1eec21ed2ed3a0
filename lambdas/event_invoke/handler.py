"""EventInvoke handler: S3 object-created events, invoked asynchronously by S3.

For each object under the upload prefix it writes `analysis/<key>.json` beside it:
- `"status": "analyzed"` with the facts about the object, or
- `"status": "rejected"` with the reason, for permanent errors (too large, not text, deleted or
  replaced before analysis). These return normally, so Lambda does not retry them; the result
  file, the on-success record and the RejectedObjects metric (alarmed) make them visible.
Transient errors (S3 throttling, timeouts, 5xx) raise: Lambda retries the event, then sends it to
the on-failure destination and the dead-letter queue. So does an event that is not an S3
notification at all, a caller's bug.

Idempotent: a retried or duplicated event for an object that already has a result for the same
ETag returns that result without writing a second one.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from event_invoke.analysis import Rejected, analyze, check_size

RESULTS_PREFIX = os.environ["RESULTS_PREFIX"]
MAX_OBJECT_BYTES = int(os.environ["MAX_OBJECT_BYTES"])

logger = Logger()
tracer = Tracer()
metrics = Metrics()
s3 = boto3.client("s3")


def result_key(key: str) -> str:
    return f"{RESULTS_PREFIX}{key}.json"


def _existing(bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise


def _read(bucket: str, key: str, etag: str) -> bytes:
    """The object's bytes, if it is still the version this event is about."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key, IfMatch=etag) if etag else s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in ("NoSuchKey", "404"):
            raise Rejected("the object was deleted before it could be analyzed") from None
        if code in ("PreconditionFailed", "412"):
            raise Rejected("the object was replaced before it could be analyzed; the newer upload has its own event") from None
        raise  # throttling, 5xx, access: transient or fixable, so Lambda retries
    return response["Body"].read(MAX_OBJECT_BYTES + 1)


@tracer.capture_method
def analyze_record(record: S3EventRecord) -> dict[str, Any]:
    # S3 URL-encodes keys in notifications ("notes 2026.md" arrives as "notes+2026.md").
    bucket, key = record.s3.bucket.name, unquote_plus(record.s3.get_object.key)
    etag = (record.s3.get_object.etag or "").strip('"')
    source = {"bucket": bucket, "key": key, "etag": etag}
    existing = _existing(bucket, result_key(key))
    if existing and existing.get("source", {}).get("etag") == etag:
        logger.info("already analyzed", extra=source)
        return existing
    try:
        check_size(record.s3.get_object.size or 0, MAX_OBJECT_BYTES)
        result = {"status": "analyzed", "source": source, **analyze(key, _read(bucket, key, etag), max_bytes=MAX_OBJECT_BYTES).as_dict()}
    except Rejected as reason:
        logger.warning("rejected", extra={**source, "reason": str(reason)})
        metrics.add_metric(name="RejectedObjects", unit=MetricUnit.Count, value=1)
        result = {"status": "rejected", "source": source, "reason": str(reason)}
    s3.put_object(Bucket=bucket, Key=result_key(key), Body=json.dumps(result, indent=2).encode(), ContentType="application/json")
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=S3Event)
def main(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    records = list(event.get("Records") or [])
    if not records or any(r.get("eventSource") != "aws:s3" for r in records):
        raise ValueError("not an S3 event notification: expected Records from aws:s3")
    return {"results": [analyze_record(S3EventRecord(r)) for r in records]}
