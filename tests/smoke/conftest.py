"""The smoke suite: every pattern driven through its real entry point, on one of two targets.

Each test module names its stack (`STACK = "ApiSync"`) and uses the `target` fixture, which is
parametrized over the targets this run uses:

- `SMOKE_TARGET=local`: the stack synthesized for this session, deployed into a LocalCloud.
- `SMOKE_TARGET=aws`: the stack deployed in the account and region of your AWS credentials,
  found by name; a module whose stack is not deployed there is skipped with the reason.
- unset (`make test`): both; the AWS target is opt-in and runs only with `AWS_SMOKE=1`,
  credentials, a region and the stack deployed, and is skipped with the reason otherwise.

`make smoke` (scripts/smoke.py) picks the target for you and shows each step's line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.smoke.targets import AwsTarget, LocalTarget, Target, say

CHOICES = {"local": ["local"], "aws": ["aws"], "": ["local", "aws"]}
if os.environ.get("SMOKE_TARGET", "") not in CHOICES:
    raise pytest.UsageError(f"SMOKE_TARGET={os.environ['SMOKE_TARGET']!r}: use aws or local (or leave it unset)")
TARGETS = CHOICES[os.environ.get("SMOKE_TARGET", "")]

_aws: dict[str, tuple[Any, dict[str, str]] | str] = {}


def aws_stack(stack_id: str) -> tuple[Any, dict[str, str]] | str:
    """(boto3 session, outputs) of the deployed stack, or why the AWS target cannot run it."""
    from scripts import preflight

    if os.environ.get("SMOKE_TARGET") != "aws" and os.environ.get("AWS_SMOKE") != "1":
        return (
            "the AWS target is opt-in: SMOKE_TARGET=aws or AWS_SMOKE=1 (make smoke picks it when stacks are deployed)"
        )
    if stack_id not in _aws:
        try:
            session = preflight.session()
            stack = preflight.deployed_stack(session.client("cloudformation"), stack_id, session.region_name)
            _aws[stack_id] = (session, preflight.outputs_of(stack))
        except preflight.Refused as refused:
            _aws[stack_id] = str(refused)
        except Exception as error:  # expired credentials, no network: a reason to skip, not a crash
            _aws[stack_id] = f"AWS: {error}"
    return _aws[stack_id]


@pytest.fixture(scope="module")
def localcloud_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    return getattr(request.module, "LOCALCLOUD_OPTIONS", {})


@pytest.fixture(scope="module", params=TARGETS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    stack_id = request.module.STACK
    if request.param == "local":
        deploy = request.getfixturevalue("deploy")
        yield LocalTarget(deploy(request.getfixturevalue("cloud_assembly").directory, stack_id))
        return
    found = aws_stack(stack_id)
    if isinstance(found, str):
        pytest.skip(found)
    session, outputs = found
    yield AwsTarget(stack_id, session, outputs)


@pytest.fixture(autouse=True)
def announce(request: pytest.FixtureRequest, target: Target) -> None:
    """A heading per test in the step output: the stack, the target, what the test checks."""
    doc = (
        (request.function.__doc__ or request.function.__name__.removeprefix("test_").replace("_", " "))
        .strip()
        .splitlines()[0]
    )
    say(f"\n{target.stack_id} [{target.name}] {doc}")
