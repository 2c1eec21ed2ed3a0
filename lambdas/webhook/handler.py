"""Webhook handler: one function, two entry shapes.

1. Function URL request (payload format 2.0, it always has `requestContext.http`): check the size,
   pick the provider by path (/github, /slack), verify its signature over the raw bytes with the
   secret from Secrets Manager, then invoke this same function asynchronously with a small
   internal event and answer 200 at once (providers give up after about 3 seconds).
2. That internal event `{"webhook_delivery": {...}}` (a shape no URL request can have): do the slow
   work once per provider delivery id and record it in the deliveries table. It never invokes
   itself again; if the work raises, Lambda retries and then sends it to the on-failure destination.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import aws
from shared.http import proxy_error
from webhook import names
from webhook.deliveries import Delivery, summarize
from webhook.signatures import github_problem, slack_problem

INTERNAL_KEY = "webhook_delivery"
MAX_BODY_BYTES = int(os.environ.get(names.MAX_BODY_BYTES_ENV, str(256 * 1024)))
SECRET_MAX_AGE = int(os.environ.get(names.SECRET_MAX_AGE_SECONDS_ENV, "300"))
SECRET_ENVS = {"github": names.GITHUB_SECRET_ENV, "slack": names.SLACK_SECRET_ENV}

clock = time.time  # seconds since the epoch; tests move it to check replay windows

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
lambda_client = aws.client("lambda")
deliveries_table = aws.table(os.environ[names.DELIVERIES_TABLE_ENV])
idempotency = aws.idempotency_config(
    event_key_jmespath="[provider, delivery_id]",
    expires_after_seconds=int(os.environ.get(names.IDEMPOTENCY_EXPIRY_SECONDS_ENV, str(7 * 24 * 3600))),
)


class Rejected(Exception):
    """A request answered with a client error; nothing is invoked."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.response = proxy_error(status, error, message)


# --- 1. the HTTP path -----------------------------------------------------------------------


def _raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise Rejected(400, "MALFORMED_BODY", "The request body is not text.")
    # A base64 body is 4/3 its size: refuse an oversized one before decoding it.
    if len(body) > (MAX_BODY_BYTES * 4 // 3 + 4 if event.get("isBase64Encoded") else MAX_BODY_BYTES * 4):
        raise Rejected(413, "PAYLOAD_TOO_LARGE", f"The request body is over the limit of {MAX_BODY_BYTES} bytes.")
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError):
        raise Rejected(400, "MALFORMED_BODY", "The request body is marked base64 but does not decode.") from None
    if len(raw) > MAX_BODY_BYTES:
        raise Rejected(413, "PAYLOAD_TOO_LARGE", f"The request body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}.")
    return raw


def _secret(provider: str) -> bytes:
    value = aws.get_secret(os.environ[SECRET_ENVS[provider]], max_age=SECRET_MAX_AGE)
    return value.encode() if isinstance(value, str) else bytes(value)


def _verify(provider: str, raw: bytes, headers: dict[str, str]) -> None:
    secret = _secret(provider)
    problem = github_problem(raw, headers, secret) if provider == "github" else slack_problem(raw, headers, secret, clock())
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


def _delivery(provider: str, raw: bytes, headers: dict[str, str], payload: dict[str, Any]) -> Delivery:
    if provider == "github":
        delivery_id, event_type = headers.get("x-github-delivery"), headers.get("x-github-event")
    else:
        delivery_id = payload.get("event_id") or payload.get("trigger_id")
        event = payload.get("event")
        event_type = event.get("type") if isinstance(event, dict) else payload.get("type") or payload.get("command")
    if not isinstance(delivery_id, str) or not delivery_id or not isinstance(event_type, str) or not event_type:
        raise Rejected(400, "MALFORMED_BODY", "The delivery has no delivery id or event type.")
    return Delivery(provider=provider, delivery_id=delivery_id[:200], event_type=event_type[:200], payload=payload)


def _accept(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    http = event["requestContext"]["http"]
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    provider = str(http.get("path") or "").strip("/")
    if provider not in SECRET_ENVS:
        raise Rejected(401, "UNAUTHORIZED", "The request is not signed by a known sender.")
    if http.get("method") != "POST":
        raise Rejected(405, "METHOD_NOT_ALLOWED", "Webhooks are POSTed.")
    raw = _raw_body(event)
    _verify(provider, raw, headers)
    payload = _payload(raw, headers)
    if provider == "slack" and payload.get("type") == "url_verification":
        challenge = payload.get("challenge")
        return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": challenge if isinstance(challenge, str) else ""}
    delivery = _delivery(provider, raw, headers, payload)
    lambda_client.invoke(
        FunctionName=context.invoked_function_arn,
        InvocationType="Event",
        Payload=json.dumps({INTERNAL_KEY: delivery.model_dump(mode="json")}).encode(),
    )
    logger.info("webhook accepted", extra={"provider": provider, "delivery_id": delivery.delivery_id})
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"status": "accepted", "delivery_id": delivery.delivery_id}),
    }


# --- 2. the asynchronous path ---------------------------------------------------------------


@aws.idempotent(data_keyword_argument="delivery", config=idempotency, table_name=os.environ[names.IDEMPOTENCY_TABLE_ENV])
def process(delivery: dict[str, Any]) -> dict[str, Any]:
    """Once per provider delivery id: the slow work, then its record in the deliveries table."""
    parsed = Delivery.model_validate(delivery)
    summary = summarize(parsed)
    item = {
        "delivery_id": f"{parsed.provider}#{parsed.delivery_id}",
        "received_at": int(time.time()),
        **summary.model_dump(mode="json", exclude_none=True),
    }
    deliveries_table.put_item(Item=item)
    logger.info("webhook processed", extra={"delivery_id": item["delivery_id"]})
    return item


# --- entry point ------------------------------------------------------------------------------


def _is_http(event: Any) -> bool:
    return isinstance(event, dict) and isinstance(event.get("requestContext"), dict) and isinstance(event["requestContext"].get("http"), dict)


def _is_internal(event: Any) -> bool:
    # Only this function writes this shape; a URL event always has requestContext.http, so it is never one.
    return isinstance(event, dict) and set(event) == {INTERNAL_KEY} and isinstance(event[INTERNAL_KEY], dict)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def main(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    if _is_http(event):
        try:
            return _accept(event, context)
        except Rejected as rejected:
            return rejected.response
    if _is_internal(event):
        idempotency.register_lambda_context(context)
        process(delivery=event[INTERNAL_KEY])
        return None
    raise ValueError("not a Function URL request nor this function's own delivery event")
