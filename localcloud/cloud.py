"""LocalCloud: one local AWS account (moto) in which synthesized stacks are deployed and run.

    with LocalCloud() as cloud:
        stack = cloud.deploy("cdk.out", "ApiSync")
        payload, error = stack.invoke("QuotesFunction", event)

A LocalCloud owns everything about its account: the `mock_aws` context, fake credentials in the
process environment, the moto patches (installed on enter, removed on exit), the deployments, the
in-process runtime and its warm functions, the async invocation queue and its log, and the
checkpoints of stream mappings. Nothing is kept in module globals; one LocalCloud is active in a
process at a time because moto's backends and classes are process-wide.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, ContextManager

import boto3

from localcloud import mappings, stepfunctions
from localcloud.async_invoke import AsyncInvocation, AsyncInvoker
from localcloud.deployment import Deployment
from localcloud.function_urls import HttpResponse, request
from localcloud.iam import RoleCredentials
from localcloud.moto_patches import MotoPatches
from localcloud.runtime import (
    Fault,
    Runtime,
    forget_powertools_providers,
    install_environ_overlay,
    install_function_sessions,
    uninstall_environ_overlay,
    uninstall_function_sessions,
)

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    # DynamoDB streams and some moto paths need the account id out of the endpoint.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


class LocalCloud:
    """A local AWS account: deploy cloud assembly stacks into it and drive them.

    `async_workers` is how many asynchronous invocations run at the same time (worker threads).
    `enforce_iam` (on by default): each function runs with the credentials of its own execution
    role and moto checks its calls against that role's policies (see localcloud.iam); the test
    process keeps full access. Off: functions run with the test process's credentials.
    """

    def __init__(self, *, region: str = "us-east-1", async_workers: int = 1, enforce_iam: bool = True) -> None:
        self.region = region
        self.account = ""
        self.enforce_iam = enforce_iam
        self.deployments: list[Deployment] = []
        # stream mapping UUID -> last sequence number delivered; a mapping not in it has not polled yet
        self.stream_checkpoints: dict[str, int] = {}
        self.role_credentials = RoleCredentials(self)
        self.runtime = Runtime(credentials=self.role_credentials.for_function if enforce_iam else None)
        self.async_invoker = AsyncInvoker(self, workers=async_workers)
        self.patches = MotoPatches(self)
        self._mock: Any = None
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        self._client_lock = threading.Lock()
        self._saved_environ: dict[str, str | None] = {}

    # --- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> LocalCloud:
        from moto import mock_aws

        environment = {**FAKE_AWS_ENV, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        self.patches.install()  # first: raises if another LocalCloud is active, before touching anything
        forget_powertools_providers()
        self._saved_environ = {k: os.environ.get(k) for k in environment}
        os.environ.update(environment)
        try:
            install_environ_overlay()
            if self.enforce_iam:
                install_function_sessions()
            self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
            self._mock.start()
            self.account = self.client("sts").get_caller_identity()["Account"]
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._restore()

    def _restore(self) -> None:
        try:
            self.async_invoker.close()
        finally:
            if self._mock is not None:
                self._mock.stop()
                self._mock = None
            self.patches.uninstall()
            uninstall_function_sessions()
            uninstall_environ_overlay()
            self.runtime.close()
            forget_powertools_providers()
            for key, value in self._saved_environ.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    # --- deploying and reading ---------------------------------------------------------------

    def deploy(self, assembly_dir: str | Path, stack_id: str) -> Deployment:
        """Create `stack_id` of the cloud assembly in `assembly_dir` and wait for it."""
        deployment = Deployment(self, assembly_dir, stack_id).deploy()
        self.deployments.append(deployment)
        return deployment

    def client(self, service: str) -> Any:
        """This account's boto3 client for `service`, made on first use and then shared: clients are
        thread-safe, creating them is not, and each costs about 10 ms of CPU. Being shared, it
        must not get event hooks or a Stubber; make a client of your own for that."""
        with self._client_lock:
            if service not in self._clients:
                if self._session is None:
                    self._session = boto3.session.Session(region_name=self.region)
                self._clients[service] = self._session.client(service)
            return self._clients[service]

    def lambda_function(self, name_or_arn: str) -> Any:
        """moto's LambdaFunction object for a function name or ARN."""
        from moto.awslambda.utils import get_backend

        region = name_or_arn.split(":")[3] if name_or_arn.startswith("arn:") else self.region
        return get_backend(self.account, region).get_function(name_or_arn)

    # --- asynchronous invocations ------------------------------------------------------------

    @property
    def async_invocations(self) -> list[AsyncInvocation]:
        """Every async invocation accepted so far, in order (the log; clear it between tests)."""
        return self.async_invoker.invocations

    def settle(self, timeout: float = 30) -> list[AsyncInvocation]:
        """Wait until no async invocation is queued or running; raise TimeoutError after `timeout`."""
        return self.async_invoker.settle(timeout)

    def hold_async(self) -> ContextManager[None]:
        """`with cloud.hold_async():` async invocations queue but start only after the block."""
        return self.async_invoker.held()

    # --- injected failures -------------------------------------------------------------------

    def inject_failure(self, function_name: str, **fault: Any) -> Fault:
        """Make the next invocation(s) of a function fail, however they arrive (direct, async,
        event source mapping, Step Functions task): see `runtime.Fault` for the options.
        Evidence for retry and exactly-once tests; `fault.injected` counts what happened."""
        injected = Fault(function_name=self.lambda_function(function_name).function_name, **fault)
        self.runtime.faults.append(injected)
        return injected

    # --- event sources, workflows, URLs ------------------------------------------------------

    def drain_sqs(self, function_name: str, *, max_batches: int = 100) -> list[mappings.Batch]:
        return mappings.drain_sqs(self, function_name, max_batches=max_batches)

    def drain_stream(self, function_name: str) -> list[mappings.Batch]:
        return mappings.drain_stream(self, function_name)

    def restart_stream(self, function_name: str) -> None:
        """The function's stream mapping starts over as if just created: see `mappings.restart_stream`."""
        mappings.restart_stream(self, function_name)

    start_sync_execution = staticmethod(stepfunctions.start_sync_execution)
    wait_for_execution = staticmethod(stepfunctions.wait_for_execution)
    wait_for = staticmethod(stepfunctions.wait_for)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | str | dict | list | None = None,
        signed_by: str | None = None,
    ) -> HttpResponse:
        """Send an HTTP request to a deployed Lambda function URL (see localcloud.function_urls)."""
        return request(self, method, url, headers=headers, body=body, signed_by=signed_by)
