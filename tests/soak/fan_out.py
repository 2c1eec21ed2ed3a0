"""FanOut under load: batches posted to the signed REST API, each fanned out to one async child
per 100 lines, run by four workers in a new account's concurrency (10).

Inputs: batches of 1 to 800 sales lines; about a tenth bad, of each kind the pattern documents:
refused by API Gateway's request model (a SKU of the wrong form, a price given as a number, no
items: 400 BAD_REQUEST_BODY), an unknown currency (the handler's rule: 422 VALIDATION_FAILED), an
unsigned request (403), and a SKU of the right form with no category (accepted, then its chunk is
rejected on every attempt: the batch ends failed naming the chunk). Faults on the children: a
transient error or a timeout before the handler, a crash or timeout after its chunk is recorded
(the retry finds it recorded), throttling (the event waits in Lambda's queue), a chunk failing
every attempt (retries exhausted: its record in ChunkFailures, the batch failed, the event in
ChunkDLQ), the same chunk event twice at once (the two race to record the chunk and, for the last
chunk, to claim the fan-in), and a transient error of the chunk-failed consumer (the record comes
back). The API function is throttled now and then: API Gateway answers 500 without running it,
and the client sends the batch again.

Books: a batch is done once (status complete, the report equal to one worked out here line by
line, every chunk recorded once and the fan-in written once, from the write log), rejected (the
documented status and error, and no batch recorded), or failed (status failed naming the chunk,
its failure record handled and its event in ChunkDLQ). No batch is left running or aggregating
and every child event ends Success or RetriesExhausted.

Not modelled: a response lost after the batch was recorded (a fault after the API function's
write). POST /batches has no idempotency key, so a client that sent the batch again would start a
second batch; the soak injects no fault there. A child that dies while it holds the fan-in claim
(between its claim and its write) cannot be injected: faults strike before or after a handler.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fan_out import names
from tests.oracles import sales_report
from tests.soak.engine import DEAD, DONE, REJECTED, STUCK, WRONG, Soak, load_json, plain

STACK = "FanOut"
VOLUME = 100
CLOUD: dict[str, Any] = {"async_workers": 4, "throttle_tick": 0.01}
CHILD = "ChildFunction"
CHUNK_FAILED = "ChunkFailedFunction"
API = "ApiFunction"
CHUNK_SIZE = 100  # lambdas/fan_out/sales.py: lines per chunk
RETRIES = 2  # the child's MaximumRetryAttempts: three attempts in all
MAX_LINES = 800
SKUS = ("BOOK-1", "PEN-22", "MUG-3", "TEA-GREEN", "BOOK-ATLAS", "PEN-9")
CLIENT = "arn:aws:iam::{account}:user/soak-client"


def lines(rng: Any, count: int) -> list[dict[str, Any]]:
    return [
        {
            "sku": rng.choice(SKUS),
            "quantity": rng.randint(1, 40),
            "unit_price": f"{rng.randint(1, 500_000) / 100:.2f}",
        }
        for _ in range(count)
    ]


def ids_of(event: Any) -> Iterable[str]:
    """The chunks an event carries, as "<batch id>#<chunk>": a child's event, or an SQS batch of
    the child's failure records (for the chunk-failed consumer)."""
    if not isinstance(event, dict):
        return
    if "batch_id" in event:
        yield f"{event['batch_id']}#{event.get('chunk')}"
    for record in event.get("Records", []):
        payload = (load_json(record.get("body")) or {}).get("requestPayload", {})
        if isinstance(payload, dict) and "batch_id" in payload:
            yield f"{payload['batch_id']}#{payload.get('chunk')}"


def post(soak: Soak, body: Any, *, signed: bool = True) -> Any:
    """POST /batches through the deployed REST API. A 500 is API Gateway's answer when Lambda
    refused the invoke (throttled): the function did not run, so the client sends the batch again.
    (A 502, the function failing, is not retried: the batch may have been recorded.)"""
    url = soak.output(names.BATCHES_ENDPOINT_OUTPUT).rstrip("/") + "/batches"
    signer = CLIENT.format(account=soak.cloud.account) if signed else None
    while (response := soak.stack.request("POST", url, body=body, signed_by=signer)).status == 500:
        assert not response.invoked, "a 500 after the function ran: sending the batch again could run it twice"
    return response


