"""Webhook handler: Function URL events signed as GitHub and Slack document it, and the SQS path.

Secrets Manager, SQS, S3 and DynamoDB are moto. The URL path hands a verified delivery to the work
queue; a test then receives the message and feeds it back to the handler as the stack's SQS event
source mapping would.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import os
import sys
import time
from urllib.parse import urlencode

import pytest
from aws_lambda_powertools.utilities import parameters
from hypothesis import given, settings
from hypothesis import strategies as st

from localcloud.events import LambdaContext, function_url, sqs
from tests.handlers.fuzz import any_text, assert_client_safe, assert_runtime_serialisable, fuzz_settings, request_bodies
from webhook import names
from webhook.deliveries import Delivery, summarize
from webhook.signatures import github_problem, slack_problem

GITHUB_SECRET = "It's a Secret to Everybody"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PUSH = {
    "ref": "refs/heads/main",
    "repository": {"full_name": "octo-org/octo-repo"},
    "sender": {"login": "octocat"},
    "commits": [{"id": "a1"}, {"id": "b2"}, {"id": "c3"}],
}
SLACK_EVENT = {
    "type": "event_callback",
    "team_id": "T1DC2JH3J",
    "event_id": "Ev0PV52K21",
    "event": {"type": "message", "channel": "C2147483705", "user": "U2147483697", "text": "hello"},
}


# --- signing, written from the providers' docs --------------------------------------------------


def github_signature(body: bytes, secret: str = GITHUB_SECRET) -> str:
    # docs.github.com "Validating webhook deliveries": HMAC hex digest of the payload, SHA-256, "sha256=" prefix.
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def slack_signature(body: bytes, timestamp: str, secret: str = SLACK_SECRET) -> str:
    # api.slack.com "Verifying requests from Slack": basestring "v0:" + timestamp + ":" + body,
    # HMAC SHA-256, "v0=" prefix.
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def github_event(
    body: bytes, *, event: str = "push", delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958", **kwargs
) -> dict:
    headers = {"X-Hub-Signature-256": github_signature(body), "X-GitHub-Event": event, "X-GitHub-Delivery": delivery}
    headers.update(kwargs.pop("headers", {}))
    return function_url("POST", "/github", body, headers=headers, **kwargs)


def slack_event(body: bytes, *, timestamp: str | None = None, content_type: str = "application/json", **kwargs) -> dict:
    timestamp = timestamp or str(int(time.time()))
    headers = {
        "X-Slack-Signature": slack_signature(body, timestamp),
        "X-Slack-Request-Timestamp": timestamp,
        "Content-Type": content_type,
    }
    headers.update(kwargs.pop("headers", {}))
    return function_url("POST", "/slack", body, headers=headers, **kwargs)


def test_github_signing_matches_the_docs_example():
    # The example in GitHub's docs: this secret, "Hello, World!", this signature.
    assert (
        github_signature(b"Hello, World!") == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


# --- fixtures ----------------------------------------------------------------------------------

MAX_BODY_BYTES = 8192
HANDOFF_MAX_BYTES = 2048  # small, so a claim check needs no megabyte payload
BUCKET = "webhook-payloads"


@pytest.fixture
def aws(empty_aws, monkeypatch):
    secrets = empty_aws.client("secretsmanager")
    github_arn = secrets.create_secret(Name="webhook/github", SecretString=GITHUB_SECRET)["ARN"]
    slack_arn = secrets.create_secret(Name="webhook/slack", SecretString=SLACK_SECRET)["ARN"]
    deliveries = empty_aws.table("deliveries", "delivery_id")
    empty_aws.table("idempotency", "id")
    queue_url = empty_aws.client("sqs").create_queue(QueueName="webhook-work")["QueueUrl"]
    empty_aws.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": os.environ["AWS_DEFAULT_REGION"]}
    )
    monkeypatch.setenv(names.GITHUB_SECRET_ENV, github_arn)
    monkeypatch.setenv(names.SLACK_SECRET_ENV, slack_arn)
    monkeypatch.setenv(names.DELIVERIES_TABLE_ENV, "deliveries")
    monkeypatch.setenv(names.IDEMPOTENCY_TABLE_ENV, "idempotency")
    monkeypatch.setenv(names.MAX_BODY_BYTES_ENV, str(MAX_BODY_BYTES))
    monkeypatch.setenv(names.HANDOFF_MAX_BYTES_ENV, str(HANDOFF_MAX_BYTES))
    monkeypatch.setenv(names.WORK_QUEUE_URL_ENV, queue_url)
    monkeypatch.setenv(names.PAYLOADS_BUCKET_ENV, BUCKET)
    parameters.clear_caches()
    yield deliveries
    parameters.clear_caches()


@pytest.fixture
def handler(aws):
    """The handler imported fresh (a cold start)."""
    sys.modules.pop("webhook.handler", None)
    return importlib.import_module("webhook.handler")


@pytest.fixture
def queue(empty_aws, aws):
    """The work queue: `queue()` receives and deletes every message handed off so far, returning their bodies."""
    client = empty_aws.client("sqs")

    def handed_off() -> list[str]:
        bodies = []
        while messages := client.receive_message(
            QueueUrl=os.environ[names.WORK_QUEUE_URL_ENV], MaxNumberOfMessages=10
        ).get("Messages", []):
            for message in messages:
                bodies.append(message["Body"])
                client.delete_message(
                    QueueUrl=os.environ[names.WORK_QUEUE_URL_ENV], ReceiptHandle=message["ReceiptHandle"]
                )
        return bodies

    return handed_off


@pytest.fixture
def no_hand_off(handler, monkeypatch):
    """For property tests of requests that must all be refused: any hand-off fails the example
    (cheaper than receiving from the queue after each one)."""

    def handed_off(delivery, context):
        pytest.fail(f"handed off {delivery.delivery_id!r}")

    monkeypatch.setattr(handler, "_hand_off", handed_off)


def run_slow(handler, *bodies: str, context=None) -> tuple[dict, dict]:
    """Deliver messages as the SQS event source mapping would; return the event and the response."""
    event = sqs(*bodies)
    return event, handler.main(event, context or LambdaContext())


def failed_ids(response: dict) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def rejected(response: dict, status: int) -> dict:
    body = assert_client_safe(response)
    assert response["statusCode"] == status, response
    return body


# --- GitHub --------------------------------------------------------------------------------------


def test_signed_github_push_is_accepted_and_handed_to_the_work_queue(handler, context, queue):
    body = json.dumps(PUSH).encode()
    response = handler.main(github_event(body), context)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "accepted", "delivery_id": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    (message,) = queue()
    assert json.loads(message) == {
        "provider": "github",
        "delivery_id": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "event_type": "push",
        "payload": PUSH,
    }


def test_base64_body_is_verified_over_the_decoded_bytes(handler, context):
    body = json.dumps(PUSH, ensure_ascii=False).replace("octocat", "octocät").encode()
    assert handler.main(github_event(body, base64_body=True), context)["statusCode"] == 200


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: {**e, "body": e["body"].replace("octocat", "mallory")},
        lambda e: {**e, "headers": {**e["headers"], "x-hub-signature-256": github_signature(b"{}")}},
        lambda e: {
            **e,
            "headers": {**e["headers"], "x-hub-signature-256": github_signature(e["body"].encode(), "wrong secret")},
        },
        lambda e: {**e, "headers": {k: v for k, v in e["headers"].items() if k != "x-hub-signature-256"}},
        lambda e: {**e, "headers": {**e["headers"], "x-hub-signature-256": ""}},
        lambda e: {
            **e,
            "headers": {**e["headers"], "x-hub-signature-256": e["headers"]["x-hub-signature-256"].upper()},
        },
        lambda e: {
            **e,
            "headers": {
                **e["headers"],
                "x-hub-signature-256": e["headers"]["x-hub-signature-256"].removeprefix("sha256="),
            },
        },
        lambda e: {
            **e,
            "headers": {
                **e["headers"],
                "x-hub-signature": "sha1=" + "0" * 40,
                "x-hub-signature-256": "sha1=" + "0" * 40,
            },
        },
    ],
    ids=[
        "tampered-body",
        "other-body's-signature",
        "wrong-secret",
        "no-header",
        "empty-header",
        "upper-case",
        "no-prefix",
        "sha1",
    ],
)
def test_github_request_not_signed_with_the_secret_is_a_401_and_nothing_runs(handler, context, tamper, queue):
    body = rejected(handler.main(tamper(github_event(json.dumps(PUSH).encode())), context), 401)
    assert body["error"] == "UNAUTHORIZED"
    assert queue() == []


def test_signed_github_delivery_without_a_delivery_id_is_a_400(handler, context, queue):
    event = github_event(json.dumps(PUSH).encode())
    del event["headers"]["x-github-delivery"]
    assert rejected(handler.main(event, context), 400)["error"] == "MALFORMED_BODY"
    assert queue() == []


# --- Slack -------------------------------------------------------------------------------------


def test_slack_signing_matches_the_docs_example(handler, context, monkeypatch, queue):
    # The slash command from Slack's docs, signed at 1531420618 with this signing secret.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert slack_signature(body, "1531420618") == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    monkeypatch.setattr(handler, "clock", lambda: 1531420618 + 10)
    event = slack_event(body, timestamp="1531420618", content_type="application/x-www-form-urlencoded")
    assert handler.main(event, context)["statusCode"] == 200
    (message,) = queue()
    delivery = json.loads(message)
    assert (delivery["delivery_id"], delivery["event_type"]) == (
        "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
        "/webhook-collect",
    )


def test_slack_event_is_accepted(handler, context):
    response = handler.main(slack_event(json.dumps(SLACK_EVENT).encode()), context)
    assert (response["statusCode"], json.loads(response["body"])["delivery_id"]) == (200, "Ev0PV52K21")


def test_slack_interactive_payload_form_is_accepted(handler, context, queue):
    interaction = {
        "type": "block_actions",
        "trigger_id": "1337.42.abcd",
        "channel": {"id": "C1"},
        "user": {"id": "U1"},
        "actions": [{"action_id": "approve"}],
    }
    body = urlencode({"payload": json.dumps(interaction)}).encode()
    response = handler.main(slack_event(body, content_type="application/x-www-form-urlencoded"), context)
    assert response["statusCode"] == 200
    (message,) = queue()
    delivery = json.loads(message)
    assert (delivery["delivery_id"], delivery["event_type"], delivery["payload"]["actions"]) == (
        "1337.42.abcd",
        "block_actions",
        [{"action_id": "approve"}],
    )


def test_slack_url_verification_is_answered_with_the_challenge(handler, context, queue):
    body = json.dumps(
        {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}
    ).encode()
    response = handler.main(slack_event(body), context)
    assert (response["statusCode"], response["body"]) == (200, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    assert queue() == []


def test_unsigned_url_verification_is_a_401(handler, context):
    event = slack_event(json.dumps({"challenge": "c", "type": "url_verification"}).encode())
    event["headers"]["x-slack-signature"] = "v0=" + "0" * 64
    rejected(handler.main(event, context), 401)


@pytest.mark.parametrize(
    "age", [301, 3600, -301, -86400], ids=["just-stale", "an-hour-old", "just-future", "a-day-ahead"]
)
def test_slack_timestamp_outside_five_minutes_is_a_replay(handler, context, monkeypatch, age, queue):
    now = 1_800_000_000
    monkeypatch.setattr(handler, "clock", lambda: now)
    event = slack_event(json.dumps(SLACK_EVENT).encode(), timestamp=str(now - age))  # correctly signed
    rejected(handler.main(event, context), 401)
    assert queue() == []


@pytest.mark.parametrize("age", [0, 299, -299])
def test_slack_timestamp_inside_five_minutes_is_accepted(handler, context, monkeypatch, age):
    now = 1_800_000_000
    monkeypatch.setattr(handler, "clock", lambda: now)
    assert (
        handler.main(slack_event(json.dumps(SLACK_EVENT).encode(), timestamp=str(now - age)), context)["statusCode"]
        == 200
    )


@pytest.mark.parametrize(
    "change",
    [
        {"x-slack-signature": None},
        {"x-slack-request-timestamp": None},
        {"x-slack-request-timestamp": "not-a-number"},
        {"x-slack-request-timestamp": "-5"},
        {"x-slack-signature": "v0=" + "a" * 64},
    ],
    ids=["no-signature", "no-timestamp", "timestamp-text", "timestamp-negative", "wrong-signature"],
)
def test_slack_request_with_missing_or_bad_headers_is_a_401(handler, context, change, queue):
    event = slack_event(json.dumps(SLACK_EVENT).encode())
    for key, value in change.items():
        if value is None:
            event["headers"].pop(key)
        else:
            event["headers"][key] = value
    rejected(handler.main(event, context), 401)
    assert queue() == []


def test_slack_signature_is_not_accepted_on_the_github_path(handler, context):
    event = slack_event(json.dumps(SLACK_EVENT).encode())
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/github"
    rejected(handler.main(event, context), 401)


# --- any path, size, method ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/stripe", "/github/../slack", "/GITHUB", ""])
def test_unknown_path_is_a_401(handler, context, path, queue):
    event = github_event(json.dumps(PUSH).encode())
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    assert rejected(handler.main(event, context), 401)["error"] == "UNAUTHORIZED"
    assert queue() == []


@pytest.mark.parametrize("base64_body", [False, True])
def test_oversized_body_is_a_413_before_any_work(handler, context, monkeypatch, base64_body):
    monkeypatch.setattr(handler, "_secret", lambda provider: pytest.fail("read a secret for an oversized body"))
    body = json.dumps({**PUSH, "pad": "x" * MAX_BODY_BYTES}).encode()
    assert (
        rejected(handler.main(github_event(body, base64_body=base64_body), context), 413)["error"]
        == "PAYLOAD_TOO_LARGE"
    )


def test_get_is_a_405(handler, context):
    event = github_event(json.dumps(PUSH).encode())
    event["requestContext"]["http"]["method"] = "GET"
    rejected(handler.main(event, context), 405)


def test_signed_body_that_is_not_json_is_a_400(handler, context, queue):
    rejected(handler.main(github_event(b"[1, 2"), context), 400)
    rejected(handler.main(github_event(b"[1, 2]"), context), 400)
    assert queue() == []


def test_secret_is_read_once_and_cached(handler, context, monkeypatch):
    calls = []
    real = parameters.get_secret
    monkeypatch.setattr(parameters, "get_secret", lambda name, **kw: calls.append((name, kw)) or real(name, **kw))
    for _ in range(2):
        handler.main(github_event(json.dumps(PUSH).encode()), context)
    assert {kw["max_age"] for _, kw in calls} == {300}
    assert [name for name, _ in calls] == [handler.os.environ[names.GITHUB_SECRET_ENV]] * 2


# --- a secret that cannot verify anything ---------------------------------------------------------


def sign_empty(body: bytes, timestamp: str) -> dict[str, str]:
    """Both providers' signature headers computed with an empty key: anyone can make these."""
    return {
        "x-hub-signature-256": "sha256=" + hmac.new(b"", body, hashlib.sha256).hexdigest(),
        "x-slack-signature": "v0=" + hmac.new(b"", f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest(),
        "x-slack-request-timestamp": timestamp,
    }


def test_a_request_signed_with_an_empty_key_never_verifies():
    body, timestamp = json.dumps(SLACK_EVENT).encode(), "1800000000"
    headers = sign_empty(body, timestamp)
    assert github_problem(body, headers, b"") is not None
    assert slack_problem(body, headers, b"", float(timestamp)) is not None
    # The same headers made with a real key do verify: what fails above is the empty key alone.
    real = {
        "x-hub-signature-256": github_signature(body),
        "x-slack-signature": slack_signature(body, timestamp),
        "x-slack-request-timestamp": timestamp,
    }
    assert github_problem(body, real, GITHUB_SECRET.encode()) is None
    assert slack_problem(body, real, SLACK_SECRET.encode(), float(timestamp)) is None


def unavailable(response: dict, error: str = "SECRET_UNAVAILABLE") -> None:
    """A clear 5xx: JSON in the project's error shape, serialisable as Lambda sends it."""
    assert response["statusCode"] == 503, response
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"])["error"] == error
    assert_runtime_serialisable(response)


@pytest.mark.parametrize("provider", ["github", "slack"])
def test_an_empty_secret_fails_closed_even_for_a_request_signed_with_the_empty_key(
    handler, context, monkeypatch, queue, provider
):
    monkeypatch.setattr(handler.aws, "get_secret", lambda name, max_age: "")
    body = json.dumps(SLACK_EVENT).encode()
    event = function_url(
        "POST",
        f"/{provider}",
        body,
        headers={**sign_empty(body, str(int(time.time()))), "x-github-delivery": "d", "x-github-event": "push"},
    )
    unavailable(handler.main(event, context))
    assert queue() == []


@pytest.mark.parametrize("failure", ["deleted", "no-variable", "access-denied"])
def test_a_secret_that_cannot_be_read_fails_closed_with_a_clear_503(
    handler, context, monkeypatch, empty_aws, queue, failure
):
    if failure == "deleted":
        empty_aws.client("secretsmanager").delete_secret(
            SecretId=os.environ[names.GITHUB_SECRET_ENV], ForceDeleteWithoutRecovery=True
        )
    elif failure == "no-variable":
        monkeypatch.delenv(names.GITHUB_SECRET_ENV)
    else:
        from botocore.exceptions import ClientError

        def denied(name, **kwargs):
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "GetSecretValue")

        monkeypatch.setattr(parameters, "get_secret", denied)
    unavailable(handler.main(github_event(json.dumps(PUSH).encode()), context))
    assert queue() == []


