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

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from localcloud import mappings, stepfunctions
from localcloud.async_invoke import THROTTLE_TICK_SECONDS, AsyncInvocation, AsyncInvoker
from localcloud.concurrency import NEW_ACCOUNT_LIMIT, Concurrency, Hold
from localcloud.deployment import Deployment
from localcloud.function_urls import request
from localcloud.iam import RoleCredentials
from localcloud.moto_patches import MotoPatches
from localcloud.responses import HttpResponse
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
    `concurrency_limit` is the account's concurrent executions quota (a new account's 10 by
    default): reservations and throttling follow it (see localcloud.concurrency).
    `throttle_tick` is how many real seconds a throttled async event waits, when no slot frees,
    before its next retry, each retry being AWS's next backoff interval on the event's age.
    `enforce_iam` (on by default): each function runs with the credentials of its own execution
    role and moto checks its calls against that role's policies (see localcloud.iam); the test
    process keeps full access. Off: functions run with the test process's credentials.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        async_workers: int = 1,
        enforce_iam: bool = True,
        concurrency_limit: int = NEW_ACCOUNT_LIMIT,
        throttle_tick: float = THROTTLE_TICK_SECONDS,
    ) -> None:
        self.region = region
        self.account = ""
        self.enforce_iam = enforce_iam
        self.deployments: list[Deployment] = []
        # stream mapping UUID -> last sequence number delivered; a mapping not in it has not polled yet
        self.stream_checkpoints: dict[str, int] = {}
        self.role_credentials = RoleCredentials(self)
        self.concurrency = Concurrency(concurrency_limit, functions=self._functions)
        self.runtime = Runtime(
            credentials=self.role_credentials.for_function if enforce_iam else None, concurrency=self.concurrency
        )
        self.async_invoker = AsyncInvoker(self, workers=async_workers, throttle_tick=throttle_tick)
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

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
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

    def client(self, service: str, *, retries: bool = True) -> Any:
        """This account's boto3 client for `service`, made on first use and then shared: clients are
        thread-safe, creating them is not, and each costs about 10 ms of CPU. Being shared, it
        must not get event hooks or a Stubber; make a client of your own for that.
        `retries=False`: a client that makes one attempt per call (botocore would retry a
        throttled call after a real backoff; a test wants the 429 itself)."""
        key = service if retries else f"{service}/no-retries"
        with self._client_lock:
            if key not in self._clients:
                if self._session is None:
                    self._session = boto3.session.Session(region_name=self.region)
                config = None if retries else Config(retries={"mode": "standard", "total_max_attempts": 1})
                self._clients[key] = self._session.client(service, config=config)
            return self._clients[key]

    def _functions(self) -> list[Any]:
        """Every function in the account's region (moto's), for the reservations they hold."""
        from moto.awslambda.utils import get_backend

        return list(get_backend(self.account, self.region).list_functions()) if self.account else []

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

    def hold_async(self) -> AbstractContextManager[None]:
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

    @contextlib.contextmanager
    def hold_invocations(self, function_name: str, *, when: Callable[[Any], bool] | None = None) -> Iterator[Hold]:
        """`with cloud.hold_invocations(name) as held:` invocations of the function (that `when`
        accepts) take their concurrency slot, then wait before their handler runs until the block
        exits; `held.wait_for(n)` waits until n are in flight. However they arrive (direct, async,
        mapping, Step Functions task, URL). Evidence for throttling: fill a reservation or the
        account with real invocations and look at what the next caller gets."""
        hold = Hold(self.lambda_function(function_name).function_name, when=when)
        self.concurrency.holds.append(hold)
        try:
            yield hold
        finally:
            hold.release()
            self.concurrency.holds.remove(hold)

    # --- event sources, workflows, URLs ------------------------------------------------------

    def drain_sqs(self, function_name: str, *, max_batches: int = 100, pollers: int = 1) -> list[mappings.Batch]:
        return mappings.drain_sqs(self, function_name, max_batches=max_batches, pollers=pollers)

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
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        signed_by: str | None = None,
    ) -> HttpResponse:
        """Send an HTTP request to a deployed Lambda function URL (see localcloud.function_urls)."""
        return request(self, method, url, headers=headers, body=body, signed_by=signed_by)
