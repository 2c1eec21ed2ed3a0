"""Every change LocalCloud makes to moto's internals (moto 5.2.5), in one place.

`MotoPatches(cloud).install()` applies them when a LocalCloud is entered and `uninstall()` puts
moto's own code back when it exits; each patch calls into the cloud that installed it, so the
cloud's state (runtime, async queue) is never a module global. moto's classes are process-wide,
so one LocalCloud is active in a process at a time. Why each one exists:

1. **Lambda runs in-process.** moto runs function code in Docker, which CI does not have.
   `LambdaFunction._invoke_lambda` is the one point every invocation passes through (the invoke
   API, Step Functions tasks); here it runs the function's own handler from its deployed code zip
   with `cloud.runtime`. An uncaught exception becomes AWS's error payload and `FunctionError: Unhandled`.
2. **Asynchronous invocations are queued.** moto runs `InvocationType=Event` inline, inside the
   caller's call, with no retries, destinations or DLQ; here it is handed to `cloud.async_invoker`,
   which runs it on a worker thread after the call has returned.
3. **Event source mappings are polled by our emulation.** moto delivers each SQS message or
   stream record to the function inside the producer's own API call, one at a time, ignoring
   batch size, partial batch responses, filters, retries and destinations. The mappings are
   detached from their source here; `localcloud.mappings` polls them the way Lambda does.
4. **AWS-owned SSM parameters exist.** The Powertools layer ARN comes from a public parameter under
   `/aws/service/`, which moto's PutParameter refuses to write and its CloudFormation resolves from
   the template default; `put_public_parameter` places it in moto's store directly.
5. **State machines made by CloudFormation run.** moto's CloudFormation writes state machines to
   the backend that never executes them and drops their type; here they go to the executing
   backend with `StateMachineType`, logging and tracing kept.
6. **Bucket notifications from CloudFormation apply, and invoke asynchronously.** moto's
   CloudFormation ignores a bucket's `NotificationConfiguration`, and S3 events invoke functions
   synchronously; here the configuration is put through the S3 API after the bucket is created,
   and S3's Lambda invocations are queued `Event` invocations, as in AWS.
7. **CDK's bucket-emptying custom resource is a no-op on create.** `Custom::S3AutoDeleteObjects`
   only acts when the stack is deleted, and its provider is Node.js, which cannot run here.
8. **`AWS::Lambda::Url` exists.** moto's CloudFormation has no model for it, so a stack's function
   URL (and `Fn::GetAtt [X, FunctionUrl]` in its outputs) would be skipped; `FunctionUrlModel`
   (localcloud.function_urls) is registered for the type while the cloud is active.
9. **Requests signed by a function are checked against its role** (when the cloud's `enforce_iam`
   is on). moto's own switch checks every request in the process, the test's included; here
   `ActionAuthenticatorMixin._authenticate_and_authorize_action` runs moto's checks only for keys
   issued to functions, naming the resource where moto does not (localcloud.iam). And a role's
   inline `Policies` from CloudFormation are kept as JSON text: moto's CloudFormation stores them
   as dicts, which its own access control cannot read (KeyError 'policy_document').
10. **`AWS::SecretsManager::Secret` exists.** moto's CloudFormation has no model for it either;
   `SecretModel` (localcloud.secrets) creates the secret, generating its value as CloudFormation
   does, so a `Ref` to it is its ARN.
11. **DynamoDB writes are atomic.** DynamoDB applies each write, condition and all, and each
   transaction atomically; moto checks a condition and then writes, in plain Python, and runs a
   transaction against a deep copy of the table that it puts back if any item's condition fails.
   With functions running at the same time (`async_workers` > 1) that loses updates: two
   increments read the same count, and a failed transaction restores a copy older than another
   thread's committed write. Here moto's write operations take one lock, so concurrent writers
   see what DynamoDB's would.
12. **A task token answered before its heartbeat clock starts is not lost.** moto's engine sets up a
   `waitForTaskToken` task's heartbeat endpoint only after the task's Lambda call returns; a
   SendTaskSuccess/Failure arriving in between (the function stored the token, someone answered
   at once) sets the outcome but wakes no heartbeat wait, so the task waited out
   `HeartbeatSeconds` and failed with States.HeartbeatTimeout. In AWS the answer wins; here a
   heartbeat endpoint created after the outcome is signalled at once.
13. **SendTaskFailure keeps its `cause`.** moto's response handler passes only `error` to the
   backend, so a Catch saw `"Cause": null`; here the request's `cause` is passed on too.
14. **A KMS key's policy from CloudFormation is kept as JSON text.** A template's `KeyPolicy` is a
   JSON object, which moto's CloudFormation stores as a dict; its KMS API then fails on the key
   (DescribeKey, GetKeyPolicy: "the JSON object must be str"). Here it is stored as JSON, as
   PutKeyPolicy would store it (the alarm topic's key, stacks/shared/monitoring.py).
15. **A JSON template is read as JSON.** moto's CloudFormation parses every template with PyYAML's
   pure-Python loader first (JSON is YAML too): about 0.1 s of CPU for one of CDK's templates, on
   every deploy, against under a millisecond with `json`. Here it is read with `json` first, and
   moto's YAML loader gets the rest. This one is for speed only.
16. **A retried `waitForTaskToken` task gets a fresh token, and an ended attempt's token is closed.**
   Step Functions retries a task by calling it again as a new task with a new token; moto makes
   the token once per state and hands every retry the first attempt's token. Here each retry
   attempt gets a new token (`$$.Task.Token`), and when an attempt ends (answered, failed, timed
   out or retried) its token is closed: SendTaskSuccess/Failure/Heartbeat with it answer
   `TaskTimedOut`, as AWS answers for a task that "has already been closed", instead of being
   accepted and ignored. An accepted SendTaskSuccess/Failure closes its token at once (moto read
   the answer only when the execution's thread woke, and a second answer in between replaced
   it). So a handler that keeps only the first token, or an approver holding a superseded one, or
   a second approver, fails here as in AWS.
17. **Lambda's concurrency is counted** (localcloud.concurrency). A synchronous invoke (the
   Invoke API, Step Functions tasks) that finds no free slot is answered with Lambda's 429
   `TooManyRequestsException`. A function's `ReservedConcurrentExecutions` is checked when
   CloudFormation creates a stack and by PutFunctionConcurrency, against the cloud's account
   limit (moto checks only PutFunctionConcurrency, against 100 from an environment variable); a
   refused reservation fails the stack as CloudFormation does: the function's `CREATE_FAILED`
   event carries Lambda's message and the stack ends `ROLLBACK_COMPLETE`. The template's
   reservations are checked before moto creates anything, in template order (AWS creates in
   dependency order and rolls back what it created; here nothing was created).
18. **A Lambda task's service errors keep their names.** A Task state whose resource is the
   function's ARN (CDK's `payload_response_only=True`) reports an error of the Invoke call itself
   as `Lambda.<error code>` in AWS (`Lambda.TooManyRequestsException`, `Lambda.ServiceException`,
   the names the patterns' retriers match); moto's engine calls every such error `Exception`, so
   a throttled task would skip its Retry. Here it is named as AWS names it.
19. **S3 events carry a `sequencer`.** AWS gives every event of an object key a `sequencer` (hex,
   greater for a later event of the same key) and repeats it when it delivers an event again: it
   is what tells a new upload of the same bytes from a duplicate delivery. moto's events have
   none; here each event gets the next value of a per-cloud counter, as 18 hex digits.
20. **CDK's bucket-notifications custom resource applies.** `Custom::S3BucketNotifications` (CDK's
   `add_event_notification` on a bucket it did not create, such as a pattern's `existing_bucket`)
   runs a handler that would answer CloudFormation through a pre-signed URL moto cannot serve.
   Here its configuration is put on the bucket on create, next to the bucket's own notifications
   when `Managed` is false, as CDK's handler does (`put_bucket_notifications`). Update and delete
   are not modelled: a local stack is created once and thrown away.
21. **SQS message operations are atomic.** moto's ReceiveMessage checks a message's visibility,
   marks it received and moves messages past `maxReceiveCount` to the DLQ in plain Python, with
   no lock: two pollers receiving at once could both take one message, or both move it to the DLQ
   (the second fails with ValueError). Here moto's message operations on a queue take one lock, so
   concurrent pollers see what SQS's would: each message received by one of them at a time, moved
   to the DLQ once.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.core.exceptions import AWSError
from moto.kms.models import Key
from moto.stepfunctions.models import StateMachine

from localcloud.concurrency import ReservationRefused, TooManyRequestsException
from localcloud.function_urls import FunctionUrlModel
from localcloud.secrets import SecretModel

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

NO_OP_CUSTOM_RESOURCES = {"Custom::S3AutoDeleteObjects"}


def put_bucket_notifications(properties: dict[str, Any], region_name: str) -> None:
    """Patch 20: what CDK's handler for `Custom::S3BucketNotifications` does on create.

    CDK uses it to add notifications to a bucket it did not create (`add_event_notification` on an
    imported bucket). With `Managed: false` the bucket's other notifications are kept, as CDK's
    handler keeps them; with `Managed: true` the resource's configuration is the bucket's whole one.
    """
    import boto3

    s3 = boto3.client("s3", region_name=region_name)
    bucket = properties["BucketName"]
    ours = properties.get("NotificationConfiguration", {})
    managed = str(properties.get("Managed", "true")).lower() == "true"
    current = {} if managed else s3.get_bucket_notification_configuration(Bucket=bucket)
    current.pop("ResponseMetadata", None)
    merged = {
        key: [*current.get(key, []), *ours.get(key, [])]
        for key in ("LambdaFunctionConfigurations", "QueueConfigurations", "TopicConfigurations")
    }
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={k: v for k, v in merged.items() if v}
    )


# Custom resources whose effect the local cloud applies itself instead of running CDK's handler.
MODELLED_CUSTOM_RESOURCES = {"Custom::S3BucketNotifications": put_bucket_notifications}
CLOUDFORMATION_MODELS = (FunctionUrlModel, SecretModel)  # resource types moto's CloudFormation lacks (8, 10)
TASK_ANSWERS = ("send_task_success", "send_task_failure", "send_task_heartbeat")
DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")
SQS_MESSAGE_OPERATIONS = (
    "send_message",
    "send_message_batch",
    "receive_message",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
)


class TooManyRequests(LambdaClientError):
    """Patch 17: Lambda's throttling answer to Invoke (HTTP 429), with its `Reason`."""

    code = 429

    def __init__(self, reason: str) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.description = json.dumps(
            {"__type": "TooManyRequestsException", "message": "Rate Exceeded.", "Reason": reason, "Type": "User"}
        )


