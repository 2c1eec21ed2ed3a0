"""Property-based testing for API handlers: what a client can send, and what it must get back.

Every API handler in this project answers every client input with a 2xx or a 4xx whose body is
`{"error": ..., "message": ...}`; never a 5xx, never an unhandled exception. A handler test reuses
this module in three lines:

    @fuzz_settings
    @given(body=request_bodies(valid=VALID_REQUEST))
    def test_never_a_5xx(context, body):
        assert_client_safe(handler.main(body.apply_to(rest_event("POST", "/quotes")), context))

`request_bodies` mixes valid requests mutated one field at a time, arbitrary JSON, arbitrary text
and bytes, deep nesting, huge numbers and long strings, under right and wrong content types and
with honest, missing and lying base64 flags. Strings hold any code point a JSON escape can spell,
lone surrogates (`\\ud800`) included, in keys and values, and JSON text is written with `\\u`
escapes as well as raw. The strategies are plain Hypothesis, so a test can also draw
`mutated(valid)`, `json_values()` or `any_text()` on their own.

`assert_client_safe` also checks that the response can leave the function at all: the Lambda
Python runtime sends a handler's return value as UTF-8 JSON (`localcloud.runtime.marshal_response`,
its model), and a value it cannot send is a failed invocation, a 502 to the client.
"""

from __future__ import annotations

import base64
import json
import string
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Fast and repeatable in CI: a fixed set of examples per run, no per-example deadline (the first
# call of a handler imports and warms things up), and no complaint about function-scoped fixtures
# (the Lambda context is the same for every example).
fuzz_settings = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- JSON values ----------------------------------------------------------------------------


def any_text(min_size: int = 0, max_size: int = 20) -> st.SearchStrategy[str]:
    """Text of any code points: every plane, controls and lone surrogates (what a JSON `\\uXXXX`
    escape can spell; Hypothesis leaves surrogates out of `st.text()` unless asked, and draws
    mostly ASCII, so surrogates and the astral planes get a branch of their own)."""
    # Joined from a list: st.text() merges a one_of alphabet into one set of code points, and
    # drops the surrogates on the way.
    return st.lists(_any_character, min_size=min_size, max_size=max_size).map("".join)


_any_character = st.one_of(
    st.characters(exclude_categories=()),  # any code point, mostly ASCII
    st.characters(categories=["Cs"]),  # U+D800..U+DFFF: lone surrogates, or pairs by chance
    st.characters(min_codepoint=0x10000),  # beyond the basic plane: surrogate pairs in UTF-16 and \\u escapes
)


# Strings a JSON escape makes that text rarely does: lone and paired surrogates, NUL, BOM, noncharacters.
odd_strings = st.sampled_from(
    ["\ud800", "\udfff", "a\udc00b", "\ud83d\ude00", "\ud83d", "\x00", "\ufeff", "\uffff", "\U0010ffff", "\u2028"]
)


def long_text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Text of `min_size` to `max_size` characters: a short drawn piece, repeated.

    `st.text(min_size=5000)` draws every character on its own, milliseconds per example, where a
    size limit only needs the length. The piece is any text of up to 20 characters, so a long string
    is that piece over and over: no lone odd character deep inside it.
    """
    return st.builds(
        lambda piece, size: (piece * (size // len(piece) + 1))[:size],
        any_text(min_size=1),
        st.integers(min_value=min_size, max_value=max_size),
    )


# Python refuses to build ints over 4,300 digits; `odd_numbers` sends longer ones as text.
huge_integers = st.integers(min_value=60, max_value=4000).map(lambda digits: int("9" * digits))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    huge_integers,
    st.floats(allow_nan=False, allow_infinity=False),
    any_text(),
    odd_strings,
    long_text(1000, 5000),
    st.sampled_from(
        ["", "0", "-1", "1e3", " 12.50 ", "12.505", "1e999999", "NaN", "Infinity", "0.00", "\u0661\u0662.50"]
    ),
)


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars (huge, long, odd) nested in lists and objects."""
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5), st.dictionaries(any_text(max_size=10) | odd_strings, children, max_size=5)
        ),
        max_leaves=max_leaves,
    )


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside `value` (dict keys and list indexes), the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _set(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _set(value[path[0]], path[1:], new) if len(path) > 1 else new
    return copy


def _delete(value: Any, path: tuple) -> Any:
    parent = path[:-1]
    container = value
    for part in parent:
        container = container[part]
    copy = dict(container) if isinstance(container, dict) else list(container)
    del copy[path[-1]]
    return _set(value, parent, copy)


# Built once: a strategy built inside a draw is validated again on every draw.
_replacements = json_values(5)


@st.composite
def mutated(draw: st.DrawFn, valid: Any) -> Any:
    """`valid` with one to three changes: a value replaced, a key or element dropped, a key added."""
    result = valid
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(result)))
        kind = draw(st.sampled_from(["replace", "drop", "add"]))
        if kind == "drop" and path:
            result = _delete(result, path)
        elif kind == "add" and path and isinstance(_get(result, path[:-1]), dict):
            result = _set(result, (*path[:-1], draw(any_text(max_size=10) | odd_strings)), draw(_replacements))
        else:
            result = _set(result, path, draw(_replacements))
    return result


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


