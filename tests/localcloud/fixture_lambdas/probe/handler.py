"""Probe functions for the emulation tests: each writes what it saw to an evidence queue.

The evidence queue is independent of the emulation under test, so a test can count attempts and
deliveries without trusting the emulation's own bookkeeping.
"""

from __future__ import annotations

import json
import os

import boto3


def _evidence(kind: str, payload: object) -> None:
    boto3.client("sqs").send_message(
        QueueUrl=os.environ["EVIDENCE_QUEUE_URL"],
        MessageBody=json.dumps({"function": os.environ["AWS_LAMBDA_FUNCTION_NAME"], "kind": kind, "payload": payload}),
    )


def async_probe(event, context):
    """Fails when the event asks it to; otherwise echoes the event."""
    _evidence("attempt", event)
    if event.get("fail"):
        raise RuntimeError(f"asked to fail: {event.get('id')}")
    return {"ok": True, "id": event.get("id")}


def batch_probe(event, context):
    """Reports records whose body says "poison" as failures; raises when a body says "crash"."""
    failures = []
    for record in event["Records"]:
        body = record.get("body") or json.dumps(record.get("dynamodb", {}).get("NewImage", {}))
        _evidence("record", {"id": record.get("messageId") or record["dynamodb"]["SequenceNumber"], "body": body})
        if "crash" in body:
            raise RuntimeError("batch crashed")
        if "poison" in body:
            failures.append({"itemIdentifier": record.get("messageId") or record["dynamodb"]["SequenceNumber"]})
    return {"batchItemFailures": failures}


def stream_probe(event, context):
    """Raises when any record of the batch is poison (no partial reporting)."""
    ids = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    _evidence("batch", ids)
    if any("poison" in json.dumps(r["dynamodb"].get("NewImage", {})) for r in event["Records"]):
        raise RuntimeError("poison in batch")
    return {}


def slow(event, context):
    """Takes as long as asked, to overrun the function's timeout."""
    import time

    time.sleep(event["seconds"])
    return {"slept": event["seconds"]}


def double(event, context):
    return {"value": event["value"] * 2}


def hand_out_token(event, context):
    """A waitForTaskToken task: publish the token where an approver (the test) can find it."""
    _evidence("token", event)
    return {}