# --- the SQS path ----------------------------------------------------------------------------------


def test_sqs_path_records_the_delivery_summary(handler, aws, context, queue):
    handler.main(github_event(json.dumps({**PUSH, "action": None}).encode()), context)
    (message,) = queue()
    _, response = run_slow(handler, message)
    assert response == {"batchItemFailures": []}
    item = aws.get_item(Key={"delivery_id": "github#72d3162e-cc78-11e3-81ab-4c9367dc0958"})["Item"]
    assert (item["provider"], item["event_type"], item["repository"], item["sender"], item["item_count"]) == (
        "github",
        "push",
        "octo-org/octo-repo",
        "octocat",
        3,
    )
    assert queue() == [], "the SQS path never hands anything off again"


def test_duplicate_delivery_is_processed_once(handler, aws, context, monkeypatch, queue):
    body = json.dumps(PUSH).encode()
    handler.main(github_event(body), context)
    handler.main(github_event(body), context)  # GitHub redelivers with the same delivery id
    first, second = queue()
    runs = []
    real = handler.summarize
    monkeypatch.setattr(handler, "summarize", lambda delivery: runs.append(delivery.delivery_id) or real(delivery))
    run_slow(handler, first)
    run_slow(handler, second)
    assert runs == ["72d3162e-cc78-11e3-81ab-4c9367dc0958"]
    assert aws.scan()["Count"] == 1


