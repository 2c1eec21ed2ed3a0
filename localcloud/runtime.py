"""The in-process Lambda runtime: a function's own code zip, handler and environment.

Functions may run at the same time (asynchronous workers, Step Functions' executor threads, a
handler invoking another synchronously) without seeing each other's environment:

- **Imports are isolated, under a lock.** A function's modules are imported from its extracted
  code zip with `sys.path` and `sys.modules` swapped only for the import. The modules it loaded
  (its pattern folder, `shared`, ...) are kept per function and code hash: a warm instance, which
  runs one invocation at a time (invocations at the same time get an instance each, imported on
  demand: a cold start). The copies the test process imported from the repository are put back.
- **The handler runs outside the lock**, in the caller's thread, with the function's environment
  supplied through a context-local overlay: while a `LocalCloud` is active, `os.environ` is an
  `OverlayEnviron` that reads and writes the current invocation's own copy of the environment, so
  `os.environ[...]`, `os.getenv` and botocore inside a handler see that function's variables, and
  a handler's writes stay in its invocation.
- **Library state kept on a class for the invocation at hand is per invocation.** Powertools' REST
  resolver keeps the request it handles on `BaseRouter`: one per process in Lambda, shared here by
  invocations running at once. Such attributes (`INVOCATION_STATE_ON_CLASSES`) become context
  variables, and each invocation runs in a context of its own.

What is not isolated: imports a handler performs while it runs (not at module level) resolve
against the test process's `sys.modules`; threads a handler starts see the test process's
environment, not the function's (contextvars do not flow into new threads).
"""

from __future__ import annotations

import contextvars
import decimal
import importlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

    from localcloud.concurrency import Concurrency


@dataclass
class LambdaContext:
    """The Lambda context object: what handlers and Powertools read.

    The runtime builds one per invocation with `for_function`; handler tests build one with
    defaults (`LambdaContext()`) or the attributes they care about.
    """

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:test-function"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/22/[$LATEST]0123456789abcdef"
    remaining_ms: int = 10_000
    deadline: float | None = None  # time.monotonic() at which the function times out

    @classmethod
    def for_function(cls, function: LambdaFunction, request_id: str) -> LambdaContext:
        return cls(
            function_name=function.function_name,
            invoked_function_arn=function.function_arn,
            memory_limit_in_mb=int(function.memory_size),
            aws_request_id=request_id,
            log_group_name=function.logs_group_name,
            log_stream_name=f"{time.strftime('%Y/%m/%d')}/[$LATEST]{request_id.replace('-', '')}",
            deadline=time.monotonic() + float(function.timeout),
        )

    def get_remaining_time_in_millis(self) -> int:
        if self.deadline is None:
            return self.remaining_ms
        return max(0, int((self.deadline - time.monotonic()) * 1000))


# --- the environment overlay ----------------------------------------------------------------------

_OVERLAY: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("localcloud_environ", default=None)


class OverlayEnviron(MutableMapping[str, str]):
    """`os.environ` while a LocalCloud is active: the current invocation's environment if there is
    one, the process environment otherwise."""

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self.base = base

    def _current(self) -> MutableMapping[str, str]:
        overlay = _OVERLAY.get()
        return self.base if overlay is None else overlay

    def __getitem__(self, key: str) -> str:
        return self._current()[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._current()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._current()))

    def __len__(self) -> int:
        return len(self._current())

    def copy(self) -> dict[str, str]:
        return dict(self._current())

    def __repr__(self) -> str:
        return f"OverlayEnviron({dict(self._current())!r})"


def install_environ_overlay() -> OverlayEnviron:
    if isinstance(os.environ, OverlayEnviron):
        return os.environ
    overlay = OverlayEnviron(os.environ)
    os.environ = overlay  # type: ignore[assignment]  # noqa: B003 (on purpose: each function thread sees its own variables)
    return overlay


def uninstall_environ_overlay() -> None:
    if isinstance(os.environ, OverlayEnviron):
        os.environ = os.environ.base  # type: ignore[assignment]  # noqa: B003 (the process's own mapping back)


@contextmanager
def function_environment(variables: dict[str, str]) -> Iterator[None]:
    """Run the block with the process environment plus `variables`, private to this context."""
    base = os.environ.base if isinstance(os.environ, OverlayEnviron) else os.environ
    token = _OVERLAY.set({**base, **variables})
    try:
        yield
    finally:
        _OVERLAY.reset(token)


