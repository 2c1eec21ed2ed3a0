"""Deploy the app's synthesized stacks into a local AWS account (moto) and run them, no AWS
account needed. See README.md in this folder.

The names below are imported on first use, so a script that needs only a light module
(`localcloud.resources`, `localcloud.events`) does not load moto.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    "AsyncInvocation": "localcloud.async_invoke",
    "Batch": "localcloud.mappings",
    "Deployment": "localcloud.deployment",
    "Fault": "localcloud.runtime",
    "HttpResponse": "localcloud.responses",
    "LambdaContext": "localcloud.runtime",
    "LocalCloud": "localcloud.cloud",
    "StackResources": "localcloud.resources",
    "find_logical_id": "localcloud.resources",
    "find_resource": "localcloud.resources",
    "resources_of_type": "localcloud.resources",
    "start_sync_execution": "localcloud.stepfunctions",
    "wait_for": "localcloud.stepfunctions",
    "wait_for_execution": "localcloud.stepfunctions",
}

__all__ = [
    "AsyncInvocation",
    "Batch",
    "Deployment",
    "Fault",
    "HttpResponse",
    "LambdaContext",
    "LocalCloud",
    "StackResources",
    "find_logical_id",
    "find_resource",
    "resources_of_type",
    "start_sync_execution",
    "wait_for",
    "wait_for_execution",
]

if TYPE_CHECKING:
    from localcloud.async_invoke import AsyncInvocation
    from localcloud.cloud import LocalCloud
    from localcloud.deployment import Deployment
    from localcloud.mappings import Batch
    from localcloud.resources import StackResources, find_logical_id, find_resource, resources_of_type
    from localcloud.responses import HttpResponse
    from localcloud.runtime import Fault, LambdaContext
    from localcloud.stepfunctions import start_sync_execution, wait_for, wait_for_execution


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'localcloud' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