def test_failing_work_is_a_batch_item_failure_and_its_retry_succeeds(handler, aws, context, monkeypatch, queue):
    handler.main(github_event(json.dumps(PUSH).encode(), delivery="bad"), context)
    handler.main(github_event(json.dumps(PUSH).encode(), delivery="good"), context)
    bad, good = queue()
    real = handler.summarize

    def broken(delivery):
        if delivery.delivery_id == "bad":
            raise RuntimeError("downstream unavailable")
        return real(delivery)

    monkeypatch.setattr(handler, "summarize", broken)
    event, response = run_slow(handler, bad, good)
    # Only the failed message is reported: SQS receives it again, and after maxReceiveCount moves it to the DLQ.
    assert failed_ids(response) == [event["Records"][0]["messageId"]]
    assert [i["delivery_id"] for i in aws.scan()["Items"]] == ["github#good"]
    monkeypatch.setattr(handler, "summarize", real)
    _, response = run_slow(handler, bad)  # the next receive succeeds: the failure was not recorded as done
    assert response == {"batchItemFailures": []} and aws.scan()["Count"] == 2


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        json.dumps({"provider": "github", "delivery_id": "x", "event_type": "push"}),  # no payload nor claim check
        json.dumps(
            {
                "provider": "github",
                "delivery_id": "x",
                "event_type": "push",
                "payload": {},
                "payload_key": "payloads/github/k.json",
            }
        ),
        json.dumps({"provider": "github", "delivery_id": "x", "event_type": "push", "payload_key": "elsewhere/k.json"}),
        json.dumps(
            {"provider": "github", "delivery_id": "x", "event_type": "push", "payload_key": "payloads/github/gone.json"}
        ),
    ],
    ids=["not-json", "not-an-object", "no-payload", "both", "key-outside-the-prefix", "claim-check-gone"],
)
def test_a_message_that_is_not_a_hand_off_fails_alone_and_is_not_dropped(handler, aws, context, queue, body):
    handler.main(github_event(json.dumps(PUSH).encode()), context)
    (good,) = queue()
    event, response = run_slow(handler, body, good)
    assert failed_ids(response) == [event["Records"][0]["messageId"]]  # kept on the queue, then the DLQ
    assert aws.scan()["Count"] == 1


