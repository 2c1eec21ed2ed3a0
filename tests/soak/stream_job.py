"""StreamJob under load: loan report jobs posted to the signed REST API, run from the jobs table's
stream by its mapping (batches of 5, partial batch failures, bisect, 3 retries, failure records).

Inputs: jobs submitted in waves while the mapping drains; about a tenth bad, of each kind the
pattern documents: refused by API Gateway's request model (a field missing, a principal given as a
number, a rate with four decimals: 400 BAD_REQUEST_BODY), refused by the handler's checks (an
unknown currency, a rate over 100: 422 VALIDATION_FAILED), an unsigned request (403), and input
the work cannot handle (a payment that never repays the loan, or takes over 600 months: accepted,
then the job ends failed with the error). Faults on the processor: a transient error or a timeout
before the handler (the batch is read again), a crash or timeout after its writes (the retry skips
the jobs it finished), throttled batches (the shard waits), every attempt failing for a job (the
mapping bisects its batch, retries the record alone, then sends the batch's pointer to
ProcessorFailures, whose consumer fails the job with the reason; that consumer fails once now and
then too), and a run that died holding a job (its claim expired: the retry takes the job over).
The API function is throttled now and then: API Gateway answers 500 without running it, and the
client sends the job again.
Duplicates: a delivered batch handed to the processor again later (Lambda delivers at least
once), and once per run the mapping replaced mid-way, so it reads the whole stream again from
TRIM_HORIZON.

Books: a valid job is done once (complete, its report equal to one worked out here in whole cents,
the write that completes it made once, from the write log), a bad request is rejected (the
documented status and error, and no job recorded), a job the work cannot handle or that every
attempt failed for is failed with its reason (written once). No job is left pending or processing,
ProcessorFailures ends empty and its DLQ holds nothing.

Not modelled: two deliveries of one record at the same moment (a shard's records go to one batch
at a time, so AWS redelivers a record only after its batch ended), and a run that died less than
its timeout ago (its claim still live): the local cloud runs retries and the failure consumer's
next receive at once, not after the backoff and the visibility timeout that let that claim
expire, so the record would reach the DLQ in milliseconds. The record age limit is not kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import boto3

from stream_job import jobs, names
from tests.oracles import loan_schedule
from tests.soak.engine import DEAD, DONE, REJECTED, STUCK, WRONG, Soak, plain

STACK = "StreamJob"
VOLUME = 500
CLOUD: dict[str, Any] = {"async_workers": 1}
PROCESSOR = "ProcessorFunction"
FAILED_JOBS = "FailedJobsFunction"
API = "ApiFunction"
WAVE = 50  # jobs submitted before the mapping drains
CLIENT = "arn:aws:iam::{account}:user/soak-client"
REFUSED = {
    "refused by the request model": (400, "BAD_REQUEST_BODY"),
    "refused by the handler's checks": (422, "VALIDATION_FAILED"),
    "unsigned request": (403, "MISSING_AUTHENTICATION_TOKEN"),
}


def loan(rng: Any) -> dict[str, str]:
    """A loan repaid in 1 to about 15 years."""
    principal = Decimal(rng.randint(1_000, 60_000))
    rate = Decimal(rng.randint(0, 15_000)) / 1000
    months = rng.randint(6, 180)
    monthly = principal / months + principal * rate / 1200
    return {
        "currency": rng.choice(("EUR", "GBP", "USD")),
        "principal": f"{principal}.{rng.randint(0, 99):02d}",
        "annual_rate_percent": f"{rate.normalize():f}",
        "monthly_payment": f"{monthly.quantize(Decimal('0.01')) + 1}",
    }


def hopeless(rng: Any, body: dict[str, str]) -> None:
    """A payment that never repays (no more than the first month's interest), or only after 600 months."""
    rate = Decimal(rng.randint(6, 15))
    body["annual_rate_percent"] = str(rate)
    interest = (Decimal(body["principal"]) * rate / 1200).quantize(Decimal("0.01"))
    body["monthly_payment"] = str(interest if rng.random() < 0.5 else interest + Decimal("0.01"))


def ids_of(event: Any) -> Iterable[str]:
    """The jobs a stream batch carries (their INSERT images)."""
    for record in event.get("Records", []) if isinstance(event, dict) else []:
        job_id = record.get("dynamodb", {}).get("NewImage", {}).get("job_id", {}).get("S")
        if job_id:
            yield job_id


def first_delivery(soak: Soak) -> Any:
    """ids_of for the failed-jobs consumer: "a failure record" for a batch of messages none of which
    was received before, so a planned fault fails a failure record once, never its redelivery."""
    seen: set[str] = soak.__dict__.setdefault("failure_messages_seen", set())

    def ids_of(event: Any) -> Iterable[str]:
        ids = [r.get("messageId") for r in event.get("Records", [])] if isinstance(event, dict) else []
        fresh = bool(ids) and not seen.intersection(ids)
        seen.update(ids)
        return ["a failure record"] if fresh else []

    return ids_of


def post(soak: Soak, body: Any, *, signed: bool = True) -> Any:
    """POST /jobs through the deployed REST API. A 500 is API Gateway's answer when Lambda refused
    the invoke (throttled): the function did not run, so the client sends the job again. (A 502,
    the function failing, is not retried: the job may have been recorded.)"""
    signer = CLIENT.format(account=soak.cloud.account) if signed else None
    url = soak.output(names.JOBS_ENDPOINT_OUTPUT)
    while (response := soak.stack.request("POST", url, body=body, signed_by=signer)).status == 500:
        assert not response.invoked, "a 500 after the function ran: sending the job again could run it twice"
    return response


def drain(soak: Soak) -> list[Any]:
    """Run the mapping until it has read the stream to its end (a throttled batch ends a drain)."""
    delivered = []
    while True:
        batches = soak.stack.drain_stream(PROCESSOR)
        delivered += [b for b in batches if not b.throttled]
        if not any(b.throttled for b in batches):
            return delivered


def drain_failures(soak: Soak) -> None:
    """Run the failed-jobs handler on ProcessorFailures until it is empty."""
    function = soak.stack.function_name(FAILED_JOBS)
    while any(b.throttled for b in soak.cloud.drain_sqs(function, max_batches=10**6)):
        pass


def drive(soak: Soak) -> None:
    rng, books = soak.rng, soak.books
    processor, api = soak.stack.function_name(PROCESSOR), soak.stack.function_name(API)
    soak.jobs = {}  # type: ignore[attr-defined]  # input id -> job id
    soak.expected = {}  # type: ignore[attr-defined]  # input id -> report
    soak.responses = {}  # type: ignore[attr-defined]  # input id -> (status, body) of a refused request
    table = boto3.resource("dynamodb", region_name=soak.cloud.region).Table(soak.output(names.JOBS_TABLE_OUTPUT))
    waves = -(-soak.count // WAVE)
    replace_mapping_after = rng.randrange(waves)
    earlier: list[tuple[str, list[dict[str, Any]]]] = []  # (input, delivered records) to deliver again
    for wave in range(waves):
        wave_jobs: dict[str, str] = {}
        for n in range(wave * WAVE, min(soak.count, (wave + 1) * WAVE)):
            input_id = f"S{n:04d}"
            body: dict[str, Any] = loan(rng)
            kind, signed = "valid", True
            roll = rng.random()
            if roll < 0.02:
                kind = "refused by the request model"
                spoil = rng.choice(("missing", "number", "decimals"))
                if spoil == "missing":
                    del body["monthly_payment"]
                elif spoil == "number":
                    body["principal"] = float(body["principal"])
                else:
                    body["annual_rate_percent"] = "6.1234"
            elif roll < 0.04:
                kind = "refused by the handler's checks"
                if rng.random() < 0.5:
                    body["currency"] = "XXX"
                else:
                    body["annual_rate_percent"] = "150"
            elif roll < 0.06:
                kind, signed = "unsigned request", False
            elif roll < 0.10:
                kind = "input the work cannot handle"
                hopeless(rng, body)
            books.add(input_id, kind, REJECTED if kind in REFUSED else DEAD if kind != "valid" else DONE)
            if signed and rng.random() < 0.02:  # the API function throttled: API Gateway's 500, sent again
                soak.faults.plan("throttled", api, input_id, 1, lambda event: [soak.sending])  # type: ignore[attr-defined]
            soak.sending = input_id  # type: ignore[attr-defined]
            if kind == "valid":
                soak.expected[input_id] = loan_schedule(body)[0]  # type: ignore[attr-defined]
            response = post(soak, body, signed=signed)
            if response.status != 202:
                soak.responses[input_id] = (response.status, response.json())  # type: ignore[attr-defined]
                continue
            soak.jobs[input_id] = wave_jobs[input_id] = response.json()["job_id"]  # type: ignore[attr-defined]
        for input_id, job_id in wave_jobs.items():
            plan_faults(soak, input_id, job_id, processor, table)
        if wave == replace_mapping_after:  # a replaced mapping starts over at TRIM_HORIZON
            soak.stack.restart_stream(PROCESSOR)
            for input_id in soak.jobs:  # type: ignore[attr-defined]
                if input_id not in wave_jobs:
                    books.duplicate(input_id)
        delivered = drain(soak)
        drain_failures(soak)
        by_job = {job_id: input_id for input_id, job_id in wave_jobs.items()}
        for batch in delivered:
            for record in batch.records:
                input_id = by_job.get(next(iter(ids_of({"Records": [record]})), ""))
                if input_id and rng.random() < 0.03:
                    earlier.append((input_id, [record]))
        # Lambda delivers at least once: records of finished batches handed to the processor again.
        for input_id, records in earlier:
            books.duplicate(input_id)
            soak.stack.invoke(PROCESSOR, {"Records": records})
        earlier.clear()
    drain(soak)
    drain_failures(soak)


def plan_faults(soak: Soak, input_id: str, job_id: str, processor: str, table: Any) -> None:
    rng, faults, books = soak.rng, soak.faults, soak.books
    fault = rng.random()
    if books.inputs[input_id].kind != "valid":
        return
    if fault < 0.02:
        books.inputs[input_id].expect = frozenset({DEAD})  # every attempt fails: the mapping gives up on it
        faults.plan(
            "every attempt fails",
            processor,
            job_id,
            1000,
            ids_of,
            error_type="ServiceUnavailable",
            message="injected: dependency down",
        )
        if rng.random() < 0.5:  # the consumer of a failure record fails once too (on its first delivery)
            faults.plan(
                "transient before the handler",
                soak.stack.function_name(FAILED_JOBS),
                "a failure record",
                1,
                first_delivery(soak),
            )
    elif fault < 0.05:
        faults.plan("transient before the handler", processor, job_id, 1, ids_of)
    elif fault < 0.08:
        faults.plan("crash after the write", processor, job_id, 1, ids_of)
    elif fault < 0.10:
        faults.plan("timeout after the write (slow dependency)", processor, job_id, 1, ids_of)
    elif fault < 0.12:
        faults.plan("timeout before the write (slow dependency)", processor, job_id, 1, ids_of)
    elif fault < 0.15:
        faults.plan("throttled", processor, job_id, rng.randint(1, 2), ids_of)
    elif fault < 0.18:
        # A run claimed the job, then died (timed out, crashed) and its claim has expired: the
        # record's retry must take the job over, not skip it nor run it alongside.
        assert jobs.claim(table, job_id, "a run that died", now=time.time(), until=time.time() - 1)
        books.faults["run died holding the claim (expired)"] += 1


def balance(soak: Soak) -> None:
    books, table = soak.books, soak.output(names.JOBS_TABLE_OUTPUT)
    by_job = {job_id: input_id for input_id, job_id in soak.jobs.items()}  # type: ignore[attr-defined]
    for input_id, (status, body) in soak.responses.items():  # type: ignore[attr-defined]
        documented = REFUSED.get(books.inputs[input_id].kind)
        books.observe(input_id, REJECTED if (status, body.get("error")) == documented else WRONG)
    found: set[str] = set()
    for page in soak.stack.client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            job_id = item["job_id"]["S"]
            input_id = by_job.get(job_id)
            if input_id is None:
                books.orphans.append(f"job {job_id}: recorded but no client was told of it")
                continue
            found.add(job_id)
            status = item["status"]["S"]
            if status == "complete":
                correct = plain(item["result"]) == soak.expected.get(input_id)  # type: ignore[attr-defined]
                writes = soak.writes.count_updates(table, job_id, "#status = :complete")
                books.observe(input_id, DONE if correct else WRONG, effects=writes)
            elif status == "failed":
                error = item["error"]["S"]
                kind = books.inputs[input_id].kind
                why = (
                    ("a monthly payment of", "repaying this loan takes more than")
                    if kind == "input the work cannot handle"
                    else ("The job could not be processed: every attempt failed",)
                )
                writes = soak.writes.count_updates(table, job_id, "#status = :failed")
                books.observe(input_id, DEAD if error.startswith(why) else WRONG, effects=writes)
            else:
                books.observe(input_id, STUCK)
    for input_id, job_id in soak.jobs.items():  # type: ignore[attr-defined]
        if job_id not in found:
            books.observe(input_id, STUCK)  # accepted, then gone
    for message in soak.stack.drain(soak.output(names.STREAM_FAILURES_QUEUE_OUTPUT)):
        books.orphans.append(f"a failure record left on ProcessorFailures: {str(message['body'])[:80]}")
    for message in soak.stack.drain(soak.stack.queue_url("ProcessorFailuresDLQ")):
        books.orphans.append(f"a failure record nobody handled: {str(message['body'])[:80]}")
