"""Fixtures shared by every test layer.

The app is synthesized once per test run, with the context in cdk.json, exactly as
`cdk synth` would; template tests read from that one cloud assembly. The suite runs on every
core with pytest-xdist (pyproject.toml): the first worker that needs the assembly synthesizes
it, the others read it from disk.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
from collections.abc import Callable
from pathlib import Path

import botocore.loaders
import botocore.session
import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_DEPRECATED", "quiet")

ROOT = Path(__file__).resolve().parents[1]

# moto starts every mock_aws with a fresh boto3 default session (so no credentials or clients leak
# between mocks), LocalCloud gives each function its own, and each new botocore session re-reads
# and re-parses its JSON service models and endpoint rules. The models are read-only data, so one
# loader per data path serves every session; credentials, config and clients stay per session.
botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)

# The local cloud's fixtures (local_cloud, deploy) for the e2e tests and its own tests.
pytest_plugins = ["localcloud.pytest_plugin"]


# `make test-fast` runs everything but these: tests that deploy stacks into a local cloud (the
# end-to-end, smoke and soak suites, and localcloud's own tests of its deployments).
DEPLOYING_FIXTURES = frozenset({"local_cloud", "deploy"})
DEPLOYING_SUITES = ("e2e", "smoke", "soak")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        suite = (
            Path(item.path).relative_to(ROOT / "tests").parts[0]
            if Path(item.path).is_relative_to(ROOT / "tests")
            else ""
        )
        if suite in DEPLOYING_SUITES or DEPLOYING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.deploys)


def cdk_context() -> dict[str, object]:
    """The context `cdk synth` passes to app.py: feature flags and project settings."""
    return json.loads((ROOT / "cdk.json").read_text())["context"]


def synthesized_once(tmp_path_factory: pytest.TempPathFactory, name: str, synth: Callable[[str], object]) -> Path:
    """The directory `synth(outdir)` wrote, run once per test run, however many xdist workers ask.

    Workers share the parent of their temporary directories; a file lock lets one synthesize
    while the others wait, and a marker written after a successful synth lets them reuse it (a
    worker whose predecessor failed synthesizes again, and fails the same way)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        outdir = tmp_path_factory.mktemp(name)
        synth(str(outdir))
        return outdir
    outdir = tmp_path_factory.getbasetemp().parent / name
    done = outdir / ".synthesized"
    with open(f"{outdir}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            synth(str(outdir))
            done.touch()
    return outdir


@pytest.fixture(scope="session")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory):
    from aws_cdk import cx_api

    from app import build_app

    def synth(outdir: str) -> None:
        build_app(outdir=outdir, context=cdk_context(), analytics_reporting=False).synth()

    return cx_api.CloudAssembly(str(synthesized_once(tmp_path_factory, "cdk.out", synth)))


@pytest.fixture(scope="session")
def stack_ids() -> list[str]:
    from app import PATTERNS

    return list(PATTERNS)


@pytest.fixture(scope="session")
def templates(cloud_assembly) -> dict[str, dict]:
    """Stack id -> synthesized CloudFormation template (as a dict)."""
    return {stack.stack_name: stack.template for stack in cloud_assembly.stacks}
