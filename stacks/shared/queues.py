"""Queues with the project's defaults: encrypted, TLS-only, on the stack's dashboard, and every
dead-letter queue alarmed.

- `secure_queue`: a work queue, keeping messages `QUEUE_RETENTION` (4 days) unless told otherwise.
- `dead_letter_queue`: where failed work ends up, kept `DLQ_RETENTION` (14 days, SQS's maximum),
  with an alarm on its first message.
- Retention rule: a dead-letter queue keeps messages longer than its source queue. For standard
  queues a message's expiry counts from its *original* enqueue time, so a DLQ that kept messages
  no longer than its source could drop a failure the moment it arrives (AWS's SQS developer
  guide, "Setting-up dead-letter queue retention"). `secure_queue` refuses a redrive to a DLQ
  with a retention at or above `DLQ_RETENTION`.
- `consumer_visibility_timeout`: AWS's rule for queues consumed by Lambda, computed, not typed.
- `consume`: a Lambda event source mapping that always reports batch item failures.
- `alarm_on_failure_records`: for an on-failure destination a function consumes (marking the work
  failed): it must redrive to a dead-letter queue of its own, and since its consumer empties it at
  once, the alarm is on records arriving, not on records waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from . import dashboard, settings
from .monitoring import DEFAULT_PERIOD, alarm
from .pattern import overrides_for
from .props import consolidate_props

QUEUE_RETENTION = Duration.days(4)
DLQ_RETENTION = Duration.days(14)
VISIBILITY_TIMEOUT_FACTOR = 6


def consumer_visibility_timeout(
    function_timeout: Duration, batching_window: Duration = Duration.seconds(0)
) -> Duration:
    """At least 6 x the function timeout plus the batching window (AWS's guidance for Lambda
    consumers), so a message is not redelivered while a retried batch is still being processed."""
    seconds = VISIBILITY_TIMEOUT_FACTOR * function_timeout.to_seconds() + batching_window.to_seconds()
    return Duration.seconds(seconds)


def secure_queue(scope: Construct, id: str, **overrides: Any) -> sqs.Queue:
    """An SQS queue with SQS-managed encryption, a TLS-only policy, an explicit retention and the
    stack's removal policy, shown on the stack's dashboard (depth and oldest message age); any
    `sqs.Queue` prop overrides its default, and so does the pattern's `queue_props` (pattern.py)."""
    return _queue(scope, id, consolidate_props(overrides, overrides_for(scope, "queue")))


def _queue(scope: Construct, id: str, overrides: Mapping[str, Any]) -> sqs.Queue:
    props = consolidate_props(
        {
            "encryption": sqs.QueueEncryption.SQS_MANAGED,
            "enforce_ssl": True,
            "retention_period": QUEUE_RETENTION,
            "removal_policy": settings.removal_policy(scope),
        },
        overrides,
    )
    if (
        props.get("dead_letter_queue") is not None
        and props["retention_period"].to_seconds() >= DLQ_RETENTION.to_seconds()
    ):
        raise ValueError(
            f"{id}: retention_period must be shorter than its dead-letter queue's {DLQ_RETENTION.to_days()} days, "
            "or a redriven message could expire on arrival"
        )
    queue = sqs.Queue(scope, id, **props)
    dashboard.show_queue(queue)
    return queue


def dead_letter_queue(scope: Construct, id: str, *, holds: str) -> sqs.Queue:
    """A dead-letter queue, kept 14 days, that alarms as soon as anything lands in it.

    `holds` says what ends up there, for the alarm's description.
    """
    queue = _queue(
        scope, id, {"retention_period": DLQ_RETENTION}
    )  # not the pattern's queue_props: those are for work queues
    Validations.of(queue).acknowledge(
        Acknowledgment(
            id="Serverless::Serverless-SQSRedrivePolicy",
            reason="This is the dead-letter queue: a redrive policy on it would only move the same "
            "failures one queue further. It alarms on its first message instead.",
        )
    )
    alarm(
        scope,
        f"{id}NotEmpty",
        metric=queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum"),
        threshold=1,
        description=f"{id} holds {holds}: inspect, fix, then redrive",
    )
    return queue


def failure_destination_queue(scope: Construct, id: str, *, holds: str) -> sqs.Queue:
    """A queue that receives Lambda's on-failure invocation records: a dead-letter queue in all
    but name (Lambda writes to it directly, not through a redrive policy)."""
    queue = dead_letter_queue(scope, id, holds=holds)
    Validations.of(queue).acknowledge(
        Acknowledgment(
            id="AwsSolutions::AwsSolutions-SQS3",
            reason="This queue is an on-failure destination, the end of the line for failed "
            "events like a dead-letter queue; it is alarmed on its first message.",
        )
    )
    return queue


def alarm_on_failure_records(scope: Construct, name: str, queue: sqs.Queue, *, description: str) -> cloudwatch.Alarm:
    """`<name>FailureRecords`: an alarm on Lambda's failure records arriving in `queue`, an
    on-failure destination that a function consumes (NumberOfMessagesSent >= 1). The queue must
    redrive to a dead-letter queue, or a record its consumer cannot handle expires unseen."""
    if queue.dead_letter_queue is None:
        raise ValueError(
            f"{name}: the on_failure queue must redrive to a dead-letter queue, or a record its consumer cannot handle "
            "expires unseen"
        )
    return alarm(
        scope,
        f"{name}FailureRecords",
        metric=queue.metric_number_of_messages_sent(period=DEFAULT_PERIOD, statistic="Sum"),
        threshold=1,
        description=description,
    )


def consume(
    function: lambda_.Function,
    queue: sqs.Queue,
    *,
    batch_size: int,
    batching_window: Duration,
    max_concurrency: int,
) -> lambda_.EventSourceMapping:
    """`function` consumes `queue` in batches, reporting failures per message.

    ReportBatchItemFailures is always on: a handler returns `batchItemFailures` (Powertools
    BatchProcessor) and only those messages are retried; without it one bad message would fail,
    and redeliver, its whole batch.
    """
    mapping = function.add_event_source_mapping(
        f"{queue.node.id}Source",
        event_source_arn=queue.queue_arn,
        batch_size=batch_size,
        max_batching_window=batching_window,
        max_concurrency=max_concurrency,
        report_batch_item_failures=True,
    )
    queue.grant_consume_messages(function)
    Validations.of(mapping).acknowledge(
        Acknowledgment(
            id="Serverless::Serverless-LambdaEventSourceMappingDestination",
            reason="SQS event source mappings take no on-failure destination; a message that keeps "
            "failing moves to the queue's own dead-letter queue through its redrive policy.",
        )
    )
    return mapping
