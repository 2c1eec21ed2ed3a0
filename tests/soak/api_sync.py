"""ApiSync under load: quote requests through the REST API (IAM auth, request model, Lambda proxy),
sent by several callers at once.

Inputs: signed `POST /quotes` requests; about a tenth bad, of each kind the pattern documents and
the layer that refuses it: unsigned (403 MISSING_AUTHENTICATION_TOKEN from API Gateway), not JSON,
a required field missing, a field of the wrong type (400 BAD_REQUEST_BODY from the request model),
an unknown country or currency, a zero price (422 VALIDATION_FAILED from the function) and a body
over 64 KiB that the model lets through (413 PAYLOAD_TOO_LARGE from the function). Faults, on any
request that reaches the function: a transient error before the handler, a crash after it priced
the quote, a slow call past the function's timeout (502 from API Gateway), throttling (Lambda
refuses the invoke: API Gateway's 500), and a dependency down for every attempt.

The pattern promises an answer while the caller waits and that "a failed call can simply be
retried by the caller" (docs/patterns/1-api-sync.md): the quote is priced and returned, nothing is stored. So each
caller here retries a 5xx as the AWS SDKs' standard mode does (three attempts in all) and stops
at its first 2xx or 4xx. Books, from what each caller got: a valid quote is done once (one 201,
its total worked out here), a bad one is rejected with its documented status and error code, and
a request whose every attempt failed ends with the 5xx in the caller's hands (counted as
dead-lettered: a synchronous API has no queue, the caller holds the failure and the API's 5xx
alarm fires). Nothing may be written anywhere (the write log stays empty) and no invocation is
left in flight. A duplicate request has nothing to suppress here: nothing is stored, so a quote
asked for twice is priced twice, correctly; the retries after a crash are that case.

Not modelled by the local cloud: API Gateway's own stage throttling (429 before the function),
its payload limit (10 MB) and a real integration timeout (a function here cannot overrun its
10 s; a timeout is injected as Lambda reports one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from api_sync import names
from tests.soak.engine import DEAD, DONE, REJECTED, STUCK, WRONG, Soak, kind_of_input

STACK = "ApiSync"
VOLUME = 2000
CLOUD: dict[str, Any] = {}  # a new account: 10 concurrent executions
FUNCTION = "QuotesFunction"
CALLERS = 8  # requests in flight at once, under the account's 10: only injected throttles refuse
ATTEMPTS = 3  # the AWS SDKs' standard retry mode: a 5xx is tried three times in all
MAX_BODY_BYTES = 64 * 1024  # the function's documented limit (docs/patterns/1-api-sync.md: over 64 KiB is a 413)
# The documented rates (docs/patterns/1-api-sync.md).
TAX = {"DE": "0.19", "FR": "0.20", "GB": "0.20", "IE": "0.23", "NL": "0.21", "US": "0.00"}
SKUS = ("MUG-01", "BOOK-001", "CABLE-2M", "PEN-22")
ID = re.compile(r'"customer_id": "(A\d{5})"')

# Bad kinds: (share of all inputs, status, error code), in the order they are drawn.
BAD = {
    "unsigned": (0.02, 403, "MISSING_AUTHENTICATION_TOKEN"),
    "not JSON": (0.015, 400, "BAD_REQUEST_BODY"),
    "a required field missing": (0.015, 400, "BAD_REQUEST_BODY"),
    "a field of the wrong type": (0.015, 400, "BAD_REQUEST_BODY"),
    "unknown country or currency": (0.015, 422, "VALIDATION_FAILED"),
    "zero price": (0.01, 422, "VALIDATION_FAILED"),
    "oversized (over 64 KiB)": (0.01, 413, "PAYLOAD_TOO_LARGE"),
}


def quote(input_id: str, rng: Any) -> dict[str, Any]:
    return {
        "customer_id": input_id,
        "currency": rng.choice(("EUR", "GBP", "USD")),
        "country": rng.choice(sorted(TAX)),
        "items": [
            {
                "sku": rng.choice(SKUS),
                "quantity": rng.randint(1, 40),
                "unit_price": f"{rng.randint(1, 99999) / 100:.2f}",
            }
            for _ in range(rng.randint(1, 6))
        ],
    }


def total(body: dict[str, Any]) -> str:
    """The quote's total as docs/patterns/1-api-sync.md states the rule: lines, then tax rounded half-up to the cent."""
    subtotal = sum((Decimal(i["unit_price"]) * i["quantity"] for i in body["items"]), Decimal("0.00"))
    tax = (subtotal * Decimal(TAX[body["country"]])).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return str(subtotal + tax)


