"""EventInvoke under load: uploads to the bucket, each S3 event an asynchronous invocation run by
four workers.

Inputs: text uploads under the upload prefix; about a tenth bad, of the kinds the pattern rejects
without retry: bytes that are not UTF-8, binary content (NUL bytes), an object deleted before its
event is handled. Faults: a transient error or a timeout before the handler, a crash or timeout
after its result is written (the event is retried), throttling (the event waits in Lambda's
queue), every attempt failing (retries exhausted: on-failure destination and DLQ), and the same
S3 event delivered twice at once (the two race for the idempotency claim).

Books: an upload is done once (`analysis/<key>.json` analyzed, written once, its word count as
counted here), rejected (the result file says why), or failed (its record in the on-failure
queue, the same event in the DLQ). Every async event ends Success or RetriesExhausted, and no
idempotency claim is left in progress.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_plus

from event_invoke import names
from tests.soak.engine import DEAD, DONE, REJECTED, STUCK, WRONG, Soak, load_json

STACK = "EventInvoke"
VOLUME = 1000
CLOUD: dict[str, Any] = {"async_workers": 4, "throttle_tick": 0.01}
FUNCTION = "AnalyzeFunction"
RETRIES = 2  # the stack's MaximumRetryAttempts: three attempts in all
WORDS = ("alpha", "beta", "gamma", "delta", "soak", "queue", "lambda", "event", "é", "日本")


def ids_of(event: Any) -> Iterable[str]:
    for record in event.get("Records", []) if isinstance(event, dict) else []:
        key = record.get("s3", {}).get("object", {}).get("key")
        if key:
            yield unquote_plus(key)


def drive(soak: Soak) -> None:
    rng, books, cloud = soak.rng, soak.books, soak.cloud
    s3, bucket, prefix = (
        soak.stack.client("s3"),
        soak.output(names.BUCKET_NAME_OUTPUT),
        soak.output(names.UPLOAD_PREFIX_OUTPUT),
    )
    function = soak.stack.function_name(FUNCTION)
    soak.words = {}  # type: ignore[attr-defined]
    deleted: list[str] = []
    twice: list[str] = []
    with cloud.hold_async():  # S3 queues every event; they start when the uploads are in
        for n in range(soak.count):
            key = f"{prefix}e{n:05d}.txt"
            roll = rng.random()
            if roll < 0.04:
                books.add(key, "not UTF-8", REJECTED)
                body = b"\xff\xfe caf\xe9 " + bytes([rng.randint(0x80, 0xFF)]) * 3
            elif roll < 0.07:
                books.add(key, "binary (NUL bytes)", REJECTED)
                body = b"text\x00with\x00nul"
            elif roll < 0.10:
                books.add(key, "deleted before it was analyzed", REJECTED)
                body = b"here a moment"
                deleted.append(key)
            else:
                words = [rng.choice(WORDS) for _ in range(rng.randint(1, 40))]
                soak.words[key] = len(words)  # type: ignore[attr-defined]
                body = " ".join(words).encode()
                fault = rng.random()
                if fault < 0.02:
                    books.add(key, "valid", DEAD)  # every attempt fails: retries exhausted
                    soak.faults.plan(
                        "every attempt fails",
                        function,
                        key,
                        RETRIES + 1,
                        ids_of,
                        error_type="ServiceUnavailable",
                        message="injected: dependency down",
                    )
                else:
                    books.add(key, "valid", DONE)
                    if fault < 0.04:
                        soak.faults.plan("transient before the handler", function, key, 1, ids_of)
                    elif fault < 0.06:
                        soak.faults.plan("crash after the write", function, key, 1, ids_of)
                    elif fault < 0.07:
                        soak.faults.plan("timeout after the write (slow dependency)", function, key, 1, ids_of)
                    elif fault < 0.08:
                        soak.faults.plan("timeout before the write (slow dependency)", function, key, 1, ids_of)
                    elif fault < 0.10:
                        soak.faults.plan("throttled", function, key, rng.randint(1, 3), ids_of)
                    if rng.random() < 0.05:
                        twice.append(key)
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        for key in deleted:
            s3.delete_object(Bucket=bucket, Key=key)
        # The same S3 event again (S3 delivers at least once), queued beside the first: they race.
        events = {next(iter(ids_of(i.event)), None): i.event for i in cloud.async_invocations}
        for key in twice:
            books.duplicate(key)
            soak.stack.invoke_async(FUNCTION, events[key])
    cloud.settle(timeout=600)


def balance(soak: Soak) -> None:
    books, s3, bucket = soak.books, soak.stack.client("s3"), soak.output(names.BUCKET_NAME_OUTPUT)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="analysis/"):
        for entry in page.get("Contents", []):
            key = entry["Key"].removeprefix("analysis/").removesuffix(".json")
            result = json.loads(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
            writes = soak.writes.count(bucket, entry["Key"])
            if result["status"] == "analyzed":
                books.observe(key, DONE if result["words"] == soak.words.get(key) else WRONG, effects=writes)  # type: ignore[attr-defined]
            else:
                books.observe(key, REJECTED if result.get("reason") else WRONG, effects=writes)
    failed = [load_json(m["body"]) for m in soak.stack.drain(soak.output(names.FAILURES_QUEUE_URL_OUTPUT))]
    dead = [load_json(m["body"]) for m in soak.stack.drain(soak.output(names.DEAD_LETTER_QUEUE_URL_OUTPUT))]
    for record in failed:
        for key in ids_of(record["requestPayload"]):
            books.observe(key, DEAD)
    # The DLQ holds the same events as the on-failure destination: one failure, two places to see it.
    if sorted(k for e in dead for k in ids_of(e)) != sorted(k for r in failed for k in ids_of(r["requestPayload"])):
        books.orphans.append("the DLQ and the on-failure destination disagree about which events failed")
    for invocation in soak.cloud.async_invocations:
        if invocation.condition not in ("Success", "RetriesExhausted"):
            for key in ids_of(invocation.event):
                books.observe(key, STUCK)
    soak.stack.drain(soak.output(names.RESULTS_QUEUE_URL_OUTPUT))
    idempotency = soak.stack.table_name("IdempotencyTable")
    for page in soak.stack.client("dynamodb").get_paginator("scan").paginate(TableName=idempotency):
        books.orphans += [
            f"idempotency claim {i['id']['S']}" for i in page["Items"] if i.get("status", {}).get("S") == "INPROGRESS"
        ]
