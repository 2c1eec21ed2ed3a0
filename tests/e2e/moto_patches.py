"""Every change this project makes to moto's internals (moto 5.2.5), in one place.

Why each one exists:

1. **Lambda runs in-process.** moto runs function code in Docker, which CI does not have.
   `LambdaFunction._invoke_lambda` is the one point every invocation passes through (the invoke
   API, SQS and stream mappings, S3 notifications, Step Functions tasks); here it imports the
   function's own handler from its deployed code zip, with the function's environment variables,
   and calls it. An uncaught exception becomes AWS's error payload and `FunctionError: Unhandled`.
2. **Asynchronous invocations go to our emulation.** moto runs `InvocationType=Event` inline with
   no retries, destinations or DLQ; the call is handed to `emulation.async_invoke` instead.
3. **Event source mappings are polled by our emulation.** moto delivers each SQS message or
   stream record to the function inside the producer's own API call, one at a time, ignoring
   batch size, partial batch responses, filters, retries and destinations. The mappings are
   detached from their source here; `emulation` polls them the way Lambda does.
4. **AWS-owned SSM parameters exist.** The Powertools layer ARN comes from a public parameter under
   `/aws/service/`, which moto's PutParameter refuses to write and its CloudFormation resolves from
   the template default; `put_public_parameter` places it in moto's store directly.
5. **State machines made by CloudFormation run.** moto's CloudFormation writes state machines to
   the backend that never executes them and drops their type; here they go to the executing
   backend with `StateMachineType`, logging and tracing kept.
6. **Bucket notifications from CloudFormation apply, and invoke asynchronously.** moto's
   CloudFormation ignores a bucket's `NotificationConfiguration`, and S3 events invoke functions
   synchronously; here the configuration is put through the S3 API after the bucket is created,
   and S3's Lambda invocations are `Event` invocations, as in AWS.
7. **CDK's bucket-emptying custom resource is a no-op on create.** `Custom::S3AutoDeleteObjects`
   only acts when the stack is deleted, and its provider is Node.js, which cannot run here.

`install()` applies them all and `uninstall()` undoes them; the e2e conftest calls both.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from hashlib import sha256
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.stepfunctions.models import StateMachine

_CODE_ROOT = Path(tempfile.mkdtemp(prefix="e2e-lambda-code-"))
_LOCK = threading.RLock()  # os.environ, sys.path and sys.modules are process-wide
_WARM: dict[str, dict[str, ModuleType]] = {}  # function ARN + code hash -> its loaded modules
_ORIGINAL: dict[tuple[Any, str], Any] = {}  # (class or module, attribute) -> what moto had

# Set by emulation.py: called as async_handler(function, event) for InvocationType=Event.
async_handler: Callable[[LambdaFunction, Any], None] | None = None


class LambdaContext:
    """The context object Lambda passes to a handler."""

    def __init__(self, function: LambdaFunction, request_id: str) -> None:
        self.function_name = function.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.function_arn
        self.memory_limit_in_mb = int(function.memory_size)
        self.aws_request_id = request_id
        self.log_group_name = function.logs_group_name
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{request_id.replace('-', '')}"
        self._deadline = time.monotonic() + float(function.timeout)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _code_dir(function: LambdaFunction) -> Path:
    target = _CODE_ROOT / sha256(function.code_bytes).hexdigest()
    if not target.exists():
        staging = Path(tempfile.mkdtemp(dir=_CODE_ROOT))
        with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
            archive.extractall(staging)
        staging.rename(target)
    return target


def _owned_by(packages: set[str], name: str) -> bool:
    return name.split(".", 1)[0] in packages


def _run_in_process(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    """Replacement for LambdaFunction._invoke_lambda: (payload, errored, logs)."""
    if event is None or event == "{}":
        event = {}
    request_id = str(uuid.uuid4())
    code_dir = _code_dir(self)
    # The function's top-level packages (its pattern folder, `shared`) shadow any copy the test
    # process imported from the repository, exactly as the asset is the whole world in Lambda.
    packages = {p.stem for p in code_dir.iterdir() if p.is_dir() or p.suffix == ".py"}
    warm_key = f"{self.function_arn}:{code_dir.name}"
    environment = {
        "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": self.region,
        "AWS_DEFAULT_REGION": self.region,
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        **{k: str(v) for k, v in (self.environment_vars or {}).items()},
    }
    with _LOCK:
        saved_environ, saved_path = dict(os.environ), list(sys.path)
        shadowed = {k: m for k, m in sys.modules.items() if _owned_by(packages, k)}
        for name in shadowed:
            del sys.modules[name]
        sys.modules.update(_WARM.get(warm_key, {}))
        sys.path.insert(0, str(code_dir))
        os.environ.update(environment)
        started = time.monotonic()
        try:
            module_name, function_name = self.handler.rsplit(".", 1)
            handler = getattr(importlib.import_module(module_name), function_name)
            payload, errored = json.dumps(handler(event, LambdaContext(self, request_id))), False
        except Exception as exc:  # an uncaught exception is the function's error, as in Lambda
            traceback.print_exc()
            payload = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__, "requestId": request_id})
            errored = True
        finally:
            elapsed = time.monotonic() - started
            _WARM[warm_key] = {k: m for k, m in sys.modules.items() if _owned_by(packages, k)}
            for name in _WARM[warm_key]:
                del sys.modules[name]
            sys.modules.update(shadowed)
            sys.path[:] = saved_path
            os.environ.clear()
            os.environ.update(saved_environ)
    if elapsed > float(self.timeout):  # cannot pre-empt in-process: report it as Lambda would
        payload = json.dumps({"errorMessage": f"Task timed out after {float(self.timeout):.2f} seconds", "errorType": "Sandbox.Timedout"})
        errored = True
    return payload, errored, ""


def _invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> Any:
    """Replacement for LambdaFunction.invoke: Event invocations go to the emulation."""
    if request_headers.get("x-amz-invocation-type") == "Event" and async_handler is not None:
        async_handler(self, json.loads(body) if body else {})
        return b""
    payload = _ORIGINAL[(LambdaFunction, "invoke")](self, body, request_headers, response_headers)
    if response_headers.get("x-amz-function-error") == "Handled":
        response_headers["x-amz-function-error"] = "Unhandled"  # what AWS says of an uncaught exception
    response_headers.pop("x-amz-log-result", None)
    return payload


def _create_event_source_mapping(self: LambdaBackend, spec: dict[str, Any]) -> Any:
    """Keep the mapping (and its configuration) but detach it from moto's inline delivery."""
    mapping = _ORIGINAL[(LambdaBackend, "create_event_source_mapping")](self, spec)
    from moto.dynamodb.models import dynamodb_backends
    from moto.sqs.models import sqs_backends

    for queue in sqs_backends[self.account_id][self.region_name].queues.values():
        queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
    for table in dynamodb_backends[self.account_id][self.region_name].tables.values():
        table.lambda_event_source_mappings.pop(mapping.function_arn, None)
    return mapping


