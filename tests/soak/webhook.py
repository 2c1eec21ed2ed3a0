"""Webhook under load: signed GitHub and Slack deliveries POSTed to the function URL by several
senders at once, while the same function's SQS mapping works through the hand-offs.

Inputs: GitHub pushes and Slack events, a few over 1 MiB (handed off through a claim check in
S3); about a tenth bad, of each kind the pattern refuses before anything is queued: unsigned,
signed with the wrong secret, a body changed after signing, a Slack timestamp over five minutes
old (a replay), an unknown path (401 UNAUTHORIZED), a GET (405 METHOD_NOT_ALLOWED), a signed body
that is not JSON, a delivery without its id (400 MALFORMED_BODY) and a body over the URL's 6 MB
(413 PAYLOAD_TOO_LARGE). Faults on the URL path: a transient error before the handler, a crash
after the hand-off (502, the delivery already queued), throttling (429). Faults on the slow path:
a transient error before the handler, a crash or a timeout after the delivery was recorded, a
timeout before it (a slow dependency), a throttled batch (back on the queue), and a delivery whose
every receive fails. Duplicates: the same delivery id sent twice at once (the two hand-offs race
for the idempotency claim) or again later.

A sender sends a delivery again after a 5xx or a 429, with the same delivery id: Slack does on its
own (up to three retries), a GitHub delivery is redelivered from the webhook's Recent Deliveries,
which the URL's 5xx alarm asks for (docs/patterns/8-webhook.md). So a delivery whose hand-off was
queued before its answer failed is queued twice, and the idempotency record must make it one.

Books: a valid delivery is done once (its row in the deliveries table, written once, with the
summary worked out here), or dead-lettered (its hand-off in WebhookDLQ after five failed
receives); a bad one is refused with its documented status and error and leaves nothing queued or
stored. Duplicates suppressed are the hand-offs beyond the first, counted from the messages the
mapping received. The work queue ends empty, no idempotency claim is left in progress and no
claim-check payload is left in the bucket except for a dead-lettered delivery (a redrive needs it).

The mapping runs five pollers (its MaximumConcurrency) beside four senders: nine of the account's
ten slots, so only the seeded throttles refuse. A message that fails is received again once
nothing else is visible and no batch is in flight (the local cloud compresses its 30-minute
visibility timeout to the end of the work beside it): the loser of a claim race meets the claim
settled, as it would 30 minutes later in AWS. Not modelled: Lambda's own 6 MB request limit in front
of the URL (the handler's 413 answers here; in AWS the URL refuses first, also 413), and a
function overrunning its 5-minute timeout (a timeout is injected as Lambda reports one).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.soak.engine import DEAD, DONE, REJECTED, STUCK, WRONG, Soak, kind_of_input
from webhook import names

STACK = "Webhook"
VOLUME = 2000
CLOUD: dict[str, Any] = {}  # a new account: 10 concurrent executions
FUNCTION = "WebhookFunction"
SENDERS = 4  # URL requests at once; the mapping's five pollers take the other slots
POLLERS = 5  # the mapping's MaximumConcurrency
ATTEMPTS = 4  # a delivery is sent again after a 5xx or 429 (Slack: three retries)
RECEIVES = 5  # the work queue's maxReceiveCount
WAVE = 200  # deliveries sent before the next ones (a duplicate "later" goes in a later wave)
HANDOFF_MAX_BYTES = 1024 * 1024  # over this, a hand-off goes by claim check
URL_MAX_BYTES = 6 * 1024 * 1024  # the function URL's request limit (and the handler's)
SLACK_TOLERANCE = 5 * 60
ID = re.compile(r"(W\d{5})")
REPOS = ("octo-org/octo-repo", "octo-org/hello-world", "acme/widgets")
SENDERS_LOGINS = ("octocat", "hubot", "monalisa")

# Bad kinds: (share of all inputs, status, error code), in the order they are drawn.
BAD = {
    "unsigned": (0.015, 401, "UNAUTHORIZED"),
    "signed with the wrong secret": (0.015, 401, "UNAUTHORIZED"),
    "body changed after signing": (0.01, 401, "UNAUTHORIZED"),
    "Slack timestamp over five minutes old (replay)": (0.01, 401, "UNAUTHORIZED"),
    "unknown path": (0.005, 401, "UNAUTHORIZED"),
    "not POST": (0.005, 405, "METHOD_NOT_ALLOWED"),
    "signed, not JSON": (0.015, 400, "MALFORMED_BODY"),
    "no delivery id": (0.015, 400, "MALFORMED_BODY"),
    "oversized (over 6 MB)": (0.005, 413, "PAYLOAD_TOO_LARGE"),
}


class Sender:
    """A provider's side: payloads, signatures and requests, from the deployed secrets."""

    def __init__(self, soak: Soak) -> None:
        secrets = soak.stack.client("secretsmanager")
        self.keys = {
            provider: secrets.get_secret_value(SecretId=soak.output(output))["SecretString"].encode()
            for provider, output in (
                ("github", names.GITHUB_SECRET_ARN_OUTPUT),
                ("slack", names.SLACK_SECRET_ARN_OUTPUT),
            )
        }
        self.url = soak.output(names.FUNCTION_URL_OUTPUT).rstrip("/")
        self.stack = soak.stack

    def github(self, body: bytes, delivery_id: str | None, *, key: bytes | None = None) -> dict[str, str]:
        signature = "sha256=" + hmac.new(key or self.keys["github"], body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-GitHub-Event": "push", "X-Hub-Signature-256": signature}
        return headers | ({"X-GitHub-Delivery": delivery_id} if delivery_id else {})

    def slack(self, body: bytes, *, age: int = 0, retry: int = 0) -> dict[str, str]:
        timestamp = str(int(time.time()) - age)
        base = f"v0:{timestamp}:".encode() + body
        signature = "v0=" + hmac.new(self.keys["slack"], base, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp}
        return headers | {"X-Slack-Signature": signature} | ({"X-Slack-Retry-Num": str(retry)} if retry else {})


def push(input_id: str, rng: Any, *, commits: int | None = None, padding: int = 0) -> dict[str, Any]:
    count = rng.randint(0, 5) if commits is None else commits
    return {
        "ref": "refs/heads/main",
        "repository": {"full_name": rng.choice(REPOS)},
        "sender": {"login": rng.choice(SENDERS_LOGINS)},
        "commits": [{"id": f"{input_id}-{n}", "message": "x" * padding} for n in range(count)],
    }


def slack_event(input_id: str, rng: Any) -> dict[str, Any]:
    return {
        "type": "event_callback",
        "event_id": f"Ev{input_id}",
        "event": {
            "type": "message",
            "channel": f"C{rng.randint(10**6, 10**7)}",
            "user": f"U{rng.randint(10**6, 10**7)}",
        },
    }


def summary(provider: str, payload: dict[str, Any]) -> dict[str, str]:
    """The deliveries table's record, worked out here as `summarize` documents it (values as stored)."""
    if provider == "github":
        return {
            "provider": "github",
            "event_type": "push",
            "repository": payload["repository"]["full_name"],
            "sender": payload["sender"]["login"],
            "item_count": str(len(payload["commits"])),
        }
    return {
        "provider": "slack",
        "event_type": "message",
        "channel": payload["event"]["channel"],
        "sender": payload["event"]["user"],
        "item_count": "0",
    }


def url_ids(event: Any) -> Iterable[str]:
    """The delivery a URL request carries (GitHub's header, Slack's event id in the body)."""
    if isinstance(event, dict) and "requestContext" in event:
        text = (event.get("headers") or {}).get("x-github-delivery") or str(event.get("body") or "")[:200]
        if found := ID.search(text):
            yield found.group(1)


def handoff_ids(event: Any) -> Iterable[str]:
    """The deliveries an SQS batch from the work queue carries."""
    for record in event.get("Records", []) if isinstance(event, dict) and "requestContext" not in event else []:
        if found := ID.search(str(record.get("body", ""))[:300]):
            yield found.group(1)


def drive(soak: Soak) -> None:
    rng, books = soak.rng, soak.books
    sender = Sender(soak)
    function = soak.stack.function_name(FUNCTION)
    soak.expected = {}  # type: ignore[attr-defined]  # input -> (provider, summary) or (status, error code)
    soak.answers = defaultdict(list)  # type: ignore[attr-defined]  # input -> [(status, body)]
    soak.batches = []  # type: ignore[attr-defined]
    soak.claim_checks = 0  # type: ignore[attr-defined]
    first: list[tuple[str, Any]] = []  # (input id, request maker) in sending order
    later: list[tuple[str, Any]] = []
    for n in range(soak.count):
        input_id, kind = f"W{n:05d}", kind_of_input(rng.random(), BAD)
        if kind != "valid":
            books.add(input_id, kind, REJECTED)
            soak.expected[input_id] = BAD[kind][1:]  # type: ignore[attr-defined]
            first.append((input_id, bad_request(sender, kind, input_id, rng)))
            continue
        provider = "slack" if rng.random() < 0.25 else "github"
        large = provider == "github" and rng.random() < 0.006
        payload = (
            push(input_id, rng, commits=rng.randint(1300, 1500), padding=800)
            if large
            else slack_event(input_id, rng)
            if provider == "slack"
            else push(input_id, rng)
        )
        if large:
            assert HANDOFF_MAX_BYTES < len(json.dumps(payload)) < URL_MAX_BYTES
        soak.expected[input_id] = (provider, summary(provider, payload))  # type: ignore[attr-defined]
        request = valid_request(sender, provider, input_id, payload)
        fault = rng.random()
        if fault < 0.01:
            books.add(input_id, "valid", DEAD)  # every receive of its hand-off fails
            soak.faults.plan(
                "slow path: every receive fails",
                function,
                input_id,
                RECEIVES,
                handoff_ids,
                error_type="ServiceUnavailable",
                message="injected: downstream down",
            )
            first.append((input_id, request))
            continue
        books.add(input_id, "valid", DONE)
        soak.claim_checks += large  # type: ignore[attr-defined]
        plan_fault(soak, function, input_id, fault)
        first.append((input_id, request))
        if rng.random() < 0.05:  # the same delivery id again: at once (racing for the claim) or later
            (first if rng.random() < 0.5 else later).append((input_id, request))
    send_and_process(soak, sender, first, later)


def valid_request(sender: Sender, provider: str, input_id: str, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload).encode()

    def make(attempt: int) -> tuple[str, str, dict[str, str], bytes]:
        if provider == "github":
            return "POST", f"{sender.url}/github", sender.github(body, input_id), body
        return "POST", f"{sender.url}/slack", sender.slack(body, retry=attempt), body  # signed when sent

    return make


def bad_request(sender: Sender, kind: str, input_id: str, rng: Any) -> Any:
    payload = push(input_id, rng)
    body = json.dumps(payload).encode()
    github = f"{sender.url}/github"

    def make(attempt: int) -> tuple[str, str, dict[str, str], bytes]:
        if kind == "unsigned":
            headers = sender.github(body, input_id)
            del headers["X-Hub-Signature-256"]
            return "POST", github, headers, body
        if kind == "signed with the wrong secret":
            return "POST", github, sender.github(body, input_id, key=sender.keys["slack"]), body
        if kind == "body changed after signing":
            return "POST", github, sender.github(body, input_id), body.replace(b"refs/heads/main", b"refs/heads/evil")
        if kind == "Slack timestamp over five minutes old (replay)":
            slack = json.dumps(slack_event(input_id, rng)).encode()
            return "POST", f"{sender.url}/slack", sender.slack(slack, age=SLACK_TOLERANCE + 60), slack
        if kind == "unknown path":
            return "POST", f"{sender.url}/gitlab", sender.github(body, input_id), body
        if kind == "not POST":
            return "GET", github, sender.github(body, input_id), body
        if kind == "signed, not JSON":
            text = b"delivery " + input_id.encode() + b": {not json"
            return "POST", github, sender.github(text, input_id), text
        if kind == "no delivery id":
            unnamed = json.dumps(payload | {"about": input_id}).encode()
            return "POST", github, sender.github(unnamed, None), unnamed
        huge = json.dumps(push(input_id, rng, commits=8000, padding=800)).encode()  # over 6 MB
        return "POST", github, sender.github(huge, input_id), huge

    return make


def plan_fault(soak: Soak, function: str, input_id: str, roll: float) -> None:
    """About one valid delivery in five meets a fault on the URL path or the slow path (at most
    two failed receives, so that a lost claim race still fits in the queue's five)."""
    url_faults = {  # the table's name -> how it fails (Faults.KINDS)
        "URL: transient before the handler (502)": "transient before the handler",
        "URL: crash after the hand-off (502, already queued)": "crash after the write",
        "URL: throttled (429)": "throttled",
    }
    slow_faults = {
        "slow path: transient before the handler": "transient before the handler",
        "slow path: crash after the write": "crash after the write",
        "slow path: timeout after the write (slow dependency)": "timeout after the write (slow dependency)",
        "slow path: timeout before the write (slow dependency)": "timeout before the write (slow dependency)",
        "slow path: throttled batch": "throttled",
    }
    if roll < 0.08:
        kind = list(url_faults)[int(roll / 0.08 * len(url_faults))]
        soak.faults.plan(kind, function, input_id, soak.rng.randint(1, 2), url_ids, like=url_faults[kind])
    elif roll < 0.20:
        kind = list(slow_faults)[int((roll - 0.08) / 0.12 * len(slow_faults))]
        soak.faults.plan(kind, function, input_id, 1, handoff_ids, like=slow_faults[kind])


def send_and_process(soak: Soak, sender: Sender, first: list[tuple[str, Any]], later: list[tuple[str, Any]]) -> None:
    """Senders POST wave after wave while the mapping drains the work queue beside them."""
    function = soak.stack.function_name(FUNCTION)
    sending = threading.Event()
    sending.set()

    def send(item: tuple[str, Any]) -> None:
        input_id, make = item
        for attempt in range(ATTEMPTS):
            method, url, headers, body = make(attempt)
            response = sender.stack.request(method, url, headers=headers, body=body)
            soak.answers[input_id].append((response.status, response.text[:500]))  # type: ignore[attr-defined]
            if response.status < 500 and response.status != 429:
                return

    def process() -> None:
        while True:
            still_sending = sending.is_set()
            batches = soak.cloud.drain_sqs(function, max_batches=10**6, pollers=POLLERS)
            soak.batches.extend(batches)  # type: ignore[attr-defined]
            if not still_sending and not batches:
                return
            if not batches:
                time.sleep(0.02)  # the queue is empty for now: poll again, as a mapping's pollers do

    with ThreadPoolExecutor(1) as mapping, ThreadPoolExecutor(SENDERS) as senders:
        draining = mapping.submit(process)
        try:
            for start in range(0, len(first), WAVE):
                list(senders.map(send, first[start : start + WAVE]))
            list(senders.map(send, later))
        finally:
            sending.clear()
        draining.result()


def balance(soak: Soak) -> None:
    books = soak.books
    # The engine counts every throttle as "throttled"; here both paths' are seeded and named: what is
    # left is the account's own (none expected: senders and pollers fit in its ten slots).
    seeded = books.faults["URL: throttled (429)"] + books.faults["slow path: throttled batch"]
    if unseeded := books.faults.pop("throttled", 0) - seeded:
        books.faults["throttled by the account (not seeded)"] = unseeded
    table = soak.output(names.DELIVERIES_TABLE_NAME_OUTPUT)
    dynamodb = soak.stack.client("dynamodb")
    # The hand-offs the mapping received, by delivery: one is the delivery, the rest duplicates.
    handed_off: dict[str, set[str]] = defaultdict(set)
    for batch in soak.batches:  # type: ignore[attr-defined]
        for record in batch.records:
            for input_id in handoff_ids({"Records": [record]}):
                handed_off[input_id].add(record["messageId"])
    for input_id, messages in handed_off.items():
        if len(messages) > 1:
            books.duplicate(input_id, len(messages) - 1)
    # A hand-off reported failed by a batch that did not fail as a whole: its record raised, here only
    # when another receive of the same delivery held the idempotency claim (the loser is received again).
    races = sum(len(b.failed_ids) for b in soak.batches if not b.errored and not b.throttled)  # type: ignore[attr-defined]
    if races:
        books.faults["slow path: lost claim race (a duplicate, received again)"] = races
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            key = item["delivery_id"]["S"]
            provider, _, delivery_id = key.partition("#")
            input_id = delivery_id.removeprefix("Ev")
            stored = {k: next(iter(v.values())) for k, v in item.items()}
            want = soak.expected.get(input_id)  # type: ignore[attr-defined]
            right = want == (provider, {k: stored.get(k) for k in (want[1] if want else {})})
            books.observe(input_id, DONE if right else WRONG, effects=soak.writes.count(table, key))
    dead_payloads = set()
    for message in soak.stack.drain(soak.output(names.DEAD_LETTER_QUEUE_URL_OUTPUT)):
        body = message["body"]
        for input_id in handoff_ids({"Records": [{"body": json.dumps(body)}]}):
            books.observe(input_id, DEAD)
        if isinstance(body, dict) and body.get("payload_key"):
            dead_payloads.add(body["payload_key"])
    for message in soak.stack.drain(soak.output(names.QUEUE_URL_OUTPUT)):
        for input_id in handoff_ids({"Records": [{"body": json.dumps(message["body"])}]}):
            books.observe(input_id, STUCK)
    for input_id, answers in soak.answers.items():  # type: ignore[attr-defined]
        want = soak.expected[input_id]  # type: ignore[attr-defined]
        status, text = answers[-1]
        if isinstance(want[0], int):  # a bad input: refused, nothing queued
            error = json.loads(text).get("error") if text.startswith("{") else None
            refused = (status, error) == want and input_id not in handed_off
            books.observe(input_id, REJECTED if refused else WRONG)
        elif status != 200:
            books.observe(input_id, WRONG)  # a valid delivery the sender never got accepted
    bucket = soak.output(names.PAYLOADS_BUCKET_OUTPUT)
    for page in soak.stack.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="payloads/"):
        books.orphans += [
            f"claim-check payload left behind: {o['Key']}"
            for o in page.get("Contents", [])
            if o["Key"] not in dead_payloads
        ]
    idempotency = soak.stack.table_name("IdempotencyTable")
    for page in dynamodb.get_paginator("scan").paginate(TableName=idempotency):
        books.orphans += [
            f"idempotency claim {i['id']['S']}" for i in page["Items"] if i.get("status", {}).get("S") == "INPROGRESS"
        ]
    resent = sum(len(a) - 1 for a in soak.answers.values())  # type: ignore[attr-defined]
    books.notes.append(
        f"Senders sent {resent} delivery(ies) again after a 5xx or 429, with the same delivery id (Slack retries on "
        f"its own; GitHub's are redelivered from Recent Deliveries). {soak.claim_checks} valid delivery(ies) were "  # type: ignore[attr-defined]
        "over 1 MiB, handed off through a claim check in S3."
    )
