"""Pattern 7, StreamJob: a user submits a slow job and polls its status.

    client --SigV4--> API Gateway --POST /jobs--> ApiFunction --PutItem (pending)--> JobsTable
       ^                  |                           |  202 + status URL + Retry-After     |
       |                  +--GET /jobs/{job_id}-------+  <--GetItem--                       | stream (NEW_IMAGE)
       |                                                                                    v
       +-- pending -> processing -> complete | failed  <--UpdateItem--  ProcessorFunction  <-- filter: INSERT of a
                                     ^                                   |                    `pending` job only,
                                     | failed, with the reason           |                    from TRIM_HORIZON
                               FailedJobsFunction <--(SQS)-- ProcessorFailures <-+ (batches that failed every retry)
                                                                 | after max_receive_count receives
                                                                 v
                                                          ProcessorFailuresDLQ (alarm)

The job API answers at once: it writes the job as `pending` and returns where to poll. The
table's stream hands each new item to the processor, which claims the job with a conditional
update (so a redelivered record cannot run it twice), writes progress while it works, and ends
it `complete` with the result or `failed` with the error. The mapping's filter lets through only
INSERTs of `pending` jobs, so the processor's own updates (MODIFY) and TTL deletions (REMOVE)
never trigger it again. It starts at the stream's oldest record (TRIM_HORIZON): Lambda begins
polling minutes after the mapping is created, and at LATEST the jobs accepted until then would
never run; the conditional claim makes reading a record again harmless. A transient failure is
retried (bisecting the batch, bounded retries and record age); a batch that exhausts them goes to
ProcessorFailures, whose consumer reads the batch's records back from the stream and ends each
job still pending, or processing under an expired claim, `failed` with the reason. Jobs expire by TTL.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .shared import PatternFunction, PatternRestApi
from .shared.api import API_GATEWAY_INTEGRATION_LIMIT, MONEY_PATTERN
from .shared.code import pattern_names
from .shared.pattern import ID_IN_ITS_OWN_STACK, PatternConstruct, split_stack_props
from .shared.queues import consume, consumer_visibility_timeout, dead_letter_queue, secure_queue
from .shared.streams import consume_stream
from .shared.tables import secure_table

PATTERN = "stream_job"
# Lambda's own limit: a job that needs longer belongs in StandardWorkflow.
LAMBDA_TIMEOUT_LIMIT = Duration.minutes(15)
# A failure record whose job is still claimed by a run that died comes back after the queue's
# visibility timeout: at least the processor's timeout and this margin, so the claim has expired.
CLAIM_EXPIRY_MARGIN = Duration.minutes(1)

# The shape of POST /jobs, checked by API Gateway before the function runs: fields, types and the
# money and percentage formats (lambdas/stream_job/loans.py's LoanReportRequest). Rules about
# values (known currencies, positive amounts, rates up to 100) live in the handler alone.
# The handler's formats, repeated (synth does not import handler code; the template tests hold them
# to lambdas/shared/commerce.py): money as in the shared MONEY_PATTERN, a rate such as "6.25".
RATE_PATTERN = r"^[0-9]{1,3}(\.[0-9]{1,3})?$"
JOB_REQUEST_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="LoanReportRequest",
    type=apigw.JsonSchemaType.OBJECT,
    required=["currency", "principal", "annual_rate_percent", "monthly_payment"],
    additional_properties=False,
    properties={
        "currency": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=3, max_length=3),
        "principal": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, pattern=MONEY_PATTERN),
        "annual_rate_percent": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, pattern=RATE_PATTERN),
        "monthly_payment": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, pattern=MONEY_PATTERN),
    },
)


class StreamJob(PatternConstruct):
    """Job API -> DynamoDB (pending) -> stream (filtered) -> processor -> status to poll.

    Attributes: `api`, `api_function`, `table`, `processor` (and `stream`: its mapping and failure queue),
    `failed_jobs`, `failure_queue`, `failures_dead_letter_queue`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        api_timeout: Duration = Duration.seconds(10),
        processor_timeout: Duration = Duration.minutes(2),
        processor_memory_size: int = 512,
        batch_size: int = 5,
        retry_attempts: int = 3,
        max_record_age: Duration = Duration.hours(1),
        job_ttl: Duration = Duration.days(7),
        failed_jobs_timeout: Duration = Duration.seconds(30),
        failure_batch_size: int = 10,
        failure_max_concurrency: int = 2,
        failure_max_receive_count: int = 3,
        throttling_rate_limit: float = 50,
        throttling_burst_limit: int = 100,
        **common: Any,
    ) -> None:
        super().__init__(scope, id, **common)
        self.names = names = pattern_names(self, PATTERN)
        if api_timeout.to_seconds() >= API_GATEWAY_INTEGRATION_LIMIT.to_seconds():
            raise ValueError("api_timeout must be under API Gateway's 29 s integration timeout")
        if processor_timeout.to_seconds() > LAMBDA_TIMEOUT_LIMIT.to_seconds():
            raise ValueError(
                "processor_timeout is capped at 15 minutes by Lambda: split longer jobs (StandardWorkflow)"
            )

        # The jobs: one item per job, its stream carrying each new item, expired by TTL.
        self.table = secure_table(
            self,
            "JobsTable",
            partition_key="job_id",
            time_to_live_attribute="expires_at",
            stream=dynamodb.StreamViewType.NEW_IMAGE,
        )

        # Client -> API Gateway: signed requests only, bodies checked against the request model.
        self.api = PatternRestApi(
            self,
            "Api",
            description="StreamJob jobs API",
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
        )

        # API Gateway -> ApiFunction: submits (PutItem) and reads (GetItem) jobs, nothing more.
        self.api_function = PatternFunction(
            self,
            "ApiFunction",
            pattern=PATTERN,
            handler="api.main",
            description="StreamJob job API: submit a job, poll its status",
            timeout=api_timeout,
            environment={
                names.JOBS_TABLE_ENV: self.table.table_name,
                names.JOB_TTL_SECONDS_ENV: str(int(job_ttl.to_seconds())),
            },
        )
        self.api_function.invoked_synchronously_by("API Gateway")
        self.table.grant(self.api_function, "dynamodb:PutItem", "dynamodb:GetItem")

        integration = apigw.LambdaIntegration(self.api_function, allow_test_invoke=False)
        job_model = self.api.json_model("LoanReportRequest", JOB_REQUEST_SCHEMA)
        self.api.add_collection("jobs", integration, create_model=job_model, id_parameter="job_id")

        # JobsTable's stream -> ProcessorFunction: new pending jobs only. It claims, updates and
        # reads jobs (UpdateItem, GetItem), never creates or deletes them.
        self.processor = PatternFunction(
            self,
            "ProcessorFunction",
            pattern=PATTERN,
            handler="processor.main",
            description="StreamJob processor: runs each new pending job from the jobs table's stream",
            timeout=processor_timeout,
            memory_size=processor_memory_size,
            environment={names.JOBS_TABLE_ENV: self.table.table_name},
        )
        self.processor.invoked_synchronously_by("the DynamoDB stream event source mapping")
        self.table.grant(self.processor, "dynamodb:GetItem", "dynamodb:UpdateItem")
        # Batches the mapping gave up on: consumed, with a dead-letter queue of their own.
        self.failures_dead_letter_queue = dead_letter_queue(
            self,
            "ProcessorFailuresDLQ",
            holds="stream failure records the failed-jobs handler could not handle (their jobs are not marked failed)",
        )
        self.failure_queue = secure_queue(
            self,
            "ProcessorFailures",
            visibility_timeout=Duration.seconds(
                max(
                    consumer_visibility_timeout(failed_jobs_timeout).to_seconds(),
                    (processor_timeout.plus(CLAIM_EXPIRY_MARGIN)).to_seconds(),
                )
            ),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.failures_dead_letter_queue, max_receive_count=failure_max_receive_count
            ),
        )
        self.stream = consume_stream(
            self.processor,
            self.table,
            name="Processor",
            filters=[lambda_.FilterCriteria.filter(names.PENDING_INSERT_FILTER)],
            batch_size=batch_size,
            retry_attempts=retry_attempts,
            max_record_age=max_record_age,
            failure_queue=self.failure_queue,
        )

        # ProcessorFailures -> FailedJobsFunction: reads each failed batch's records back from the
        # stream and ends their jobs failed with the reason (GetItem, UpdateItem; no delete).
        self.failed_jobs = PatternFunction(
            self,
            "FailedJobsFunction",
            pattern=PATTERN,
            handler="failed_jobs.main",
            description="StreamJob: marks the jobs of a stream batch the processor gave up on failed, with the reason",
            timeout=failed_jobs_timeout,
            environment={names.JOBS_TABLE_ENV: self.table.table_name},
        )
        self.failed_jobs.invoked_synchronously_by("the SQS event source mapping")
        consume(
            self.failed_jobs,
            self.failure_queue,
            batch_size=failure_batch_size,
            batching_window=Duration.seconds(0),
            max_concurrency=failure_max_concurrency,
        )
        self.table.grant(self.failed_jobs, "dynamodb:GetItem", "dynamodb:UpdateItem")
        self.table.grant_stream(self.failed_jobs, "dynamodb:GetShardIterator", "dynamodb:GetRecords")


class StreamJobStack(Stack):
    """StreamJob in a stack of its own, with the outputs that tests, scripts and `make smoke` read."""

    def __init__(self, scope: Construct, id: str, **props: Any) -> None:
        stack_props, pattern_props = split_stack_props(props)
        super().__init__(
            scope,
            id,
            **{"description": "StreamJob: job API -> DynamoDB stream -> processor, status to poll", **stack_props},
        )
        self.pattern = StreamJob(self, ID_IN_ITS_OWN_STACK, **pattern_props)
        names = self.pattern.names
        CfnOutput(self, names.JOBS_ENDPOINT_OUTPUT, value=self.pattern.api.url_for_path("/jobs"))
        CfnOutput(self, names.JOBS_TABLE_OUTPUT, value=self.pattern.table.table_name)
        CfnOutput(self, names.STREAM_FAILURES_QUEUE_OUTPUT, value=self.pattern.stream.failure_queue.queue_url)
