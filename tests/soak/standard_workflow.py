"""StandardWorkflow under load: CSV uploads, each S3 event starting one Standard execution (split,
a Map over chunks, merge, an approval, publish), a person answering the approvals meanwhile.

A run of VOLUME jobs deploys a test-sized copy of the stack in place of the app's (`prepare`):
300-byte chunks, so a few dozen rows make a job of several chunks; a 1 s retry interval; and a
15 s approval deadline, so one job left unanswered expires within the run. A small run (under
QUICK_COPY_FROM jobs, the soak in `make test`) drives the app's own stack (8 MiB chunks: one a
job; a 24 h deadline: nothing expires), since synthesizing the copy costs a few seconds there.

Inputs: sales CSVs uploaded under incoming/, most answered by the approver (`scripts/approve.py`'s
`decide`, as `make approve` runs it): about three in four approved, the rest rejected with a
reason, and (copy only) one left to expire. About a tenth bad, of each kind the pattern documents:
a malformed row (a number that is not one, a row of the wrong width, bytes that are not UTF-8), a
header without the group-by column, an empty file, a key not ending in .csv (starts nothing), and
a key uploaded again, with other bytes, before its first job's Split read it (that job fails
naming the replacement; the second upload is a job of its own). Faults: on the start function a
transient error before it, a crash after it started the execution, throttling, or every attempt
failing (its failure record in StartFailures, the event in StartDLQ), and the same S3 event
twice; on the tasks a transient error (the handlers' TransientError, retried by the task) before a
handler or after its write, throttling (Lambda.TooManyRequestsException, retried), a chunk timing
out after its write (a slow dependency: not retried, by design, so the job fails naming it), the
approval request failing after storing its token (Step Functions retries it with a new token,
racing the approver, who may answer the superseded one and is told to answer again), and the
approver answering twice.

Books: an approved job is done once (PUBLISHED, its execution SUCCEEDED, published/<job>.json
equal to an aggregate worked out here with the csv module, one execution and one published object
for the upload: a Publish retried after its copy writes the same object again, counted in a
note); a rejected one is REJECTED with the reason given, execution SUCCEEDED, nothing published;
a bad input or a job a fault failed is FAILED with its error (execution JobFailed), an expired one
EXPIRED (ApprovalExpired), a start that failed every attempt is in StartFailures and StartDLQ with
no job; a key that is not a CSV started nothing. No execution is left running and no job left in
SPLITTING, PROCESSING or AWAITING_APPROVAL.

Not modelled: a function's own timeout cutting a run short (faults strike before or after a
handler); Step Functions' own throttling of StartExecution.
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_plus

from scripts.approve import Refused, decide
from standard_workflow import jobs, names
from tests.oracles import as_decimals, sales_aggregate
from tests.soak.engine import DEAD, DONE, REJECTED, STUCK, WRONG, Soak, load_json

STACK = "StandardWorkflow"
VOLUME = 20
CLOUD: dict[str, Any] = {"async_workers": 4, "throttle_tick": 0.5}
QUICK_COPY_FROM = 10  # jobs: a run this large drives the test-sized copy
COPY = "SoakStandardWorkflow"
CHUNK_BYTES = 300
APPROVAL_SECONDS = 15
START = "StartFunction"
START_RETRIES = 2  # the start function's MaximumRetryAttempts: three attempts in all
REGIONS = ("north", "south", "east", "west")
APPROVE, REJECT, EXPIRE = "approve", "reject", "leave to expire"


@functools.cache
def quick_copy() -> str:
    """A cloud assembly with the test-sized copy of StandardWorkflowStack, made once per process."""
    import aws_cdk as cdk

    from stacks.standard_workflow import StandardWorkflowStack
    from tests.conftest import cdk_context

    outdir = tempfile.TemporaryDirectory(prefix="soak-standard-workflow-")
    quick_copy.directory = outdir  # type: ignore[attr-defined]  # kept (and removed) with the process
    app = cdk.App(outdir=outdir.name, context=cdk_context(), analytics_reporting=False)
    StandardWorkflowStack(
        app,
        COPY,
        chunk_bytes=CHUNK_BYTES,
        retry_interval=cdk.Duration.seconds(1),
        approval_timeout=cdk.Duration.seconds(APPROVAL_SECONDS),
    )
    return str(app.synth().directory)


def prepare(soak: Soak) -> None:
    if soak.count >= QUICK_COPY_FROM:
        soak.stack = soak.cloud.deploy(quick_copy(), COPY)


# --- inputs -----------------------------------------------------------------------------------


def sales(rng: Any, rows: int) -> str:
    lines = ["region,units,revenue"]
    lines += [f"{rng.choice(REGIONS)},{rng.randint(0, 20)},{rng.randint(0, 99999) / 100:.2f}" for _ in range(rows)]
    return "\n".join(lines) + "\n"


BAD = {  # kind -> (how the CSV is spoiled, the words its job's reason has)
    "a number that is not one": "is not a number",
    "a row of the wrong width": "fields, the header has",
    "a row that is not UTF-8": "is not UTF-8",
    "no group-by column": "the header has no column 'region'",
    "an empty file": "the dataset is empty",
}


def spoil(rng: Any, kind: str, text: str) -> bytes:
    lines = text.splitlines()
    row = rng.randrange(1, len(lines))
    if kind == "a number that is not one":
        lines[row] = lines[row].rsplit(",", 1)[0] + ",lots"
    elif kind == "a row of the wrong width":
        lines[row] += ",7"
    elif kind == "no group-by column":
        lines[0] = "area,units,revenue"
    elif kind == "an empty file":
        return b""
    body = ("\n".join(lines) + "\n").encode()
    if kind == "a row that is not UTF-8":
        start = body.index(lines[row].encode())
        body = body[:start] + b"caf\xe9" + body[start + len(lines[row].split(",")[0]) :]
    return body


# --- which input an event carries ------------------------------------------------------------


def keys_of(event: Any) -> Iterable[str]:
    """The keys an S3 event names (the start function's events)."""
    for record in event.get("Records", []) if isinstance(event, dict) else []:
        key = record.get("s3", {}).get("object", {}).get("key")
        if key:
            yield unquote_plus(key)


def task_ids(soak: Soak) -> Any:
    """The inputs a task's payload is about: its job's input, and "<input>#<chunk>" for a chunk."""

    def ids_of(event: Any) -> Iterable[str]:
        payload = load_json(event)
        if not isinstance(payload, dict):
            return
        input_id = soak.input_of_job.get(str(payload.get("job_id")))  # type: ignore[attr-defined]
        if input_id:
            yield input_id
            if isinstance(payload.get("chunk"), int):
                yield f"{input_id}#{payload['chunk']}"

    return ids_of


# --- driving ---------------------------------------------------------------------------------


def drive(soak: Soak) -> None:
    rng, books, s3 = soak.rng, soak.books, soak.stack.client("s3")
    bucket, prefix = soak.output(names.BUCKET_OUTPUT), soak.output(names.UPLOAD_PREFIX_OUTPUT)
    soak.key_of = {}  # type: ignore[attr-defined]  # input -> key
    soak.text_of = {}  # type: ignore[attr-defined]  # input -> the CSV of a valid one
    soak.intent = {}  # type: ignore[attr-defined]  # input -> approve, reject or leave to expire
    soak.input_of_job = {}  # type: ignore[attr-defined]  # job id -> input
    soak.answer_twice = set()  # type: ignore[attr-defined]
    expire = rng.randrange(soak.count) if soak.stack.stack_id == COPY else -1
    replaced: list[tuple[str, str]] = []  # (first input, its key): uploaded again before Split read it
    with soak.cloud.hold_async():  # S3 queues the events; they run when every upload is in
        for n in range(soak.count):
            input_id = f"W{n:03d}"
            key = f"{prefix}w{n:03d}.csv"
            text = sales(rng, rng.randint(4, 40))
            roll = rng.random()
            if roll < 0.05 and n != expire:
                kind = rng.choice(sorted(BAD))
                books.add(input_id, kind, DEAD)
                body = spoil(rng, kind, text)
            elif roll < 0.07 and n != expire:
                books.add(input_id, "not a CSV (starts nothing)", REJECTED)
                key, body = key.replace(".csv", ".txt"), text.encode()
            elif roll < 0.09 and n != expire:
                books.add(input_id, "replaced before its Split read it", DEAD)
                body = text.encode()
                replaced.append((input_id, key))
            else:
                intent = EXPIRE if n == expire else APPROVE if rng.random() < 0.75 else REJECT
                books.add(input_id, "valid", {APPROVE: DONE, REJECT: REJECTED, EXPIRE: DEAD}[intent])
                soak.intent[input_id] = intent  # type: ignore[attr-defined]
                soak.text_of[input_id] = text  # type: ignore[attr-defined]
                body = text.encode()
            soak.key_of[input_id] = key  # type: ignore[attr-defined]
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        for first, key in replaced:  # the same key again, other bytes: the upload that replaced it
            input_id = f"{first}-again"
            text = sales(rng, rng.randint(4, 40))
            books.add(input_id, "valid", DONE)
            soak.intent[input_id], soak.text_of[input_id], soak.key_of[input_id] = APPROVE, text, key  # type: ignore[attr-defined]
            s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
        events = identify_jobs(soak)
        for input_id in list(soak.intent):  # type: ignore[attr-defined]
            plan_faults(soak, input_id, events)
    soak.cloud.settle(timeout=600)
    approve_until_done(soak)
    soak.cloud.settle(timeout=600)


def identify_jobs(soak: Soak) -> dict[str, Any]:
    """Each queued S3 event's job id (jobs.job_id_for: key and sequencer), in upload order: the
    first event of a key is its first upload. Returns input -> its S3 event."""
    by_key: dict[str, list[str]] = {}
    for input_id, key in soak.key_of.items():  # type: ignore[attr-defined]
        by_key.setdefault(key, []).append(input_id)
    events: dict[str, Any] = {}
    for invocation in soak.cloud.async_invocations:
        for record in invocation.event.get("Records", []):
            key = unquote_plus(record["s3"]["object"]["key"])
            input_id = by_key[key].pop(0)
            events[input_id] = invocation.event
            soak.input_of_job[jobs.job_id_for(key, record["s3"]["object"]["sequencer"])] = input_id  # type: ignore[attr-defined]
    return events


def plan_faults(soak: Soak, input_id: str, events: dict[str, Any]) -> None:
    rng, faults, books, stack = soak.rng, soak.faults, soak.books, soak.stack
    intent = soak.intent[input_id]  # type: ignore[attr-defined]
    key = soak.key_of[input_id]  # type: ignore[attr-defined]
    ids = task_ids(soak)
    start = stack.function_name(START)
    transient = {"error_type": "TransientError", "message": "injected: SlowDown"}

    def task(kind: str, function: str, target: str, **options: Any) -> None:
        faults.plan(kind, stack.function_name(function), target, 1, ids, **options)

    fault = rng.random()
    fatal = intent != EXPIRE and not input_id.endswith("-again")  # the one left to expire gets there
    if fault < 0.03 and fatal:
        books.inputs[input_id].expect = frozenset({DEAD})  # the start fails every attempt: no job
        faults.plan(
            "every attempt fails",
            start,
            key,
            START_RETRIES + 1,
            keys_of,
            error_type="ServiceUnavailable",
            message="injected: dependency down",
        )
        return
    if fault < 0.07:
        faults.plan("transient before the handler", start, key, 1, keys_of)
    elif fault < 0.11:
        faults.plan("crash after the write", start, key, 1, keys_of)
    elif fault < 0.14:
        faults.plan("throttled", start, key, rng.randint(1, 2), keys_of)
    elif fault < 0.19:
        task("transient before the handler", "SplitFunction", input_id, **transient)
    elif fault < 0.26:
        task("transient after the write", "ProcessChunkFunction", f"{input_id}#0", after_handler=True, **transient)
    elif fault < 0.30:
        task("throttled", "ProcessChunkFunction", f"{input_id}#0", throttle=True)
    elif fault < 0.33 and fatal:
        books.inputs[input_id].expect = frozenset({DEAD})  # a task timeout is not retried: the job fails
        soak.intent[input_id] = "fails"  # type: ignore[attr-defined]
        task("timeout after the write (slow dependency)", "ProcessChunkFunction", input_id)
    elif fault < 0.37:
        task("transient after the write", "MergeFunction", input_id, after_handler=True, **transient)
    elif fault < 0.45 and intent != EXPIRE:
        # It stored its token, then failed (its message throttled): the retry brings a new token.
        task("transient after the write", "RequestApprovalFunction", input_id, after_handler=True, **transient)
    elif fault < 0.50 and intent == APPROVE:
        task("transient after the write", "PublishFunction", input_id, after_handler=True, **transient)
    elif fault < 0.53 and intent == REJECT:
        task("transient before the handler", "RecordFailureFunction", input_id, **transient)
    if rng.random() < 0.06 and input_id in events:  # S3 delivers at least once: the same event again
        books.duplicate(input_id)
        stack.invoke_async(START, events[input_id])
    if intent in (APPROVE, REJECT) and rng.random() < 0.06:
        soak.answer_twice.add(input_id)  # type: ignore[attr-defined]


def approve_until_done(soak: Soak, timeout: float = 600) -> None:
    """The approver: every approval request (each token a job stores) is answered as planned; a
    request Step Functions sent again with a new token (its message says to answer it) is answered
    again, and a token superseded while it was being answered is looked at again, as `make approve`
    says to. Stops when no execution is running."""
    dynamodb, sfn = soak.stack.client("dynamodb"), soak.stack.client("stepfunctions")
    table, machine = soak.output(names.JOBS_TABLE_OUTPUT), soak.output(names.STATE_MACHINE_ARN_OUTPUT)
    answered: set[str] = set()  # tokens
    twice: set[str] = set()  # jobs answered a second time
    deadline = time.monotonic() + timeout
    while True:
        for item in dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]:
            job_id, token = item["job_id"]["S"], item.get("task_token", {}).get("S")
            input_id = soak.input_of_job.get(job_id, "")  # type: ignore[attr-defined]
            intent = soak.intent.get(input_id)  # type: ignore[attr-defined]
            waiting = item.get("status", {}).get("S") == jobs.AWAITING_APPROVAL and token
            if not waiting or token in answered or intent not in (APPROVE, REJECT):
                continue
            try:
                decide(dynamodb, sfn, table, job_id, reject=intent == REJECT, reason=f"soak: {input_id} rejected")
            except Refused:
                continue  # superseded or closed meanwhile: look again
            answered.add(str(token))
            if input_id in soak.answer_twice and job_id not in twice:  # type: ignore[attr-defined]
                twice.add(job_id)
                soak.books.duplicate(input_id)
                try:  # a second person answers the same request the other way: refused, the first answer stands
                    sfn.send_task_failure(taskToken=token, error=names.REJECTED_ERROR, cause="second answer")
                    soak.books.observe(input_id, WRONG)
                    soak.books.notes.append(f"{input_id}: a second answer to an answered approval was accepted")
                except sfn.exceptions.TaskTimedOut:
                    pass
        running = [
            e
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter="RUNNING")
            for e in page["executions"]
        ]
        if not running:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(running)} executions still running after {timeout} s")
        time.sleep(0.1)


