"""HTTP plumbing shared by the API handlers, built on Powertools' event handler.

Every error a client can cause comes back as JSON with a stable code and a readable message:

    {"error": "VALIDATION_FAILED", "message": "...", "details": [{"field": "...", "problem": "..."}]}

Bad input never reaches the work function and never becomes a 500. Two layers share the shape:
`reject_unreadable_body` answers for a body not worth routing (bad base64, too large, not JSON,
not UTF-8, nested too deep, absurd numbers) before the router runs, and `install_json_errors`
answers for everything the router and its validation raise (422, 404, 415, Powertools' HTTP errors).

The router's pieces are imported where they are used: a handler without a router (the webhook's
Function URL) takes `proxy_error` and the body checks without paying for the event handler.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

Failure = TypeVar("Failure", bound=Exception)

JSON = "application/json"  # Powertools' content_types.APPLICATION_JSON

# What a JSON body may look like before it is worth validating. Python's json module would
# otherwise raise RecursionError on deep nesting and ValueError on integers over 4,300 digits.
MAX_JSON_DEPTH = 32
MAX_JSON_INT_DIGITS = 64
# A string (to its closing quote, or to the end when unterminated: never rescanned) or a bracket.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def error_response(status: int, error: str, message: str, details: list[dict[str, Any]] | None = None) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response

    body: dict[str, Any] = {"error": error, "message": message}
    if details:
        body["details"] = details
    return Response(status_code=status, content_type=JSON, body=json.dumps(body))


def _field_path(location: tuple[Any, ...]) -> str:
    path = ""
    for part in location:
        if part == "body" and not path:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def proxy_error(status: int, error: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A proxy (REST or Function URL) response in the project's error shape, for code outside a router."""
    body: dict[str, Any] = {"error": error, "message": message}
    if details:
        body["details"] = details
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


class _Refused(ValueError):
    """A JSON document that parses but is not worth validating."""


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value")


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise _Refused(f"a number has more than {MAX_JSON_INT_DIGITS} digits")
    return int(digits)


def _json_depth(text: str) -> int:
    depth = deepest = 0
    for token in _JSON_TOKEN.findall(text):
        if token[0] == '"':
            continue
        depth += 1 if token in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def json_problem(text: str) -> str | None:
    """Why `text` is not a JSON document worth validating, or None when it is.

    Strict JSON (no NaN or Infinity), at most MAX_JSON_DEPTH levels of nesting, integers of at
    most MAX_JSON_INT_DIGITS digits, and strings that are text: a `\\ud800` escape without its
    pair parses to a lone surrogate, which no UTF-8 can carry (pydantic raises UnicodeEncodeError
    on it, and the Lambda runtime cannot send a response holding it). Anything else is refused
    before the parser or the validation can fail on it.
    """
    if _json_depth(text) > MAX_JSON_DEPTH:
        return f"it is nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        document = json.loads(text, parse_int=_bounded_int, parse_constant=_refuse_constant)
    except _Refused as refused:
        return str(refused)
    except json.JSONDecodeError as error:
        return f"{error.msg} at position {error.pos}"
    if "\\" in text:  # only an escape can spell a lone surrogate in text that decoded as UTF-8
        try:
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return "a string holds a \\u escape of half a surrogate pair (U+D800 to U+DFFF), which is not a character"
    return None


def _content_type(event: dict[str, Any]) -> str:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == "content-type" and isinstance(value, str):
            return value
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == "content-type" and values:
            return str(values[0])
    return ""


