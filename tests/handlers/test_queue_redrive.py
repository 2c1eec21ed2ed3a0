"""QueueRedrive handler: SQS batches with good and bad orders, duplicates, against moto DynamoDB."""

from __future__ import annotations

import importlib
import json
import sys
import time
from decimal import Decimal

import pytest

from localcloud.events import sqs
from queue_redrive import names
from queue_redrive.orders import Order, fulfil_order

ORDER = {
    "order_id": "O-1001",
    "customer_id": "C-42",
    "currency": "EUR",
    "placed_at": "2026-11-22T12:00:00Z",
    "lines": [
        {"sku": "BOOK-001", "quantity": 2, "unit_price": "12.50"},
        {"sku": "PEN-7", "quantity": 1, "unit_price": "1.99"},
    ],
}


def order(**changes) -> str:
    return json.dumps({**ORDER, **changes})


@pytest.fixture
def tables(empty_aws, monkeypatch):
    orders, idempotency = empty_aws.table("orders", "order_id"), empty_aws.table("idempotency", "id")
    monkeypatch.setenv(names.ORDERS_TABLE_ENV, "orders")
    monkeypatch.setenv(names.IDEMPOTENCY_TABLE_ENV, "idempotency")
    monkeypatch.setenv(names.IDEMPOTENCY_EXPIRY_SECONDS_ENV, "3600")
    yield orders, idempotency


@pytest.fixture
def handler(tables):
    """The handler module imported fresh, as a cold start would, inside the mocked account."""
    sys.modules.pop("queue_redrive.handler", None)
    return importlib.import_module("queue_redrive.handler")


def failed_ids(response: dict) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_good_orders_are_fulfilled(handler, tables, context):
    orders, _ = tables
    response = handler.main(sqs(order(), order(order_id="O-1002")), context)
    assert response == {"batchItemFailures": []}
    item = orders.get_item(Key={"order_id": "O-1001"})["Item"]
    assert (item["total"], item["item_count"], item["currency"]) == (Decimal("26.99"), 2 + 1, "EUR")
    assert orders.get_item(Key={"order_id": "O-1002"})["Item"]["customer_id"] == "C-42"


@pytest.mark.parametrize(
    "bad_body",
    [
        "{not json",
        "",
        json.dumps(["an", "array"]),
        order(order_id=None),
        json.dumps({k: v for k, v in ORDER.items() if k != "lines"}),
        order(lines=[]),
        order(lines=[{"sku": "A", "quantity": "2", "unit_price": "1.00"}]),
        order(lines=[{"sku": "A", "quantity": 2, "unit_price": 1.0}]),
        order(currency="JPY"),
        order(placed_at="yesterday"),
        order(placed_at="2026-11-22T12:00:00"),
        order(order_id="O 1001; DROP"),
        order(extra="field"),
    ],
    ids=[
        "malformed-json",
        "empty",
        "array",
        "null-id",
        "missing-lines",
        "no-lines",
        "quantity-string",
        "price-float",
        "unknown-currency",
        "bad-date",
        "naive-date",
        "bad-id",
        "extra-field",
    ],
)
def test_a_bad_message_fails_alone(handler, tables, context, bad_body):
    orders, _ = tables
    event = sqs(order(order_id="O-GOOD"), bad_body)
    response = handler.main(event, context)
    assert failed_ids(response) == [event["Records"][1]["messageId"]]
    assert "Item" in orders.get_item(Key={"order_id": "O-GOOD"})


def test_a_batch_of_only_bad_messages_reports_them_without_raising(handler, context):
    # Poison messages are signalled by the DLQ's alarm, not the function's error alarm.
    event = sqs("{not json", "[]")
    response = handler.main(event, context)
    assert failed_ids(response) == [r["messageId"] for r in event["Records"]]


def test_a_redelivered_order_is_fulfilled_once(handler, tables, context, monkeypatch):
    calls = []
    real = handler.fulfil_order
    monkeypatch.setattr(handler, "fulfil_order", lambda o: calls.append(o.order_id) or real(o))
    assert handler.main(sqs(order()), context) == {"batchItemFailures": []}
    first = tables[0].get_item(Key={"order_id": "O-1001"})["Item"]
    assert handler.main(sqs(order()), context) == {"batchItemFailures": []}
    assert calls == ["O-1001"]
    assert tables[0].get_item(Key={"order_id": "O-1001"})["Item"] == first


def test_an_amended_order_under_a_fulfilled_id_fails_instead_of_vanishing(handler, tables, context, caplog):
    assert handler.main(sqs(order()), context) == {"batchItemFailures": []}
    first = tables[0].get_item(Key={"order_id": "O-1001"})["Item"]
    amended = sqs(order(lines=[{"sku": "BOOK-001", "quantity": 5, "unit_price": "12.50"}]))
    response = handler.main(amended, context)
    assert failed_ids(response) == [amended["Records"][0]["messageId"]]
    assert tables[0].get_item(Key={"order_id": "O-1001"})["Item"] == first  # not overwritten
    with pytest.raises(handler.ConflictingOrder, match="O-1001 was already fulfilled with a different body"):
        handler.record_handler(handler.SQSRecord(amended["Records"][0]))


def test_idempotency_record_expires_after_the_configured_time(handler, tables, context):
    handler.main(sqs(order()), context)
    (record,) = tables[1].scan()["Items"]
    assert record["status"] == "COMPLETED"
    assert abs(int(record["expiration"]) - (time.time() + 3600)) < 60


def test_fulfilment_totals_exactly():
    fulfilment = fulfil_order(Order.model_validate_json(order()))
    assert fulfilment.total == Decimal("26.99")
    assert fulfilment.item_count == 3
