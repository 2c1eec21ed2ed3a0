"""The in-process Lambda runtime of moto_patches: errors and timeouts as Lambda reports them."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from localcloud import Deployment


@pytest.fixture(scope="module")
def stack(deploy, fixture_assembly) -> Deployment:
    return deploy(fixture_assembly, "AsyncFixture")


def test_a_result_is_returned_as_the_payload(stack):
    assert stack.invoke("RetryNone", {"id": "r-1"}) == ({"ok": True, "id": "r-1"}, None)


def test_an_uncaught_exception_is_an_unhandled_function_error(stack):
    payload, error = stack.invoke("RetryNone", {"id": "r-2", "fail": True})
    assert error == "Unhandled"
    assert (payload["errorType"], payload["errorMessage"]) == ("RuntimeError", "asked to fail: r-2")


def test_overrunning_the_configured_timeout_is_reported_as_a_timeout(stack):
    assert stack.invoke("OneSecond", {"seconds": 0})[1] is None
    payload, error = stack.invoke("OneSecond", {"seconds": 1.2})
    assert error == "Unhandled"
    assert (payload["errorType"], payload["errorMessage"]) == ("Sandbox.Timedout", "Task timed out after 1.00 seconds")


def test_a_result_is_sent_as_the_python_runtime_sends_it_utf8_json_with_characters_as_they_are(stack):
    payload, error = stack.invoke("RetryNone", {"id": "é 😀 中"})
    assert error is None and payload == {"ok": True, "id": "é 😀 中"}


def test_a_result_the_runtime_cannot_send_as_utf8_fails_the_invocation(stack):
    # The event's "\ud800" (a JSON escape any client can write) is a lone surrogate once parsed; the
    # handler echoes it. The runtime's JSON (ensure_ascii=False) then holds it, and UTF-8 cannot.
    payload, error = stack.invoke("RetryNone", {"id": "x\ud800"})
    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError" and "surrogates not allowed" in payload["errorMessage"]


def test_a_result_json_cannot_carry_is_a_marshal_error():
    from localcloud.runtime import marshal_response

    assert marshal_response({"tags": {"a"}})[1] is True
    assert json.loads(marshal_response({"tags": {"a"}})[0])["errorType"] == "Runtime.MarshalError"
    assert marshal_response({"price": Decimal("12.50"), "n": [Decimal("-1E+3")]}) == (
        '{"price": 12.50, "n": [-1E+3]}',
        False,
    )
    assert marshal_response({"text": "é"}) == ('{"text": "é"}', False)
