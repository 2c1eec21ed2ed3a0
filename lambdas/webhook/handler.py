"""Webhook handler: one function, two entry shapes, told apart by the event's shape only.

1. Function URL request (payload format 2.0, it always has `requestContext.http`; read as
   Powertools' `LambdaFunctionUrlEvent`): check the size,
   pick the provider by path (/github, /slack), verify its signature over the raw bytes with the
   secret from Secrets Manager, hand the delivery to this same function through the stack's work
   queue, and answer 200 at once (providers give up after about 3 seconds). A delivery whose
   message would be over SQS's limit is stored in the payloads bucket first and the message
   carries its key (a claim check).
2. SQS event (`Records` from `aws:sqs`, sent only by the stack's mapping on its work queue): for
   each message (an `SQSRecord` whose body is a `HandOff`), do the slow work once per provider
   delivery id and record it in the deliveries table (Powertools BatchProcessor). A message that
   fails is reported in `batchItemFailures`, so SQS redelivers only it and, after the queue's
   maxReceiveCount, moves it to the DLQ.

A signing secret that cannot be read or is empty fails closed: 503 with a JSON body, nothing
accepted, an error logged (and the stack alarms on the URL's 5xx answers).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import time
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, field_validator, model_validator

from shared import aws
from shared.http import proxy_error
from webhook import names
from webhook.deliveries import Delivery, summarize
from webhook.signatures import github_problem, slack_problem

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

MAX_BODY_BYTES = int(os.environ.get(names.MAX_BODY_BYTES_ENV, str(6 * 1024 * 1024)))
HANDOFF_MAX_BYTES = int(os.environ.get(names.HANDOFF_MAX_BYTES_ENV, str(1024 * 1024)))
SECRET_MAX_AGE = int(os.environ.get(names.SECRET_MAX_AGE_SECONDS_ENV, "300"))
SECRET_ENVS = {"github": names.GITHUB_SECRET_ENV, "slack": names.SLACK_SECRET_ENV}
MAX_ID_LENGTH = 200

clock = time.time  # seconds since the epoch; tests move it to check replay windows

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
sqs = aws.client("sqs")
s3 = aws.client("s3")
deliveries_table = aws.table(os.environ[names.DELIVERIES_TABLE_ENV])
idempotency = aws.idempotency_config(
    event_key_jmespath="[provider, delivery_id]",
    expires_after_seconds=int(os.environ.get(names.IDEMPOTENCY_EXPIRY_SECONDS_ENV, str(7 * 24 * 3600))),
)


class Rejected(Exception):
    """A request answered with an error; nothing is handed off."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.response = proxy_error(status, error, message)


class HandOff(BaseModel):
    """The work queue's message: a verified delivery, its payload inline or stored under `payload_key`."""

    provider: str
    delivery_id: str
    event_type: str
    payload: dict[str, Any] | None = None
    payload_key: str | None = None

    @field_validator("payload_key")
    @classmethod
    def _under_the_prefix(cls, key: str | None) -> str | None:
        if key is not None and not key.startswith(names.PAYLOADS_PREFIX):
            raise ValueError(f"a claim check is a key under {names.PAYLOADS_PREFIX}")
        return key

    @model_validator(mode="after")
    def _one_payload(self) -> HandOff:
        if (self.payload is None) == (self.payload_key is None):
            raise ValueError("a hand-off carries its payload or a claim check for it, exactly one")
        return self


def _is_text(value: Any) -> TypeGuard[str]:
    """A non-empty string that UTF-8 can carry (a JSON escape can spell a lone surrogate; it cannot)."""
    if not isinstance(value, str) or not value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- 1. the HTTP path -----------------------------------------------------------------------