def _state_machine_from_cloudformation(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[no-untyped-def]
    from moto.stepfunctions.responses import get_backend

    props = cloudformation_json["Properties"]
    definition = props["DefinitionString"]
    for key, value in (props.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", str(value))

    def camel(value: Any) -> Any:
        if isinstance(value, dict):
            return {k[:1].lower() + k[1:]: camel(v) for k, v in value.items()}
        return [camel(v) for v in value] if isinstance(value, list) else value

    return get_backend(account_id, region_name).create_state_machine(
        props.get("StateMachineName", resource_name),
        definition,
        props["RoleArn"],
        loggingConfiguration=camel(props.get("LoggingConfiguration")) if "LoggingConfiguration" in props else None,
        tracingConfiguration=camel(props.get("TracingConfiguration")) if "TracingConfiguration" in props else None,
        sm_type=props.get("StateMachineType", "STANDARD"),
    )


def _bucket_from_cloudformation(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[no-untyped-def]
    bucket = _ORIGINAL[(cls, "create_from_cloudformation_json")].__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    notifications = cloudformation_json.get("Properties", {}).get("NotificationConfiguration", {})
    lambdas = [
        {
            "LambdaFunctionArn": c["Function"],
            "Events": [c["Event"]],
            **({"Filter": {"Key": {"FilterRules": c["Filter"]["S3Key"]["Rules"]}}} if "Filter" in c else {}),
        }
        for c in notifications.get("LambdaConfigurations", [])
    ]
    if lambdas:
        import boto3

        boto3.client("s3", region_name=region_name).put_bucket_notification_configuration(
            Bucket=resource_name, NotificationConfiguration={"LambdaFunctionConfigurations": lambdas}
        )
    return bucket


def _s3_invokes_asynchronously(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    from moto.awslambda.utils import get_backend

    get_backend(account_id, region_name).get_function(fn_arn).invoke(json.dumps(event_body), {"x-amz-invocation-type": "Event"}, {})


NO_OP_CUSTOM_RESOURCES = {"Custom::S3AutoDeleteObjects"}


def _custom_resource_from_cloudformation(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[no-untyped-def]
    if kwargs["ResourceType"] not in NO_OP_CUSTOM_RESOURCES:
        return _ORIGINAL[(cls, "create_from_cloudformation_json")].__func__(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    from moto.cloudformation import cloudformation_backends
    from moto.cloudformation.custom_model import CustomModel

    resource = CustomModel(region_name, str(uuid.uuid4()), kwargs["LogicalId"], resource_name)
    cloudformation_backends[account_id][region_name].get_stack(kwargs["StackId"]).add_custom_resource(resource)
    resource.set_data({})
    return resource


def _targets() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) for every patch above."""
    from moto.cloudformation.custom_model import CustomModel
    from moto.s3 import notifications
    from moto.s3.models import FakeBucket

    return [
        (LambdaFunction, "_invoke_lambda", _run_in_process),
        (LambdaFunction, "invoke", _invoke),
        (LambdaBackend, "create_event_source_mapping", _create_event_source_mapping),
        (StateMachine, "create_from_cloudformation_json", classmethod(_state_machine_from_cloudformation)),
        (FakeBucket, "create_from_cloudformation_json", classmethod(_bucket_from_cloudformation)),
        (notifications, "_invoke_awslambda", _s3_invokes_asynchronously),
        (CustomModel, "create_from_cloudformation_json", classmethod(_custom_resource_from_cloudformation)),
    ]


def install() -> None:
    if _ORIGINAL:
        return
    for owner, attribute, replacement in _targets():
        _ORIGINAL[(owner, attribute)] = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
        setattr(owner, attribute, replacement)


def uninstall() -> None:
    if not _ORIGINAL:
        return
    for owner, attribute, _ in _targets():
        setattr(owner, attribute, _ORIGINAL[(owner, attribute)])
    _ORIGINAL.clear()
    _WARM.clear()


def put_public_parameter(account: str, region: str, name: str, value: str) -> None:
    from moto.core.utils import utcnow
    from moto.ssm.models import Parameter, ssm_backends

    ssm_backends[account][region]._parameters[name].append(
        Parameter(
            account_id=account,
            name=name,
            value=value,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=utcnow(),
            version=1,
            data_type="text",
        )
    )
