"""Webhook: a signed delivery POSTed to the function URL is answered at once, handed to the
function's own queue and processed by the same function from it; a bad signature is a 401."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

from webhook import names

STACK = "Webhook"
DEADLINE = 120
PUSH = {
    "ref": "refs/heads/main",
    "repository": {"full_name": "octo-org/smoke"},
    "sender": {"login": "octocat"},
    "commits": [{"id": "a1"}, {"id": "b2"}],
}


def deliver(target, payload: dict, *, key: bytes | None = None):
    """POST a GitHub delivery: X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256 of the body."""
    if key is None:  # the deployed webhook secret, as GitHub would hold it
        key = (
            target.client("secretsmanager")
            .get_secret_value(SecretId=target.outputs[names.GITHUB_SECRET_ARN_OUTPUT])["SecretString"]
            .encode()
        )
    body = json.dumps(payload).encode()
    delivery = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
    }
    url = target.outputs[names.FUNCTION_URL_OUTPUT].rstrip("/") + "/github"
    return delivery, target.http("POST", url, headers=headers, body=body)


def record(target, delivery: str) -> dict | None:
    table = target.outputs[names.DELIVERIES_TABLE_NAME_OUTPUT]
    item = (
        target.client("dynamodb")
        .get_item(TableName=table, Key={"delivery_id": {"S": f"github#{delivery}"}})
        .get("Item")
    )
    return None if item is None else {k: next(iter(v.values())) for k, v in item.items()}


def test_a_signed_delivery_is_accepted_and_processed(target):
    delivery, response = deliver(target, PUSH)
    assert (response.status, response.json()) == (200, {"status": "accepted", "delivery_id": delivery})
    stored = target.wait_until(
        lambda: record(target, delivery), deadline=DEADLINE, describe=f"delivery {delivery} in the deliveries table"
    )
    assert (stored["repository"], stored["sender"], stored["item_count"]) == ("octo-org/smoke", "octocat", "2")


def test_a_delivery_with_a_bad_signature_is_a_401_and_not_processed(target):
    delivery, response = deliver(target, PUSH, key=b"a guessed secret")
    assert (response.status, response.json()["error"]) == (401, "UNAUTHORIZED")
    assert record(target, delivery) is None
