"""StandardWorkflow end to end: a CSV uploaded to the deployed bucket starts the synthesized state
machine, which runs the real handlers: split, Map over chunks, merge, wait for a person, publish.

The app's own stack (8 MiB chunks, a 24 h approval) is deployed as synthesized for the session.
Two copies of the same stack class with test-sized props are synthesized here as well: small
chunks and a short retry interval (so a few hundred bytes make a multi-chunk job and a retry takes
a second), and a two-second approval heartbeat (so an unanswered approval expires within the test).
Expected aggregates are computed straight from the CSV with the csv module, not with project code.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from localcloud import Deployment, wait_for, wait_for_execution
from scripts.approve import Refused, decide
from standard_workflow import names
from tests.conftest import cdk_context
from tests.events import s3_put

SMALL_CHUNK_BYTES = 200
HEARTBEAT_SECONDS = 2


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cloud assembly with the test-sized copies of StandardWorkflowStack."""
    from stacks.standard_workflow import StandardWorkflowStack

    outdir = tmp_path_factory.mktemp("standard-variants")
    app = cdk.App(outdir=str(outdir), context=cdk_context(), analytics_reporting=False)
    StandardWorkflowStack(app, "SmallChunks", chunk_bytes=SMALL_CHUNK_BYTES, max_concurrency=3, retry_interval=cdk.Duration.seconds(1))
    StandardWorkflowStack(
        app,
        "QuickExpiry",
        approval_timeout=cdk.Duration.seconds(HEARTBEAT_SECONDS * 3),
        approval_heartbeat=cdk.Duration.seconds(HEARTBEAT_SECONDS),
    )
    return Path(app.synth().directory)


@pytest.fixture(scope="module")
def app_stack(deploy, cloud_assembly) -> Deployment:
    return deploy(cloud_assembly.directory, "StandardWorkflow")


@pytest.fixture(scope="module")
def small(deploy, variants) -> Deployment:
    return deploy(variants, "SmallChunks")


@pytest.fixture(scope="module")
def quick_expiry(deploy, variants) -> Deployment:
    return deploy(variants, "QuickExpiry")


# --- helpers ----------------------------------------------------------------------------------

def sales_csv(rows: int, *, bad_row: int | None = None) -> str:
    lines = ["region,units,revenue"]
    for i in range(rows):
        units = "lots" if i == bad_row else str(i % 7)
        lines.append(f"{['north', 'south', 'east', 'west'][i % 4]},{units},{(i * 37) % 1000}.{i % 100:02d}")
    return "\n".join(lines) + "\n"


def independent_aggregate(text: str) -> dict[str, Any]:
    """count/sum/min/max per region and numeric column, from the csv module alone."""
    out: dict[str, Any] = {}
    for row in csv.DictReader(io.StringIO(text)):
        for column in ("units", "revenue"):
            value = Decimal(row[column])
            s = out.setdefault(row["region"], {}).setdefault(column, {"count": 0, "sum": Decimal(0), "min": value, "max": value})
            s["count"] += 1
            s["sum"] += value
            s["min"], s["max"] = min(s["min"], value), max(s["max"], value)
    return {
        region: {c: {"count": s["count"], "sum": s["sum"], "min": s["min"], "max": s["max"]} for c, s in columns.items()}
        for region, columns in out.items()
    }


def as_decimals(result: dict[str, Any]) -> dict[str, Any]:
    """The published JSON (decimal strings) in the same form: compare numbers, not spellings."""
    return {
        region: {c: {"count": s["count"], "sum": Decimal(s["sum"]), "min": Decimal(s["min"]), "max": Decimal(s["max"])} for c, s in columns.items()}
        for region, columns in result.items()
    }


def upload(stack: Deployment, name: str, text: str) -> str:
    """Upload a CSV under incoming/ and return the job id: the name of the execution it started."""
    key = f"{stack.outputs[names.UPLOAD_PREFIX_OUTPUT]}{name}"
    stack.client("s3").put_object(Bucket=stack.outputs[names.BUCKET_OUTPUT], Key=key, Body=text.encode())
    stack.settle()  # S3 invokes the start function asynchronously
    sfn = stack.client("stepfunctions")
    arn = stack.outputs[names.STATE_MACHINE_ARN_OUTPUT]
    started = [
        e["name"]
        for e in sfn.list_executions(stateMachineArn=arn)["executions"]
        if json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["source_key"] == key
    ]
    assert len(started) == 1, f"expected one execution for {key}, found {started}"
    return started[0]


