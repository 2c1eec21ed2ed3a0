"""StandardWorkflow: a CSV uploaded to the bucket starts a job (a Standard state machine) that
splits, aggregates and waits for a person's approval (`make approve`) before publishing. A
malformed file fails the job with its error."""

from __future__ import annotations

import json
import uuid

from scripts.approve import decide
from standard_workflow import names
from tests.smoke.targets import say

STACK = "StandardWorkflow"
DEADLINE = 300
CSV = "region,units,revenue\nnorth,2,10.50\nsouth,1,1.00\nnorth,3,4.50\n"


def upload(target, text: str) -> str:
    """Upload a CSV and return its job id: the name of the execution the upload started."""
    key = f"{target.outputs[names.UPLOAD_PREFIX_OUTPUT]}smoke-{uuid.uuid4().hex[:12]}.csv"
    target.upload(target.outputs[names.BUCKET_OUTPUT], key, text.encode())
    sfn = target.client("stepfunctions")

    def started() -> str | None:
        executions = sfn.list_executions(stateMachineArn=target.outputs[names.STATE_MACHINE_ARN_OUTPUT], maxResults=50)[
            "executions"
        ]
        for execution in executions:
            if json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])["source_key"] == key:
                return execution["name"]
        return None

    return target.wait_until(started, deadline=120, describe=f"the execution started by {key}")


def job(target, job_id: str) -> dict:
    item = (
        target.client("dynamodb")
        .get_item(TableName=target.outputs[names.JOBS_TABLE_OUTPUT], Key={"job_id": {"S": job_id}})
        .get("Item", {})
    )
    return {k: next(iter(v.values())) for k, v in item.items()}


def status_is(target, job_id: str, *statuses: str) -> dict | None:
    record = job(target, job_id)
    return record if record.get("status") in statuses else None


def test_an_upload_runs_a_job_that_publishes_after_approval(target):
    job_id = upload(target, CSV)
    target.wait_until(
        lambda: status_is(target, job_id, "AWAITING_APPROVAL"),
        deadline=DEADLINE,
        describe=f"job {job_id} to await approval",
    )
    line = decide(
        target.client("dynamodb"),
        target.client("stepfunctions"),
        target.outputs[names.JOBS_TABLE_OUTPUT],
        job_id,
        reject=False,
        reason="",
    )
    say(f"  make approve JOB={job_id} -> {line}")
    target.wait_until(
        lambda: status_is(target, job_id, "PUBLISHED"), deadline=DEADLINE, describe=f"job {job_id} to be published"
    )
    key = f"{names.PUBLISHED_PREFIX}{job_id}.json"
    published = json.loads(
        target.client("s3").get_object(Bucket=target.outputs[names.BUCKET_OUTPUT], Key=key)["Body"].read()
    )
    assert published["north"]["units"] == {"count": 2, "sum": "5", "min": "2", "max": "3"}, published
    assert published["north"]["revenue"]["sum"] == "15.00" and published["south"]["revenue"]["sum"] == "1.00"


def test_a_malformed_file_fails_the_job_with_its_error(target):
    job_id = upload(target, CSV + "west,lots,2.00\n")
    record = target.wait_until(
        lambda: status_is(target, job_id, "FAILED", "AWAITING_APPROVAL"),
        deadline=DEADLINE,
        describe=f"job {job_id} to fail",
    )
    assert (record["status"], record["error"]) == ("FAILED", "MalformedData"), record
    assert "lots" in record["reason"]