def reject_unreadable_body(event: dict[str, Any], max_bytes: int) -> dict[str, Any] | None:
    """A proxy response for a body not worth routing, checked before any router runs.

    Every API in this project takes JSON: 400 MALFORMED_BODY when the body claims to be base64 and
    is not, 413 when it is over `max_bytes`, 415 when a Content-Type is sent and is not
    application/json (with or without a body: Powertools would parse an empty form or multipart
    body too), 400 MALFORMED_BODY when the body is not UTF-8, 400 MALFORMED_JSON when it is not
    a JSON document worth validating (see `json_problem`), 422 when it is not a JSON object.
    None when the body is fine to hand to the router.
    """
    body = event.get("body") or ""
    if not isinstance(body, str):
        return proxy_error(400, "MALFORMED_BODY", "The request body is not text.")
    try:
        raw = (
            base64.b64decode(body, validate=True)
            if event.get("isBase64Encoded")
            else body.encode("utf-8", "surrogatepass")
        )
    except (binascii.Error, ValueError):
        return proxy_error(400, "MALFORMED_BODY", "The request body is marked base64 but does not decode.")
    if len(raw) > max_bytes:
        return proxy_error(413, "PAYLOAD_TOO_LARGE", f"The request body is {len(raw)} bytes; the limit is {max_bytes}.")
    # Compared as Powertools' router compares it (case-sensitively), so both agree on what is JSON.
    media_type = _content_type(event).split(";")[0].strip()
    if media_type not in ("", JSON):
        return proxy_error(415, "UNSUPPORTED_MEDIA_TYPE", f"The request body must be {JSON}, not {media_type[:100]}.")
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return proxy_error(400, "MALFORMED_BODY", "The request body is not UTF-8 text.")
    problem = json_problem(text)
    if problem:
        return proxy_error(400, "MALFORMED_JSON", f"The request body is not valid JSON: {problem}.")
    # Powertools' validation unwraps a JSON array to its first element when a route expects a
    # model, so `[{...}]` would pass as `{...}`: every body this project takes is one object.
    if not text.lstrip().startswith("{"):
        return proxy_error(
            422,
            "VALIDATION_FAILED",
            "The request body must be a JSON object.",
            [{"field": "body", "problem": "must be a JSON object"}],
        )
    return None


def _problem(error: dict[str, Any]) -> str:
    message = str(error.get("msg") or error.get("type") or "invalid")
    return message.removeprefix("Value error, ")


def on_error(
    app: ApiGatewayResolver, exception: type[Failure]
) -> Callable[[Callable[[Failure], Response[str]]], Callable[[Failure], Response[str]]]:
    """`@app.exception_handler(exception)` with its types: Powertools' decorator has none."""
    return cast(
        "Callable[[Callable[[Failure], Response[str]]], Callable[[Failure], Response[str]]]",
        app.exception_handler(exception),
    )


def install_json_errors(app: ApiGatewayResolver) -> None:
    """Give `app` the project's JSON error responses for bad input and unknown routes."""
    from aws_lambda_powertools.event_handler.exceptions import ServiceError
    from aws_lambda_powertools.event_handler.openapi.exceptions import (
        RequestUnsupportedContentType,
        RequestValidationError,
    )

    @on_error(app, RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[str]:
        malformed = [err for err in exc.errors() if err.get("type") == "json_invalid"]
        if malformed:
            reason = malformed[0].get("ctx", {}).get("error") or malformed[0].get("msg", "")
            return error_response(
                400, "MALFORMED_JSON", f"The request body is not valid JSON: {reason}".rstrip(": ") + "."
            )
        details = [{"field": _field_path(tuple(err.get("loc", ()))), "problem": _problem(err)} for err in exc.errors()]
        return error_response(
            422, "VALIDATION_FAILED", "The request does not match what this endpoint accepts.", details
        )

    @on_error(app, RequestUnsupportedContentType)
    def _unsupported(_exc: RequestUnsupportedContentType) -> Response[str]:
        content_type = app.current_event.headers.get("content-type", "")
        return error_response(415, "UNSUPPORTED_MEDIA_TYPE", f"The request body must be {JSON}, not {content_type}.")

    @on_error(app, ServiceError)
    def _http_error(exc: ServiceError) -> Response[str]:
        # Powertools' BadRequestError, UnauthorizedError, ... raised by a route: its status, our shape.
        try:
            code = HTTPStatus(exc.status_code).name
        except ValueError:
            code = "ERROR"
        return error_response(exc.status_code, code, exc.msg if isinstance(exc.msg, str) else json.dumps(exc.msg))

    @app.not_found
    def _not_found(_exc: Exception) -> Response[str]:
        event = app.current_event
        return error_response(404, "NOT_FOUND", f"No route for {event.http_method} {event.path}.")


def resource_url(app: ApiGatewayResolver, path: str) -> str:
    """The absolute URL of `path` (e.g. "/jobs/42") through the stage or custom domain the current
    request came in by, for Location headers and status links."""
    event = cast("APIGatewayProxyEvent", app.current_event)  # REST APIs only
    context = event.request_context
    full_path, route_path = context.path or "", event.path
    prefix = full_path[: -len(route_path)] if route_path and full_path.endswith(route_path) else ""
    url = f"{prefix}{path}"
    return f"https://{context.domain_name}{url}" if context.domain_name else url