def test_a_batch_in_which_every_message_fails_reports_each_without_raising(handler, context):
    event, response = run_slow(handler, "{", "[]")
    assert failed_ids(response) == [r["messageId"] for r in event["Records"]]


# --- payloads too large for a message: the claim check ----------------------------------------------


def test_a_payload_too_large_for_a_message_goes_through_s3(handler, aws, context, empty_aws, queue):
    commits = [{"id": f"{i:040x}"} for i in range(60)]
    payload = {**PUSH, "commits": commits}
    body = json.dumps(payload).encode()
    assert HANDOFF_MAX_BYTES < len(body) <= MAX_BODY_BYTES
    assert handler.main(github_event(body), context)["statusCode"] == 200
    (message,) = queue()
    handoff = json.loads(message)
    assert "payload" not in handoff and len(message) <= HANDOFF_MAX_BYTES
    assert handoff["payload_key"] == f"{names.PAYLOADS_PREFIX}github/{context.aws_request_id}.json"
    stored = empty_aws.client("s3").get_object(Bucket=BUCKET, Key=handoff["payload_key"])["Body"].read()
    assert json.loads(stored) == payload
    _, response = run_slow(handler, message)
    assert response == {"batchItemFailures": []}
    item = aws.get_item(Key={"delivery_id": "github#72d3162e-cc78-11e3-81ab-4c9367dc0958"})["Item"]
    assert item["item_count"] == 60
    # Processed: its payload is deleted, and the same message again is answered from the
    # idempotency record without reading it.
    assert empty_aws.client("s3").list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    _, again = run_slow(handler, message)
    assert again == {"batchItemFailures": []}


