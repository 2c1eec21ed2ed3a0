"""Probe functions for the emulation tests: each writes what it saw to an evidence queue.

The evidence queue is independent of the emulation under test, so a test can count attempts and
deliveries without trusting the emulation's own bookkeeping.
"""

from __future__ import annotations

import json
import os

import boto3

INSTANCE = object()  # one per execution environment: module state a warm instance keeps


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


def fan_out(event, context):
    """A parent that invokes the child once per item with InvocationType=Event, and returns."""
    lambda_client = boto3.client("lambda")
    for item in event["items"]:
        lambda_client.invoke(
            FunctionName=os.environ["CHILD_FUNCTION_NAME"],
            InvocationType="Event",
            Payload=json.dumps({"item": item, **event.get("child", {})}),
        )
    return {"fanned_out": len(event["items"])}


def child(event, context):
    """Takes `seconds`; with `meet`, waits until every child is running at the same time."""
    import time

    from tests.localcloud import rendezvous

    if event.get("meet"):
        rendezvous.meet()
    time.sleep(event.get("seconds", 0))
    rendezvous.record(function=context.function_name, item=event["item"], instance=id(INSTANCE))
    return {"item": event["item"]}


def read_environment(event, context):
    """Reads COLOUR, meets the other function, writes its own values, meets again, reads again."""
    from tests.localcloud import rendezvous

    first = os.environ["COLOUR"]
    if event.get("meet"):
        rendezvous.meet()
    os.environ["COLOUR"] = f"written-by-{first}"
    os.environ["LEAKED_BY_" + first.upper()] = "yes"
    if event.get("meet"):
        rendezvous.meet()
    return {
        "first": first,
        "after_writes": os.getenv("COLOUR"),
        "leaks_seen": sorted(k for k in os.environ if k.startswith("LEAKED_BY_")),
    }


def rest_echo(event, context):
    """A Powertools REST resolver: meets another invocation inside its route, then answers with the
    body of the request it is handling, as Powertools' `app.current_event` says it is."""
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    from tests.localcloud import rendezvous

    app = APIGatewayRestResolver()

    @app.post("/echo")
    def echo() -> dict:
        rendezvous.meet()  # both invocations have set their event before either reads it
        return {"seen": app.current_event.json_body["caller"]}

    return app.resolve(event, context)


def http(event, context):
    """A Function URL handler: answers by path, records that it was invoked."""
    import base64

    from tests.localcloud import rendezvous

    rendezvous.record(function=context.function_name, path=event["rawPath"])
    path = event["rawPath"]
    if path == "/value":
        return ["any", "json", 1]
    if path == "/dict":
        return {"hello": "world"}
    if path == "/binary":
        return {
            "statusCode": 201,
            "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(b"\x89PNG\r\n").decode(),
            "isBase64Encoded": True,
        }
    if path == "/fail":
        raise RuntimeError("asked to fail")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Probe": "echo"},
        "cookies": ["a=1"],
        "body": json.dumps(event),
    }
