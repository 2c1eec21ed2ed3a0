"""QueueRedrive end to end: orders through the deployed queue, mapping, function and tables."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import pytest

from localcloud import Batch, Deployment
from queue_redrive import names


def order(order_id: str, **changes) -> str:
    return json.dumps(
        {
            "order_id": order_id,
            "customer_id": "C-7",
            "currency": "USD",
            "placed_at": "2026-11-22T09:30:00+00:00",
            "lines": [{"sku": "CABLE-2M", "quantity": 4, "unit_price": "3.25"}],
            **changes,
        }
    )


@pytest.fixture(scope="module")
def stack(deploy, cloud_assembly) -> Deployment:
    return deploy(cloud_assembly.directory, "QueueRedrive")


@pytest.fixture
def send(stack):
    def _send(*bodies: str) -> None:
        for body in bodies:
            stack.client("sqs").send_message(QueueUrl=stack.outputs[names.QUEUE_URL_OUTPUT], MessageBody=body)

    return _send


def drain(stack: Deployment) -> list[Batch]:
    return stack.drain_sqs("OrdersFunction")


def fulfilled(stack: Deployment, order_id: str) -> dict | None:
    item = stack.client("dynamodb").get_item(
        TableName=stack.outputs[names.ORDERS_TABLE_NAME_OUTPUT], Key={"order_id": {"S": order_id}}
    )
    return item.get("Item")


def test_orders_are_fulfilled(stack, send):
    send(order("E2E-1"), order("E2E-2"), order("E2E-3"))
    drain(stack)
    for order_id in ("E2E-1", "E2E-2", "E2E-3"):
        assert Decimal(fulfilled(stack, order_id)["total"]["N"]) == Decimal("13.00")


def max_receive_count(stack: Deployment) -> int:
    queue = stack.template["Resources"][stack.logical_id("AWS::SQS::Queue", "OrdersQueue")]
    return queue["Properties"]["RedrivePolicy"]["maxReceiveCount"]


def test_poison_message_lands_in_the_dlq_after_exactly_max_receive_count(stack, send):
    send(order("GOOD-1"), "{not an order", order("GOOD-2"))
    batches = drain(stack)
    deliveries = Counter(record["body"] for batch in batches for record in batch.records)
    assert deliveries["{not an order"] == max_receive_count(stack) == 3
    assert deliveries[order("GOOD-1")] == deliveries[order("GOOD-2")] == 1
    assert fulfilled(stack, "GOOD-1") and fulfilled(stack, "GOOD-2")
    (dead,) = stack.client("sqs").receive_message(
        QueueUrl=stack.outputs[names.DEAD_LETTER_QUEUE_URL_OUTPUT], AttributeNames=["All"]
    )["Messages"]
    assert dead["Body"] == "{not an order"
    # The count travels with the message; receiving it from the DLQ just now added one.
    assert dead["Attributes"]["ApproximateReceiveCount"] == str(max_receive_count(stack) + 1)
    stack.client("sqs").delete_message(
        QueueUrl=stack.outputs[names.DEAD_LETTER_QUEUE_URL_OUTPUT], ReceiptHandle=dead["ReceiptHandle"]
    )


def test_a_duplicate_delivery_is_processed_once(stack, send):
    send(order("DUP-1"))
    drain(stack)
    first = fulfilled(stack, "DUP-1")
    send(order("DUP-1", customer_id="C-7"))  # the same order delivered again
    batches = drain(stack)
    assert [b.failed_ids for b in batches] == [[]]
    assert fulfilled(stack, "DUP-1") == first  # fulfilled_at unchanged: the work did not run again
    records = stack.client("dynamodb").scan(
        TableName=stack.physical_ids[stack.logical_id("AWS::DynamoDB::Table", "IdempotencyTable")]
    )["Items"]
    assert sum(1 for r in records if "DUP-1" in json.dumps(r)) == 1


def test_an_amended_order_under_a_fulfilled_id_ends_in_the_dlq(stack, send):
    send(order("AMEND-1"))
    drain(stack)
    first = fulfilled(stack, "AMEND-1")
    amended = order("AMEND-1", lines=[{"sku": "CABLE-2M", "quantity": 40, "unit_price": "3.25"}])
    send(amended)
    batches = drain(stack)
    assert len(batches) == max_receive_count(stack) and all(b.failed_ids and not b.errored for b in batches)
    assert fulfilled(stack, "AMEND-1") == first
    (dead,) = stack.messages("OrdersDLQ")
    assert dead["body"] == json.loads(amended)


def test_a_batch_of_only_poison_messages_is_reported_not_raised(stack, send):
    send("{poison", "[]")
    batches = drain(stack)
    assert batches and not any(b.errored for b in batches)  # no function error: the DLQ alarm tells
    assert sorted(
        m["body"] if isinstance(m["body"], str) else json.dumps(m["body"]) for m in stack.messages("OrdersDLQ")
    ) == ["[]", "{poison"]


def test_nothing_is_left_on_the_queue(stack):
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs[names.QUEUE_URL_OUTPUT], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
