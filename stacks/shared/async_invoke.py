"""AsyncInvoke: what a function invoked asynchronously needs so that no failure is silent.

When S3, SNS, EventBridge or a caller with `InvocationType=Event` invokes a function, Lambda
queues the event, answers 202 and runs the function later. What happens on failure is Lambda's
configuration, not the caller's, so it is written out here instead of left to defaults:
- an EventInvokeConfig: `retry_attempts` (0-2) and `max_event_age` (60 s - 6 h);
- an optional on-success destination (a queue, topic, bus or function for the invocation record);
- an on-failure destination queue, `<name>Failures`, receiving the invocation record with the
  error (queues.failure_destination_queue: kept 14 days, alarmed on its first message);
- a dead-letter queue, `<name>DLQ`, receiving the failed event itself, as it was sent
  (queues.dead_letter_queue: kept 14 days, alarmed on its first message);
- alarms on Lambda's `DeadLetterErrors` and `DestinationDeliveryFailures`: Lambda could not hand a
  failure to the queues above, the one way a failure could still go unseen;
- for a function built `invoked_asynchronously` (PatternFunction: no throttles alarm, since
  throttled events are retried), `<function id>EventAge`: the oldest queued event (Lambda's
  `AsyncEventAge`, maximum) is halfway to `max_event_age`, so events are at risk of expiring;
- a row on the stack's dashboard: events queued, dropped and their age, and those two metrics.

    invocation = AsyncInvoke(function, name="Analyze", event="uploads", on_success=SqsDestination(results))
    invocation.failure_queue, invocation.dead_letter_queue, invocation.alarms

When failures are work for another function (mark a job failed, compensate), pass `on_failure=`
a queue the caller consumes (`queues.consume`) instead: AsyncInvoke then creates no
`<name>Failures` queue and sends the records there. That queue must redrive to a dead-letter queue
of its own (a record its consumer cannot handle ends there, alarmed, instead of expiring), and
since its consumer empties it at once, the alarm is on records arriving (`<name>FailureRecords`,
NumberOfMessagesSent >= 1), not on records waiting.

The dead-letter queue is a property of the function itself in CloudFormation
(`DeadLetterConfig`), which CDK only accepts when the function is constructed. AsyncInvoke sets it
on the function's L1 resource afterwards and grants `sqs:SendMessage` on that queue, exactly
what `lambda_.Function(dead_letter_queue=...)` would do, so a function is built first and made
async-safe in one place. `function.dead_letter_queue` stays None: use `invocation.dead_letter_queue`.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs

from . import dashboard
from .monitoring import DEFAULT_PERIOD, alarm
from .pattern import parent
from .queues import alarm_on_failure_records, dead_letter_queue, failure_destination_queue

DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE = Duration.hours(1)
# A function invoked only asynchronously alarms when its oldest queued event is this far to its
# maximum age: time left to act before events expire, where a throttles alarm would only say busy.
EVENT_AGE_ALARM_FRACTION = 0.5
# Lambda's own metrics for failing to deliver a failure: each alarms on its first occurrence.
DELIVERY_FAILURE_METRICS = {
    "DeadLetterErrors": "could not send a failed event to its dead-letter queue",
    "DestinationDeliveryFailures": "could not deliver an invocation record to its destination",
}


class AsyncInvoke:
    """Retries, event age, destinations, a dead-letter queue and alarms for one function.

    Creates, in the function's scope: `<name>Failures` (unless `on_failure` is given: then a
    `<name>FailureRecords` alarm on that queue) and `<name>DLQ` queues (each alarmed), the
    function's EventInvokeConfig, its DeadLetterConfig, and the `<function id>DeadLetterErrors` and
    `<function id>DestinationDeliveryFailures` alarms. `event` says what an event is ("uploads"),
    for the queues' alarm descriptions.
    """

    def __init__(
        self,
        function: lambda_.Function,
        *,
        name: str,
        event: str,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
        on_success: lambda_.IDestination | None = None,
        on_failure: sqs.Queue | None = None,
    ) -> None:
        scope = parent(function)
        self.function = function
        self.alarms: list[cloudwatch.Alarm] = []
        if on_failure is None:
            self.failure_queue = failure_destination_queue(
                scope, f"{name}Failures", holds=f"{event} that failed every attempt, with the error"
            )
        else:
            self.failure_queue = on_failure
            self.alarms.append(
                alarm_on_failure_records(
                    scope,
                    name,
                    on_failure,
                    description=(
                        f"{event} failed every attempt: Lambda sent the invocation record to {on_failure.node.id}"
                    ),
                )
            )
        self.dead_letter_queue = dead_letter_queue(scope, f"{name}DLQ", holds=f"{event} that failed every attempt")
        function.configure_async_invoke(
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            on_success=on_success,
            on_failure=destinations.SqsDestination(self.failure_queue),
        )
        self._set_dead_letter_queue()
        self.alarms += [
            alarm(
                scope,
                f"{function.node.id}{metric_name}",
                metric=function.metric(metric_name, period=DEFAULT_PERIOD, statistic="Sum"),
                threshold=1,
                description=f"Lambda {what} ({function.node.id})",
            )
            for metric_name, what in DELIVERY_FAILURE_METRICS.items()
        ]
        if getattr(
            function, "invoked_asynchronously", False
        ):  # no throttles alarm: the events at risk are alarmed here
            self.alarms.append(
                alarm(
                    scope,
                    f"{function.node.id}EventAge",
                    metric=function.metric("AsyncEventAge", period=DEFAULT_PERIOD, statistic="Maximum"),
                    threshold=max_event_age.to_milliseconds() * EVENT_AGE_ALARM_FRACTION,
                    description=(
                        f"{event} waiting in {function.node.id}'s event queue are halfway to their maximum age "
                        f"({max_event_age.to_human_string()}): throttled or failing for long"
                    ),
                )
            )
        function.async_invoke = self  # type: ignore[attr-defined]  # a mark for PatternFunction's check that it has one
        dashboard.show_async_invoke(function)

    def _set_dead_letter_queue(self) -> None:
        """DeadLetterConfig on the function, and the one permission Lambda needs to use it."""
        cfn_function = cast(lambda_.CfnFunction, self.function.node.default_child)
        cfn_function.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
            target_arn=self.dead_letter_queue.queue_arn
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn])
        )
