"""Pattern 3, QueueRedrive: reliable queued work with backpressure.

    producer --> OrdersQueue --(batches, max concurrency)--> OrdersFunction --> OrdersTable
                     |  after max_receive_count receives               |
                     v                                                 +--> IdempotencyTable
                 OrdersDLQ --(alarm; redrive back after a fix)--> OrdersQueue

The queue absorbs bursts; the event source mapping drains it in batches at a bounded
concurrency. A message that fails is retried after its visibility timeout; one that fails
`max_receive_count` times moves to the dead-letter queue, where an alarm fires. The handler
reports failures per message (Powertools BatchProcessor), so the good messages of a batch are
deleted once, and an idempotency record keyed on the order id makes a redelivered order a no-op.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .shared import PatternFunction
from .shared.code import pattern_names
from .shared.monitoring import DEFAULT_PERIOD, alarm
from .shared.pattern import ID_IN_ITS_OWN_STACK, PatternConstruct, split_stack_props
from .shared.queues import consume, consumer_visibility_timeout, dead_letter_queue, secure_queue
from .shared.tables import secure_table

PATTERN = "queue_redrive"

MIN_RECEIVE_COUNT = 3


class QueueRedrive(PatternConstruct):
    """SQS -> Lambda with partial batch failures, idempotency and a dead-letter queue.

    Attributes: `queue`, `dead_letter_queue`, `function`, `orders_table`, `idempotency_table`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function_timeout: Duration = Duration.seconds(30),
        memory_size: int = 256,
        batch_size: int = 10,
        batching_window: Duration = Duration.seconds(5),
        max_concurrency: int = 5,
        max_receive_count: int = 3,
        idempotency_expiry: Duration = Duration.hours(24),
        oldest_message_alarm_age: Duration = Duration.minutes(15),
        existing_orders_table: dynamodb.ITable | None = None,
        **common: Any,
    ) -> None:
        super().__init__(scope, id, **common)
        self.names = names = pattern_names(self, PATTERN)
        if max_receive_count < MIN_RECEIVE_COUNT:
            raise ValueError(
                f"max_receive_count must be at least {MIN_RECEIVE_COUNT}: fewer sends throttled messages to the DLQ"
            )

        # Producer -> queue; failures move to the DLQ after max_receive_count receives.
        self.dead_letter_queue = dead_letter_queue(self, "OrdersDLQ", holds="orders that failed every attempt")
        self.queue = secure_queue(
            self,
            "OrdersQueue",
            visibility_timeout=consumer_visibility_timeout(function_timeout, batching_window),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=max_receive_count),
        )
        alarm(
            self,
            "OrdersQueueBacklog",
            metric=self.queue.metric_approximate_age_of_oldest_message(period=DEFAULT_PERIOD, statistic="Maximum"),
            threshold=oldest_message_alarm_age.to_seconds(),
            description=(
                f"OrdersQueue's oldest message is over {oldest_message_alarm_age.to_minutes()} minutes old: "
                "consumers are not keeping up"
            ),
        )

        # Where processed orders and idempotency records go.
        # Or an existing table of yours, keyed on the string attribute "order_id".
        self.orders_table = existing_orders_table or secure_table(self, "OrdersTable", partition_key="order_id")
        self.idempotency_table = secure_table(
            self, "IdempotencyTable", partition_key="id", time_to_live_attribute="expiration"
        )

        # Queue -> function: batches, bounded concurrency, per-message failure reports.
        self.function = PatternFunction(
            self,
            "OrdersFunction",
            pattern=PATTERN,
            description="Processes order messages from OrdersQueue",
            timeout=function_timeout,
            memory_size=memory_size,
            environment={
                names.ORDERS_TABLE_ENV: self.orders_table.table_name,
                names.IDEMPOTENCY_TABLE_ENV: self.idempotency_table.table_name,
                names.IDEMPOTENCY_EXPIRY_SECONDS_ENV: str(int(idempotency_expiry.to_seconds())),
            },
        )
        self.function.invoked_synchronously_by("the SQS event source mapping")
        consume(
            self.function,
            self.queue,
            batch_size=batch_size,
            batching_window=batching_window,
            max_concurrency=max_concurrency,
        )
        self.orders_table.grant_write_data(self.function)
        self.idempotency_table.grant_read_write_data(self.function)


class QueueRedriveStack(Stack):
    """QueueRedrive in a stack of its own, with the outputs that tests, scripts and `make smoke` read."""

    def __init__(self, scope: Construct, id: str, **props: Any) -> None:
        stack_props, pattern_props = split_stack_props(props)
        super().__init__(
            scope, id, **{"description": "QueueRedrive: SQS -> Lambda with redrive to a DLQ", **stack_props}
        )
        self.pattern = QueueRedrive(self, ID_IN_ITS_OWN_STACK, **pattern_props)
        names = self.pattern.names
        CfnOutput(self, names.QUEUE_URL_OUTPUT, value=self.pattern.queue.queue_url)
        CfnOutput(self, names.QUEUE_ARN_OUTPUT, value=self.pattern.queue.queue_arn)
        CfnOutput(self, names.DEAD_LETTER_QUEUE_URL_OUTPUT, value=self.pattern.dead_letter_queue.queue_url)
        CfnOutput(self, names.DEAD_LETTER_QUEUE_ARN_OUTPUT, value=self.pattern.dead_letter_queue.queue_arn)
        CfnOutput(self, names.ORDERS_TABLE_NAME_OUTPUT, value=self.pattern.orders_table.table_name)
