"""HTTP plumbing shared by the API handlers, built on Powertools' event handler.

Every error a client can cause comes back as JSON with a stable code and a readable message:

    {"error": "VALIDATION_FAILED", "message": "...", "details": [{"field": "...", "problem": "..."}]}

Bad input never reaches the work function and never becomes a 500.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable

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


def _raw_body_bytes(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()


def _check_body(max_bytes: int) -> Callable[..., Response]:
    """Middleware: refuse oversized bodies (413) and bodies that are not JSON (400)."""

    def middleware(app: ApiGatewayResolver, next_middleware: Callable[..., Response]) -> Response:
        raw = _raw_body_bytes(app.current_event.raw_event)
        if len(raw) > max_bytes:
            return error_response(413, "PAYLOAD_TOO_LARGE", f"The request body is {len(raw)} bytes; the limit is {max_bytes}.")
        if raw:
            try:
                json.loads(raw)
            except ValueError as exc:
                return error_response(400, "MALFORMED_JSON", f"The request body is not valid JSON: {exc}.")
        return next_middleware(app)

    return middleware


def install_json_errors(app: ApiGatewayResolver, *, max_body_bytes: int) -> None:
    """Give `app` the project's body checks and JSON error responses."""
    app.use(middlewares=[_check_body(max_body_bytes)])

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        details = [
            {"field": _field_path(tuple(err.get("loc", ()))), "problem": err.get("msg", err.get("type", "invalid"))}
            for err in exc.errors()
        ]
        return error_response(422, "VALIDATION_FAILED", "The request does not match what this endpoint accepts.", details)

    @app.not_found
    def _not_found(_exc: Exception) -> Response:
        event = app.current_event
        return error_response(404, "NOT_FOUND", f"No route for {event.http_method} {event.path}.")