def test_a_claim_checks_payload_stays_while_its_delivery_keeps_failing(
    handler, aws, context, empty_aws, queue, monkeypatch
):
    body = json.dumps({**PUSH, "commits": [{"id": f"{i:040x}"} for i in range(60)]}).encode()
    assert handler.main(github_event(body), context)["statusCode"] == 200
    (message,) = queue()
    monkeypatch.setattr(handler, "summarize", lambda delivery: (_ for _ in ()).throw(RuntimeError("work failed")))
    _, response = run_slow(handler, message)
    assert len(response["batchItemFailures"]) == 1
    assert empty_aws.client("s3").list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1  # there for the retry or a redrive


@pytest.mark.parametrize("failing", ["send_message", "put_object"])
def test_a_hand_off_that_fails_is_a_clear_503_not_an_unhandled_error(handler, context, monkeypatch, failing):
    from botocore.exceptions import ClientError

    def refuse(**_):
        raise ClientError({"Error": {"Code": "InternalError", "Message": "try again"}}, failing)

    client = handler.sqs if failing == "send_message" else handler.s3
    monkeypatch.setattr(client, failing, refuse)
    commits = 60 if failing == "put_object" else 1  # a claim check needs a payload over the message limit
    body = json.dumps({**PUSH, "commits": [{"id": f"{i:040x}"} for i in range(commits)]}).encode()
    unavailable(handler.main(github_event(body), context), "HANDOFF_FAILED")