# --- boto3's default session, per function --------------------------------------------------------

_SESSION: contextvars.ContextVar[Any] = contextvars.ContextVar("localcloud_boto3_session", default=None)
_ORIGINAL_DEFAULT_SESSION: list[Callable[[], Any]] = []


def _default_session() -> Any:
    session = _SESSION.get()
    return session if session is not None else _ORIGINAL_DEFAULT_SESSION[0]()


def install_function_sessions() -> None:
    """`boto3.client(...)`/`boto3.resource(...)` inside a function use that function's own session.

    boto3's default session is process-wide and caches the first credentials it resolves (the test
    process's); a function's module-level clients must resolve its own role's credentials instead.
    """
    import boto3

    if not _ORIGINAL_DEFAULT_SESSION:
        _ORIGINAL_DEFAULT_SESSION.append(boto3._get_default_session)
        boto3._get_default_session = _default_session


def uninstall_function_sessions() -> None:
    import boto3

    if _ORIGINAL_DEFAULT_SESSION:
        boto3._get_default_session = _ORIGINAL_DEFAULT_SESSION.pop()


# --- the runtime ---------------------------------------------------------------------------------


def forget_powertools_providers() -> None:
    """Drop Powertools' default parameter providers (`parameters.get_secret` and friends).

    They are process-wide and keep the boto3 client they were first made with: its region,
    credentials and moto account. In Lambda a process is one function's sandbox; here one test
    process runs many clouds, so a provider left by an earlier one would ask the wrong backend
    ("Secrets Manager can't find the specified secret"). Each LocalCloud starts and ends without them.
    """
    try:
        from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
    except ImportError:  # Powertools not installed: nothing to forget
        return
    DEFAULT_PROVIDERS.clear()


