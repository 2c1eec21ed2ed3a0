"""A DynamoDB stream consumer with the project's rules, written once.

`consume_stream(function, table, ...)` connects `function` to `table`'s stream with:
- `TRIM_HORIZON` as the starting position: Lambda begins polling minutes after a mapping is
  created (and a replaced mapping starts over), and at `LATEST` every record written before
  that is skipped, with no error and no failure record. A stream that feeds work (a job queue)
  must start at its oldest record; the consumer is idempotent anyway, since a stream delivers at
  least once, so the records it sees again change nothing. Pass `starting_position=LATEST` only
  for a consumer that may lose records (a cache refresh, a metric);
- filter criteria (`filters`, from `lambda_.FilterCriteria.filter(...)`): a processor that writes
  back to its own table re-triggers itself unless it filters its own writes out;
- bounded batches (`batch_size`, `batching_window`);
- `bisect_batch_on_error` and `ReportBatchItemFailures`: a failing record is isolated and retried
  alone while the rest of its batch is checkpointed (Powertools BatchProcessor returns
  `batchItemFailures`);
- bounded retries (`retry_attempts`, never -1/infinite: a poison record would block its shard
  until it expired) and a maximum record age;
- an on-failure destination: an alarmed failure queue (`<name>Failures`, queues.
  failure_destination_queue) receiving the batch's shard and sequence numbers for records that
  exhausted their retries; or `failure_queue`, one the stack consumes (a handler that acts on the
  failed records), which must redrive to a dead-letter queue of its own and gets an alarm on
  records arriving (`<name>FailureRecords`, queues.alarm_on_failure_records). The record names the
  batch, not its records: a consumer reads them back from the stream, which keeps them 24 hours;
- an alarm on the function's IteratorAge: the consumer is falling behind the stream, and a graph
  of it on the stack's dashboard;
- read access to that one stream; `dynamodb:ListStreams`, which Lambda requires of the role and
  which has no resource-level permissions, gets a policy of its own (`<name>ListStreams`), so its
  `*` and the acknowledgment it needs stay out of the role's default policy.

Any other `EventSourceMapping` prop can be passed and overrides the default of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

from . import dashboard
from .monitoring import alarm
from .pattern import parent
from .props import consolidate_props
from .queues import alarm_on_failure_records, failure_destination_queue

MAX_RETRY_ATTEMPTS = 10_000  # Lambda's upper bound; -1 (retry until the record expires) is refused
DEFAULT_RETRY_ATTEMPTS = 3
DEFAULT_MAX_RECORD_AGE = Duration.hours(1)
DEFAULT_ITERATOR_AGE_ALARM = Duration.minutes(5)


@dataclass(frozen=True)
class StreamConsumer:
    """What `consume_stream` created."""

    mapping: lambda_.EventSourceMapping
    failure_queue: sqs.Queue
    alarm: cloudwatch.Alarm


def consume_stream(
    function: lambda_.Function,
    table: dynamodb.ITable,
    *,
    name: str,
    filters: Sequence[Mapping[str, Any]],
    batch_size: int = 10,
    batching_window: Duration = Duration.seconds(0),
    retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
    max_record_age: Duration = DEFAULT_MAX_RECORD_AGE,
    iterator_age_alarm: Duration = DEFAULT_ITERATOR_AGE_ALARM,
    failure_queue: sqs.Queue | None = None,
    **overrides: Any,
) -> StreamConsumer:
    """`function` consumes `table`'s stream (the table needs `stream=` set); see the module doc.

    `filters` is required on purpose: pass `[]` only for a processor that never writes to the
    table it reads.
    """
    if table.table_stream_arn is None:
        raise ValueError(f"{table.node.id} has no stream: create it with stream=StreamViewType...")
    if not 0 <= retry_attempts <= MAX_RETRY_ATTEMPTS:
        raise ValueError(f"retry_attempts must be 0..{MAX_RETRY_ATTEMPTS}: -1 retries a poison record until it expires")
    scope = parent(function)
    if failure_queue is None:
        failure_queue = failure_destination_queue(
            scope,
            f"{name}Failures",
            holds=f"{name} stream batches that failed every retry (shard and sequence numbers)",
        )
    else:
        alarm_on_failure_records(
            scope,
            name,
            failure_queue,
            description=(
                f"{function.node.id} gave up on a batch of {table.node.id}'s stream: Lambda sent its failure "
                f"record to {failure_queue.node.id}"
            ),
        )
    props = consolidate_props(
        {
            "event_source_arn": table.table_stream_arn,
            "starting_position": lambda_.StartingPosition.TRIM_HORIZON,
            "batch_size": batch_size,
            "max_batching_window": batching_window,
            "bisect_batch_on_error": True,
            "retry_attempts": retry_attempts,
            "max_record_age": max_record_age,
            "report_batch_item_failures": True,
            "on_failure": sources.SqsDlq(failure_queue),
            "filters": list(filters) or None,
        },
        overrides,
    )
    mapping = function.add_event_source_mapping(f"{name}StreamSource", **props)
    _grant_stream_read(function, table, name)
    iterator_age = alarm(
        scope,
        f"{name}IteratorAge",
        metric=function.metric("IteratorAge", period=Duration.minutes(1), statistic="Maximum"),
        threshold=iterator_age_alarm.to_milliseconds(),
        description=(
            f"{function.node.id} is over {iterator_age_alarm.to_minutes()} minutes behind {table.node.id}'s stream"
        ),
        evaluation_periods=5,
    )
    dashboard.show_stream_consumer(function, table.node.id)
    return StreamConsumer(mapping=mapping, failure_queue=failure_queue, alarm=iterator_age)


def _grant_stream_read(function: lambda_.Function, table: dynamodb.ITable, name: str) -> None:
    """What Lambda's poller needs of the execution role: this stream's records, and ListStreams.

    `table.grant_stream_read` would put `dynamodb:ListStreams` on `*` into the default policy,
    where an acknowledgment would also hide any later wildcard grant.
    """
    table.grant_stream(function, "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
    list_streams = iam.Policy(
        parent(function),
        f"{name}ListStreams",
        roles=[function.role] if function.role else [],
        statements=[iam.PolicyStatement(actions=["dynamodb:ListStreams"], resources=["*"])],
    )
    Validations.of(list_streams).acknowledge(
        Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            reason="dynamodb:ListStreams supports no resource-level permissions and Lambda requires it of a "
            "stream consumer's role; this policy holds only that action.",
        )
    )
    function.node.add_dependency(list_streams)  # the mapping is validated against the role when created
