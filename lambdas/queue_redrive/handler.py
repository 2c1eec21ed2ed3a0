"""QueueRedrive handler: SQS batches in, per-message failures out.

Each message is validated and fulfilled on its own (Powertools BatchProcessor); a message that
fails is reported in `batchItemFailures`, so SQS redelivers only it and, after the queue's
`maxReceiveCount`, moves it to the dead-letter queue. Fulfilment is idempotent on `order_id`
(Powertools idempotency, DynamoDB): a redelivered order returns the stored result.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from queue_redrive import names
from queue_redrive.orders import Order, fulfil_order

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)
orders_table = boto3.resource("dynamodb").Table(os.environ[names.ORDERS_TABLE_ENV])
idempotency = IdempotencyConfig(
    event_key_jmespath="order_id",
    expires_after_seconds=int(os.environ[names.IDEMPOTENCY_EXPIRY_SECONDS_ENV]),
)


@idempotent_function(
    data_keyword_argument="order",
    config=idempotency,
    persistence_store=DynamoDBPersistenceLayer(table_name=os.environ[names.IDEMPOTENCY_TABLE_ENV]),
)
def fulfil(order: Order) -> dict[str, Any]:
    fulfilment = fulfil_order(order)
    orders_table.put_item(Item={**fulfilment.model_dump(mode="json"), "total": fulfilment.total})
    logger.info("order fulfilled", extra={"order_id": order.order_id})
    return fulfilment.model_dump(mode="json")


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    # A body that is not a valid order raises here: the message is reported as failed and,
    # after maxReceiveCount receives, lands in the dead-letter queue with its body intact.
    fulfil(order=Order.model_validate_json(record.body))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def main(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
