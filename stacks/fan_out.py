"""Pattern 6, FanOut: a batch of independent items processed in parallel, aggregated exactly once.

    client --SigV4--> API Gateway --proxy--> ApiFunction --(Event, one per chunk)--> ChildFunction
      POST /batches          |  writes the batch (running, chunks_total)           |  retries, max event age
      GET  /batches/{id}     v                                                     v
                         BatchesTable  <-- each chunk recorded once (+ chunks_done); the last one claims the fan-in
                                       <-- ChunkFailedFunction marks the batch failed
                                                                                   | after the last retry
                         ChunkFailures (on-failure invocation records) --(SQS mapping)--> ChunkFailedFunction
                             |  after max_receive_count receives
                             v
                         ChunkFailuresDLQ (alarm)

The parent validates the batch, records it and invokes the child asynchronously once per chunk,
answering 202 with a status URL. Each child records its chunk's summary and counts it in one
DynamoDB transaction, so a retried child cannot count twice; the child that sees every chunk
counted claims the fan-in with one conditional update, so it runs once however many finish
together. A chunk that fails every attempt sends its invocation record to ChunkFailures, whose
consumer marks the batch failed naming the chunk. `child_concurrency` (none by default: a new
account has no concurrency to reserve) reserves the child's concurrency and caps it, bounding how
much of the account one huge batch can take: excess invocations wait in Lambda's queue.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .shared import PatternFunction, PatternRestApi
from .shared.api import API_GATEWAY_INTEGRATION_LIMIT, line_items_schema
from .shared.async_invoke import AsyncInvoke
from .shared.code import pattern_names
from .shared.pattern import ID_IN_ITS_OWN_STACK, PatternConstruct, split_stack_props
from .shared.queues import consume, consumer_visibility_timeout, dead_letter_queue, secure_queue
from .shared.tables import secure_table

PATTERN = "fan_out"
MIN_RECEIVE_COUNT = 3

# The shape of POST /batches, checked by API Gateway before the function runs: the same fields,
# lengths and formats as the handler's pydantic model (lambdas/fan_out/sales.py, shared/commerce.py);
# tests/templates/test_fan_out.py holds them to it. Known currencies are the handler's rule alone.
MAX_ITEMS = 2_000
SKU_PATTERN = r"^[A-Z]{2,12}-[A-Z0-9]{1,24}$"
BATCH_REQUEST_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="BatchRequest",
    type=apigw.JsonSchemaType.OBJECT,
    required=["currency", "items"],
    additional_properties=False,
    properties={
        "currency": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING),
        "items": line_items_schema(
            max_items=MAX_ITEMS, sku=apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, pattern=SKU_PATTERN)
        ),
    },
)


class FanOut(PatternConstruct):
    """REST API -> parent Lambda -> async child Lambdas per chunk -> exactly-once fan-in in DynamoDB.

    Attributes: `api`, `api_function`, `child` (and `invocation`), `chunk_failed`, `table`, `failure_queue`,
    `failures_dead_letter_queue`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        api_timeout: Duration = Duration.seconds(20),
        child_timeout: Duration = Duration.seconds(60),
        child_memory_size: int = 512,
        child_concurrency: int | None = None,
        retry_attempts: int = 2,
        max_event_age: Duration = Duration.hours(1),
        batch_ttl: Duration = Duration.days(7),
        chunk_failed_timeout: Duration = Duration.seconds(30),
        failure_batch_size: int = 10,
        failure_batching_window: Duration = Duration.seconds(0),
        failure_max_concurrency: int = 2,
        max_receive_count: int = 3,
        **common: Any,
    ) -> None:
        super().__init__(scope, id, **common)
        self.names = names = pattern_names(self, PATTERN)
        if api_timeout.to_seconds() >= API_GATEWAY_INTEGRATION_LIMIT.to_seconds():
            raise ValueError("api_timeout must be under API Gateway's 29 s integration timeout")
        if child_concurrency is not None and child_concurrency < 1:
            raise ValueError("child_concurrency must be at least 1: 0 would stop every chunk")
        if max_receive_count < MIN_RECEIVE_COUNT:
            raise ValueError(f"max_receive_count must be at least {MIN_RECEIVE_COUNT}")

        # Client -> API Gateway: signed requests only, bodies checked against the request model.
        self.api = PatternRestApi(self, "Api", description="FanOut batches API")

        # Batches and their chunk results, expiring together (TTL on expires_at).
        self.table = secure_table(self, "BatchesTable", partition_key="pk", time_to_live_attribute="expires_at")

        # Chunks: one async invocation each, bounded concurrency, retries, then the failure queue.
        self.child = PatternFunction(
            self,
            "ChildFunction",
            pattern=PATTERN,
            handler="child.main",
            description="Summarises one chunk of a batch, records it once and fans in after the last",
            timeout=child_timeout,
            memory_size=child_memory_size,
            reserved_concurrent_executions=child_concurrency,
            environment={names.BATCHES_TABLE_ENV: self.table.table_name},
            # One async invocation per chunk: a batch of more chunks than the concurrency available
            # throttles on every run, and Lambda retries those; the event-age alarm means work at risk.
            invoked_asynchronously=True,
        )
        self.failures_dead_letter_queue = dead_letter_queue(
            self, "ChunkFailuresDLQ", holds="chunk failure records the chunk-failed handler could not handle"
        )
        self.failure_queue = secure_queue(
            self,
            "ChunkFailures",
            visibility_timeout=consumer_visibility_timeout(chunk_failed_timeout, failure_batching_window),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.failures_dead_letter_queue, max_receive_count=max_receive_count
            ),
        )
        self.invocation = AsyncInvoke(
            self.child,
            name="Chunk",
            event="chunks",
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            on_failure=self.failure_queue,
        )
        # Read the batch, record the chunk and count it (a transaction of Put and Update), fan in.
        self.table.grant(
            self.child, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"
        )

        # API Gateway -> parent: record the batch, invoke the child per chunk, answer status.
        self.api_function = PatternFunction(
            self,
            "ApiFunction",
            pattern=PATTERN,
            handler="api.main",
            description="FanOut batches API: submits batches to the child function and reports them",
            timeout=api_timeout,
            environment={
                names.BATCHES_TABLE_ENV: self.table.table_name,
                names.CHILD_FUNCTION_ENV: self.child.function_name,
                names.BATCH_TTL_SECONDS_ENV: str(int(batch_ttl.to_seconds())),
            },
        )
        self.api_function.invoked_synchronously_by("API Gateway")
        self.child.grant_invoke_latest_version(self.api_function)  # this child only, unqualified
        self.table.grant(self.api_function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        integration = apigw.LambdaIntegration(self.api_function, allow_test_invoke=False)
        batch_model = self.api.json_model("BatchRequest", BATCH_REQUEST_SCHEMA)
        self.api.add_collection("batches", integration, create_model=batch_model, id_parameter="batch_id")

        # Failure records -> chunk-failed handler: marks the batch failed, naming the chunk.
        self.chunk_failed = PatternFunction(
            self,
            "ChunkFailedFunction",
            pattern=PATTERN,
            handler="chunk_failed.main",
            description="Marks a batch failed when one of its chunks failed every attempt",
            timeout=chunk_failed_timeout,
            environment={names.BATCHES_TABLE_ENV: self.table.table_name},
        )
        self.chunk_failed.invoked_synchronously_by("the SQS event source mapping")
        consume(
            self.chunk_failed,
            self.failure_queue,
            batch_size=failure_batch_size,
            batching_window=failure_batching_window,
            max_concurrency=failure_max_concurrency,
        )
        self.table.grant(self.chunk_failed, "dynamodb:UpdateItem")


class FanOutStack(Stack):
    """FanOut in a stack of its own, with the outputs that tests, scripts and `make smoke` read."""

    def __init__(self, scope: Construct, id: str, **props: Any) -> None:
        stack_props, pattern_props = split_stack_props(props)
        super().__init__(
            scope,
            id,
            **{"description": "FanOut: parent Lambda fans chunks out to async children, fan-in once", **stack_props},
        )
        self.pattern = FanOut(self, ID_IN_ITS_OWN_STACK, **pattern_props)
        names = self.pattern.names
        CfnOutput(self, names.BATCHES_ENDPOINT_OUTPUT, value=self.pattern.api.url)
        CfnOutput(self, names.BATCHES_TABLE_OUTPUT, value=self.pattern.table.table_name)
        CfnOutput(self, names.CHILD_FUNCTION_OUTPUT, value=self.pattern.child.function_name)
        CfnOutput(self, names.CHUNK_FAILURES_QUEUE_OUTPUT, value=self.pattern.failure_queue.queue_url)
