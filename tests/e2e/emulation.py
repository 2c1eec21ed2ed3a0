"""OUR EMULATION of the Lambda and Step Functions behaviour that moto does not implement.

Everything here is this project's code, not moto's, and none of it is configured by constants:
each behaviour reads the configuration the deployed template gave the resource, the way AWS does.

- Asynchronous invoke (`InvocationType=Event`, and triggers that invoke asynchronously): retry
  attempts and maximum event age from the function's `AWS::Lambda::EventInvokeConfig`; on-success
  and on-failure destinations (SQS, SNS, EventBridge, Lambda) with AWS's invocation records; the
  function's `DeadLetterConfig` (moto's CloudFormation drops it, so it is read from the template).
  Retries run at once on a simulated clock: attempt 2 "one minute" after attempt 1, attempt 3
  "two minutes" after that, as AWS documents; an event older than the maximum age is dropped to
  the failure destinations with condition `EventAgeExceeded`.
- SQS event source mappings (`drain_sqs`): batches of up to `BatchSize` messages; with
  `ReportBatchItemFailures` only the messages listed in `batchItemFailures` stay on the queue, and
  without it the response body is ignored (as AWS does); a function error keeps the whole batch.
  A kept message becomes visible again at once (its visibility timeout is compressed to zero), and
  moto's own redrive moves it to the dead-letter queue after `maxReceiveCount` receives.
- DynamoDB stream event source mappings (`drain_stream`): `FilterCriteria`, `BatchSize`,
  `MaximumRetryAttempts`, `BisectBatchOnFunctionError`, `ReportBatchItemFailures` and the
  `OnFailure` destination with AWS's stream failure record.
- Step Functions: `start_sync_execution` for EXPRESS machines (moto has no StartSyncExecution);
  machines run with their declared type (see moto_patches), and task tokens are answered with
  the ordinary SendTaskSuccess/SendTaskFailure API.

Not emulated: concurrency limits and `MaximumConcurrency`, batching windows (a batch is whatever
is visible now), real delays between retries, throttling, and record age on streams.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import boto3

from tests.e2e import moto_patches

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

    from tests.e2e.harness import Deployment

# AWS: "If the function returns an error, Lambda attempts to run it two more times, with a
# one-minute wait between the first two attempts, and two minutes between the second and third."
RETRY_DELAYS_SECONDS = (60, 120)
DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_SECONDS = 6 * 60 * 60
# A stream mapping with MaximumRetryAttempts -1 retries until the record expires; here, this often.
UNBOUNDED_STREAM_RETRIES = 10

T = TypeVar("T")

_deployments: list[Deployment] = []
_stream_checkpoints: dict[str, int] = {}


def register(deployment: Deployment) -> None:
    _deployments.append(deployment)


def reset() -> None:
    _deployments.clear()
    _stream_checkpoints.clear()
    async_invocations.clear()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _client(service: str, arn: str) -> Any:
    return boto3.client(service, region_name=arn.split(":")[3])


def _queue_url(queue_arn: str) -> str:
    _, _, _, region, account, name = queue_arn.split(":")
    return _client("sqs", queue_arn).get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


def _invoke(function: LambdaFunction, event: Any) -> tuple[Any, bool]:
    payload, errored, _ = function._invoke_lambda(event)
    return json.loads(payload) if payload else None, errored


def _function(function_arn_or_name: str) -> LambdaFunction:
    from moto.awslambda.utils import get_backend

    region = function_arn_or_name.split(":")[3] if function_arn_or_name.startswith("arn:") else boto3.session.Session().region_name
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    return get_backend(account, region).get_function(function_arn_or_name)


def send_to_destination(destination_arn: str, record: dict[str, Any], *, detail_type: str = "") -> None:
    """Deliver an invocation record the way Lambda does to each kind of destination."""
    service = destination_arn.split(":")[2]
    body = json.dumps(record, default=str)
    if service == "sqs":
        _client("sqs", destination_arn).send_message(QueueUrl=_queue_url(destination_arn), MessageBody=body)
    elif service == "sns":
        _client("sns", destination_arn).publish(TopicArn=destination_arn, Message=body)
    elif service == "events":
        _client("events", destination_arn).put_events(
            Entries=[{"Source": "lambda", "DetailType": detail_type, "Detail": body, "EventBusName": destination_arn}]
        )
    elif service == "lambda":
        async_invoke(_function(destination_arn), record)
    else:
        raise ValueError(f"no emulated destination for {destination_arn}")


# --- asynchronous invoke ------------------------------------------------------------------------


@dataclass
class AsyncConfig:
    retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    max_event_age: int = DEFAULT_MAX_EVENT_AGE_SECONDS
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter: str | None = None


@dataclass
class AsyncInvocation:
    """What happened to one asynchronous event: a test's evidence."""

    function_name: str
    event: Any
    attempts: int = 0
    condition: str = "Pending"
    response: Any = None
    delivered_to: list[str] = field(default_factory=list)