class ResourceCreateFailed(Exception):
    """Patch 17: a resource CloudFormation could not create; the stack fails and rolls back."""

    def __init__(self, logical_id: str, resource_type: str, message: str) -> None:
        super().__init__(f"{logical_id}: {message}")
        self.logical_id, self.resource_type, self.message = logical_id, resource_type, message

    def record(self, stack: Any) -> None:
        """The events CloudFormation writes: the resource's CREATE_FAILED with the service's
        message (as the resource handler words it), then the stack's rollback."""
        from moto.cloudformation.models import Event

        reason = (
            f'Resource handler returned message: "{self.message} (Service: Lambda, Status Code: 400)" '
            "(HandlerErrorCode: InvalidRequest)"
        )
        stack.events.append(
            Event(stack.stack_id, stack.name, self.logical_id, "", self.resource_type, "CREATE_FAILED", reason, None)
        )
        stack._add_stack_event(
            "ROLLBACK_IN_PROGRESS",
            f"The following resource(s) failed to create: [{self.logical_id}]. Rollback requested by user.",
        )
        stack.status = "ROLLBACK_COMPLETE"
        stack._add_stack_event("ROLLBACK_COMPLETE")
        # A rolled-back stack has no resources and no outputs; moto would create its resources
        # lazily on the next read of the stack (DescribeStacks), reservations included.
        stack.resource_map._resource_json_map = {}
        stack.output_map._output_json_map = {}