class _PerInvocation:
    """A class attribute with a value per invocation (a context variable), read and written both
    through the class and through its instances."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.value: contextvars.ContextVar[Any] = contextvars.ContextVar(f"localcloud_{name}")

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        try:
            return self.value.get()
        except LookupError:  # as an annotated, never-assigned class attribute reads
            raise AttributeError(self.name) from None

    def __set__(self, instance: Any, value: Any) -> None:
        self.value.set(value)


def per_invocation(cls: type, *names: str) -> None:
    """Give each invocation its own value of class attributes a library sets for "the invocation
    being handled". In Lambda a process is one execution environment, handling one invocation at a
    time, so a library may keep that on a class; here invocations at the same time share a process,
    and one would read another's. The attributes become context variables (each invocation runs in
    a context of its own), through the class (a metaclass descriptor) and its instances alike."""
    if all(isinstance(cls.__dict__.get(name), _PerInvocation) for name in names):
        return
    slots = {name: _PerInvocation(name) for name in names}
    for name, slot in slots.items():
        type.__setattr__(cls, name, slot)  # instances find it in the class
    meta = type(cls)
    cls.__class__ = type(f"PerInvocation{meta.__name__}", (meta,), dict(slots))  # the class's own get and set


# Library state kept on a class for the invocation at hand: module -> class -> attributes.
INVOCATION_STATE_ON_CLASSES = {
    # APIGatewayRestResolver.resolve sets BaseRouter.current_event and lambda_context, and routes read them.
    "aws_lambda_powertools.event_handler.api_gateway": {"BaseRouter": ("current_event", "lambda_context")},
}


def keep_invocation_state_per_invocation() -> None:
    """Apply `per_invocation` to every class in INVOCATION_STATE_ON_CLASSES (those installed)."""
    for module_name, classes in INVOCATION_STATE_ON_CLASSES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # the library is not installed: no function here uses it
            continue
        for class_name, names in classes.items():
            per_invocation(getattr(module, class_name), *names)


# A Decimal goes out as its own digits (the runtime writes it as raw JSON): marked while encoding.
_DECIMAL = re.compile(r'"\\u0000decimal:([^"\\]*)\\u0000"')


def marshal_response(result: Any) -> tuple[str, bool]:
    """A handler's return value as the Lambda Python runtime sends it: (payload, errored).

    The runtime (awslambdaric's LambdaMarshaller, python3.12 and later) encodes the value as JSON
    with ensure_ascii=False (characters as they are, not \\u escapes), NaN allowed, a Decimal as
    its number, then posts it as UTF-8. A value JSON cannot carry (a set, bytes) is its
    Runtime.MarshalError. A string with a lone surrogate encodes to JSON but not to UTF-8, and that
    exception escapes the runtime's loop: the process exits and the invocation fails
    (Runtime.ExitError). Either way the caller sees a failed invocation (API Gateway: 502).
    """

    def default(value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return float("nan") if value.is_nan() else f"\0decimal:{value}\0"
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    try:
        text = _DECIMAL.sub(r"\1", json.dumps(result, ensure_ascii=False, allow_nan=True, default=default))
    except (TypeError, ValueError, RecursionError) as error:
        return json.dumps(
            {"errorMessage": f"Unable to marshal response: {error}", "errorType": "Runtime.MarshalError"}
        ), True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return json.dumps(
            {"errorMessage": f"Runtime exited with error: {error}", "errorType": "Runtime.ExitError"}
        ), True
    return text, False


def _owned_by(packages: set[str], name: str) -> bool:
    return name.split(".", 1)[0] in packages


@dataclass
class Fault:
    """An injected failure: the next `times` invocations of `function_name` that `when` accepts fail.

    `after_handler=False`: the handler never runs (the function crashed on start, or Lambda's own
    service failed). `after_handler=True`: the handler runs and its side effects stay, then the
    invocation fails anyway (a timeout or crash after the work): the case that tests exactly-once.
    `throttle=True`: the invocation is refused for want of concurrency (`TooManyRequestsException`,
    counted in `concurrency.throttles`) before it takes a slot, and the path it came by handles
    it as a real throttle: 429 to a synchronous caller, an async event waits and retries, an SQS
    batch goes back on the queue, a stream batch is read again, a Step Functions task fails with
    `Lambda.TooManyRequestsException`. Seeded throttling without filling the account.
    """

    function_name: str
    times: int = 1
    error_type: str = "TransientError"
    message: str = "injected failure"
    after_handler: bool = False
    throttle: bool = False
    when: Callable[[Any], bool] | None = None
    injected: int = 0

    def applies(self, function: LambdaFunction, event: Any) -> bool:
        return (
            self.injected < self.times
            and self.function_name == function.function_name
            and (self.when is None or self.when(event))
        )


class Runtime:
    """Runs functions in this process. One per LocalCloud: its code directory and warm modules."""

    _IMPORT_LOCK = threading.RLock()  # sys.path and sys.modules are process-wide

    def __init__(
        self,
        credentials: Callable[[LambdaFunction], dict[str, str]] | None = None,
        concurrency: Concurrency | None = None,
    ) -> None:
        self.code_root = Path(tempfile.mkdtemp(prefix="localcloud-code-"))
        self.warm: dict[str, list[Callable[..., Any]]] = {}  # function ARN + code hash -> its idle instances' handlers
        # function -> AWS_ACCESS_KEY_ID/... of its execution role; None: the test process's own
        self.credentials = credentials
        self.sessions: dict[str, Any] = {}  # function ARN -> its boto3 default session
        self.faults: list[Fault] = []
        self.concurrency = concurrency  # None: nothing is counted or throttled
        self._lock = threading.Lock()
        keep_invocation_state_per_invocation()

    def close(self) -> None:
        self.warm.clear()
        self.sessions.clear()
        self.faults.clear()
        shutil.rmtree(self.code_root, ignore_errors=True)  # the unzipped code of every function

    def _take_fault(
        self, function: LambdaFunction, event: Any, *, after_handler: bool, throttle: bool = False
    ) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if (
                    fault.after_handler == after_handler
                    and fault.throttle == throttle
                    and fault.applies(function, event)
                ):
                    fault.injected += 1
                    return fault
        return None

    def _code_dir(self, function: LambdaFunction) -> Path:
        target = self.code_root / sha256(function.code_bytes).hexdigest()
        with self._lock:
            if not target.exists():
                staging = Path(tempfile.mkdtemp(dir=self.code_root))
                with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
                    archive.extractall(staging)
                staging.rename(target)
        return target

    @staticmethod
    def environment(function: LambdaFunction) -> dict[str, str]:
        return {
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            **{k: str(v) for k, v in (function.environment_vars or {}).items()},
        }

    @contextmanager
    def _instance(self, function: LambdaFunction) -> Iterator[Callable[..., Any]]:
        """The handler of an idle warm instance of the function, or of a new one (a cold start),
        for one invocation: an instance runs one invocation at a time, as an execution
        environment does, so invocations at the same time each have their own module state."""
        code_dir = self._code_dir(function)
        key = f"{function.function_arn}:{code_dir.name}"
        with self._lock:
            idle = self.warm.setdefault(key, [])
            handler = idle.pop() if idle else None
        if handler is None:
            handler = self._import_handler(function, code_dir)
        try:
            yield handler
        finally:
            with self._lock:
                self.warm.setdefault(key, []).append(handler)

    def _import_handler(self, function: LambdaFunction, code_dir: Path) -> Callable[..., Any]:
        """Import the function's handler from its code zip: new modules, a new instance."""
        # The function's top-level packages (its pattern folder, `shared`) shadow any copy the test
        # process imported from the repository, exactly as the asset is the whole world in Lambda.
        packages = {p.stem for p in code_dir.iterdir() if p.is_dir() or p.suffix == ".py"}
        with self._IMPORT_LOCK:
            saved_path = list(sys.path)
            shadowed = {k: m for k, m in sys.modules.items() if _owned_by(packages, k)}
            for name in shadowed:
                del sys.modules[name]
            sys.path.insert(0, str(code_dir))
            try:
                module_name, attribute = str(function.handler).rsplit(".", 1)
                handler: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
                return handler
            finally:
                loaded: dict[str, ModuleType] = {k: m for k, m in sys.modules.items() if _owned_by(packages, k)}
                for name in loaded:
                    del sys.modules[name]
                sys.modules.update(shadowed)
                sys.path[:] = saved_path

    @contextmanager
    def _own_session(self, function: LambdaFunction) -> Iterator[None]:
        """boto3's default session is the function's own (made inside its environment) while it runs."""
        if self.credentials is None:
            yield
            return
        import boto3

        with self._lock:  # one session per function, made on its first invocation (about 15 ms of CPU)
            session = self.sessions.get(function.function_arn)
            if session is None:
                session = self.sessions[function.function_arn] = boto3.session.Session()
        token = _SESSION.set(session)
        try:
            yield
        finally:
            _SESSION.reset(token)

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool]:
        """Run one invocation: (JSON payload, errored). Errors and timeouts as Lambda reports them.

        The invocation holds a concurrency slot while it runs; without a free one it raises
        `TooManyRequestsException` before anything runs (the caller's path decides what that means).
        """
        if event is None or event == "{}":
            event = {}
        if self.concurrency is None:
            return self._invoke(function, event)
        if self.faults and self._take_fault(function, event, after_handler=False, throttle=True):
            self.concurrency.throttled(function)
        with self.concurrency.slot(function, event):
            return self._invoke(function, event)

    def _invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool]:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        variables = self.environment(function)
        if self.credentials is not None:  # its execution role's keys, before its modules are imported
            variables.update(self.credentials(function))
        if fault := self._take_fault(function, event, after_handler=False):
            return json.dumps(
                {"errorMessage": fault.message, "errorType": fault.error_type, "requestId": request_id}
            ), True
        with function_environment(variables), self._own_session(function):
            try:
                with self._instance(function) as handler:  # module-level code runs with the function's environment
                    # A context of its own: what the invocation sets per invocation stays its own.
                    result = contextvars.copy_context().run(
                        handler, event, LambdaContext.for_function(function, request_id)
                    )
                    payload, errored = marshal_response(result)
            except Exception as exc:  # an uncaught exception is the function's error, as in Lambda
                traceback.print_exc()
                payload = json.dumps(
                    {"errorMessage": str(exc), "errorType": type(exc).__name__, "requestId": request_id}
                )
                errored = True
        if not errored and (fault := self._take_fault(function, event, after_handler=True)):
            return json.dumps(
                {"errorMessage": fault.message, "errorType": fault.error_type, "requestId": request_id}
            ), True
        if time.monotonic() - started > float(
            function.timeout
        ):  # cannot pre-empt in-process: report it as Lambda would
            payload = json.dumps(
                {
                    "errorMessage": f"Task timed out after {float(function.timeout):.2f} seconds",
                    "errorType": "Sandbox.Timedout",
                }
            )
            errored = True
        return payload, errored