async_invocations: list[AsyncInvocation] = []


def async_config(function: LambdaFunction) -> AsyncConfig:
    """The function's async settings, from the template that deployed it."""
    for deployment in _deployments:
        for logical_id, physical in deployment.physical_ids.items():
            if physical != function.function_name:
                continue
            config = AsyncConfig()
            props = deployment.template["Resources"][logical_id]["Properties"]
            if "DeadLetterConfig" in props:
                config.dead_letter = deployment.resolve(props["DeadLetterConfig"]["TargetArn"])
            for invoke_config in deployment.resources_of_type("AWS::Lambda::EventInvokeConfig").values():
                settings = invoke_config["Properties"]
                if deployment.resolve(settings["FunctionName"]) != function.function_name:
                    continue
                config.retry_attempts = settings.get("MaximumRetryAttempts", config.retry_attempts)
                config.max_event_age = settings.get("MaximumEventAgeInSeconds", config.max_event_age)
                destinations = settings.get("DestinationConfig", {})
                if "OnSuccess" in destinations:
                    config.on_success = deployment.resolve(destinations["OnSuccess"]["Destination"])
                if "OnFailure" in destinations:
                    config.on_failure = deployment.resolve(destinations["OnFailure"]["Destination"])
            return config
    return AsyncConfig()


def async_invoke(function: LambdaFunction, event: Any) -> AsyncInvocation:
    """Lambda's internal event queue, run to completion on a simulated clock."""
    config = async_config(function)
    invocation = AsyncInvocation(function.function_name, event)
    async_invocations.append(invocation)
    request_id = str(uuid.uuid4())
    age = 0
    response: Any = None
    for attempt in range(config.retry_attempts + 1):
        if attempt:
            age += RETRY_DELAYS_SECONDS[min(attempt - 1, len(RETRY_DELAYS_SECONDS) - 1)]
        if age > config.max_event_age:
            invocation.condition = "EventAgeExceeded"
            break
        invocation.attempts += 1
        response, errored = _invoke(function, event)
        if not errored:
            invocation.condition, invocation.response = "Success", response
            if config.on_success:
                _deliver(invocation, config.on_success, _invocation_record(function, request_id, invocation, event, response, None))
            return invocation
    else:
        invocation.condition = "RetriesExhausted"
    invocation.response = response
    if config.on_failure:
        _deliver(invocation, config.on_failure, _invocation_record(function, request_id, invocation, event, response, "Unhandled"))
    if config.dead_letter:
        _dead_letter(invocation, config.dead_letter, request_id, response)
    return invocation


def _invocation_record(function: LambdaFunction, request_id: str, invocation: AsyncInvocation, event: Any, response: Any, error: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": _now(),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function.function_arn}:$LATEST",
            "condition": invocation.condition,
            "approximateInvokeCount": invocation.attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": response,
    }
    if error:
        record["responseContext"]["functionError"] = error
    return record


def _deliver(invocation: AsyncInvocation, destination: str, record: dict[str, Any]) -> None:
    outcome = "Success" if invocation.condition == "Success" else "Failure"
    send_to_destination(destination, record, detail_type=f"Lambda Function Invocation Result - {outcome}")
    invocation.delivered_to.append(destination)


def _dead_letter(invocation: AsyncInvocation, target: str, request_id: str, response: Any) -> None:
    """A DLQ receives the event itself, with the error in message attributes."""
    message = (response or {}).get("errorMessage", invocation.condition) if isinstance(response, dict) else invocation.condition
    attributes = {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": str(message)[:1000]},
    }
    body = json.dumps(invocation.event)
    if target.split(":")[2] == "sqs":
        _client("sqs", target).send_message(QueueUrl=_queue_url(target), MessageBody=body, MessageAttributes=attributes)
    else:
        _client("sns", target).publish(TopicArn=target, Message=body, MessageAttributes=attributes)
    invocation.delivered_to.append(target)