_odd_text = st.one_of(odd_strings, any_text(min_size=1, max_size=10))


@st.composite
def with_odd_text(draw: st.DrawFn, valid: Any) -> Any:
    """`valid` with some of its string values and keys (each by a coin's third) replaced by odd text,
    a lone surrogate most often: the request a client writes with `\\u` escapes, otherwise
    well-formed, so it gets past parsing into the handler's own code."""

    def odd(text: str) -> str:
        return draw(_odd_text) if draw(st.integers(0, 2)) == 0 else text

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return odd(value)
        if isinstance(value, dict):
            return {odd(key): walk(child) for key, child in value.items()}
        if isinstance(value, list):
            return [walk(child) for child in value]
        return value

    return walk(valid)


# --- raw bodies -------------------------------------------------------------------------------


def deep_nesting() -> st.SearchStrategy[str]:
    """Arrays and objects nested far deeper than any request needs, closed or not."""
    return st.builds(
        lambda depth, opener, closed: (
            opener * depth + ("1" + {"[": "]", '{"a":': "}"}[opener] * depth if closed else "")
        ),
        st.integers(min_value=30, max_value=5000),
        st.sampled_from(["[", '{"a":']),
        st.booleans(),
    )


def odd_numbers() -> st.SearchStrategy[str]:
    """JSON documents whose numbers Python's parser chokes on or that overflow a float or decimal."""
    return st.builds(
        lambda digits, wrap: wrap.replace("N", digits),
        st.sampled_from(["9" * 5000, "1e999999", "-1e-999999", "1" + "0" * 400 + ".5", "NaN", "Infinity", "-Infinity"]),
        st.sampled_from(["N", "[N]", '{"quantity": N}', '{"unit_price": N}']),
    )


@dataclass(frozen=True)
class Body:
    """A request body as the client sent it, and how the event carries it."""

    raw: bytes
    content_type: str | None
    base64_flag: bool  # isBase64Encoded as the event says it
    lie: bool = False  # flag says base64 but the body is not

    def encoded(self) -> str:
        if self.lie:
            return self.raw.decode("latin-1")
        if self.base64_flag:
            return base64.b64encode(self.raw).decode()
        return self.raw.decode("utf-8", "replace")

    def apply_to(self, event: dict[str, Any], *, header: str = "Content-Type") -> dict[str, Any]:
        """`event` with this body, flag and content type (the header name as the event spells it)."""
        event = {**event, "body": self.encoded() if self.raw or self.lie else None, "isBase64Encoded": self.base64_flag}
        headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
        if self.content_type is not None:
            headers[header] = self.content_type
        event["headers"] = headers
        if "multiValueHeaders" in event:
            multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
            if self.content_type is not None:
                multi[header] = [self.content_type]
            event["multiValueHeaders"] = multi
        return event


