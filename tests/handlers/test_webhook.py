"""Webhook handler: Function URL events signed as GitHub and Slack document it, and the async path.

Secrets Manager and DynamoDB are moto; the self-invoke is recorded (the function is not deployed
here), and a test then feeds the recorded payload back to the handler as Lambda would.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import sys
import time
from urllib.parse import urlencode

import pytest
from aws_lambda_powertools.utilities import parameters
from hypothesis import given
from hypothesis import strategies as st

from tests.events import LambdaContext, function_url
from tests.handlers.fuzz import assert_client_safe, fuzz_settings, request_bodies
from webhook import names
from webhook.deliveries import Delivery, summarize

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
    # api.slack.com "Verifying requests from Slack": basestring "v0:" + timestamp + ":" + body, HMAC SHA-256, "v0=" prefix.
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def github_event(body: bytes, *, event: str = "push", delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958", **kwargs) -> dict:
    headers = {"X-Hub-Signature-256": github_signature(body), "X-GitHub-Event": event, "X-GitHub-Delivery": delivery}
    headers.update(kwargs.pop("headers", {}))
    return function_url("POST", "/github", body, headers=headers, **kwargs)


def slack_event(body: bytes, *, timestamp: str | None = None, content_type: str = "application/json", **kwargs) -> dict:
    timestamp = timestamp or str(int(time.time()))
    headers = {"X-Slack-Signature": slack_signature(body, timestamp), "X-Slack-Request-Timestamp": timestamp, "Content-Type": content_type}
    headers.update(kwargs.pop("headers", {}))
    return function_url("POST", "/slack", body, headers=headers, **kwargs)


def test_github_signing_matches_the_docs_example():
    # The example in GitHub's docs: this secret, "Hello, World!", this signature.
    assert github_signature(b"Hello, World!") == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def aws(empty_aws, monkeypatch):
    secrets = empty_aws.client("secretsmanager")
    github_arn = secrets.create_secret(Name="webhook/github", SecretString=GITHUB_SECRET)["ARN"]
    slack_arn = secrets.create_secret(Name="webhook/slack", SecretString=SLACK_SECRET)["ARN"]
    deliveries = empty_aws.table("deliveries", "delivery_id")
    empty_aws.table("idempotency", "id")
    monkeypatch.setenv(names.GITHUB_SECRET_ENV, github_arn)
    monkeypatch.setenv(names.SLACK_SECRET_ENV, slack_arn)
    monkeypatch.setenv(names.DELIVERIES_TABLE_ENV, "deliveries")
    monkeypatch.setenv(names.IDEMPOTENCY_TABLE_ENV, "idempotency")
    monkeypatch.setenv(names.MAX_BODY_BYTES_ENV, "4096")
    parameters.clear_caches()
    yield deliveries
    parameters.clear_caches()


class Invokes(list):
    def invoke(self, **kwargs):
        self.append(kwargs)
        return {"StatusCode": 202}


@pytest.fixture
def handler(aws, monkeypatch):
    """The handler imported fresh (a cold start), its self-invoke recorded."""
    sys.modules.pop("webhook.handler", None)
    module = importlib.import_module("webhook.handler")
    monkeypatch.setattr(module, "lambda_client", Invokes())
    return module


def run_async(handler, invoke: dict, context=None):
    """Deliver a recorded self-invoke as Lambda would: the payload is the event."""
    return handler.main(json.loads(invoke["Payload"]), context or LambdaContext())


def rejected(response: dict, status: int) -> dict:
    body = assert_client_safe(response)
    assert response["statusCode"] == status, response
    return body


# --- GitHub --------------------------------------------------------------------------------------


def test_signed_github_push_is_accepted_and_invokes_itself(handler, context):
    body = json.dumps(PUSH).encode()
    response = handler.main(github_event(body), context)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "accepted", "delivery_id": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    (invoke,) = handler.lambda_client
    assert invoke["FunctionName"] == context.invoked_function_arn
    assert invoke["InvocationType"] == "Event"
    internal = json.loads(invoke["Payload"])
    assert set(internal) == {"webhook_delivery"}
    assert internal["webhook_delivery"]["provider"] == "github"
    assert internal["webhook_delivery"]["event_type"] == "push"


def test_base64_body_is_verified_over_the_decoded_bytes(handler, context):
    body = json.dumps(PUSH, ensure_ascii=False).replace("octocat", "octocät").encode()
    assert handler.main(github_event(body, base64_body=True), context)["statusCode"] == 200


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: {**e, "body": e["body"].replace("octocat", "mallory")},
        lambda e: {**e, "headers": {**e["headers"], "x-hub-signature-256": github_signature(b"{}")}},
        lambda e: {**e, "headers": {**e["headers"], "x-hub-signature-256": github_signature(e["body"].encode(), "wrong secret")}},
        lambda e: {**e, "headers": {k: v for k, v in e["headers"].items() if k != "x-hub-signature-256"}},
        lambda e: {**e, "headers": {**e["headers"], "x-hub-signature-256": ""}},
        lambda e: {**e, "headers": {**e["headers"], "x-hub-signature-256": e["headers"]["x-hub-signature-256"].upper()}},
        lambda e: {**e, "headers": {**e["headers"], "x-hub-signature-256": e["headers"]["x-hub-signature-256"].removeprefix("sha256=")}},
        lambda e: {**e, "headers": {**e["headers"], "x-hub-signature": "sha1=" + "0" * 40, "x-hub-signature-256": "sha1=" + "0" * 40}},
    ],
    ids=["tampered-body", "other-body's-signature", "wrong-secret", "no-header", "empty-header", "upper-case", "no-prefix", "sha1"],
)
def test_github_request_not_signed_with_the_secret_is_a_401_and_nothing_runs(handler, context, tamper):
    body = rejected(handler.main(tamper(github_event(json.dumps(PUSH).encode())), context), 401)
    assert body["error"] == "UNAUTHORIZED"
    assert handler.lambda_client == []


def test_signed_github_delivery_without_a_delivery_id_is_a_400(handler, context):
    event = github_event(json.dumps(PUSH).encode())
    del event["headers"]["x-github-delivery"]
    assert rejected(handler.main(event, context), 400)["error"] == "MALFORMED_BODY"
    assert handler.lambda_client == []


# --- Slack -------------------------------------------------------------------------------------


def test_slack_signing_matches_the_docs_example(handler, context, monkeypatch):
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
    (invoke,) = handler.lambda_client
    delivery = json.loads(invoke["Payload"])["webhook_delivery"]
    assert (delivery["delivery_id"], delivery["event_type"]) == ("398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c", "/webhook-collect")


def test_slack_event_is_accepted(handler, context):
    response = handler.main(slack_event(json.dumps(SLACK_EVENT).encode()), context)
    assert (response["statusCode"], json.loads(response["body"])["delivery_id"]) == (200, "Ev0PV52K21")


def test_slack_interactive_payload_form_is_accepted(handler, context):
    interaction = {"type": "block_actions", "trigger_id": "1337.42.abcd", "channel": {"id": "C1"}, "user": {"id": "U1"}, "actions": [{"action_id": "approve"}]}
    body = urlencode({"payload": json.dumps(interaction)}).encode()
    response = handler.main(slack_event(body, content_type="application/x-www-form-urlencoded"), context)
    assert response["statusCode"] == 200
    delivery = json.loads(handler.lambda_client[0]["Payload"])["webhook_delivery"]
    assert (delivery["delivery_id"], delivery["event_type"], delivery["payload"]["actions"]) == ("1337.42.abcd", "block_actions", [{"action_id": "approve"}])


def test_slack_url_verification_is_answered_with_the_challenge(handler, context):
    body = json.dumps({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).encode()
    response = handler.main(slack_event(body), context)
    assert (response["statusCode"], response["body"]) == (200, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    assert handler.lambda_client == []


def test_unsigned_url_verification_is_a_401(handler, context):
    event = slack_event(json.dumps({"challenge": "c", "type": "url_verification"}).encode())
    event["headers"]["x-slack-signature"] = "v0=" + "0" * 64
    rejected(handler.main(event, context), 401)


@pytest.mark.parametrize("age", [301, 3600, -301, -86400], ids=["just-stale", "an-hour-old", "just-future", "a-day-ahead"])
def test_slack_timestamp_outside_five_minutes_is_a_replay(handler, context, monkeypatch, age):
    now = 1_800_000_000
    monkeypatch.setattr(handler, "clock", lambda: now)
    event = slack_event(json.dumps(SLACK_EVENT).encode(), timestamp=str(now - age))  # correctly signed
    rejected(handler.main(event, context), 401)
    assert handler.lambda_client == []


@pytest.mark.parametrize("age", [0, 299, -299])
def test_slack_timestamp_inside_five_minutes_is_accepted(handler, context, monkeypatch, age):
    now = 1_800_000_000
    monkeypatch.setattr(handler, "clock", lambda: now)
    assert handler.main(slack_event(json.dumps(SLACK_EVENT).encode(), timestamp=str(now - age)), context)["statusCode"] == 200


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
def test_slack_request_with_missing_or_bad_headers_is_a_401(handler, context, change):
    event = slack_event(json.dumps(SLACK_EVENT).encode())
    for key, value in change.items():
        if value is None:
            event["headers"].pop(key)
        else:
            event["headers"][key] = value
    rejected(handler.main(event, context), 401)
    assert handler.lambda_client == []


def test_slack_signature_is_not_accepted_on_the_github_path(handler, context):
    event = slack_event(json.dumps(SLACK_EVENT).encode())
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/github"
    rejected(handler.main(event, context), 401)


# --- any path, size, method ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/stripe", "/github/../slack", "/GITHUB", ""])
def test_unknown_path_is_a_401(handler, context, path):
    event = github_event(json.dumps(PUSH).encode())
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    assert rejected(handler.main(event, context), 401)["error"] == "UNAUTHORIZED"
    assert handler.lambda_client == []


@pytest.mark.parametrize("base64_body", [False, True])
def test_oversized_body_is_a_413_before_any_work(handler, context, monkeypatch, base64_body):
    monkeypatch.setattr(handler, "_secret", lambda provider: pytest.fail("read a secret for an oversized body"))
    body = json.dumps({**PUSH, "pad": "x" * 5000}).encode()
    assert rejected(handler.main(github_event(body, base64_body=base64_body), context), 413)["error"] == "PAYLOAD_TOO_LARGE"


def test_get_is_a_405(handler, context):
    event = github_event(json.dumps(PUSH).encode())
    event["requestContext"]["http"]["method"] = "GET"
    rejected(handler.main(event, context), 405)


def test_signed_body_that_is_not_json_is_a_400(handler, context):
    rejected(handler.main(github_event(b"[1, 2"), context), 400)
    rejected(handler.main(github_event(b"[1, 2]"), context), 400)
    assert handler.lambda_client == []


def test_secret_is_read_once_and_cached(handler, context, monkeypatch):
    calls = []
    real = parameters.get_secret
    monkeypatch.setattr(parameters, "get_secret", lambda name, **kw: calls.append((name, kw)) or real(name, **kw))
    for _ in range(2):
        handler.main(github_event(json.dumps(PUSH).encode()), context)
    assert {kw["max_age"] for _, kw in calls} == {300}
    assert [name for name, _ in calls] == [handler.os.environ[names.GITHUB_SECRET_ENV]] * 2


# --- the asynchronous path ------------------------------------------------------------------------


def test_async_path_records_the_delivery_summary(handler, aws, context):
    handler.main(github_event(json.dumps({**PUSH, "action": None}).encode()), context)
    (invoke,) = handler.lambda_client
    assert run_async(handler, invoke) is None
    item = aws.get_item(Key={"delivery_id": "github#72d3162e-cc78-11e3-81ab-4c9367dc0958"})["Item"]
    assert (item["provider"], item["event_type"], item["repository"], item["sender"], item["item_count"]) == ("github", "push", "octo-org/octo-repo", "octocat", 3)
    assert handler.lambda_client == [invoke], "the async path must never invoke itself"


def test_duplicate_delivery_is_processed_once(handler, aws, context, monkeypatch):
    body = json.dumps(PUSH).encode()
    handler.main(github_event(body), context)
    handler.main(github_event(body), context)  # GitHub redelivers with the same delivery id
    first, second = handler.lambda_client
    runs = []
    real = handler.summarize
    monkeypatch.setattr(handler, "summarize", lambda delivery: runs.append(delivery.delivery_id) or real(delivery))
    run_async(handler, first)
    run_async(handler, second)
    assert runs == ["72d3162e-cc78-11e3-81ab-4c9367dc0958"]
    assert aws.scan()["Count"] == 1


def test_failing_work_raises_so_lambda_retries_then_hands_it_on(handler, aws, context, monkeypatch):
    handler.main(github_event(json.dumps(PUSH).encode()), context)
    (invoke,) = handler.lambda_client

    def broken(delivery):
        raise RuntimeError("downstream unavailable")

    monkeypatch.setattr(handler, "summarize", broken)
    with pytest.raises(RuntimeError, match="downstream unavailable"):
        run_async(handler, invoke)
    assert aws.scan()["Count"] == 0
    monkeypatch.setattr(handler, "summarize", summarize)
    run_async(handler, invoke)  # Lambda's retry of the same event succeeds: the failure was not recorded as done
    assert aws.scan()["Count"] == 1


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"webhook_delivery": {"provider": "github"}, "requestContext": {}},
        {"webhook_delivery": "not a dict"},
        {"body": "{}", "headers": {}},
        {"requestContext": {"http": "not a dict"}, "webhook_delivery": {}},
    ],
)
def test_event_of_no_known_shape_raises_and_is_not_processed(handler, aws, context, event):
    with pytest.raises(ValueError):
        handler.main(event, context)
    assert aws.scan()["Count"] == 0


def test_url_request_carrying_the_internal_key_is_still_an_http_request(handler, aws, context):
    # Whatever a caller puts in a request, a URL event has requestContext.http: it takes the HTTP path.
    event = function_url("POST", "/github", json.dumps({"webhook_delivery": {"provider": "github", "delivery_id": "x", "event_type": "push", "payload": {}}}).encode())
    event["webhook_delivery"] = {"provider": "github", "delivery_id": "x", "event_type": "push", "payload": {}}
    rejected(handler.main(event, context), 401)
    assert aws.scan()["Count"] == 0 and handler.lambda_client == []


def test_summary_of_a_slack_interaction():
    summary = summarize(Delivery(provider="slack", delivery_id="t", event_type="block_actions", payload={"channel": {"id": "C1"}, "user": {"id": "U1"}, "actions": [{"action_id": "approve"}, {}]}))
    assert (summary.channel, summary.sender, summary.action, summary.item_count) == ("C1", "U1", "approve", 2)


@given(payload=st.dictionaries(st.text(max_size=8), st.recursive(st.none() | st.text() | st.integers(), lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3), max_leaves=5)), provider=st.sampled_from(["github", "slack"]))
@fuzz_settings
def test_summary_never_fails_on_an_odd_payload(payload, provider):
    assert summarize(Delivery(provider=provider, delivery_id="d", event_type="e", payload=payload)).provider == provider


# --- properties ----------------------------------------------------------------------------------


@st.composite
def tampered(draw, original: bytes, signature: str, timestamp: str | None = None):
    """The signed request with at least one of body, signature or (when signed) timestamp changed."""
    changes = draw(st.sets(st.sampled_from(["body", "signature"] + (["timestamp"] if timestamp else [])), min_size=1))
    body, sig, ts = original, signature, timestamp
    if "body" in changes:
        body = draw(st.binary(max_size=200).filter(lambda b: b != original) | st.just(original + b" ") | st.just(original[:-1]))
    if "signature" in changes:
        sig = draw(st.text(max_size=80).filter(lambda s: s != signature) | st.integers(0, len(signature) - 1).map(lambda i: signature[:i] + ("0" if signature[i] != "0" else "1") + signature[i + 1 :]))
    if "timestamp" in changes:
        ts = draw(st.integers(-(10**6), 10**6).filter(lambda d: d != 0).map(lambda d: str(int(timestamp) + d)) | st.text(max_size=12).filter(lambda t: t != timestamp))
    return body, sig, ts


NOW = 1_800_000_000


@fuzz_settings
@given(data=st.data())
def test_no_mutation_of_a_signed_slack_request_verifies(handler, data, monkeypatch):
    monkeypatch.setattr(handler, "clock", lambda: NOW)
    original = json.dumps(SLACK_EVENT).encode()
    timestamp = str(NOW - 30)
    body, signature, ts = data.draw(tampered(original, slack_signature(original, timestamp), timestamp))
    event = function_url("POST", "/slack", headers={"x-slack-signature": signature, "x-slack-request-timestamp": ts}, body=body, base64_body=True)
    rejected(handler.main(event, LambdaContext()), 401)
    assert handler.lambda_client == []


@fuzz_settings
@given(data=st.data())
def test_no_mutation_of_a_signed_github_request_verifies(handler, data):
    original = json.dumps(PUSH).encode()
    body, signature, _ = data.draw(tampered(original, github_signature(original)))
    event = function_url("POST", "/github", body, headers={"x-hub-signature-256": signature, "x-github-delivery": "d", "x-github-event": "push"}, base64_body=True)
    rejected(handler.main(event, LambdaContext()), 401)
    assert handler.lambda_client == []


@fuzz_settings
@given(
    path=st.sampled_from(["/github", "/slack", "/", "/other"]),
    method=st.sampled_from(["POST", "GET", "PUT"]),
    body=request_bodies(valid=SLACK_EVENT),
    headers=st.dictionaries(st.sampled_from(["x-hub-signature-256", "x-slack-signature", "x-slack-request-timestamp", "x-github-delivery", "x-github-event"]), st.text(max_size=80)),
)
def test_no_request_makes_the_webhook_fail(handler, path, method, body, headers):
    event = body.apply_to(function_url(method, path, headers=headers), header="content-type")
    assert_client_safe(handler.main(event, LambdaContext()))
    assert handler.lambda_client == []