moto_patches.async_handler = async_invoke


# --- event source mappings -------------------------------------------------------------------


@dataclass
class Batch:
    """One invocation by an event source mapping."""

    records: list[dict[str, Any]]
    errored: bool
    response: Any
    failed_ids: list[str]


def _mapping(function_name: str, service: str) -> dict[str, Any]:
    lambda_client = boto3.client("lambda")
    mappings = [
        m
        for m in lambda_client.list_event_source_mappings(FunctionName=function_name)["EventSourceMappings"]
        if m["EventSourceArn"].split(":")[2] == service and m.get("State", "Enabled") != "Disabled"
    ]
    if len(mappings) != 1:
        raise LookupError(f"{function_name} has {len(mappings)} {service} mappings")
    return mappings[0]


def _matches(pattern: Any, value: Any) -> bool:
    """EventBridge-style content filtering, the subset Lambda filter criteria use."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for key, sub in pattern.items():
            if isinstance(sub, list) and sub and all(isinstance(s, dict) and "exists" in s for s in sub):
                if (key in value) != sub[0]["exists"]:
                    return False
            elif key not in value or not _matches(sub, value[key]):
                return False
        return True
    if isinstance(pattern, list):
        return any(_matches_leaf(option, value) for option in pattern)
    return pattern == value


def _matches_leaf(option: Any, value: Any) -> bool:
    if isinstance(option, dict):
        if "prefix" in option:
            return isinstance(value, str) and value.startswith(option["prefix"])
        if "anything-but" in option:
            excluded = option["anything-but"]
            return value not in (excluded if isinstance(excluded, list) else [excluded])
        if "exists" in option:
            return option["exists"]
        return _matches(option, value)
    return option == value


def passes_filters(filter_criteria: dict[str, Any] | None, record: dict[str, Any]) -> bool:
    filters = (filter_criteria or {}).get("Filters", [])
    return not filters or any(_matches(json.loads(f["Pattern"]), record) for f in filters)


def _failed_ids(response: Any, reports_failures: bool, ids: list[str]) -> list[str] | None:
    """IDs to keep per the response, or None when the response is invalid (whole batch fails)."""
    if not reports_failures:
        return []
    if response is None or response == {}:
        return []
    if not isinstance(response, dict) or not isinstance(response.get("batchItemFailures", []), list):
        return None
    failed = []
    for item in response.get("batchItemFailures", []):
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if identifier not in ids:
            return None  # AWS treats an unknown or empty identifier as a failure of the whole batch
        failed.append(identifier)
    return failed


def drain_sqs(function_name: str, *, max_batches: int = 100) -> list[Batch]:
    """Poll the function's SQS mapping until no message is visible; return each batch."""
    mapping = _mapping(function_name, "sqs")
    queue_arn = mapping["EventSourceArn"]
    queue_url = _queue_url(queue_arn)
    sqs = _client("sqs", queue_arn)
    batch_size = mapping.get("BatchSize", 10)
    reports_failures = "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", [])
    function = _function(mapping["FunctionArn"])
    batches: list[Batch] = []
    for _ in range(max_batches):
        messages: list[dict[str, Any]] = []
        while len(messages) < batch_size:
            received = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, batch_size - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not received:
                break
            messages.extend(received)
        if not messages:
            return batches
        records = [_sqs_record(m, queue_arn) for m in messages]
        kept = [r for r in records if passes_filters(mapping.get("FilterCriteria"), r)]
        for record in records:  # records filtered out are deleted without an invocation
            if record not in kept:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])
        if not kept:
            continue
        response, errored = _invoke(function, {"Records": kept})
        ids = [r["messageId"] for r in kept]
        failed = ids if errored else _failed_ids(response, reports_failures, ids)
        failed = ids if failed is None else failed
        batches.append(Batch(kept, errored, response, failed))
        for record in kept:
            if record["messageId"] in failed:  # the visibility timeout passes at once
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])
    raise RuntimeError(f"{function_name}: queue not drained after {max_batches} batches")


