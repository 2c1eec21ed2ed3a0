"""Smoke tests against stacks deployed to a real account: opt-in, skipped otherwise.

Run after `make deploy STACK=...` with credentials for that account:

    AWS_SMOKE=1 .venv/bin/python -m pytest tests/smoke

A test marked `@pytest.mark.aws("ApiSync")` runs only when AWS_SMOKE=1 is set, credentials are
found, and that stack is deployed in the current account and region; otherwise it is skipped
with the reason.
"""

from __future__ import annotations

import os

import boto3
import pytest


def _deployed_outputs(stack_name: str) -> dict[str, str] | None:
    cloudformation = boto3.client("cloudformation")
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except cloudformation.exceptions.ClientError:
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


_OUTPUTS: dict[str, dict[str, str] | None] = {}


def _why_not(stack_name: str) -> str | None:
    if os.environ.get("AWS_SMOKE") != "1":
        return "smoke tests against a real account run only with AWS_SMOKE=1"
    if boto3.session.Session().get_credentials() is None:
        return "no AWS credentials"
    if stack_name not in _OUTPUTS:
        _OUTPUTS[stack_name] = _deployed_outputs(stack_name)
    if _OUTPUTS[stack_name] is None:
        return f"{stack_name} is not deployed in this account and region"
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("aws")
        if marker is not None and (reason := _why_not(marker.args[0])):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def stack_outputs():
    """stack_outputs("ApiSync") -> that deployed stack's outputs."""
    return lambda stack_name: _OUTPUTS[stack_name]
