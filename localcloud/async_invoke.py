"""OUR EMULATION of Lambda's asynchronous invocation (moto runs `InvocationType=Event` inline,
once, with no retries, destinations or DLQ).

An Event invocation (the Invoke API, S3 notifications, destinations of type Lambda) is accepted at
once (202) and queued; worker threads run it after the caller's call has returned, as Lambda's
internal queue does. Each event gets the function's `AWS::Lambda::EventInvokeConfig` from the
template: retry attempts and maximum event age, on-success and on-failure destinations (SQS, SNS,
EventBridge, Lambda) with AWS's invocation record, and the function's `DeadLetterConfig` (moto's
CloudFormation drops it, so it is read from the template).

Retries run at once on a simulated clock: attempt 2 "one minute" after attempt 1, attempt 3 "two
minutes" after that, as AWS documents; an event older than the maximum age goes to the failure
destination with condition `EventAgeExceeded`. `settle()` waits until nothing is queued or running.

A throttled event (no concurrency slot, localcloud.concurrency) is not an attempt: it waits, as in
Lambda's queue, and is retried at once when any slot frees. While none frees, each `throttle_tick`
of real time is a retry at AWS's next throttle backoff interval (1 s doubling to 5 minutes) on the
event's simulated age; past its maximum age it goes to the failure destination and DLQ as
`EventAgeExceeded`. A waiting event keeps its worker thread (raise `async_workers` to let other
events run meanwhile, as Lambda's queue would).
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3

from localcloud.concurrency import TooManyRequestsException

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

    from localcloud.cloud import LocalCloud

# AWS: "If the function returns an error, Lambda attempts to run it two more times, with a
# one-minute wait between the first two attempts, and two minutes between the second and third."
RETRY_DELAYS_SECONDS = (60, 120)
DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_SECONDS = 6 * 60 * 60
# AWS: a throttled event is retried "from 1 second after the first attempt to a maximum of 5 minutes".
THROTTLE_BACKOFF_MAX_SECONDS = 5 * 60
THROTTLE_TICK_SECONDS = 0.1  # real time a throttled event waits for a free slot before its next retry


def throttle_backoff(throttles: int) -> int:
    """Simulated seconds before the next retry of an event throttled `throttles` times (1, 2, 4, ... 300)."""
    return int(min(2 ** (throttles - 1), THROTTLE_BACKOFF_MAX_SECONDS))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def client(service: str, arn: str) -> Any:
    return boto3.client(service, region_name=arn.split(":")[3])


def queue_url(queue_arn: str) -> str:
    _, _, _, region, account, name = queue_arn.split(":")
    return str(client("sqs", queue_arn).get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


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
    condition: str = "Pending"  # Pending, Running, Throttled, Success, RetriesExhausted, EventAgeExceeded
    response: Any = None
    delivered_to: list[str] = field(default_factory=list)
    started: float | None = None  # time.monotonic() of the first attempt
    finished: float | None = None
    throttles: int = 0  # times it found no free concurrency slot (not attempts)
    age: float = 0  # simulated seconds since it was accepted


class AsyncInvoker:
    """Lambda's internal event queue for one LocalCloud: queued events, worker threads, the log."""

    def __init__(self, cloud: LocalCloud, workers: int = 1, throttle_tick: float = THROTTLE_TICK_SECONDS) -> None:
        if workers < 1:
            raise ValueError("at least one async worker is needed")
        self.cloud = cloud
        self.workers = workers
        self.throttle_tick = throttle_tick
        self.invocations: list[AsyncInvocation] = []
        self.errors: list[BaseException] = []  # failures of the emulation itself, raised by settle()
        self._queue: queue.Queue[tuple[LambdaFunction, AsyncInvocation] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._outstanding = 0
        self._idle = threading.Condition()
        self._released = threading.Event()  # cleared while a test holds the queue (`held`)
        self._released.set()

    # --- queue --------------------------------------------------------------------------------

    def submit(self, function: LambdaFunction, event: Any) -> AsyncInvocation:
        """Accept an Event invocation; it runs on a worker after this returns."""
        invocation = AsyncInvocation(function.function_name, event)
        with self._idle:
            self.invocations.append(invocation)
            self._outstanding += 1
            if len(self._threads) < self.workers:
                thread = threading.Thread(target=self._work, name=f"localcloud-async-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._queue.put((function, invocation))
        return invocation

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """While inside, Event invocations are accepted and queued (condition "Pending") but no
        worker starts one; they run when the block exits. Evidence that a caller's response came
        before the work: what the caller saw cannot depend on an invocation that had not started."""
        self._released.clear()
        try:
            yield
        finally:
            self._released.set()

    def settle(self, timeout: float = 30) -> list[AsyncInvocation]:
        """Wait until no async invocation is queued or running (including any they queued)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._outstanding:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self._outstanding} async invocations still pending after {timeout} s")
                self._idle.wait(remaining)
            if self.errors:
                error, self.errors = self.errors[0], []
                raise RuntimeError("the async emulation failed") from error
            return list(self.invocations)

    def close(self) -> None:
        self._released.set()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            self._released.wait()
            function, invocation = item
            try:
                self._run(function, invocation)
            except BaseException as error:  # a bug in the emulation: surface it in settle()
                self.errors.append(error)
            finally:
                with self._idle:
                    self._outstanding -= 1
                    self._idle.notify_all()

    # --- one event ----------------------------------------------------------------------------

    def config(self, function: LambdaFunction) -> AsyncConfig:
        """The function's async settings, from the template that deployed it."""
        for deployment in self.cloud.deployments:
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

    def _run(self, function: LambdaFunction, invocation: AsyncInvocation) -> None:
        config = self.config(function)
        request_id = str(uuid.uuid4())
        invocation.condition, invocation.started = "Running", time.monotonic()
        response: Any = None
        try:
            for attempt in range(config.retry_attempts + 1):
                if attempt:
                    invocation.age += RETRY_DELAYS_SECONDS[min(attempt - 1, len(RETRY_DELAYS_SECONDS) - 1)]
                ran = (
                    None
                    if invocation.age > config.max_event_age
                    else self._when_free(function, invocation, config.max_event_age)
                )
                if ran is None:
                    invocation.condition = "EventAgeExceeded"
                    break
                invocation.attempts += 1
                payload, errored = ran
                response = json.loads(payload) if payload else None
                if not errored:
                    invocation.condition, invocation.response = "Success", response
                    if config.on_success:
                        self._deliver(
                            invocation,
                            config.on_success,
                            self._record(function, request_id, invocation, response, None),
                        )
                    return
            else:
                invocation.condition = "RetriesExhausted"
            invocation.response = response
            if config.on_failure:
                error = "Unhandled" if invocation.attempts else None  # an event that never ran has no function error
                self._deliver(
                    invocation, config.on_failure, self._record(function, request_id, invocation, response, error)
                )
            if config.dead_letter:
                self._dead_letter(invocation, config.dead_letter, request_id, response)
        finally:
            invocation.finished = time.monotonic()

    def _when_free(
        self, function: LambdaFunction, invocation: AsyncInvocation, max_age: float
    ) -> tuple[str, bool] | None:
        """Run one attempt once a concurrency slot is free; None if the event expired waiting."""
        concurrency = self.cloud.concurrency
        throttled = 0
        while True:
            seen = concurrency.releases
            try:
                invocation.condition = "Running"
                return self.cloud.runtime.invoke(function, invocation.event)
            except TooManyRequestsException:
                invocation.condition = "Throttled"
                invocation.throttles += 1
            if not concurrency.wait_for_release(seen, self.throttle_tick):  # no slot freed: the next backoff passes
                throttled += 1
                invocation.age += throttle_backoff(throttled)
                if invocation.age > max_age:
                    return None

    @staticmethod
    def _record(
        function: LambdaFunction, request_id: str, invocation: AsyncInvocation, response: Any, error: str | None
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": now(),
            "requestContext": {
                "requestId": request_id,
                "functionArn": f"{function.function_arn}:$LATEST",
                "condition": invocation.condition,
                "approximateInvokeCount": invocation.attempts,
            },
            "requestPayload": invocation.event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "responsePayload": response,
        }
        if error:
            record["responseContext"]["functionError"] = error
        return record

    def _deliver(self, invocation: AsyncInvocation, destination: str, record: dict[str, Any]) -> None:
        outcome = "Success" if invocation.condition == "Success" else "Failure"
        self.send_to_destination(destination, record, detail_type=f"Lambda Function Invocation Result - {outcome}")
        invocation.delivered_to.append(destination)

    def send_to_destination(self, destination_arn: str, record: dict[str, Any], *, detail_type: str = "") -> None:
        """Deliver an invocation record the way Lambda does to each kind of destination."""
        service = destination_arn.split(":")[2]
        body = json.dumps(record, default=str)
        if service == "sqs":
            client("sqs", destination_arn).send_message(QueueUrl=queue_url(destination_arn), MessageBody=body)
        elif service == "sns":
            client("sns", destination_arn).publish(TopicArn=destination_arn, Message=body)
        elif service == "events":
            client("events", destination_arn).put_events(
                Entries=[
                    {"Source": "lambda", "DetailType": detail_type, "Detail": body, "EventBusName": destination_arn}
                ]
            )
        elif service == "lambda":
            self.submit(self.cloud.lambda_function(destination_arn), record)  # queued like any Event invocation
        else:
            raise ValueError(f"no emulated destination for {destination_arn}")

    @staticmethod
    def _dead_letter(invocation: AsyncInvocation, target: str, request_id: str, response: Any) -> None:
        """A DLQ receives the event itself, with the error in message attributes."""
        message = (
            (response or {}).get("errorMessage", invocation.condition)
            if isinstance(response, dict)
            else invocation.condition
        )
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": str(message)[:1000]},
        }
        body = json.dumps(invocation.event)
        if target.split(":")[2] == "sqs":
            client("sqs", target).send_message(
                QueueUrl=queue_url(target), MessageBody=body, MessageAttributes=attributes
            )
        else:
            client("sns", target).publish(TopicArn=target, Message=body, MessageAttributes=attributes)
        invocation.delivered_to.append(target)