def execution_arn(stack: Deployment, job_id: str) -> str:
    machine = stack.outputs[names.STATE_MACHINE_ARN_OUTPUT]
    return machine.replace(":stateMachine:", ":execution:") + f":{job_id}"


def job(stack: Deployment, job_id: str) -> dict[str, Any]:
    item = stack.client("dynamodb").get_item(TableName=stack.outputs[names.JOBS_TABLE_OUTPUT], Key={"job_id": {"S": job_id}}).get("Item", {})
    return {k: next(iter(v.values())) for k, v in item.items()}


def wait_for_status(stack: Deployment, job_id: str, status: str, timeout: float = 60) -> dict[str, Any]:
    return wait_for(lambda: (record := job(stack, job_id)).get("status") == status and record, timeout=timeout, what=f"job {job_id} {status}")


def answer(stack: Deployment, job_id: str, *, reject: bool = False, reason: str = "") -> str:
    """What `make approve` does, against the local cloud."""
    return decide(
        stack.client("dynamodb"), stack.client("stepfunctions"), stack.outputs[names.JOBS_TABLE_OUTPUT], job_id, reject=reject, reason=reason
    )


def published(stack: Deployment, job_id: str) -> dict[str, Any]:
    key = f"{names.PUBLISHED_PREFIX}{job_id}.json"
    return json.loads(stack.client("s3").get_object(Bucket=stack.outputs[names.BUCKET_OUTPUT], Key=key)["Body"].read())


def history(stack: Deployment, job_id: str) -> list[dict[str, Any]]:
    return stack.client("stepfunctions").get_execution_history(executionArn=execution_arn(stack, job_id), maxResults=1000)["events"]


def chunk_arg(event: Any) -> Any:
    payload = json.loads(event) if isinstance(event, str) else event
    return payload.get("chunk") if isinstance(payload, dict) else None


# --- the app's own stack ------------------------------------------------------------------------

def test_the_app_stack_runs_a_job_to_publication_after_approval(app_stack):
    text = sales_csv(50)
    job_id = upload(app_stack, "daily.csv", text)
    record = wait_for_status(app_stack, job_id, "AWAITING_APPROVAL")
    assert record["task_token"] and record["chunks_total"] == "1"  # 8 MiB chunks: one chunk
    assert "approved" in answer(app_stack, job_id)
    execution = wait_for_execution(execution_arn(app_stack, job_id))
    assert execution["status"] == "SUCCEEDED"
    assert as_decimals(published(app_stack, job_id)) == independent_aggregate(text)
    assert "task_token" not in job(app_stack, job_id)  # an answered token is not kept


# --- multi-chunk jobs ------------------------------------------------------------------------

