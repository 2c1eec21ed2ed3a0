"""ExpressWorkflow under load: order checks through the REST API, each a synchronous Express run of
five Lambda tasks (Validate, then Price, Stock and Fraud in parallel, then Assemble).

Inputs: signed `POST /orders/check` requests; about a tenth bad, of each kind the pattern
documents and the layer that refuses it: unsigned (403 MISSING_AUTHENTICATION_TOKEN), not JSON,
a required field missing, a field of the wrong type, more line items than the model allows
(400 BAD_REQUEST_BODY from the request model: no run starts), an unknown currency or a zero
price (400 VALIDATION_FAILED from a run that SUCCEEDED through the Rejected state). Faults, in one
task of a run: a TransientError or a throttle (the task's Retry runs it again: 200), a transient
error that outlasts that retry, a crash after the task's work, a timeout from a slow dependency
(the run fails: 502), and a dependency down for every attempt.

The pattern promises (docs/patterns/4-express-workflow.md): a synchronous Express run is at most
once, "a failed run is not restarted; the caller retries it", every task being pure computation,
safe to run twice. So each caller here retries a 5xx (three attempts in all, the AWS SDKs' standard
mode) and stops at its first 2xx or 4xx. Books: a valid order is done once (the caller's 200 is the
answer worked out here, and exactly one run of it SUCCEEDED with a decision), a bad one is rejected
with its documented status and error (a gateway refusal started no run; a Validate rejection is one
SUCCEEDED run), and an order whose every attempt failed ends with the 502 in the caller's hands
(counted as dead-lettered: the caller holds the failure, the failed-executions alarm fires). No
execution is left RUNNING. Nothing is stored, so a duplicate request has nothing to suppress: it is
checked twice, correctly, as the retries after a failed run are.

Callers: three at once, so that a run's three parallel tasks never exceed the account's 10
concurrent executions (more would add throttles the seed does not choose; Step Functions retries
those too). The machine's retry waits its real backoff (up to 1 s, full jitter) in the local
cloud, which is most of the run's time.

Not modelled by the local cloud: StartSyncExecution refused by Step Functions' own throttling
(503 WORKFLOW_BUSY), a task overrunning its 4 s task timeout (States.Timeout, retried) and the
machine's 28 s timeout (504): moto does not time tasks or runs out, and a real overrun would take
seconds per input. API Gateway's stage throttling and payload limit are not emulated either.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from express_workflow import names
from tests.oracles import order_check
from tests.soak.engine import DEAD, DONE, REJECTED, STUCK, WRONG, Soak, kind_of_input

STACK = "ExpressWorkflow"
VOLUME = 500
CLOUD: dict[str, Any] = {}  # a new account: 10 concurrent executions
CALLERS = 3  # runs at once: three parallel tasks each, under the account's 10
ATTEMPTS = 3  # the AWS SDKs' standard retry mode: a 5xx is tried three times in all
MACHINE_ATTEMPTS = 2  # each task's Retry: the first attempt and one retry
TASKS = ("ValidateFunction", "PriceFunction", "StockFunction", "FraudFunction", "AssembleFunction")
MAX_LINE_ITEMS = 50  # the request model's maxItems
SKUS = ("A-1", "A-1", "B-2", "C-3", "D-4")

# Bad kinds: (share of all inputs, status, error code), in the order they are drawn.
BAD = {
    "unsigned": (0.015, 403, "MISSING_AUTHENTICATION_TOKEN"),
    "not JSON": (0.015, 400, "BAD_REQUEST_BODY"),
    "a required field missing": (0.015, 400, "BAD_REQUEST_BODY"),
    "a field of the wrong type": (0.015, 400, "BAD_REQUEST_BODY"),
    "oversized (more line items than allowed)": (0.01, 400, "BAD_REQUEST_BODY"),
    "unknown currency": (0.015, 400, "VALIDATION_FAILED"),
    "zero price": (0.015, 400, "VALIDATION_FAILED"),
}
REFUSED_AT_THE_GATEWAY = ("MISSING_AUTHENTICATION_TOKEN", "BAD_REQUEST_BODY")


def order(input_id: str, rng: Any) -> dict[str, Any]:
    return {
        "customer_id": input_id,
        "currency": rng.choice(("EUR", "GBP", "USD")),
        "items": [
            {"sku": rng.choice(SKUS), "quantity": rng.randint(1, 8), "unit_price": f"{rng.randint(1, 99999) / 100:.2f}"}
            for _ in range(rng.randint(1, 5))
        ],
    }


def bad_request(kind: str, input_id: str, rng: Any) -> tuple[str, bool]:
    """(body text, signed) of a documented bad input."""
    body = order(input_id, rng)
    if kind == "not JSON":
        return json.dumps(body)[: rng.randint(20, 50)], True
    if kind == "a required field missing":
        del body[rng.choice(("currency", "items"))]
    elif kind == "a field of the wrong type":
        body["items"][0]["quantity"] = str(body["items"][0]["quantity"])
    elif kind == "oversized (more line items than allowed)":
        body["items"] = [body["items"][0]] * (MAX_LINE_ITEMS + 1)
    elif kind == "unknown currency":
        body["currency"] = rng.choice(("JPY", "CHF", "XXX"))
    elif kind == "zero price":
        body["items"][-1]["unit_price"] = "0"  # the model's money pattern allows it; Validate refuses it
    return json.dumps(body), kind != "unsigned"


def ids_of(event: Any) -> Iterable[str]:
    """The order a task's input carries: the API's body (Validate), or {"order": ...} (the others)."""
    if isinstance(event, dict):
        body = event.get("order") if isinstance(event.get("order"), dict) else event
        if isinstance(body.get("customer_id"), str):
            yield body["customer_id"]


def max_fraud_score(soak: Soak) -> int:
    env = soak.stack.properties("AWS::Lambda::Function", "AssembleFunction")["Environment"]["Variables"]
    return int(env[names.MAX_FRAUD_SCORE_ENV])


def drive(soak: Soak) -> None:
    rng, books = soak.rng, soak.books
    url, caller = soak.output(names.ORDER_CHECK_URL_OUTPUT), f"arn:aws:iam::{soak.cloud.account}:user/soak-caller"
    limit = max_fraud_score(soak)
    soak.expected = {}  # type: ignore[attr-defined]  # input -> (status, expected body or error code)
    requests: list[tuple[str, str, bool]] = []
    for n in range(soak.count):
        input_id, kind = f"X{n:05d}", kind_of_input(rng.random(), BAD)
        if kind == "valid":
            body = order(input_id, rng)
            text, signed = json.dumps(body), True
            soak.expected[input_id] = (200, order_check(body, max_fraud_score=limit))  # type: ignore[attr-defined]
        else:
            text, signed = bad_request(kind, input_id, rng)
            soak.expected[input_id] = BAD[kind][1:]  # type: ignore[attr-defined]
        fault, task = rng.random(), soak.stack.function_name(rng.choice(TASKS))
        if kind == "valid" and fault < 0.01:
            books.add(input_id, kind, DEAD)  # a dependency down for every attempt of every run the caller starts
            soak.faults.plan(
                "every attempt fails (dependency down)",
                task,
                input_id,
                MACHINE_ATTEMPTS * ATTEMPTS,
                ids_of,
                error_type="TransientError",
                message="injected: dependency down",
            )
            requests.append((input_id, text, signed))
            continue
        books.add(input_id, kind, DONE if kind == "valid" else REJECTED)
        if kind == "valid":
            plan_fault(soak, task, input_id, fault)
        elif BAD[kind][2] == "VALIDATION_FAILED" and fault < 0.15:  # only Validate runs for a rejected order
            soak.faults.plan(
                "transient error (retried by the machine)",
                soak.stack.function_name("ValidateFunction"),
                input_id,
                1,
                ids_of,
                error_type="TransientError",
                message="injected: transient",
            )
        requests.append((input_id, text, signed))

    soak.answers = soak.post_as_clients(url, requests, caller=caller, attempts=ATTEMPTS, clients=CALLERS)  # type: ignore[attr-defined]


def plan_fault(soak: Soak, task: str, input_id: str, roll: float) -> None:
    """About one valid order in six meets a fault in one of its tasks."""
    if roll < 0.04:
        soak.faults.plan(
            "transient error (retried by the machine)",
            task,
            input_id,
            1,
            ids_of,
            error_type="TransientError",
            message="injected: transient",
        )
    elif roll < 0.07:
        soak.faults.plan("throttled", task, input_id, 1, ids_of)
    elif roll < 0.10:
        soak.faults.plan(
            "transient error outlasting the machine's retry",
            task,
            input_id,
            MACHINE_ATTEMPTS,
            ids_of,
            error_type="TransientError",
            message="injected: still failing",
        )
    elif roll < 0.13:
        soak.faults.plan(
            "crash after the task's work",
            task,
            input_id,
            1,
            ids_of,
            like="crash after the write",
        )
    elif roll < 0.16:
        soak.faults.plan(
            "timed out (slow dependency)",
            task,
            input_id,
            1,
            ids_of,
            like="timeout before the write (slow dependency)",
        )


def runs(soak: Soak) -> dict[str, list[dict[str, Any]]]:
    """Every execution of the machine, by the order it checked: status and output."""
    sfn, arn = soak.stack.client("stepfunctions"), soak.output(names.STATE_MACHINE_ARN_OUTPUT)
    found: dict[str, list[dict[str, Any]]] = {}
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
        for execution in page["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            try:
                input_id = json.loads(described["input"]).get("customer_id", "?")
            except (ValueError, AttributeError):
                input_id = "?"
            found.setdefault(str(input_id), []).append(described)
    return found


def balance(soak: Soak) -> None:
    books = soak.books
    executions = runs(soak)
    retried = 0
    for input_id, answers in soak.answers.items():  # type: ignore[attr-defined]
        status, text = answers[-1]
        retried += len(answers) - 1
        want_status, want = soak.expected[input_id]  # type: ignore[attr-defined]
        mine = executions.pop(input_id, [])
        statuses = Counter(e["status"] for e in mine)
        outputs = [json.loads(e["output"]) for e in mine if e["status"] == "SUCCEEDED"]
        decided = sum(1 for o in outputs if "decision" in o)
        rejected_runs = sum(1 for o in outputs if o.get("outcome") == names.REJECTED_OUTCOME)
        if statuses["RUNNING"]:
            books.observe(input_id, STUCK)
        if status >= 500:
            books.observe(input_id, DEAD if not outputs else WRONG)
        elif status == 200:
            right = json.loads(text) == want and (want_status, rejected_runs) == (200, 0)
            books.observe(input_id, DONE if right else WRONG, effects=decided)
        else:
            error = json.loads(text).get("error")
            # A gateway refusal starts no run; a Validate rejection is one run that SUCCEEDED.
            runs_wanted = 0 if error in REFUSED_AT_THE_GATEWAY else 1
            right = (status, error) == (want_status, want) and (decided, rejected_runs) == (0, runs_wanted)
            books.observe(input_id, REJECTED if right else WRONG, effects=decided)
    for stranger, found in executions.items():
        books.orphans.append(f"{len(found)} execution(s) of an order never sent: {stranger}")
    busy = {name: n for name, n in soak.cloud.concurrency.in_flight.items() if n}
    if busy:
        books.orphans.append(f"invocations still in flight: {busy}")
    books.notes.append(
        f"The callers retried {retried} time(s) after a 5xx (the pattern's page: a failed synchronous run is not "
        "restarted, the caller retries it); an order whose every attempt failed is counted dead-lettered: the caller "
        "holds the 502 and the failed-executions alarm fires."
    )
