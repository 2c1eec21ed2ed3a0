"""HTTP plumbing shared by the API handlers, built on Powertools' event handler.

Every error a client can cause comes back as JSON with a stable code and a readable message:

    {"error": "VALIDATION_FAILED", "message": "...", "details": [{"field": "...", "problem": "..."}]}

Bad input never reaches the work function and never becomes a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError


def error_response(status: int, error: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"error": error, "message": message}
    if details:
        body["details"] = details
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def _field_path(location: tuple[Any, ...]) -> str:
    path = ""
    for part in location:
        if part == "body" and not path:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _proxy_error(status: int, error: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": error, "message": message}),
        "isBase64Encoded": False,
    }


def reject_unreadable_body(event: dict[str, Any], max_bytes: int) -> dict[str, Any] | None:
    """A proxy response for a body not worth parsing, checked before any router runs.

    400 when the body claims to be base64 and is not, 413 when it is over `max_bytes`;
    None when the body is fine to hand to the router.
    """
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
    except (binascii.Error, ValueError):
        return _proxy_error(400, "MALFORMED_BODY", "The request body is marked base64 but does not decode.")
    if len(raw) > max_bytes:
        return _proxy_error(413, "PAYLOAD_TOO_LARGE", f"The request body is {len(raw)} bytes; the limit is {max_bytes}.")
    return None


def _problem(error: dict[str, Any]) -> str:
    message = str(error.get("msg") or error.get("type") or "invalid")
    return message.removeprefix("Value error, ")


def install_json_errors(app: ApiGatewayResolver) -> None:
    """Give `app` the project's JSON error responses for bad input and unknown routes."""

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        malformed = [err for err in exc.errors() if err.get("type") == "json_invalid"]
        if malformed:
            reason = malformed[0].get("ctx", {}).get("error") or malformed[0].get("msg", "")
            return error_response(400, "MALFORMED_JSON", f"The request body is not valid JSON: {reason}".rstrip(": ") + ".")
        details = [
            {"field": _field_path(tuple(err.get("loc", ()))), "problem": _problem(err)}
            for err in exc.errors()
        ]
        return error_response(422, "VALIDATION_FAILED", "The request does not match what this endpoint accepts.", details)

    @app.not_found
    def _not_found(_exc: Exception) -> Response:
        event = app.current_event
        return error_response(404, "NOT_FOUND", f"No route for {event.http_method} {event.path}.")


def reject_non_object_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """A 422 proxy response for a JSON body that is not an object (an array, a string, a number).

    Powertools' validation unwraps a JSON array to its first element when the route expects a
    model, so `[{...}]` would be accepted as `{...}`; run this after `reject_unreadable_body`.
    A body that is not JSON at all is left to the router, which answers MALFORMED_JSON.
    """
    body = event.get("body")
    if not body:
        return None
    try:
        parsed = json.loads(base64.b64decode(body) if event.get("isBase64Encoded") else body)
    except ValueError:
        return None
    if isinstance(parsed, dict):
        return None
    return _proxy_error(422, "VALIDATION_FAILED", "The request body must be a JSON object.")