def test_a_payload_that_fits_a_message_does_not_touch_s3(handler, context, empty_aws, queue):
    assert handler.main(github_event(json.dumps(PUSH).encode()), context)["statusCode"] == 200
    assert "payload" in json.loads(queue()[0])
    assert empty_aws.client("s3").list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


# --- which path an event takes --------------------------------------------------------------------


SQS_RECORD = sqs("{}")["Records"][0]


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": []},
        {"Records": [{**SQS_RECORD, "eventSource": "aws:s3"}]},
        {"Records": [SQS_RECORD, "not a record"]},
        {"Records": [SQS_RECORD], "requestContext": {}},
        {"body": "{}", "headers": {}},
        {"requestContext": {"http": "not a dict"}, "Records": [SQS_RECORD]},
        [SQS_RECORD],
    ],
    ids=[
        "empty",
        "no-records",
        "s3-records",
        "a-non-record",
        "sqs-with-request-context",
        "body-only",
        "http-not-a-dict",
        "a-list",
    ],
)
def test_event_of_no_known_shape_raises_and_is_not_processed(handler, aws, context, event):
    with pytest.raises(ValueError):
        handler.main(event, context)
    assert aws.scan()["Count"] == 0


def test_url_request_carrying_sqs_records_is_still_an_http_request(handler, aws, context, queue):
    # Whatever a caller puts in a request, a URL event has requestContext.http: it takes the HTTP path.
    handoff = {"provider": "github", "delivery_id": "x", "event_type": "push", "payload": {}}
    event = function_url("POST", "/github", json.dumps(sqs(json.dumps(handoff))).encode())
    event["Records"] = sqs(json.dumps(handoff))["Records"]
    rejected(handler.main(event, context), 401)
    assert aws.scan()["Count"] == 0 and queue() == []