def bad_request(kind: str, input_id: str, rng: Any) -> tuple[str, bool]:
    """(body text, signed) of a documented bad input."""
    body = quote(input_id, rng)
    if kind == "not JSON":
        return json.dumps(body)[: rng.randint(20, 60)], True  # cut off: its id is still in the text
    if kind == "a required field missing":
        del body[rng.choice(("currency", "country", "items"))]
    elif kind == "a field of the wrong type":
        body["items"][0]["quantity"] = str(body["items"][0]["quantity"])
    elif kind == "unknown country or currency":
        body[rng.choice(("country", "currency"))] = rng.choice(("ZZ", "JPY", "XX"))
    elif kind == "zero price":
        body["items"][-1]["unit_price"] = "0"  # the model's money pattern allows it; the function refuses it
    elif kind == "oversized (over 64 KiB)":
        text = json.dumps(body)  # whitespace the JSON parser skips: the model passes it, the function's limit does not
        return text[:-1] + " " * (MAX_BODY_BYTES + 10 - len(text)) + "}", True
    return json.dumps(body), kind != "unsigned"


def ids_of(event: Any) -> Iterable[str]:
    body = event.get("body") if isinstance(event, dict) else None
    if isinstance(body, str) and (found := ID.search(body[:200])):
        yield found.group(1)


def drive(soak: Soak) -> None:
    rng, books, function = soak.rng, soak.books, soak.stack.function_name(FUNCTION)
    url = soak.output(names.QUOTES_ENDPOINT_OUTPUT)
    caller = f"arn:aws:iam::{soak.cloud.account}:user/soak-caller"
    soak.expected = {}  # type: ignore[attr-defined]  # input -> (status, error code or total)
    soak.before = set(soak.writes.writes)  # type: ignore[attr-defined]  # the deploy's own writes (code assets)
    requests: list[tuple[str, str, bool]] = []
    for n in range(soak.count):
        input_id, kind = f"A{n:05d}", kind_of_input(rng.random(), BAD)
        if kind == "valid":
            body = quote(input_id, rng)
            text, signed = json.dumps(body), True
            soak.expected[input_id] = (201, total(body))  # type: ignore[attr-defined]
        else:
            text, signed = bad_request(kind, input_id, rng)
            soak.expected[input_id] = BAD[kind][1:]  # type: ignore[attr-defined]
        fault = rng.random()
        if kind == "valid" and fault < 0.01:
            books.add(input_id, kind, DEAD)  # the dependency is down for every attempt the caller makes
            soak.faults.plan(
                "every attempt fails (dependency down)",
                function,
                input_id,
                ATTEMPTS,
                ids_of,
                error_type="ServiceUnavailable",
                message="injected: pricing dependency down",
            )
        else:
            books.add(input_id, kind, DONE if kind == "valid" else REJECTED)
            if soak.expected[input_id][0] not in (400, 403):  # type: ignore[attr-defined]  # it reaches the function
                plan_fault(soak, function, input_id, fault)
        requests.append((input_id, text, signed))

    soak.answers = soak.post_as_clients(url, requests, caller=caller, attempts=ATTEMPTS, clients=CALLERS)  # type: ignore[attr-defined]


def plan_fault(soak: Soak, function: str, input_id: str, roll: float) -> None:
    """One fault in about eight requests that reach the function, each fewer times than the caller tries."""
    times = soak.rng.randint(1, ATTEMPTS - 1)
    if roll < 0.03:
        soak.faults.plan("transient before the handler", function, input_id, times, ids_of)
    elif roll < 0.05:
        soak.faults.plan(
            "crash after the quote was priced",
            function,
            input_id,
            times,
            ids_of,
            like="crash after the write",
        )
    elif roll < 0.07:
        soak.faults.plan(
            "timed out (slow dependency)",
            function,
            input_id,
            1,
            ids_of,
            like="timeout after the write (slow dependency)",  # priced, but too late: the caller gets a 502
        )
    elif roll < 0.12:
        soak.faults.plan("throttled", function, input_id, times, ids_of)


def balance(soak: Soak) -> None:
    books = soak.books
    retried = 0
    for input_id, answers in soak.answers.items():  # type: ignore[attr-defined]
        status, text = answers[-1]
        retried += len(answers) - 1
        want_status, want = soak.expected[input_id]  # type: ignore[attr-defined]
        created = sum(1 for s, _ in answers if s == 201)
        if status >= 500:
            books.observe(input_id, DEAD)
        elif status == 201:
            body = json.loads(text)
            right = (want_status, body["total"], body["customer_id"]) == (201, want, input_id)
            books.observe(input_id, DONE if right else WRONG, effects=created)
        else:
            error = json.loads(text).get("error")
            books.observe(input_id, REJECTED if (status, error) == (want_status, want) else WRONG, effects=created)
    # Nothing is stored: any write after the deploy would be a quote kept somewhere, a side effect.
    written = sorted(set(soak.writes.writes) - soak.before)  # type: ignore[attr-defined]
    books.orphans += [f"an unexpected write to {resource}: {key}" for (resource, key) in written]
    busy = {name: n for name, n in soak.cloud.concurrency.in_flight.items() if n}
    if busy:
        books.orphans.append(f"invocations still in flight: {busy}")
    for invocation in soak.cloud.async_invocations:
        for input_id in ids_of(invocation.event):
            books.observe(input_id, STUCK)
    books.notes.append(
        f"The callers retried {retried} time(s) after a 5xx (as docs/patterns/1-api-sync.md says a caller may: "
        "a quote is priced, not stored); a request whose every attempt failed is counted dead-lettered: "
        "the caller holds the 5xx."
    )
