"""The fuzz strategies reach what JSON can carry, and the property catches what the runtime cannot send.

Each test asks Hypothesis to find an example with `find`: it fails when the strategy cannot produce
one (as `st.text()` never produces a lone surrogate), so a narrowed strategy fails here.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import Phase, find, settings
from hypothesis import strategies as st

from tests.handlers.fuzz import (
    Body,
    any_text,
    assert_client_safe,
    fuzz_settings,
    json_text,
    json_values,
    request_bodies,
    with_odd_text,
)

VALID = {"customer_id": "C-1", "currency": "EUR", "items": [{"sku": "A-1", "quantity": 1, "unit_price": "1.00"}]}
# The budget of a property test (fuzz_settings): what it explores, these searches explore.
# No shrinking: finding one is the point, and shrinking a 20 kB body takes seconds.
SEARCH = settings(max_examples=fuzz_settings.max_examples, derandomize=True, database=None, phases=[Phase.generate])


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def test_text_holds_lone_surrogates_and_code_points_beyond_the_basic_plane():
    find(any_text(), _lone_surrogate, settings=SEARCH)
    find(any_text(), lambda text: any(ord(ch) > 0xFFFF for ch in text), settings=SEARCH)


@pytest.mark.parametrize("where", ["key", "value"])
def test_json_values_hold_lone_surrogates_in_keys_and_values(where):
    def has(value: Any) -> bool:
        if isinstance(value, dict):
            return any((_lone_surrogate(k) if where == "key" else False) or has(v) for k, v in value.items())
        if isinstance(value, list):
            return any(has(v) for v in value)
        return where == "value" and isinstance(value, str) and _lone_surrogate(value)

    find(json_values(), has, settings=SEARCH)


def _escaped(body: Body) -> bool:
    """A body whose JSON text (ASCII only: every odd character a \\u escape) parses to a lone surrogate."""
    try:
        return any(_lone_surrogate(s) for s in _strings(json.loads(body.raw.decode("ascii"))))
    except (ValueError, RecursionError):  # not ASCII or not JSON (UnicodeDecodeError is a ValueError), or deep
        return False


def test_bodies_carry_lone_surrogates_as_json_escapes_a_client_can_send():
    find(request_bodies(valid=VALID), _escaped, settings=SEARCH)


def _echoing_handler(event: dict) -> dict:
    """A plausible bug: the request's customer id echoed in a header, not through json.dumps."""
    try:
        body = event.get("body") or "{}"
        text = base64.b64decode(body).decode() if event.get("isBase64Encoded") else body
        customer = str(json.loads(text).get("customer_id", ""))
    except (ValueError, AttributeError, RecursionError):  # binascii.Error is a ValueError
        customer = ""
    return {
        "statusCode": 400,
        "headers": {"Content-Type": "application/json", "X-Customer": customer},
        "body": '{"error": "E", "message": "m"}',
    }


def test_the_property_catches_a_response_the_lambda_runtime_cannot_send():
    def unsendable(body) -> bool:
        try:
            assert_client_safe(_echoing_handler(body.apply_to({"headers": {}})))
        except AssertionError as failure:
            return "cannot send" in str(failure)
        return False

    # A valid request with odd text in its fields, as request_bodies draws it (with_odd_text).
    bodies = st.builds(
        Body,
        with_odd_text(VALID).map(lambda v: json_text(v, ascii_only=True).encode()),
        st.just("application/json"),
        st.booleans(),
    )
    find(bodies, unsendable, settings=SEARCH)
