"""The events AWS delivers to a function, built one way for the local cloud and for handler tests.

The JSON files are events as AWS delivers them; the builders change only what a caller is about.
The REST API emulation (`rest_api.py`) sends `api_gateway_rest` events and the Function URL
emulation (`function_urls.py`) sends `function_url` events, so a handler test and a local
deployment see the same shape. `LambdaContext` is the runtime's context class, for handler tests.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from localcloud.runtime import LambdaContext  # the one context class, shared with the local cloud

__all__ = ["LambdaContext", "api_gateway_rest", "dynamodb_stream", "function_url", "load", "s3_put", "sqs"]

EVENTS = Path(__file__).parent
ACCOUNT = "123456789012"
URL_DOMAIN = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws"  # for a bare path
URL_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/x-www-form-urlencoded",
)
SOURCE_IP = "198.51.100.10"  # TEST-NET-2: a documentation address
USER_AGENT = "localcloud"


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def api_gateway_rest(
    method: str, path: str, body: object = None, *, raw_body: str | None = None, base64_body: bool = False
) -> dict[str, Any]:
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


def sqs(*bodies: str) -> dict[str, Any]:
    """An SQS event with one record per body, each with its own message id."""
    (template,) = load("sqs.json")["Records"]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = body
        records.append(record)
    return {"Records": records}


def s3_put(bucket: str, key: str, *, size: int, etag: str, sequencer: str | None = None) -> dict[str, Any]:
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


def is_text(content_type: str) -> bool:
    """Whether Lambda passes a Function URL body of this content type as text (else base64)."""
    content_type = content_type.lower()
    return content_type.startswith(URL_TEXT_TYPES) or "+json" in content_type or "+xml" in content_type


def function_url(
    method: str,
    url: str,
    body: bytes | str | None = None,
    *,
    headers: dict[str, str] | None = None,
    base64_body: bool | None = None,
    signed_by: str | None = None,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    """The payload format 2.0 event Lambda builds for an HTTP request to a function URL.

    `url` is the whole URL, or only its path: an example JSON request (on an example URL's domain,
    `content-type: application/json` unless `headers` give one). The event holds
    `version`, `routeKey` (`$default`), `rawPath`, `rawQueryString`, `cookies`, lower-cased
    `headers` (repeated values joined by commas), `queryStringParameters`, `requestContext`, `body`
    and `isBase64Encoded`. The body is base64-encoded unless the content type is text (`text/*`,
    JSON, XML, JavaScript, form-encoded) and it decodes as UTF-8; `base64_body` forces either way.
    `signed_by=<principal ARN>` puts that principal in `requestContext.authorizer.iam` (AuthType
    AWS_IAM); unsigned, `requestContext.accountId` is `anonymous`.
    """
    example = "://" not in url
    parts = urlsplit(f"https://{URL_DOMAIN}{url}" if example else url)
    domain = parts.netloc
    given = dict(headers or {})
    if example and not any(key.lower() == "content-type" for key in given):
        given = {"content-type": "application/json", **given}
    lowered: dict[str, str] = {}
    for key, value in given.items():
        key = key.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else str(value)
    lowered.setdefault("host", domain)
    lowered.setdefault("user-agent", USER_AGENT)
    lowered.setdefault("x-forwarded-proto", "https")
    lowered.setdefault("x-forwarded-for", SOURCE_IP)
    cookies = [c.strip() for c in lowered.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = datetime.now(UTC)
    path = parts.path or "/"
    context: dict[str, Any] = {
        "accountId": "anonymous" if signed_by is None else account,
        "apiId": domain.split(".", 1)[0],
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": method.upper(),
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": SOURCE_IP,
            "userAgent": lowered["user-agent"],
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": "$default",
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if signed_by is not None:
        context["authorizer"] = {
            "iam": {
                "accessKey": "AKIALOCALCLOUD",
                "accountId": signed_by.split(":")[4] if signed_by.count(":") >= 5 else account,
                "callerId": "LOCALCLOUDCALLER",
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": signed_by,
                "userId": "LOCALCLOUDCALLER",
            }
        }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if raw:
        text: str | None = None
        if base64_body is False or (base64_body is None and is_text(lowered.get("content-type", ""))):
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                if base64_body is False:
                    raise
        if text is None:
            event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
        else:
            event["body"] = text
    return event


_sequence = iter(range(100_000_000_000_000_000_000, 10**30))


def dynamodb_stream(table: str, key: str, *new_images: dict[str, Any], event_name: str = "INSERT") -> dict[str, Any]:
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