def _sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"]} for k, v in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def drain_stream(function_name: str) -> list[Batch]:
    """Deliver every new stream record to the function, as its mapping is configured."""
    mapping = _mapping(function_name, "dynamodb")
    stream_arn = mapping["EventSourceArn"]
    streams = _client("dynamodbstreams", stream_arn)
    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    checkpoint = _stream_checkpoints.get(mapping["UUID"], -1)
    records = [
        {**r, "eventSourceARN": stream_arn}
        for r in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        if int(r["dynamodb"]["SequenceNumber"]) > checkpoint
    ]
    if records:
        _stream_checkpoints[mapping["UUID"]] = int(records[-1]["dynamodb"]["SequenceNumber"])
    records = [r for r in records if passes_filters(mapping.get("FilterCriteria"), r)]
    function = _function(mapping["FunctionArn"])
    batches: list[Batch] = []
    batch_size = mapping.get("BatchSize", 100)
    for start in range(0, len(records), batch_size):
        _deliver_stream_batch(function, mapping, shard["ShardId"], records[start : start + batch_size], batches)
    return batches


def _deliver_stream_batch(function: LambdaFunction, mapping: dict[str, Any], shard_id: str, batch: list[dict[str, Any]], batches: list[Batch]) -> None:
    max_retries = mapping.get("MaximumRetryAttempts", -1)
    max_retries = UNBOUNDED_STREAM_RETRIES if max_retries in (-1, None) else max_retries
    reports_failures = "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", [])
    retries = 0
    while batch:
        response, errored = _invoke(function, {"Records": batch})
        ids = [r["dynamodb"]["SequenceNumber"] for r in batch]
        failed = ids if errored else _failed_ids(response, reports_failures, ids)
        failed = ids if failed is None else failed
        batches.append(Batch(batch, errored, response, failed))
        if not failed:
            return
        batch = batch[ids.index(min(failed, key=int)) :]  # the checkpoint moves to the first failure
        if mapping.get("BisectBatchOnFunctionError") and len(batch) > 1:
            middle = len(batch) // 2  # splitting does not count against the retry quota
            _deliver_stream_batch(function, mapping, shard_id, batch[:middle], batches)
            _deliver_stream_batch(function, mapping, shard_id, batch[middle:], batches)
            return
        if retries >= max_retries:
            _stream_failure(mapping, shard_id, batch, retries + 1)
            return
        retries += 1


def _stream_failure(mapping: dict[str, Any], shard_id: str, batch: list[dict[str, Any]], attempts: int) -> None:
    destination = (mapping.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
    if not destination:
        return  # AWS discards the batch and moves on
    record = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": mapping["FunctionArn"],
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": _now(),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
            "batchSize": len(batch),
            "streamArn": mapping["EventSourceArn"],
        },
    }
    send_to_destination(destination, record)


# --- Step Functions ------------------------------------------------------------------------------


def wait_for(outcome: Callable[[], T], *, timeout: float = 30, what: str = "outcome") -> T:
    """Poll `outcome` until it returns something truthy: a bounded wait on an outcome, not a sleep."""
    deadline = time.monotonic() + timeout
    while not (result := outcome()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {timeout} s")
        time.sleep(0.05)
    return result


def wait_for_execution(execution_arn: str, *, timeout: float = 30) -> dict[str, Any]:
    """The execution's description once it has left RUNNING."""
    sfn = _client("stepfunctions", execution_arn)

    def finished() -> dict[str, Any] | None:
        execution = sfn.describe_execution(executionArn=execution_arn)
        return None if execution["status"] == "RUNNING" else execution

    return wait_for(finished, timeout=timeout, what=f"end of {execution_arn}")


def start_sync_execution(state_machine_arn: str, execution_input: Any, *, timeout: float = 30) -> dict[str, Any]:
    """StartSyncExecution: only EXPRESS machines; returns status, output, error and cause."""
    sfn = _client("stepfunctions", state_machine_arn)
    machine_type = sfn.describe_state_machine(stateMachineArn=state_machine_arn)["type"]
    if machine_type != "EXPRESS":
        raise ValueError(f"StateMachineTypeNotSupported: StartSyncExecution needs an EXPRESS machine, not {machine_type}")
    started = sfn.start_execution(stateMachineArn=state_machine_arn, name=str(uuid.uuid4()), input=json.dumps(execution_input))
    execution = wait_for_execution(started["executionArn"], timeout=timeout)
    return {key: execution[key] for key in ("executionArn", "status", "output", "error", "cause") if key in execution}
