"""Deploy the app's synthesized stacks into a local AWS account (moto) and run them, no AWS
account needed. See README.md in this folder."""

from localcloud.async_invoke import AsyncInvocation
from localcloud.cloud import LocalCloud
from localcloud.deployment import Deployment
from localcloud.mappings import Batch
from localcloud.resources import StackResources, find_logical_id
from localcloud.responses import HttpResponse
from localcloud.runtime import Fault, LambdaContext
from localcloud.stepfunctions import start_sync_execution, wait_for, wait_for_execution

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
    "start_sync_execution",
    "wait_for",
    "wait_for_execution",
]
