"""`LocalCloud(enforce_iam=False)`: functions run with the test process's credentials, unchecked."""

from __future__ import annotations

import pytest

from localcloud import Deployment


@pytest.fixture(scope="module")
def localcloud_options():
    return {"enforce_iam": False}


@pytest.fixture(scope="module")
def stack(deploy, fixture_assembly) -> Deployment:
    return deploy(fixture_assembly, "IamFixture")


def test_without_enforcement_a_withheld_call_succeeds_as_the_test_process(stack):
    payload, error = stack.invoke("Caller", {"action": "sqs:SendMessage", "target": stack.queue_url("WithheldQueue")})
    assert error is None, payload
    payload, _ = stack.invoke("Caller", {"action": "whoami"})
    assert ":assumed-role/" not in payload["arn"]