def drive(soak: Soak) -> None:
    rng, books = soak.rng, soak.books
    child = soak.stack.function_name(CHILD)
    api = soak.stack.function_name(API)
    soak.batches = {}  # type: ignore[attr-defined]  # input id -> batch id
    soak.expected = {}  # type: ignore[attr-defined]  # input id -> report
    soak.responses = {}  # type: ignore[attr-defined]  # input id -> (status, body) of a refused request
    twice: list[tuple[str, str]] = []  # (input, chunk id) delivered twice
    with soak.cloud.hold_async():  # the parent queues every chunk; they start when the batches are in
        for n in range(soak.count):
            input_id = f"F{n:04d}"
            soak.sending = input_id  # type: ignore[attr-defined]
            roll = rng.random()
            items = lines(rng, rng.randint(1, MAX_LINES))
            body: Any = {"currency": rng.choice(("EUR", "GBP", "USD")), "items": items}
            signed = True
            if roll < 0.03:
                books.add(input_id, "refused by the request model", REJECTED)
                spoil = rng.choice(("sku", "price", "empty"))
                if spoil == "sku":
                    items[rng.randrange(len(items))]["sku"] = "book-1"
                elif spoil == "price":
                    items[rng.randrange(len(items))]["unit_price"] = 12.5
                else:
                    body["items"] = []
            elif roll < 0.05:
                books.add(input_id, "unknown currency", REJECTED)
                body["currency"] = "XXX"
            elif roll < 0.07:
                books.add(input_id, "unsigned request", REJECTED)
                signed = False
            elif roll < 0.10:
                books.add(input_id, "a SKU with no category", DEAD)
                items[rng.randrange(len(items))]["sku"] = "TOY-9"
            if rng.random() < 0.02 and signed:
                soak.faults.plan("throttled", api, input_id, 1, lambda event: [soak.sending])  # type: ignore[attr-defined]
            response = post(soak, body, signed=signed)
            if input_id not in books.inputs:  # valid
                books.add(input_id, "valid", DONE)
            if response.status != 202:
                soak.responses[input_id] = (response.status, response.json())  # type: ignore[attr-defined]
                continue
            batch_id = response.json()["batch_id"]
            soak.batches[input_id] = batch_id  # type: ignore[attr-defined]
            chunks = -(-len(items) // CHUNK_SIZE)
            if books.inputs[input_id].kind != "valid":
                continue
            soak.expected[input_id] = sales_report(items)  # type: ignore[attr-defined]
            plan_faults(soak, input_id, batch_id, chunks, child, twice)
        # The same chunk event again (Lambda delivers at least once), queued beside the first: they race.
        events = {next(iter(ids_of(i.event)), ""): i.event for i in soak.cloud.async_invocations}
        for input_id, chunk_id in twice:
            books.duplicate(input_id)
            soak.stack.invoke_async(CHILD, events[chunk_id])
    soak.cloud.settle(timeout=600)
    while True:  # the failure records: ChunkFailedFunction marks their batches failed
        batches = soak.cloud.drain_sqs(soak.stack.function_name(CHUNK_FAILED), max_batches=10**6, pollers=2)
        if not any(b.throttled for b in batches):
            break


def plan_faults(
    soak: Soak, input_id: str, batch_id: str, chunks: int, child: str, twice: list[tuple[str, str]]
) -> None:
    rng, faults = soak.rng, soak.faults
    chunk_id = f"{batch_id}#{rng.randrange(chunks)}"
    last = f"{batch_id}#{chunks - 1}"
    fault = rng.random()
    if fault < 0.03:
        soak.books.inputs[input_id].expect = frozenset({DEAD})  # every attempt fails: retries exhausted
        faults.plan(
            "every attempt fails",
            child,
            chunk_id,
            RETRIES + 1,
            ids_of,
            error_type="ServiceUnavailable",
            message="injected: dependency down",
        )
        if rng.random() < 0.5:  # and the consumer of its failure record fails once too
            faults.plan("transient before the handler", soak.stack.function_name(CHUNK_FAILED), chunk_id, 1, ids_of)
        return
    if fault < 0.08:
        faults.plan("transient before the handler", child, chunk_id, 1, ids_of)
    elif fault < 0.14:
        faults.plan("crash after the write", child, rng.choice((chunk_id, last)), 1, ids_of)
    elif fault < 0.17:
        faults.plan("timeout after the write (slow dependency)", child, chunk_id, 1, ids_of)
    elif fault < 0.20:
        faults.plan("timeout before the write (slow dependency)", child, chunk_id, 1, ids_of)
    elif fault < 0.26:
        faults.plan("throttled", child, chunk_id, rng.randint(1, 3), ids_of)
    if rng.random() < 0.10:
        twice.append((input_id, rng.choice((chunk_id, last))))


def balance(soak: Soak) -> None:
    books, dynamodb = soak.books, soak.stack.client("dynamodb")
    table = soak.output(names.BATCHES_TABLE_OUTPUT)
    batches = soak.batches  # type: ignore[attr-defined]
    by_batch = {batch_id: input_id for input_id, batch_id in batches.items()}
    for input_id, (status, body) in soak.responses.items():  # type: ignore[attr-defined]
        kind = books.inputs[input_id].kind
        documented = {
            "refused by the request model": (400, "BAD_REQUEST_BODY"),
            "unknown currency": (422, "VALIDATION_FAILED"),
            "unsigned request": (403, "MISSING_AUTHENTICATION_TOKEN"),
        }.get(kind)
        books.observe(input_id, REJECTED if (status, body.get("error")) == documented else WRONG)
    items: dict[str, dict[str, Any]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            items[item["pk"]["S"]] = item
    failed_chunks = {f"{r['batch_id']}#{r['chunk']}" for r in failure_records(soak)}
    for pk, item in items.items():
        if "#chunk#" in pk:
            continue
        batch_id = item["batch_id"]["S"]
        input_id = by_batch.get(batch_id)
        if input_id is None:
            books.orphans.append(f"batch {batch_id}: recorded but no client was told of it")
            continue
        status = item["status"]["S"]
        total = int(item["chunks_total"]["N"])
        chunk_writes = [soak.writes.count(table, f"batch#{batch_id}#chunk#{c:05d}") for c in range(total)]
        fan_ins = soak.writes.count_updates(table, f"batch#{batch_id}", "#status = :complete")
        if status == "complete":
            report = plain(item["result"])
            correct = (
                report == soak.expected.get(input_id)  # type: ignore[attr-defined]
                and int(item["chunks_done"]["N"]) == total
                and all(chunk_writes)
            )
            books.observe(input_id, DONE if correct else WRONG, effects=max([fan_ins, *chunk_writes]))
        elif status == "failed":
            chunk = int(item["failed_chunk"]["N"])
            handled = f"{batch_id}#{chunk}" in failed_chunks and "RetriesExhausted" in item["error"]["S"]
            books.observe(input_id, DEAD if handled else WRONG, effects=max(chunk_writes, default=0))
        else:
            books.observe(input_id, STUCK)
    for input_id, batch_id in batches.items():
        if f"batch#{batch_id}" not in items:
            books.observe(input_id, STUCK)  # accepted, then gone
    child = soak.stack.function_name(CHILD)
    for invocation in soak.cloud.async_invocations:
        if invocation.function_name == child and invocation.condition not in ("Success", "RetriesExhausted"):
            for chunk_id in ids_of(invocation.event):
                books.observe(by_batch.get(chunk_id.split("#")[0], chunk_id), STUCK)
    for message in soak.stack.drain(soak.stack.queue_url("ChunkFailuresDLQ")):
        books.orphans.append(f"a chunk failure record nobody handled: {str(message['body'])[:80]}")
    for message in soak.stack.drain(soak.output(names.CHUNK_FAILURES_QUEUE_OUTPUT)):
        books.orphans.append(f"a chunk failure record left on the queue: {str(message['body'])[:80]}")


def failure_records(soak: Soak) -> list[dict[str, Any]]:
    """The chunks whose events failed for good: the failed events in ChunkDLQ (the same events whose
    records ChunkFailures had; its consumer has deleted those)."""
    return [load_json(m["body"]) for m in soak.stack.drain(soak.stack.queue_url("ChunkDLQ"))]
