"""Pattern 2, EventInvoke: fire-and-forget work that must not fail silently.

    upload to incoming/ --> UploadsBucket --(S3 invokes asynchronously)--> AnalyzeFunction --> IdempotencyTable
                                                                  |  retries, max event age
                      analysis/<key>.json  <--  result  ----------+
                      AnalysisResults (on-success)  <-- invocation record
                      AnalyzeFailures (on-failure)  <-- invocation record with the error
                      AnalyzeDLQ (dead-letter queue) <-- the event itself

S3 hands each event to Lambda's internal queue and moves on. Lambda runs the function, retries a
failure `retry_attempts` times, drops events older than `max_event_age`, and reports every outcome:
success records to one queue, failures (with the error) to another, and the failed event itself to
a dead-letter queue. Alarms watch both failure queues and Lambda's delivery errors. An idempotency
record keyed on bucket, key and ETag makes a retried or duplicated event return the first result.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .shared import PatternFunction
from .shared.async_invoke import AsyncInvoke
from .shared.buckets import ExistingBucket, NotifyingBucket, secure_bucket
from .shared.code import pattern_names
from .shared.monitoring import DEFAULT_PERIOD, alarm
from .shared.pattern import ID_IN_ITS_OWN_STACK, PatternConstruct, split_stack_props
from .shared.queues import dead_letter_queue, secure_queue
from .shared.tables import secure_table

PATTERN = "event_invoke"
METRICS_NAMESPACE = "ServerlessAsyncPatterns"
INCOMING_PREFIX = "incoming/"
RESULTS_PREFIX = "analysis/"


class EventInvoke(PatternConstruct):
    """S3 object-created events -> Lambda (async) with retries, destinations and a DLQ.

    Attributes: `bucket`, `function`, `invocation` (its retries, destinations and DLQ: `invocation.failure_queue`,
    `invocation.dead_letter_queue`), `results_queue`, `idempotency_table`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function_timeout: Duration = Duration.seconds(60),
        memory_size: int = 512,
        retry_attempts: int = 2,
        max_event_age: Duration = Duration.hours(1),
        max_object_bytes: int = 10 * 1024 * 1024,
        idempotency_expiry: Duration = Duration.hours(24),
        existing_bucket: s3.IBucket | None = None,
        **common: Any,
    ) -> None:
        super().__init__(scope, id, **common)
        self.names = names = pattern_names(self, PATTERN)

        # Where uploads land (named from the stack, account and region: see NotifyingBucket).
        # An existing bucket of yours instead: only its incoming/ and analysis/ prefixes are used.
        self.bucket: NotifyingBucket | ExistingBucket
        if existing_bucket is not None:
            self.bucket = ExistingBucket(self, "UploadsBucket", existing_bucket)
        else:
            access_logs = secure_bucket(self, "AccessLogsBucket")
            self.bucket = NotifyingBucket(
                self,
                "UploadsBucket",
                purpose="uploads",
                server_access_logs_bucket=access_logs,
                server_access_logs_prefix="uploads/",
            )

        # Where success records go, for a consumer (with its own DLQ), and idempotency records.
        results_dlq = dead_letter_queue(
            self, "AnalysisResultsDLQ", holds="success records a consumer failed to process"
        )
        self.results_queue = secure_queue(
            self,
            "AnalysisResults",
            dead_letter_queue=sqs.DeadLetterQueue(queue=results_dlq, max_receive_count=3),
        )
        self.idempotency_table = secure_table(
            self, "IdempotencyTable", partition_key="id", time_to_live_attribute="expiration"
        )

        # The function S3 invokes asynchronously: retries, event age, destinations, DLQ, alarms.
        self.function = PatternFunction(
            self,
            "AnalyzeFunction",
            pattern=PATTERN,
            description="Analyzes objects uploaded to the uploads bucket",
            timeout=function_timeout,
            memory_size=memory_size,
            environment={
                names.RESULTS_PREFIX_ENV: RESULTS_PREFIX,
                names.MAX_OBJECT_BYTES_ENV: str(max_object_bytes),
                names.IDEMPOTENCY_TABLE_ENV: self.idempotency_table.table_name,
                names.IDEMPOTENCY_EXPIRY_SECONDS_ENV: str(int(idempotency_expiry.to_seconds())),
                names.METRICS_NAMESPACE_ENV: METRICS_NAMESPACE,
            },
        )
        self.invocation = AsyncInvoke(
            self.function,
            name="Analyze",
            event="uploads",
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            on_success=destinations.SqsDestination(self.results_queue),
        )
        self.idempotency_table.grant_read_write_data(self.function)

        # Bucket -> function: uploads under incoming/ only, so results written under analysis/
        # never trigger the function again. It reads uploads and writes results.
        self.bucket.invoke_on_object_created(self.function, prefix=INCOMING_PREFIX)
        self.bucket.grant_object_access(self.function, read=[INCOMING_PREFIX], read_write=[RESULTS_PREFIX])

        # Permanent rejections are answered, not retried: alarm on them so they are seen.
        alarm(
            self,
            "RejectedUploads",
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="RejectedObjects",
                dimensions_map={"service": PATTERN},  # Powertools' service name is the pattern
                period=DEFAULT_PERIOD,
                statistic="Sum",
            ),
            threshold=1,
            description="An upload was rejected without retry (unsupported or oversized): see analysis/<key>.json",
        )


class EventInvokeStack(Stack):
    """EventInvoke in a stack of its own, with the outputs that tests, scripts and `make smoke` read."""

    def __init__(self, scope: Construct, id: str, **props: Any) -> None:
        stack_props, pattern_props = split_stack_props(props)
        super().__init__(
            scope,
            id,
            **{"description": "EventInvoke: S3 -> Lambda async invoke with destinations and a DLQ", **stack_props},
        )
        self.pattern = EventInvoke(self, ID_IN_ITS_OWN_STACK, **pattern_props)
        names = self.pattern.names
        CfnOutput(self, names.BUCKET_NAME_OUTPUT, value=self.pattern.bucket.bucket_name)
        CfnOutput(self, names.UPLOAD_PREFIX_OUTPUT, value=INCOMING_PREFIX)
        CfnOutput(self, names.RESULTS_QUEUE_URL_OUTPUT, value=self.pattern.results_queue.queue_url)
        CfnOutput(self, names.FAILURES_QUEUE_URL_OUTPUT, value=self.pattern.invocation.failure_queue.queue_url)
        CfnOutput(self, names.DEAD_LETTER_QUEUE_URL_OUTPUT, value=self.pattern.invocation.dead_letter_queue.queue_url)
        CfnOutput(self, names.FUNCTION_NAME_OUTPUT, value=self.pattern.function.function_name)
