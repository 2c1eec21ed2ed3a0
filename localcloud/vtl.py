"""Render API Gateway mapping templates offline, with the variables API Gateway provides.

moto does not run API Gateway integrations, so the Velocity (VTL) request and response mapping
templates and the gateway responses of our REST APIs are rendered here with airspeed, a Python
Velocity engine, and a model of API Gateway's `$input`, `$util`, `$context` and `$stageVariables`
as its developer guide documents them ("Variables for data transformations"):

- `$input.body` is the raw payload; `$input.json(path)` evaluates a JSONPath and returns the result
  as JSON text; `$input.path(path)` returns the object itself (so `.size()`, `.field` work);
  `$input.params()` is {"path", "querystring", "header"} and `$input.params(name)` looks a name up
  in that order.
- `$util.escapeJavaScript` escapes like Apache commons-lang `escapeJavaScript`, which API Gateway
  uses: `"` `\\` `/` and `'` get a backslash, control and non-ASCII characters become `\\uXXXX`.
  The `\\'` it produces is not valid JSON; templates that put its output in a JSON string must
  `.replaceAll("\\\\'", "'")`, as the guide says.
- `$util.parseJson`, `$util.base64Encode/Decode`, `$util.urlEncode/urlDecode`.
- `$context.*`, including `$context.error.*` for gateway responses (`messageString` is the message
  already in double quotes) and `$context.responseOverride.status` / `.header.<Name>`, which a
  template sets with `#set` to change the response's status code and headers.

`render()` returns the body and the overrides the template set. What this cannot show: how API
Gateway selects an integration response, and its content-type handling; the stack's template
tests assert those against the synthesized resources.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import airspeed
from jsonpath_ng.parser import parse as jsonpath

# Velocity 1.7, which API Gateway runs, keeps backslashes in string literals as they are: the
# guide's `.replaceAll("\\'", "'")` hands Java's regex engine `\\'` (a backslash, a quote).
# airspeed unescapes them; stop it, or that documented idiom silently does nothing here.
airspeed.StringLiteral.ESCAPED_CHAR = re.compile(r"(?!)")
airspeed.InterpolatedStringLiteral.ESCAPED_CHAR = re.compile(r"(?!)")

# Java String methods templates commonly call that airspeed lacks.
airspeed.__additional_methods__[str].update(
    {
        "substring": lambda self, start, end=None: self[start:end],
        "trim": lambda self: self.strip(),
        "toLowerCase": lambda self: self.lower(),
        "toUpperCase": lambda self: self.upper(),
        "indexOf": lambda self, sub: self.find(sub),
        "isEmpty": lambda self: not self,
    }
)


def escape_javascript(value: object) -> str:
    """commons-lang 2 StringEscapeUtils.escapeJavaScript, as API Gateway's $util.escapeJavaScript."""
    text = "" if value is None else str(value)
    named = {"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if code > 0x7F:
            out.extend(f"\\u{unit:04X}" for unit in _utf16_units(ch))
        elif code < 32:
            out.append(named.get(ch, f"\\u{code:04X}"))
        elif ch in "'\"\\/":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _utf16_units(ch: str) -> list[int]:
    # A Java string is UTF-16 code units: a lone surrogate is one unit of its own, escaped as such.
    data = ch.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


class _Input:
    """`$input` for one request or integration response."""

    def __init__(self, body: str, params: dict[str, dict[str, str]]) -> None:
        self.body = body
        self._params = {kind: dict(params.get(kind, {})) for kind in ("path", "querystring", "header")}

    def _select(self, path: str) -> Any:
        try:
            document = json.loads(self.body) if self.body.strip() else {}
        except json.JSONDecodeError as error:
            raise ValueError(f"$input.json/path on a body that is not JSON: {error}") from None
        matches = [match.value for match in jsonpath(path).find(document)]
        if not matches:
            return None
        # A definite path (no wildcard or filter) yields the value itself, as Jayway JsonPath does.
        return matches[0] if len(matches) == 1 and "*" not in path and "?" not in path else matches

    def json(self, path: str) -> str:
        value = self._select(path)
        return "" if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def path(self, path: str) -> Any:
        return self._select(path)

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return self._params
        for kind in ("path", "querystring", "header"):
            if name in self._params[kind]:
                return self._params[kind][name]
        return ""


class _Util:
    """`$util`."""

    escapeJavaScript = staticmethod(escape_javascript)

    @staticmethod
    def parseJson(text: str) -> Any:
        return json.loads(text)

    @staticmethod
    def base64Encode(text: str) -> str:
        return base64.b64encode(str(text).encode()).decode()

    @staticmethod
    def base64Decode(text: str) -> str:
        return base64.b64decode(str(text)).decode()

    @staticmethod
    def urlEncode(text: str) -> str:
        return urllib.parse.quote_plus(str(text))

    @staticmethod
    def urlDecode(text: str) -> str:
        return urllib.parse.unquote_plus(str(text))


def default_context(**overrides: Any) -> dict[str, Any]:
    """`$context` of a request to a REST API stage `v1`, with `overrides` merged in."""
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "a1b2c3d4e5",
        "domainName": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
        "extendedRequestId": "Kx2bTF6VDoEFb_Q=",
        "httpMethod": "POST",
        "path": "/v1/orders",
        "protocol": "HTTP/1.1",
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "requestTime": "22/Nov/2026:10:00:00 +0000",
        "requestTimeEpoch": 1795341600000,
        "resourceId": "r3s0ur",
        "resourcePath": "/orders",
        "stage": "v1",
        "identity": {
            "accountId": "123456789012",
            "caller": "AROAEXAMPLE:session",
            "sourceIp": "192.0.2.1",
            "user": "AROAEXAMPLE:session",
            "userAgent": "python-requests/2.32",
            "userArn": "arn:aws:sts::123456789012:assumed-role/Caller/session",
        },
    }
    context.update(overrides)
    return context