# --- the books -------------------------------------------------------------------------------


def balance(soak: Soak) -> None:
    books, stack = soak.books, soak.stack
    s3, sfn = stack.client("s3"), stack.client("stepfunctions")
    bucket, table = soak.output(names.BUCKET_OUTPUT), soak.output(names.JOBS_TABLE_OUTPUT)
    machine = soak.output(names.STATE_MACHINE_ARN_OUTPUT)
    executions = {
        e["name"]: e
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
        for e in page["executions"]
    }
    records = {
        item["job_id"]["S"]: {k: next(iter(v.values())) for k, v in item.items()}
        for page in stack.client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        for item in page["Items"]
    }
    published = {
        entry["Key"].removeprefix(names.PUBLISHED_PREFIX).removesuffix(".json")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=names.PUBLISHED_PREFIX)
        for entry in page.get("Contents", [])
    }
    for name in set(executions) | set(records) | published:
        if name not in soak.input_of_job:  # type: ignore[attr-defined]
            books.orphans.append(f"job {name}: no upload of this run names it")
    rewrites = 0
    for job_id, input_id in soak.input_of_job.items():  # type: ignore[attr-defined]
        execution, record = executions.get(job_id), records.get(job_id, {})
        if execution is None:
            continue  # its start failed: StartFailures has it
        status, run = record.get("status"), execution["status"]
        kind = books.inputs[input_id].kind
        intent = soak.intent.get(input_id)  # type: ignore[attr-defined]
        writes = soak.writes.count(bucket, f"{names.PUBLISHED_PREFIX}{job_id}.json")
        rewrites += max(writes - 1, 0)
        if run == "RUNNING" or status not in jobs.FINISHED:
            books.observe(input_id, STUCK)
        elif status == jobs.PUBLISHED:
            body = s3.get_object(Bucket=bucket, Key=f"{names.PUBLISHED_PREFIX}{job_id}.json")["Body"].read()
            result = json.loads(body)
            correct = run == "SUCCEEDED" and as_decimals(result) == sales_aggregate(soak.text_of[input_id])  # type: ignore[attr-defined]
            books.observe(input_id, DONE if correct else WRONG, effects=1 if writes else 0)
        elif status == jobs.REJECTED:
            correct = run == "SUCCEEDED" and record.get("reason") == f"soak: {input_id} rejected" and not writes
            books.observe(input_id, REJECTED if correct else WRONG)
        elif status == jobs.EXPIRED:
            correct = run == "FAILED" and intent == EXPIRE and not writes
            books.observe(input_id, DEAD if correct else WRONG)
        else:  # FAILED, with the reason the job record gives
            why = BAD.get(kind) or ("replaced after this job's upload" if kind.startswith("replaced") else "timed out")
            correct = run == "FAILED" and why in record.get("reason", "") and not writes
            books.observe(input_id, DEAD if correct else WRONG)
    if rewrites:
        books.notes.append(
            f"{rewrites} published result(s) written again, with the same bytes, by a Publish retried after its copy."
        )
    # A start that failed every attempt: its failure record, and the same S3 event in the DLQ.
    by_key = {}
    for input_id, key in soak.key_of.items():  # type: ignore[attr-defined]
        by_key.setdefault(key, input_id)
    failed = [load_json(m["body"]) for m in stack.drain(stack.queue_url("StartFailures"))]
    dead = [load_json(m["body"]) for m in stack.drain(stack.queue_url("StartDLQ"))]
    started = {soak.input_of_job[name] for name in executions if name in soak.input_of_job}  # type: ignore[attr-defined]
    for record in failed:
        for key in keys_of(record["requestPayload"]):
            input_id = by_key[key]
            books.observe(input_id, DEAD if input_id not in started else WRONG)  # a failed start started nothing
    if sorted(k for e in dead for k in keys_of(e)) != sorted(k for r in failed for k in keys_of(r["requestPayload"])):
        books.orphans.append("StartDLQ and StartFailures disagree about which uploads failed to start")
    # A key that is not a CSV started nothing and failed nothing.
    started_keys = {k for i in soak.cloud.async_invocations for k in keys_of(i.event)}
    for input_id, sent in books.inputs.items():
        if sent.kind.startswith("not a CSV"):
            books.observe(input_id, REJECTED if soak.key_of[input_id] not in started_keys else WRONG)  # type: ignore[attr-defined]
    for invocation in soak.cloud.async_invocations:
        if invocation.condition in ("Pending", "Running", "Throttled"):
            for key in keys_of(invocation.event):
                books.observe(by_key[key], STUCK)