def _raw_body(request: LambdaFunctionUrlEvent) -> bytes:
    body = request.body or ""
    if not isinstance(body, str):
        raise Rejected(400, "MALFORMED_BODY", "The request body is not text.")
    # A base64 body is 4/3 its size: refuse an oversized one before decoding it.
    if len(body) > (MAX_BODY_BYTES * 4 // 3 + 4 if request.is_base64_encoded else MAX_BODY_BYTES * 4):
        raise Rejected(413, "PAYLOAD_TOO_LARGE", f"The request body is over the limit of {MAX_BODY_BYTES} bytes.")
    try:
        raw = (
            base64.b64decode(body, validate=True)
            if request.is_base64_encoded
            else body.encode("utf-8", "surrogatepass")
        )
    except (binascii.Error, ValueError):
        raise Rejected(400, "MALFORMED_BODY", "The request body is marked base64 but does not decode.") from None
    if len(raw) > MAX_BODY_BYTES:
        raise Rejected(
            413, "PAYLOAD_TOO_LARGE", f"The request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}."
        )
    return raw


def _secret(provider: str) -> bytes:
    """The provider's signing key. Unreadable (Secrets Manager refused or failed, the secret or its
    variable missing) or empty, nothing can be verified: a 503, never an unhandled error."""
    try:
        value = aws.get_secret(os.environ[SECRET_ENVS[provider]], max_age=SECRET_MAX_AGE)
        key = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    except Exception:  # GetParameterError wraps every Secrets Manager failure; KeyError, a missing variable
        logger.exception("webhook secret unreadable", extra={"provider": provider})
        raise Rejected(
            503, "SECRET_UNAVAILABLE", "The webhook cannot verify deliveries now; this one was not accepted."
        ) from None
    if not key:
        logger.error("webhook secret empty", extra={"provider": provider})
        raise Rejected(
            503, "SECRET_UNAVAILABLE", "The webhook cannot verify deliveries now; this one was not accepted."
        )
    return key


def _verify(provider: str, raw: bytes, headers: dict[str, str]) -> None:
    secret = _secret(provider)
    problem = (
        github_problem(raw, headers, secret) if provider == "github" else slack_problem(raw, headers, secret, clock())
    )
    if problem:
        logger.warning("webhook rejected", extra={"provider": provider, "reason": problem})
        raise Rejected(401, "UNAUTHORIZED", "The request is not signed by a known sender.")


def _payload(raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """The verified body as a dict: JSON, or form-encoded (Slack commands; `payload=` holds JSON)."""
    try:
        text = raw.decode("utf-8")
        if headers.get("content-type", "").split(";")[0].strip() == "application/x-www-form-urlencoded":
            form = {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}
            payload = json.loads(form["payload"]) if "payload" in form else form
        else:
            payload = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Rejected(400, "MALFORMED_BODY", "The signed body is not JSON or form data.") from None
    if not isinstance(payload, dict):
        raise Rejected(400, "MALFORMED_BODY", "The signed body is not a JSON object.")
    return payload


def _delivery(provider: str, headers: dict[str, str], payload: dict[str, Any]) -> Delivery:
    if provider == "github":
        delivery_id, event_type = headers.get("x-github-delivery"), headers.get("x-github-event")
    else:
        delivery_id = payload.get("event_id") or payload.get("trigger_id")
        event = payload.get("event")
        event_type = event.get("type") if isinstance(event, dict) else payload.get("type") or payload.get("command")
    # Ids become table keys: text that UTF-8 can carry, or the delivery is refused here, not lost later.
    if not _is_text(delivery_id) or not _is_text(event_type):
        raise Rejected(400, "MALFORMED_BODY", "The delivery has no delivery id or event type.")
    return Delivery(
        provider=provider,
        delivery_id=delivery_id[:MAX_ID_LENGTH],
        event_type=event_type[:MAX_ID_LENGTH],
        payload=payload,
    )


def _hand_off(delivery: Delivery, context: LambdaContext) -> None:
    """Send the delivery to the work queue; a payload too large for a message goes to S3 first."""
    # ASCII JSON: any code point the payload holds is escaped, so SQS accepts every character.
    message = json.dumps(HandOff(**delivery.model_dump()).model_dump(mode="json", exclude_none=True))
    if len(message) > HANDOFF_MAX_BYTES:
        key = f"{names.PAYLOADS_PREFIX}{delivery.provider}/{context.aws_request_id}.json"
        try:
            s3.put_object(
                Bucket=os.environ[names.PAYLOADS_BUCKET_ENV],
                Key=key,
                Body=json.dumps(delivery.payload).encode(),
                ContentType="application/json",
            )
        except Exception:  # as for the send below: nothing was stored, nothing accepted
            logger.exception(
                "webhook payload not stored", extra={"provider": delivery.provider, "delivery_id": delivery.delivery_id}
            )
            raise Rejected(
                503, "HANDOFF_FAILED", "The webhook could not queue this delivery; it was not accepted."
            ) from None
        claim = HandOff(
            provider=delivery.provider,
            delivery_id=delivery.delivery_id,
            event_type=delivery.event_type,
            payload_key=key,
        )
        message = json.dumps(claim.model_dump(mode="json", exclude_none=True))
        logger.info("webhook payload stored", extra={"delivery_id": delivery.delivery_id, "key": key})
    try:
        sqs.send_message(QueueUrl=os.environ[names.WORK_QUEUE_URL_ENV], MessageBody=message)
    except Exception:  # botocore's ClientError or a connection error: nothing was queued
        logger.exception(
            "webhook hand-off failed", extra={"provider": delivery.provider, "delivery_id": delivery.delivery_id}
        )
        raise Rejected(
            503, "HANDOFF_FAILED", "The webhook could not queue this delivery; it was not accepted."
        ) from None


def _accept(request: LambdaFunctionUrlEvent, context: LambdaContext) -> dict[str, Any]:
    http = request.request_context.http
    headers = {key: str(value) for key, value in request.headers.items()}  # keys lower-cased
    provider = http.path.strip("/")
    if provider not in SECRET_ENVS:
        raise Rejected(401, "UNAUTHORIZED", "The request is not signed by a known sender.")
    if http.method != "POST":
        raise Rejected(405, "METHOD_NOT_ALLOWED", "Webhooks are POSTed.")
    raw = _raw_body(request)
    _verify(provider, raw, headers)
    payload = _payload(raw, headers)
    if provider == "slack" and payload.get("type") == "url_verification":
        challenge = payload.get("challenge", "")
        if challenge != "" and not _is_text(challenge):
            raise Rejected(400, "MALFORMED_BODY", "The url_verification challenge is not text.")
        return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": challenge}
    delivery = _delivery(provider, headers, payload)
    _hand_off(delivery, context)
    logger.info("webhook accepted", extra={"provider": provider, "delivery_id": delivery.delivery_id})
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"status": "accepted", "delivery_id": delivery.delivery_id}),
    }


