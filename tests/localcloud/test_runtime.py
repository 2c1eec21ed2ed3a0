"""The in-process Lambda runtime of moto_patches: errors and timeouts as Lambda reports them."""

from __future__ import annotations

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
