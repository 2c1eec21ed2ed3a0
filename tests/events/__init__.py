"""Realistic events, and the Lambda context (localcloud's), for handler tests.

The JSON files are events as AWS delivers them; the builders change only what a test is about.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from pathlib import Path

from localcloud.runtime import LambdaContext  # the one context class, shared with the local cloud

__all__ = ["LambdaContext", "api_gateway_rest", "dynamodb_stream", "function_url", "load", "s3_put", "sqs"]

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


def s3_put(bucket: str, key: str, *, size: int, etag: str, sequencer: str | None = None) -> dict:
    """An S3 ObjectCreated:Put notification; the key is URL-encoded as S3 sends it. `sequencer`
    (hex, S3's order of the events of one key) is the sample's unless given."""
    from urllib.parse import quote_plus

    event = copy.deepcopy(load("s3_put.json"))
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = bucket
    record["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    record["object"].update(key=quote_plus(key, safe="/"), size=size, eTag=etag)
    if sequencer is not None:
        record["object"]["sequencer"] = sequencer
    return event


def function_url(method: str, path: str, body: bytes | None = None, *, headers: dict[str, str] | None = None, base64_body: bool = False) -> dict:
    """A Lambda Function URL event (payload format 2.0): lower-cased headers, body text or base64."""
    event = copy.deepcopy(load("function_url.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["headers"].update({k.lower(): v for k, v in (headers or {}).items()})
    if body is not None:
        event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    event["isBase64Encoded"] = base64_body
    return event


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
