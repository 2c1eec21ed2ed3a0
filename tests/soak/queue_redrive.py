"""QueueRedrive under load: orders on the queue, drained by the mapping with several pollers.

Inputs: valid orders; about a tenth bad, of each kind the pattern documents: a body that is not
JSON, an order its model refuses, and an amended order (an id already fulfilled, sent again with
another body). Faults: a transient error before the handler and a crash or timeout after its
writes (the whole batch fails and comes back), throttled batches (back on the queue), the same
order sent twice (at once: the two race for the idempotency claim; or later).

Books: a valid order is done once (its row in the orders table, written once, with the total
worked out here), a bad one is in the DLQ. The queue ends empty and no idempotency claim is left
in progress.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from queue_redrive import names
from tests.soak.engine import DEAD, DONE, STUCK, WRONG, Soak, load_json

STACK = "QueueRedrive"
VOLUME = 5000
CLOUD: dict[str, Any] = {"async_workers": 1}
POLLERS = 4  # an SQS mapping starts with five pollers
WAVE = 250  # messages sent before the mapping drains (moto's queues scan every message on each receive)
FUNCTION = "OrdersFunction"
SKUS = ("CABLE-2M", "MUG-01", "PEN-22", "BOOK-1")
MALFORMED = re.compile(r"^\{not an order (\S+)")


def order(order_id: str, rng: Any, customer: str = "C-7") -> dict[str, Any]:
    lines = [
        {"sku": rng.choice(SKUS), "quantity": rng.randint(1, 9), "unit_price": f"{rng.randint(1, 9999) / 100:.2f}"}
        for _ in range(rng.randint(1, 4))
    ]
    return {
        "order_id": order_id,
        "customer_id": customer,
        "currency": rng.choice(("EUR", "GBP", "USD")),
        "placed_at": "2026-11-22T09:30:00+00:00",
        "lines": lines,
    }


def total(body: dict[str, Any]) -> Decimal:
    return sum((Decimal(line["unit_price"]) * line["quantity"] for line in body["lines"]), Decimal("0"))


def ids_of(event: Any) -> Iterable[str]:
    """The inputs an SQS batch carries (the order ids in its bodies, a malformed one's marker)."""
    for record in event.get("Records", []) if isinstance(event, dict) else []:
        body = record.get("body", "")
        if isinstance(body, str) and (found := re.search(r'"order_id": "([^"]+)"|^\{not an order (\S+)', body)):
            yield found.group(1) or found.group(2)


def send(soak: Soak, bodies: list[str]) -> None:
    sqs, url = soak.stack.client("sqs"), soak.output(names.QUEUE_URL_OUTPUT)
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies[start : start + 10])]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def drain(soak: Soak) -> None:
    """Run the mapping until the queue is empty (a throttled batch ends a drain: poll again)."""
    function = soak.stack.function_name(FUNCTION)
    while True:
        batches = soak.cloud.drain_sqs(function, max_batches=10**6, pollers=POLLERS)
        soak.books_batches.extend(batches)  # type: ignore[attr-defined]
        if not any(b.throttled for b in batches) and visible(soak) == 0:
            return