def test_summary_of_a_slack_interaction():
    summary = summarize(
        Delivery(
            provider="slack",
            delivery_id="t",
            event_type="block_actions",
            payload={"channel": {"id": "C1"}, "user": {"id": "U1"}, "actions": [{"action_id": "approve"}, {}]},
        )
    )
    assert (summary.channel, summary.sender, summary.action, summary.item_count) == ("C1", "U1", "approve", 2)


# Any code point a JSON escape can spell, lone surrogates included ("\ud800" parses to one): the
# shared `any_text`, short, in every field a delivery's handling reads.
short_text = any_text(min_size=1, max_size=12)
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | short_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(short_text, children, max_size=3),
    max_leaves=8,
)


# --- properties ----------------------------------------------------------------------------------


@st.composite
def tampered(draw, original: bytes, signature: str, timestamp: str | None = None):
    """The signed request with at least one of body, signature or (when signed) timestamp changed."""
    changes = draw(st.sets(st.sampled_from(["body", "signature"] + (["timestamp"] if timestamp else [])), min_size=1))
    body, sig, ts = original, signature, timestamp
    if "body" in changes:
        body = draw(
            st.binary(max_size=200).filter(lambda b: b != original) | st.just(original + b" ") | st.just(original[:-1])
        )
    if "signature" in changes:
        sig = draw(
            st.text(max_size=80).filter(lambda s: s != signature)
            | st.integers(0, len(signature) - 1).map(
                lambda i: signature[:i] + ("0" if signature[i] != "0" else "1") + signature[i + 1 :]
            )
        )
    if "timestamp" in changes:
        ts = draw(
            st.integers(-(10**6), 10**6).filter(lambda d: d != 0).map(lambda d: str(int(timestamp) + d))
            | st.text(max_size=12).filter(lambda t: t != timestamp)
        )
    return body, sig, ts


NOW = 1_800_000_000


@fuzz_settings
@given(data=st.data())
def test_no_mutation_of_a_signed_slack_request_verifies(handler, data, monkeypatch, no_hand_off):
    monkeypatch.setattr(handler, "clock", lambda: NOW)
    original = json.dumps(SLACK_EVENT).encode()
    timestamp = str(NOW - 30)
    body, signature, ts = data.draw(tampered(original, slack_signature(original, timestamp), timestamp))
    event = function_url(
        "POST",
        "/slack",
        headers={"x-slack-signature": signature, "x-slack-request-timestamp": ts},
        body=body,
        base64_body=True,
    )
    rejected(handler.main(event, LambdaContext()), 401)


@fuzz_settings
@given(data=st.data())
def test_no_mutation_of_a_signed_github_request_verifies(handler, data, no_hand_off):
    original = json.dumps(PUSH).encode()
    body, signature, _ = data.draw(tampered(original, github_signature(original)))
    event = function_url(
        "POST",
        "/github",
        body,
        headers={"x-hub-signature-256": signature, "x-github-delivery": "d", "x-github-event": "push"},
        base64_body=True,
    )
    rejected(handler.main(event, LambdaContext()), 401)


@fuzz_settings
@given(
    path=st.sampled_from(["/github", "/slack", "/", "/other"]),
    method=st.sampled_from(["POST", "GET", "PUT"]),
    body=request_bodies(valid=SLACK_EVENT),
    headers=st.dictionaries(
        st.sampled_from(
            [
                "x-hub-signature-256",
                "x-slack-signature",
                "x-slack-request-timestamp",
                "x-github-delivery",
                "x-github-event",
            ]
        ),
        any_text(max_size=80),  # any code point, lone surrogates included
    ),
)
def test_no_request_makes_the_webhook_fail(handler, path, method, body, headers, no_hand_off):
    event = body.apply_to(function_url(method, path, headers=headers), header="content-type")
    assert_client_safe(handler.main(event, LambdaContext()))  # a 2xx or 4xx, and sendable as UTF-8 JSON


