"""pytest fixtures for LocalCloud. Register with `pytest_plugins = ["localcloud.pytest_plugin"]`.

- `localcloud_options` (module): keyword arguments for LocalCloud; override it in a test module,
  e.g. to run async invocations on several workers: `return {"async_workers": 4}`, or to run
  functions with the test process's credentials instead of their roles': `{"enforce_iam": False}`.
- `local_cloud` (module): a fresh LocalCloud (one moto account) for the test module; async work
  still pending at the end of the module is settled, then the cloud is closed.
- `deploy` (module): `deploy(assembly_dir, stack_id)` -> the stack deployed in that cloud.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.deployment import Deployment


@pytest.fixture(scope="module")
def localcloud_options() -> dict[str, Any]:
    return {}


@pytest.fixture(scope="module")
def local_cloud(localcloud_options: dict[str, Any]) -> Iterator[LocalCloud]:
    with LocalCloud(**localcloud_options) as cloud:
        yield cloud
        cloud.settle()


@pytest.fixture(scope="module")
def deploy(local_cloud: LocalCloud) -> Callable[[str | Path, str], Deployment]:
    return local_cloud.deploy