def visible(soak: Soak) -> int:
    attributes = soak.stack.client("sqs").get_queue_attributes(
        QueueUrl=soak.output(names.QUEUE_URL_OUTPUT),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def drive(soak: Soak) -> None:
    rng, books, function = soak.rng, soak.books, soak.stack.function_name(FUNCTION)
    soak.books_batches = []  # type: ignore[attr-defined]
    soak.expected = {}  # type: ignore[attr-defined]
    first: list[str] = []
    later: list[str] = []
    amendable: list[str] = []
    for n in range(soak.count):
        order_id = f"Q{n:05d}"
        roll = rng.random()
        if roll < 0.04:
            books.add(order_id, "not JSON", DEAD)
            first.append(f"{{not an order {order_id}")
            continue
        if roll < 0.07:
            body = order(order_id, rng)
            body["lines"][0]["quantity"] = 0
            books.add(order_id, "refused by the order model", DEAD)
            first.append(json.dumps(body))
            continue
        if roll < 0.10 and amendable:
            original = rng.choice(amendable)
            amendable.remove(original)
            books.add(order_id, "amended order (an id already fulfilled, another body)", DEAD)
            later.append(json.dumps(order(original, rng, customer=f"amend:{order_id}")))
            continue
        body = order(order_id, rng)
        soak.expected[order_id] = total(body)  # type: ignore[attr-defined]
        books.add(order_id, "valid", DONE)
        first.append(json.dumps(body))
        amendable.append(order_id)
        fault = rng.random()
        if fault < 0.01:
            soak.faults.plan("transient before the handler", function, order_id, 1, ids_of)
        elif fault < 0.02:
            soak.faults.plan("crash after the write", function, order_id, 1, ids_of)
        elif fault < 0.025:
            soak.faults.plan("timeout after the write (slow dependency)", function, order_id, 1, ids_of)
        elif fault < 0.035:
            soak.faults.plan("throttled", function, order_id, 1, ids_of)
        if rng.random() < 0.04:  # the same order delivered twice: at once (racing for the claim) or later
            books.duplicate(order_id)
            (first if rng.random() < 0.5 else later).append(json.dumps(body))
    rng.shuffle(first)
    for start in range(0, len(first), WAVE):  # producers send while the mapping drains
        send(soak, first[start : start + WAVE])
        drain(soak)
    # Amendments go to orders already fulfilled: an order that itself ended in the DLQ is not amendable.
    fulfilled = fulfilled_orders(soak)
    for body_text in list(later):
        body = json.loads(body_text)
        if body["customer_id"].startswith("amend:") and body["order_id"] not in fulfilled:
            amended = body["customer_id"].removeprefix("amend:")
            del soak.books.inputs[amended]
            later.remove(body_text)
    send(soak, later)
    drain(soak)
    redrive(soak)


def fulfilled_orders(soak: Soak) -> dict[str, dict[str, Any]]:
    table = soak.output(names.ORDERS_TABLE_NAME_OUTPUT)
    items: dict[str, dict[str, Any]] = {}
    for page in soak.stack.client("dynamodb").get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            items[item["order_id"]["S"]] = item
    return items


def input_of(body: Any) -> str:
    body = load_json(body)
    if isinstance(body, str):
        return (found := MALFORMED.match(body)) and found.group(1) or f"unknown body {body[:40]!r}"
    customer = str(body.get("customer_id", ""))
    return customer.removeprefix("amend:") if customer.startswith("amend:") else str(body.get("order_id"))


def take_all(soak: Soak, url: str) -> list[str]:
    """Receive and delete every message on a queue: their bodies as sent."""
    sqs, bodies = soak.stack.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )
    return bodies


def redrive(soak: Soak) -> None:
    """What `make redrive` does once the faults are over: the DLQ's messages back on the queue, then
    drained. A copy of an order already done returns its stored result; a bad one comes back."""
    parked = take_all(soak, soak.output(names.DEAD_LETTER_QUEUE_URL_OUTPUT))
    done_before = set(fulfilled_orders(soak))
    valid = [b for b in parked if soak.books.inputs.get(input_of(b)) and soak.books.inputs[input_of(b)].kind == "valid"]
    send(soak, parked)
    drain(soak)
    if valid:
        already = sum(1 for b in valid if input_of(b) in done_before)
        soak.books.notes.append(
            f"{len(valid)} valid order(s) reached the DLQ with their batch (a function error fails the whole batch; "
            f"injected faults and throttles count as receives, as in SQS): the redrive found {already} already done "
            f"(suppressed by the idempotency record) and did the other {len(valid) - already}."
        )


def balance(soak: Soak) -> None:
    books, table = soak.books, soak.output(names.ORDERS_TABLE_NAME_OUTPUT)
    for order_id, item in fulfilled_orders(soak).items():
        correct = Decimal(item["total"]["N"]) == soak.expected.get(order_id)  # type: ignore[attr-defined]
        books.observe(order_id, DONE if correct else WRONG, effects=soak.writes.count(table, order_id))
    for message in soak.stack.drain(soak.output(names.DEAD_LETTER_QUEUE_URL_OUTPUT)):
        books.observe(input_of(message["body"]), DEAD)
    for message in soak.stack.drain(soak.output(names.QUEUE_URL_OUTPUT)):
        books.observe(input_of(message["body"]), STUCK)
    idempotency = soak.stack.table_name("IdempotencyTable")
    for page in soak.stack.client("dynamodb").get_paginator("scan").paginate(TableName=idempotency):
        books.orphans += [
            f"idempotency claim {i['id']['S']}" for i in page["Items"] if i.get("status", {}).get("S") == "INPROGRESS"
        ]