class MotoPatches:
    """The patches of one LocalCloud: installed on enter, uninstalled on exit."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.original: dict[tuple[Any, str], Any] = {}  # (class or module, attribute) -> what moto had
        self.closed_tokens: set[str] = set()  # task tokens of ended waitForTaskToken attempts (16)
        self.sequencer = itertools.count(0x0055AED6DCD9000000)  # S3 event sequencers (19)

    # --- 1, 2: running functions -----------------------------------------------------------------

    def _targets(self) -> list[tuple[Any, str, Any]]:
        from moto.cloudformation.custom_model import CustomModel
        from moto.cloudformation.models import Stack as CloudFormationStack
        from moto.s3 import notifications
        from moto.s3.models import FakeBucket

        cloud, original = self.cloud, self.original
        answers = threading.Lock()  # task answers are checked and closed one at a time (16)

        def run_in_process(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            """LambdaFunction._invoke_lambda: (payload, errored, logs)."""
            payload, errored = cloud.runtime.invoke(function, event)
            return payload, errored, ""

        def invoke(function: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> Any:
            """LambdaFunction.invoke: Event invocations are queued; a throttled one is a 429."""
            if request_headers.get("x-amz-invocation-type") == "Event":
                cloud.async_invoker.submit(function, json.loads(body) if body else {})
                return b""
            try:
                payload = original[(LambdaFunction, "invoke")](function, body, request_headers, response_headers)
            except TooManyRequestsException as throttled:
                raise TooManyRequests(throttled.reason) from None
            if response_headers.get("x-amz-function-error") == "Handled":
                response_headers["x-amz-function-error"] = "Unhandled"  # what AWS says of an uncaught exception
            response_headers.pop("x-amz-log-result", None)
            return payload

        def create_event_source_mapping(backend: LambdaBackend, spec: dict[str, Any]) -> Any:
            """Keep the mapping (and its configuration) but detach it from moto's inline delivery."""
            mapping = original[(LambdaBackend, "create_event_source_mapping")](backend, spec)
            from moto.dynamodb.models import dynamodb_backends
            from moto.sqs.models import sqs_backends

            for queue in sqs_backends[backend.account_id][backend.region_name].queues.values():
                queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
            for table in dynamodb_backends[backend.account_id][backend.region_name].tables.values():
                table.lambda_event_source_mappings.pop(mapping.function_arn, None)
            return mapping

        def bucket_from_cloudformation(
            cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Any:
            bucket = original[(FakeBucket, "create_from_cloudformation_json")].__func__(
                cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
            )
            notifications_config = cloudformation_json.get("Properties", {}).get("NotificationConfiguration", {})
            lambdas = [
                {
                    "LambdaFunctionArn": c["Function"],
                    "Events": [c["Event"]],
                    **({"Filter": {"Key": {"FilterRules": c["Filter"]["S3Key"]["Rules"]}}} if "Filter" in c else {}),
                }
                for c in notifications_config.get("LambdaConfigurations", [])
            ]
            if lambdas:
                import boto3

                boto3.client("s3", region_name=region_name).put_bucket_notification_configuration(
                    Bucket=resource_name, NotificationConfiguration={"LambdaFunctionConfigurations": lambdas}
                )
            return bucket

        def s3_invokes_asynchronously(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
            from moto.awslambda.utils import get_backend

            cloud.async_invoker.submit(get_backend(account_id, region_name).get_function(fn_arn), event_body)

        def put_function_concurrency(backend: LambdaBackend, function_name: str, reserved_concurrency: Any) -> Any:
            """LambdaBackend.put_function_concurrency, with the cloud's account limit."""
            function = backend.get_function(function_name)
            try:
                cloud.concurrency.check_reservation(function.function_name, int(reserved_concurrency))
            except ReservationRefused as refused:
                raise InvalidParameterValueException(str(refused)) from None
            function.reserved_concurrency = int(reserved_concurrency)
            return function.reserved_concurrency

        def create_resources(stack: Any) -> None:
            """Stack.create_resources: a function whose reservation the account cannot give fails
            the stack before anything is created (moto creates resources lazily, on later reads)."""
            try:
                cloud.concurrency.check_template(stack.template_dict)
            except ReservationRefused as refused:
                ResourceCreateFailed(refused.logical_id, "AWS::Lambda::Function", str(refused)).record(stack)
                return
            original[(CloudFormationStack, "create_resources")](stack)

        moto_s3_event = notifications._get_s3_event

        def s3_event_with_sequencer(*args: Any, **kwargs: Any) -> Any:
            """Patch 19: notifications._get_s3_event, each record with the next sequencer."""
            event = moto_s3_event(*args, **kwargs)
            for record in event["Records"]:
                record["s3"]["object"]["sequencer"] = f"{next(self.sequencer):018X}"
            return event

        def custom_resource_from_cloudformation(
            cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> Any:
            resource_type = kwargs["ResourceType"]
            if resource_type not in NO_OP_CUSTOM_RESOURCES and resource_type not in MODELLED_CUSTOM_RESOURCES:
                return original[(CustomModel, "create_from_cloudformation_json")].__func__(
                    cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
                )
            from moto.cloudformation.models import cloudformation_backends

            if resource_type in MODELLED_CUSTOM_RESOURCES:
                MODELLED_CUSTOM_RESOURCES[resource_type](cloudformation_json.get("Properties", {}), region_name)
            resource = CustomModel(region_name, str(uuid.uuid4()), kwargs["LogicalId"], resource_name)  # type: ignore[abstract]  # as moto's own CloudFormation makes it
            cloudformation_backends[account_id][region_name].get_stack(kwargs["StackId"]).add_custom_resource(resource)
            resource.set_data({})
            return resource

        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.iam.models import Role
        from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
        from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend
        from moto.stepfunctions.responses import StepFunctionResponse

        from localcloud.iam import authenticate_and_authorize

        original_heartbeat = CallbackEndpoint.__dict__["setup_heartbeat_endpoint"]

        def role_policy_as_text(role: Role, policy_name: str, policy_json: Any) -> None:
            """Role.put_policy: a document given as a dict (CloudFormation's `Policies`) is stored as JSON."""
            original[(Role, "put_policy")](
                role, policy_name, json.dumps(policy_json) if isinstance(policy_json, dict) else policy_json
            )

        authorization: list[tuple[Any, str, Any]] = []
        if cloud.enforce_iam:
            moto_check = ActionAuthenticatorMixin.__dict__["_authenticate_and_authorize_action"]
            authorization += [
                (
                    ActionAuthenticatorMixin,
                    "_authenticate_and_authorize_action",
                    authenticate_and_authorize(cloud, moto_check),
                ),
                (Role, "put_policy", role_policy_as_text),
            ]

        from moto.dynamodb.models import DynamoDBBackend

        write_lock = threading.RLock()

        def atomic(name: str) -> Any:
            moto_write = DynamoDBBackend.__dict__[name]

            def write(backend: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
                with write_lock:
                    return moto_write(backend, *args, **kwargs)

            return write

        dynamodb_writes = [(DynamoDBBackend, name, atomic(name)) for name in DYNAMODB_WRITES]

        from moto.sqs.models import SQSBackend

        sqs_lock = threading.RLock()

        def one_at_a_time(name: str) -> Any:  # patch 21
            moto_operation = SQSBackend.__dict__[name]

            def operation(backend: SQSBackend, *args: Any, **kwargs: Any) -> Any:
                with sqs_lock:
                    return moto_operation(backend, *args, **kwargs)

            return operation

        receive = one_at_a_time("receive_message")

        def receive_message(
            backend: SQSBackend, queue_name: str, count: int, wait_seconds_timeout: int, *args: Any, **kwargs: Any
        ) -> Any:
            # A long poll waits for messages outside the lock (a sender must get in), then receives under it.
            deadline = time.monotonic() + (wait_seconds_timeout or 0)
            while True:
                received = receive(backend, queue_name, count, 0, *args, **kwargs)
                remaining = deadline - time.monotonic()
                if received or remaining <= 0:
                    return received
                backend.get_queue(queue_name).wait_for_messages(min(1, remaining))  # type: ignore[arg-type]  # moto declares int seconds; a float waits as well

        sqs_operations = [
            (SQSBackend, name, receive_message if name == "receive_message" else one_at_a_time(name))
            for name in SQS_MESSAGE_OPERATIONS
        ]

        return [
            *authorization,
            *dynamodb_writes,
            *sqs_operations,
            (LambdaFunction, "_invoke_lambda", run_in_process),
            (LambdaFunction, "invoke", invoke),
            (LambdaBackend, "create_event_source_mapping", create_event_source_mapping),
            (LambdaBackend, "put_function_concurrency", put_function_concurrency),
            (CloudFormationStack, "create_resources", create_resources),
            (StateMachine, "create_from_cloudformation_json", classmethod(_state_machine_from_cloudformation)),
            (FakeBucket, "create_from_cloudformation_json", classmethod(bucket_from_cloudformation)),
            (notifications, "_invoke_awslambda", s3_invokes_asynchronously),
            (notifications, "_get_s3_event", s3_event_with_sequencer),
            (CustomModel, "create_from_cloudformation_json", classmethod(custom_resource_from_cloudformation)),
            (CallbackEndpoint, "setup_heartbeat_endpoint", heartbeat_after_outcome(original_heartbeat)),
            (StepFunctionResponse, "send_task_failure", send_task_failure_with_cause),
            (
                ExecutionState,
                "_evaluate_with_timeout",
                fresh_token_per_attempt(ExecutionState.__dict__["_evaluate_with_timeout"], self.closed_tokens),
            ),
            *[
                (
                    StepFunctionsParserBackend,
                    name,
                    refuse_closed_tokens(StepFunctionsParserBackend.__dict__[name], self.closed_tokens, answers),
                )
                for name in TASK_ANSWERS
            ],
            (StateTaskLambda, "_from_error", lambda_error_names(StateTaskLambda.__dict__["_from_error"])),
            (Key, "create_from_cloudformation_json", classmethod(key_policy_as_text(original))),
            (CloudFormationStack, "parse_template", staticmethod(json_first(CloudFormationStack.parse_template))),
        ]

    def install(self) -> None:
        from moto.cloudformation.parsing import get_model_map

        if self.original:
            return
        if getattr(LambdaFunction._invoke_lambda, "__localcloud__", False):
            raise RuntimeError("another LocalCloud is active in this process: moto's classes are process-wide")
        for owner, attribute, replacement in self._targets():
            self.original[(owner, attribute)] = (
                owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
            )
            if callable(replacement) and not isinstance(replacement, (classmethod, staticmethod)):
                replacement.__localcloud__ = True
            setattr(owner, attribute, replacement)
        for model in CLOUDFORMATION_MODELS:
            get_model_map()[model.cloudformation_type()] = model

    def uninstall(self) -> None:
        from moto.cloudformation.parsing import get_model_map

        if not self.original:
            return
        for (owner, attribute), value in self.original.items():
            setattr(owner, attribute, value)
        self.original.clear()
        self.closed_tokens.clear()
        for model in CLOUDFORMATION_MODELS:
            get_model_map().pop(model.cloudformation_type(), None)


def lambda_error_names(from_error: Any) -> Any:
    """Patch 18: StateTaskLambda._from_error, naming an Invoke call's error `Lambda.<code>`."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName

    def _from_error(state: Any, env: Any, ex: Exception) -> Any:
        failure = from_error(state, env, ex)
        if isinstance(ex, ClientError) and failure.event_details:
            name = f"Lambda.{ex.response['Error']['Code']}"
            failure.error_name = CustomErrorName(name)
            failure.event_details["lambdaFunctionFailedEventDetails"]["error"] = name
        return failure

    return _from_error


def json_first(parse_yaml: Any) -> Any:
    """Patch 15: moto's Stack.parse_template reads a JSON template with `json`, anything else with
    moto's YAML loader."""

    def parse_template(template: str) -> Any:
        try:
            return json.loads(template)
        except ValueError:
            return parse_yaml(template)

    return parse_template


def heartbeat_after_outcome(setup_heartbeat_endpoint: Any) -> Any:
    """Patch 12: a heartbeat endpoint set up after the token was answered is signalled at once."""

    def setup(endpoint: Any, heartbeat_seconds: int) -> Any:
        heartbeat = setup_heartbeat_endpoint(endpoint, heartbeat_seconds)
        if endpoint.get_outcome() is not None:  # answered before the heartbeat clock started
            heartbeat.notify()
        return heartbeat

    return setup


class TaskTimedOut(AWSError):
    """What Step Functions answers for the token of a task that has ended (patch 16)."""

    TYPE = "TaskTimedOut"
    STATUS = 400


def fresh_token_per_attempt(evaluate_with_timeout: Any, closed: set[str]) -> Any:
    """Patch 16: ExecutionState._evaluate_with_timeout (one attempt of a state), with a new task token
    for each retry of a waitForTaskToken task, and the attempt's token added to `closed` when it ends."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )

    def evaluate(state: Any, env: Any) -> Any:
        context = env.states.context_object.context_object_data
        integration: bool = state._is_integration_pattern() if isinstance(state, StateTaskServiceCallback) else False  # type: ignore[no-untyped-call]  # moto's method has no annotations
        waits = integration and state.resource.condition == ResourceCondition.WaitForTaskToken
        if not waits or "Task" not in context:
            return evaluate_with_timeout(state, env)
        if context["State"]["RetryCount"] > 0:  # moto made one token when the state was entered
            env.callback_pool_manager.add(env.states.context_object.update_task_token())
        token = context["Task"]["Token"]
        try:
            return evaluate_with_timeout(state, env)
        finally:
            closed.add(token)

    return evaluate


def refuse_closed_tokens(send: Any, closed: set[str], lock: threading.Lock) -> Any:
    """Patch 16: SendTaskSuccess/Failure/Heartbeat with a closed token answer TaskTimedOut. (moto's own
    path for this, a callback endpoint's consumer error, raises a TypeError in moto 5.2.5.) An
    accepted SendTaskSuccess or SendTaskFailure closes its token at once, as in AWS: moto keeps it
    open until the execution's thread reads the answer, and a second answer in between replaced
    the first."""
    closes = send.__name__ != "send_task_heartbeat"

    def answer(backend: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
        with lock:  # one answer at a time: two at once cannot both find the token open
            if task_token in closed:
                raise TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'")
            result = send(backend, task_token, *args, **kwargs)
            if closes:
                closed.add(task_token)
            return result

    return answer


def key_policy_as_text(original: dict[tuple[Any, str], Any]) -> Any:
    """Patch 14: Key.create_from_cloudformation_json, with the `KeyPolicy` object stored as JSON."""

    def create(
        cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        if isinstance(properties.get("KeyPolicy"), dict):
            cloudformation_json = {
                **cloudformation_json,
                "Properties": {**properties, "KeyPolicy": json.dumps(properties["KeyPolicy"])},
            }
        moto_create = original[(Key, "create_from_cloudformation_json")].__func__
        return moto_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    return create


def send_task_failure_with_cause(response: Any) -> Any:
    """Patch 13: SendTaskFailure with its error and its cause."""
    from moto.core.responses import EmptyResult

    response.stepfunction_backend.send_task_failure(
        response._get_param("taskToken"), error=response._get_param("error"), cause=response._get_param("cause")
    )
    return EmptyResult()


def _state_machine_from_cloudformation(
    cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
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


def put_public_parameter(account: str, region: str, name: str, value: str) -> None:
    """An AWS-owned parameter (`/aws/service/...`), which PutParameter refuses to create."""
    from moto.core.utils import utcnow
    from moto.ssm.models import Parameter, ssm_backends

    ssm_backends[account][region]._parameters[name].append(
        Parameter(  # type: ignore[abstract]  # as moto's SSM backend makes it
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