# --- the whole of what JSON can carry ------------------------------------------------------------


@st.composite
def signed_deliveries(draw) -> dict:
    """A correctly signed request whose JSON strings, ids and (GitHub) headers may hold any code point."""
    kind = draw(st.sampled_from(["github", "url_verification", "event_callback", "block_actions"]))
    if kind == "github":
        document = {
            **PUSH,
            "action": draw(short_text),
            "repository": {"full_name": draw(short_text)},
            "sender": {"login": draw(any_json)},
            "extra": draw(any_json),
        }
        return github_event(json.dumps(document).encode(), event=draw(short_text), delivery=draw(short_text))
    if kind == "url_verification":
        document = {"type": kind, "token": draw(short_text), "challenge": draw(short_text)}
    elif kind == "event_callback":
        event = {
            "type": draw(short_text),
            "channel": draw(short_text),
            "user": draw(short_text),
            "subtype": draw(any_json),
        }
        document = {"type": kind, "event_id": draw(short_text), "event": event, "extra": draw(any_json)}
    else:
        actions = draw(st.lists(st.fixed_dictionaries({"action_id": short_text}), max_size=2))
        document = {
            "type": kind,
            "trigger_id": draw(short_text),
            "channel": {"id": draw(short_text)},
            "user": {"id": draw(any_json)},
            "actions": actions,
        }
    # json.dumps writes ASCII: every other code point as a \uXXXX escape, as a sender may.
    return slack_event(json.dumps(document).encode(), timestamp=str(NOW - 1))


def utf8_storable(value: object) -> None:
    """What DynamoDB stores is UTF-8: every string in `value` must encode (moto does not check)."""
    json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")


@fuzz_settings
@given(event=signed_deliveries())
def test_any_code_point_in_a_signed_delivery_gets_a_serialisable_answer_and_a_storable_hand_off(
    handler, monkeypatch, event
):
    monkeypatch.setattr(handler, "clock", lambda: NOW)
    handed = []
    monkeypatch.setattr(handler, "_hand_off", lambda delivery, context: handed.append(delivery))
    response = handler.main(event, LambdaContext())
    assert_runtime_serialisable(response)
    if response["headers"]["Content-Type"] == "text/plain":  # Slack's url_verification, answered with the challenge
        assert response["statusCode"] == 200
    else:
        assert_client_safe(response)
    for delivery in handed:  # its ids become table keys
        utf8_storable([delivery.provider, delivery.delivery_id, delivery.event_type])


# Every field a summary reads, for either provider, each any JSON value.
summarized_payloads = st.fixed_dictionaries(
    {},
    optional={
        "action": any_json,
        "repository": st.fixed_dictionaries({"full_name": any_json}),
        "sender": st.fixed_dictionaries({"login": any_json}),
        "commits": any_json,
        "event": st.fixed_dictionaries({}, optional={"subtype": any_json, "channel": any_json, "user": any_json}),
        "actions": st.lists(st.fixed_dictionaries({"action_id": any_json}), max_size=2),
        "channel": st.fixed_dictionaries({"id": any_json}),
        "user": st.fixed_dictionaries({"id": any_json}),
    },
)


@settings(fuzz_settings, max_examples=100)
@given(payload=summarized_payloads, provider=st.sampled_from(["github", "slack"]))
def test_the_summary_of_any_payload_never_fails_and_is_storable(payload, provider):
    summary = summarize(Delivery(provider=provider, delivery_id="d", event_type="e", payload=payload))
    assert summary.provider == provider
    utf8_storable(summary.model_dump())


def test_a_delivery_holding_lone_surrogates_is_accepted_processed_and_stored(handler, aws, context, queue):
    # One example end to end through moto: escapes that parse to lone surrogates in every summarized field.
    payload = {**PUSH, "action": "\udc00x", "repository": {"full_name": "octo/\ud800"}, "sender": {"login": "\udfff"}}
    response = handler.main(github_event(json.dumps(payload).encode(), delivery="d-1"), context)
    assert response["statusCode"] == 200
    assert_runtime_serialisable(response)
    (message,) = queue()
    _, outcome = run_slow(handler, message)
    assert outcome == {"batchItemFailures": []}
    item = aws.get_item(Key={"delivery_id": "github#d-1"})["Item"]
    utf8_storable(item)
    assert (item["repository"], item["sender"], item["action"]) == ("octo/?", "?", "?x")
