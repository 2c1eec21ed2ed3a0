"""Realistic events and a Lambda context for handler tests.

The JSON files are events as AWS delivers them; the builders change only what a test is about.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

EVENTS = Path(__file__).parent


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def api_gateway_rest(method: str, path: str, body: object = None, *, raw_body: str | None = None, base64_body: bool = False) -> dict:
    """An API Gateway REST proxy event for `method path`, as the `v1` stage sends it."""
    event = copy.deepcopy(load("apigw_rest_proxy.json"))
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["path"] = event["resource"] = event["requestContext"]["resourcePath"] = path
    event["requestContext"]["path"] = f"/v1{path}"
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    if text is not None and base64_body:
        text = base64.b64encode(text.encode()).decode()
    event["body"] = text
    event["isBase64Encoded"] = base64_body
    return event


def sqs(*bodies: str) -> dict:
    """An SQS event with one record per body, each with its own message id."""
    (template,) = load("sqs.json")["Records"]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = body
        records.append(record)
    return {"Records": records}


def s3_put(bucket: str, key: str, *, size: int, etag: str) -> dict:
    """An S3 ObjectCreated:Put notification; the key is URL-encoded as S3 sends it."""
    from urllib.parse import quote_plus

    event = copy.deepcopy(load("s3_put.json"))
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = bucket
    record["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    record["object"].update(key=quote_plus(key, safe="/"), size=size, eTag=etag)
    return event


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:test-function"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/22/[$LATEST]0123456789abcdef"
    remaining_ms: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


_sequence = iter(range(100_000_000_000_000_000_000, 10**30))


def dynamodb_stream(table: str, key: str, *new_images: dict, event_name: str = "INSERT") -> dict:
    """A DynamoDB stream event (NEW_IMAGE view) with one record per item, in the order given.

    Items are plain Python as boto3's resource API takes them; they are typed (`{"S": ...}`) here.
    Each record gets its own event id and an increasing sequence number, as one shard's would.
    """
    from boto3.dynamodb.types import TypeSerializer

    serialize = TypeSerializer().serialize
    (template,) = load("dynamodb_stream.json")["Records"]
    records = []
    for image in new_images:
        record = copy.deepcopy(template)
        typed = {name: serialize(value) for name, value in image.items()}
        record["eventID"] = uuid.uuid4().hex
        record["eventName"] = event_name
        record["eventSourceARN"] = template["eventSourceARN"].replace("ExampleTableWithStream", table)
        record["dynamodb"].update(
            Keys={key: typed[key]},
            NewImage=typed,
            SequenceNumber=str(next(_sequence)),
            SizeBytes=len(json.dumps(typed)),
        )
        records.append(record)
    return {"Records": records}