content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=xyz",
            "application/xml",
            "",
            ";",
        ]
    ),
    st.none(),
    st.text(alphabet=string.printable, max_size=40),
    any_text(max_size=40),
)


def json_text(value: Any, ascii_only: bool) -> str:
    """`value` as JSON text: every non-ASCII character as a `\\u` escape (lone surrogates too: the
    only way valid JSON text carries one), or written as it is."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=ascii_only)


def raw_payloads(valid: Any | None = None) -> st.SearchStrategy[bytes]:
    """Bytes a client could send: JSON (valid-ish or arbitrary, escaped or raw), odd JSON, text, bytes."""
    documents = [json_values(), deep_nesting(), odd_numbers(), any_text(max_size=200), long_text(5000, 20_000)]
    if valid is not None:
        documents += [mutated(valid), mutated(valid), with_odd_text(valid), with_odd_text(valid), st.just(valid)]
    as_text = st.builds(json_text, st.one_of(*documents), st.booleans())
    return st.one_of(as_text.map(lambda text: text.encode("utf-8", "surrogatepass")), st.binary(max_size=300))


def request_bodies(valid: Any | None = None) -> st.SearchStrategy[Body]:
    """A body, a content type (mostly JSON) and a base64 flag (mostly honest)."""
    return _bodies(raw_payloads(valid))


_mostly_json = st.one_of(st.just("application/json"), content_types)


@st.composite
def _bodies(draw: st.DrawFn, payloads: st.SearchStrategy[bytes]) -> Body:
    raw = draw(payloads)
    content_type = draw(_mostly_json)
    base64_flag = draw(st.booleans())
    lie = base64_flag and draw(st.integers(0, 9)) == 0
    return Body(raw=raw, content_type=content_type, base64_flag=base64_flag, lie=lie)


# --- the property -------------------------------------------------------------------------------


def _header(response: dict[str, Any], name: str) -> str | None:
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name:
            return value
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name and values:
            return values[0]
    return None


def assert_runtime_serialisable(response: Any) -> str:
    """The response as the Lambda Python runtime sends it (UTF-8 JSON); fails when it cannot be sent."""
    from localcloud.runtime import marshal_response

    payload, errored = marshal_response(response)
    assert not errored, (
        f"the Lambda runtime cannot send this response: {json.loads(payload)}; response: {str(response)[:500]!r}"
    )
    return payload


def assert_client_safe(response: dict[str, Any]) -> dict[str, Any] | None:
    """A proxy response that is a 2xx, or a 4xx with a JSON {"error", "message"} body, and that the
    Lambda runtime can send (`assert_runtime_serialisable`).

    Returns the parsed JSON body (None when a 2xx has none). Anything else (a 5xx, a missing status,
    a 4xx in another shape, a value the runtime cannot send) fails with the response in the message.
    """
    assert_runtime_serialisable(response)
    assert isinstance(response, dict) and isinstance(response.get("statusCode"), int), response
    status = response["statusCode"]
    assert 200 <= status < 500, f"{status}: {str(response.get('body'))[:500]}"
    text = response.get("body")
    if response.get("isBase64Encoded") and text:
        text = base64.b64decode(text).decode()
    if status < 300 and not text:
        return None
    assert (_header(response, "content-type") or "").startswith("application/json"), response
    body = json.loads(text)
    if status >= 400:
        assert isinstance(body, dict), body
        assert isinstance(body.get("error"), str) and body["error"], body
        assert isinstance(body.get("message"), str) and body["message"], body
        assert set(body) <= {"error", "message", "details"}, body
    return body
