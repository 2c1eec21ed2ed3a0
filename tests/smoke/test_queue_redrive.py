"""QueueRedrive: orders sent to the queue are fulfilled; a message that cannot be processed ends
in the dead-letter queue after maxReceiveCount receives."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

from queue_redrive import names

STACK = "QueueRedrive"
# In AWS a failed message is received again after the queue's visibility timeout (6 x the function
# timeout + the batching window = 185 s), 3 receives before the DLQ: up to ~10 minutes.
POISON_DEADLINE = 720
DEADLINE = 120


def order(order_id: str) -> str:
    lines = [{"sku": "CABLE-2M", "quantity": 4, "unit_price": "3.25"}]
    return json.dumps(
        {
            "order_id": order_id,
            "customer_id": "C-smoke",
            "currency": "USD",
            "placed_at": "2026-11-22T09:30:00+00:00",
            "lines": lines,
        }
    )


def fulfilled(target, order_id: str) -> dict | None:
    table = target.outputs[names.ORDERS_TABLE_NAME_OUTPUT]
    return target.client("dynamodb").get_item(TableName=table, Key={"order_id": {"S": order_id}}).get("Item")


def test_an_order_sent_to_the_queue_is_fulfilled(target):
    order_id = f"SMOKE-{uuid.uuid4().hex[:12]}"
    target.send_message(target.outputs[names.QUEUE_URL_OUTPUT], order(order_id))
    item = target.wait_until(
        lambda: fulfilled(target, order_id), deadline=DEADLINE, describe=f"order {order_id} in the orders table"
    )
    assert Decimal(item["total"]["N"]) == Decimal("13.00")  # 4 x 3.25


def test_a_poison_message_reaches_the_dead_letter_queue(target):
    poison = f"{{not an order {uuid.uuid4().hex[:12]}"
    target.send_message(target.outputs[names.QUEUE_URL_OUTPUT], poison)
    dlq = target.outputs[names.DEAD_LETTER_QUEUE_URL_OUTPUT]
    dead = target.wait_until(
        lambda: target.take_messages(dlq, lambda body: body == poison),
        deadline=POISON_DEADLINE,
        describe="the poison message on the DLQ",
    )
    assert dead == [poison]