def error_context(response_type: str, message: str, *, validation_error: str = "") -> dict[str, Any]:
    """`$context.error` as a gateway response sees it."""
    return {
        "message": message,
        "messageString": json.dumps(message),  # "The quoted value of $context.error.message"
        "responseType": response_type,
        "validationErrorString": validation_error,
    }


@dataclass
class Rendered:
    """What API Gateway would send: the body, and any status or headers the template overrode."""

    body: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


def render(
    template: str,
    *,
    body: str | dict[str, Any] | list[Any] = "",
    params: dict[str, dict[str, str]] | None = None,
    context: dict[str, Any] | None = None,
    stage_variables: dict[str, str] | None = None,
) -> Rendered:
    """Render `template` as API Gateway would for a request (or integration response) `body`."""
    raw = body if isinstance(body, str) else json.dumps(body)
    ctx = default_context(**(context or {}))
    override: dict[str, Any] = {"status": None, "header": {}}
    ctx["responseOverride"] = override
    namespace = {
        "input": _Input(raw, params or {}),
        "util": _Util(),
        "context": ctx,
        "stageVariables": dict(stage_variables or {}),
    }
    text = airspeed.Template(template).merge(namespace)
    status = override["status"]
    return Rendered(
        body=text.strip(), status=int(status) if status is not None else None, headers=dict(override["header"])
    )


_SUBSTITUTION = re.compile(r"\$(context|stageVariables)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def render_gateway_response(
    template: str, *, context: dict[str, Any], stage_variables: dict[str, str] | None = None
) -> Rendered:
    """A gateway response's body: "isn't processed by the VTL engine", only `$context.x` and
    `$stageVariables.x` are substituted (x-amazon-apigateway-gateway-responses.responseTemplates)."""
    roots: dict[str, Any] = {"context": default_context(**context), "stageVariables": dict(stage_variables or {})}

    def value(match: re.Match[str]) -> str:
        current: Any = roots[match.group(1)]
        for part in match.group(2).split(".")[1:]:
            current = current.get(part, "") if isinstance(current, dict) else ""
        return str(current)

    return Rendered(body=_SUBSTITUTION.sub(value, template))
