"""EventInvoke handler: S3 object-created events, invoked asynchronously by S3.

For each object under the upload prefix it writes `analysis/<key>.json` beside it:
- `"status": "analyzed"` with the facts about the object, or
- `"status": "rejected"` with the reason, for permanent errors (too large, not text, deleted or
  replaced before analysis). These return normally, so Lambda does not retry them; the result
  file, the on-success record and the RejectedObjects metric (alarmed) make them visible.
Transient errors (S3 throttling, timeouts, 5xx) raise: Lambda retries the event, then sends it to
the on-failure destination and the dead-letter queue. So does an event that is not an S3
notification at all, a caller's bug. (A deleted object reads as 404 NoSuchKey because the function
may also list the bucket; without s3:ListBucket S3 would answer 403 and it would be retried.)

Idempotent (Powertools idempotency, DynamoDB), keyed on bucket, key and ETag: a retried or
duplicated event for the same version of an object returns the first result without reading the
object or writing a second result; a new upload of the same key has a new ETag and is analyzed.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from event_invoke import names
from event_invoke.analysis import Rejected, analyze, check_size
from shared import aws

RESULTS_PREFIX = os.environ[names.RESULTS_PREFIX_ENV]
MAX_OBJECT_BYTES = int(os.environ[names.MAX_OBJECT_BYTES_ENV])

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
metrics = Metrics()
s3 = aws.client("s3")
idempotency = aws.idempotency_config(
    event_key_jmespath="[bucket, key, etag]",
    expires_after_seconds=int(os.environ[names.IDEMPOTENCY_EXPIRY_SECONDS_ENV]),
)


def result_key(key: str) -> str:
    return f"{RESULTS_PREFIX}{key}.json"


def _read(bucket: str, key: str, etag: str) -> bytes:
    """The object's bytes, if it is still the version this event is about."""
    try:
        response = (
            s3.get_object(Bucket=bucket, Key=key, IfMatch=etag) if etag else s3.get_object(Bucket=bucket, Key=key)
        )
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in ("NoSuchKey", "404"):
            raise Rejected("the object was deleted before it could be analyzed") from None
        if code in ("PreconditionFailed", "412"):
            raise Rejected(
                "the object was replaced before it could be analyzed; the newer upload has its own event"
            ) from None
        raise  # throttling, 5xx, access: transient or fixable, so Lambda retries
    body: bytes = response["Body"].read(MAX_OBJECT_BYTES + 1)
    return body


@aws.idempotent(data_keyword_argument="source", config=idempotency, table_name=os.environ[names.IDEMPOTENCY_TABLE_ENV])
def analyze_object(source: dict[str, Any], size: int) -> dict[str, Any]:
    """Analyze one version of one object and write its result; runs once per bucket, key and ETag."""
    bucket, key, etag = source["bucket"], source["key"], source["etag"]
    try:
        check_size(size, MAX_OBJECT_BYTES)
        result = {
            "status": "analyzed",
            "source": source,
            **analyze(key, _read(bucket, key, etag), max_bytes=MAX_OBJECT_BYTES).as_dict(),
        }
    except Rejected as reason:
        logger.warning("rejected", extra={**source, "reason": str(reason)})
        metrics.add_metric(name="RejectedObjects", unit=MetricUnit.Count, value=1)
        result = {"status": "rejected", "source": source, "reason": str(reason)}
    s3.put_object(
        Bucket=bucket, Key=result_key(key), Body=json.dumps(result, indent=2).encode(), ContentType="application/json"
    )
    return result


@tracer.capture_method
def analyze_record(record: S3EventRecord) -> dict[str, Any]:
    # S3 URL-encodes keys in notifications ("notes 2026.md" arrives as "notes+2026.md").
    source = {
        "bucket": record.s3.bucket.name,
        "key": unquote_plus(record.s3.get_object.key),
        "etag": (record.s3.get_object.etag or "").strip('"'),
    }
    result: dict[str, Any] = analyze_object(source=source, size=record.s3.get_object.size or 0)
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=S3Event)
def main(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    records = list(event.get("Records") or [])
    if not records or any(r.get("eventSource") != "aws:s3" for r in records):
        raise ValueError("not an S3 event notification: expected Records from aws:s3")
    return {"results": [analyze_record(S3EventRecord(r)) for r in records]}
