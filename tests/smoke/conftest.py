"""Smoke tests against stacks deployed to a real account: opt-in, skipped otherwise.

Run after `make deploy STACK=...` with credentials for that account:

    AWS_SMOKE=1 .venv/bin/python -m pytest tests/smoke -m aws
"""

from __future__ import annotations

import os

import boto3
import pytest


def _has_credentials() -> bool:
    return boto3.session.Session().get_credentials() is not None


def pytest_collection_modifyitems(config, items):
    reason = None
    if os.environ.get("AWS_SMOKE") != "1":
        reason = "smoke tests against a real account run only with AWS_SMOKE=1"
    elif not _has_credentials():
        reason = "no AWS credentials"
    for item in items:
        if "aws" in item.keywords and reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def stack_outputs():
    cloudformation = boto3.client("cloudformation")

    def outputs(stack_name: str) -> dict[str, str]:
        try:
            stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        except cloudformation.exceptions.ClientError:
            pytest.skip(f"{stack_name} is not deployed in this account and region")
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    return outputs