# --- 2. the SQS path --------------------------------------------------------------------------


@aws.idempotent(data_keyword_argument="handoff", config=idempotency, table_name=os.environ[names.IDEMPOTENCY_TABLE_ENV])
def process(handoff: dict[str, Any]) -> dict[str, Any]:
    """Once per provider delivery id: the slow work, then its record in the deliveries table."""
    parsed = HandOff.model_validate(handoff)
    if parsed.payload_key is not None:  # a claim check: the payload is in the bucket
        stored = s3.get_object(Bucket=os.environ[names.PAYLOADS_BUCKET_ENV], Key=parsed.payload_key)
        payload: dict[str, Any] = json.loads(stored["Body"].read())
    else:
        payload = parsed.payload or {}  # inline (HandOff checks that it carries exactly one)
    delivery = Delivery(
        provider=parsed.provider, delivery_id=parsed.delivery_id, event_type=parsed.event_type, payload=payload
    )
    summary = summarize(delivery)
    item = {
        "delivery_id": f"{delivery.provider}#{delivery.delivery_id}",
        "received_at": int(time.time()),
        **summary.model_dump(mode="json", exclude_none=True),
    }
    deliveries_table.put_item(Item=item)
    logger.info("webhook processed", extra={"delivery_id": item["delivery_id"]})
    return item


@functools.cache
def _batch_processing() -> tuple[Any, Any]:
    """Powertools' batch utility, imported on the SQS path's first use: its import (about 0.2 s)
    would otherwise lengthen every cold start of the URL path, which must answer in seconds."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    # A batch in which every message fails still returns batchItemFailures: poison messages are
    # the queue's business (DLQ alarm); the Errors alarm stays for the function itself failing.
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False), process_partial_response


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    # A body that is not a hand-off, a claim check whose object is gone, or failing work raises
    # here: the message is reported failed and, after maxReceiveCount receives, lands in the DLQ.
    handoff = HandOff.model_validate(json.loads(record.body))
    process(handoff=handoff.model_dump(mode="json", exclude_none=True))
    if handoff.payload_key is not None:
        _forget_payload(handoff.payload_key)


def _forget_payload(key: str) -> None:
    """A claim check's payload is deleted once its delivery is processed (a duplicate message
    gets the stored result from the idempotency record, without reading it). A failed delete
    only leaves it to the bucket's lifecycle rule."""
    try:
        s3.delete_object(Bucket=os.environ[names.PAYLOADS_BUCKET_ENV], Key=key)
    except Exception:
        logger.warning("webhook payload not deleted; the lifecycle rule will", extra={"key": key}, exc_info=True)


# --- entry point ------------------------------------------------------------------------------


def _is_http(event: Any) -> bool:
    """A Function URL request: `requestContext.http` with its method and path, as Lambda always sends."""
    http = (
        event.get("requestContext", {}).get("http")
        if isinstance(event, dict) and isinstance(event.get("requestContext"), dict)
        else None
    )
    return isinstance(http, dict) and isinstance(http.get("method"), str) and isinstance(http.get("path"), str)


def _is_sqs(event: Any) -> bool:
    # Only the stack's mapping sends this shape; a URL event always has requestContext.http, so it is never one.
    if not isinstance(event, dict) or "requestContext" in event:
        return False
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def main(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if _is_http(event):
        try:
            return _accept(LambdaFunctionUrlEvent(event), context)
        except Rejected as rejected:
            return rejected.response
    if _is_sqs(event):
        idempotency.register_lambda_context(context)
        processor, process_partial_response = _batch_processing()
        batch_failures: dict[str, Any] = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
        return batch_failures
    raise ValueError("not a Function URL request nor an SQS event from this function's queue")
