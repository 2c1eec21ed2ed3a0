"""QueueRedrive handler: SQS batches in, per-message failures out.

Each message is validated and fulfilled on its own (Powertools BatchProcessor); a message that
fails is reported in `batchItemFailures`, so SQS redelivers only it and, after the queue's
`maxReceiveCount`, moves it to the dead-letter queue. Fulfilment is idempotent on `order_id`
(Powertools idempotency, DynamoDB): a redelivered order returns the stored result.

Two decisions a user should know:
- The same `order_id` with a *different* body (an amended order) is not a redelivery: the
  idempotency record also stores a hash of the whole order, and a mismatch fails the message with
  a clear error, so it ends in the dead-letter queue instead of being acknowledged and dropped.
- A batch in which every message fails still returns `batchItemFailures` (it does not raise):
  poison messages are the queue's business, signalled by the dead-letter queue's alarm; the
  function's error alarm stays for the function itself failing (a crash, a timeout, a bug).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from queue_redrive import names
from queue_redrive.orders import Order, fulfil_order
from shared import aws

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
orders_table = aws.table(os.environ[names.ORDERS_TABLE_ENV])
idempotency = aws.idempotency_config(
    event_key_jmespath="order_id",
    payload_validation_jmespath="@",  # the whole order: same id, different body is a conflict
    expires_after_seconds=int(os.environ[names.IDEMPOTENCY_EXPIRY_SECONDS_ENV]),
)


@aws.idempotent(data_keyword_argument="order", config=idempotency, table_name=os.environ[names.IDEMPOTENCY_TABLE_ENV])
def fulfil(order: Order) -> dict[str, Any]:
    fulfilment = fulfil_order(order)
    orders_table.put_item(Item={**fulfilment.model_dump(mode="json"), "total": fulfilment.total})
    logger.info("order fulfilled", extra={"order_id": order.order_id})
    return fulfilment.model_dump(mode="json")


class ConflictingOrder(ValueError):
    """An order id already fulfilled with a different body."""


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    # A body that is not a valid order, or that conflicts with the order already fulfilled under
    # its id, raises here: the message is reported as failed and, after maxReceiveCount receives,
    # lands in the dead-letter queue with its body intact.
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyValidationError,  # with the utility, on first use
    )

    order = Order.model_validate_json(record.body)
    try:
        fulfil(order=order)
    except IdempotencyValidationError:
        logger.error("conflicting order", extra={"order_id": order.order_id, "message_id": record.message_id})
        raise ConflictingOrder(
            f"order {order.order_id} was already fulfilled with a different body; an amended order needs a new order_id"
        ) from None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def main(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
