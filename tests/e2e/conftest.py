"""Fixtures for local end-to-end tests: synthesized stacks deployed into moto.

Each test module gets its own moto account (one `mock_aws` per module) and deploys the stacks it
needs once; the session's one synth provides the templates and assets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import pytest
from moto import mock_aws

from tests.e2e import emulation, moto_patches
from tests.e2e.harness import Deployment

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # DynamoDB streams and some moto paths need the account id out of the endpoint.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


@pytest.fixture(scope="module")
def local_aws() -> Iterator[None]:
    """A fresh moto account for one test module, with our patches and emulation in place."""
    saved = {k: os.environ.get(k) for k in FAKE_AWS_ENV}
    os.environ.update(FAKE_AWS_ENV)
    moto_patches.install()
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            yield
    finally:
        emulation.reset()
        moto_patches.uninstall()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def deploy(local_aws) -> Callable[..., Deployment]:
    """deploy(assembly_dir, stack_id) -> the stack created in this module's moto account."""

    def _deploy(assembly_dir: str | Path, stack_id: str) -> Deployment:
        return Deployment(assembly_dir, stack_id).deploy()

    return _deploy


@pytest.fixture(scope="session")
def fixture_assembly(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The purpose-built stacks of fixture_app.py, synthesized once."""
    from tests.e2e.fixture_app import synth

    return synth(str(tmp_path_factory.mktemp("fixture.out")))