def test_a_multi_chunk_job_publishes_an_aggregate_equal_to_one_computed_independently(small):
    text = sales_csv(400)
    job_id = upload(small, "big.csv", text)
    record = wait_for_status(small, job_id, "AWAITING_APPROVAL")
    chunks = int(record["chunks_total"])
    assert chunks == -(-(len(text.encode()) - len("region,units,revenue\n")) // SMALL_CHUNK_BYTES) and chunks > 10
    # (done_chunks is not compared: moto's UpdateItem is not atomic across threads, so chunks
    # finishing together can lose an ADD here that DynamoDB would keep; the aggregate is exact.)
    answer(small, job_id)
    assert wait_for_execution(execution_arn(small, job_id))["status"] == "SUCCEEDED"
    assert job(small, job_id)["status"] == "PUBLISHED"
    assert as_decimals(published(small, job_id)) == independent_aggregate(text)


def test_a_duplicate_upload_event_does_not_start_a_second_job(small):
    text = sales_csv(20)
    job_id = upload(small, "twice.csv", text)
    # S3 delivers at least once: the same event again names the same execution.
    bucket = small.outputs[names.BUCKET_OUTPUT]
    head = small.client("s3").head_object(Bucket=bucket, Key="incoming/twice.csv")
    payload, error = small.invoke("StartFunction", s3_put(bucket, "incoming/twice.csv", size=head["ContentLength"], etag=head["ETag"].strip('"')))
    assert error is None and payload["jobs"] == [job_id]
    executions = small.client("stepfunctions").list_executions(stateMachineArn=small.outputs[names.STATE_MACHINE_ARN_OUTPUT])["executions"]
    assert [e["name"] for e in executions].count(job_id) == 1
    wait_for_status(small, job_id, "AWAITING_APPROVAL")
    answer(small, job_id, reject=True, reason="test cleanup")


def test_a_chunk_failing_transiently_is_retried_and_counted_once(small):
    text = sales_csv(120)
    # The handler runs and writes its result, then the invocation fails anyway (a crash after
    # the work): the retry must not count the chunk's rows twice.
    fault = small.inject_failure("ProcessChunkFunction", times=1, error_type="TransientError", after_handler=True, when=lambda e: chunk_arg(e) == 2)
    job_id = upload(small, "flaky.csv", text)
    wait_for_status(small, job_id, "AWAITING_APPROVAL")
    assert fault.injected == 1
    failed = [e for e in history(small, job_id) if e["type"] in ("LambdaFunctionFailed", "TaskFailed")]
    assert len(failed) == 1 and "TransientError" in json.dumps(failed[0], default=str)
    answer(small, job_id)
    wait_for_execution(execution_arn(small, job_id))
    assert as_decimals(published(small, job_id)) == independent_aggregate(text)


def test_a_malformed_row_fails_the_job_without_retry_and_records_why(small):
    text = sales_csv(120, bad_row=90)
    job_id = upload(small, "broken.csv", text)
    execution = wait_for_execution(execution_arn(small, job_id), timeout=60)
    assert (execution["status"], execution.get("error")) == ("FAILED", "JobFailed")
    record = job(small, job_id)
    assert record["status"] == "FAILED" and record["error"] == "MalformedData"
    assert "'units' is not a number" in record["reason"] and "lots" in record["reason"]
    failed = [e for e in history(small, job_id) if e["type"] in ("LambdaFunctionFailed", "TaskFailed")]
    # Bad data is not retried: one failure names it. (A chunk still in flight when the Map stops
    # is aborted in AWS; moto's interpreter can record it as a failure of its own under load, a race
    # in its abort path, so the count is of failures naming MalformedData.)
    malformed = [e for e in failed if "MalformedData" in json.dumps(e, default=str)]
    assert len(malformed) == 1, failed
    assert not any(e["type"].startswith("TaskStateEntered") and e.get("stateEnteredEventDetails", {}).get("name") == "WaitForApproval" for e in history(small, job_id))


def test_a_rejected_job_ends_rejected_and_publishes_nothing(small):
    job_id = upload(small, "doubtful.csv", sales_csv(30))
    wait_for_status(small, job_id, "AWAITING_APPROVAL")
    assert "rejected" in answer(small, job_id, reject=True, reason="revenue looks doubled")
    execution = wait_for_execution(execution_arn(small, job_id))
    assert execution["status"] == "SUCCEEDED"  # a decision, not a fault: ends in JobRejected
    record = job(small, job_id)
    assert (record["status"], record["error"], record["reason"]) == ("REJECTED", "Rejected", "revenue looks doubled")
    keys = small.client("s3").list_objects_v2(Bucket=small.outputs[names.BUCKET_OUTPUT], Prefix=names.PUBLISHED_PREFIX).get("Contents", [])
    assert f"{names.PUBLISHED_PREFIX}{job_id}.json" not in [k["Key"] for k in keys]
    with pytest.raises(Refused, match="REJECTED, not waiting"):
        answer(small, job_id)  # a second answer is refused


def test_an_unanswered_approval_expires_the_job(quick_expiry):
    job_id = upload(quick_expiry, "forgotten.csv", sales_csv(30))
    wait_for_status(quick_expiry, job_id, "AWAITING_APPROVAL")
    execution = wait_for_execution(execution_arn(quick_expiry, job_id), timeout=HEARTBEAT_SECONDS * 10)
    assert (execution["status"], execution.get("error")) == ("FAILED", "ApprovalExpired")
    record = job(quick_expiry, job_id)
    # The heartbeat (2 s) runs out first; on a loaded machine moto's task timeout (6 s) may win.
    assert record["status"] == "EXPIRED" and record["error"] in ("States.HeartbeatTimeout", "States.Timeout")
    assert "task_token" not in record
    with pytest.raises(Refused, match="EXPIRED, not waiting"):
        answer(quick_expiry, job_id)
