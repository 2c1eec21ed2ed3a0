"""StandardWorkflow end to end: a CSV uploaded to the deployed bucket starts the synthesized state
machine, which runs the real handlers: split, Map over chunks, merge, wait for a person, publish.

The app's own stack (8 MiB chunks, a 24 h approval) is deployed as synthesized for the session.
Two copies of the same stack class with test-sized props are synthesized here as well: small
chunks and a short retry interval (so a few hundred bytes make a multi-chunk job and a retry takes
a second), and a three-second approval timeout (so an unanswered approval expires within the test).
Expected aggregates are computed straight from the CSV with the csv module, not with project code.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from localcloud import Deployment, wait_for, wait_for_execution
from localcloud.events import s3_put
from scripts.approve import Refused, decide
from standard_workflow import names
from tests.conftest import cdk_context
from tests.oracles import as_decimals, sales_aggregate

SMALL_CHUNK_BYTES = 200
APPROVAL_SECONDS = 3


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cloud assembly with the test-sized copies of StandardWorkflowStack."""
    from stacks.standard_workflow import StandardWorkflowStack

    outdir = tmp_path_factory.mktemp("standard-variants")
    app = cdk.App(outdir=str(outdir), context=cdk_context(), analytics_reporting=False)
    StandardWorkflowStack(
        app, "SmallChunks", chunk_bytes=SMALL_CHUNK_BYTES, max_concurrency=3, retry_interval=cdk.Duration.seconds(1)
    )
    StandardWorkflowStack(app, "QuickExpiry", approval_timeout=cdk.Duration.seconds(APPROVAL_SECONDS))
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


def executions_of(stack: Deployment, key: str) -> list[str]:
    """The names of the executions whose input names `key`."""
    sfn = stack.client("stepfunctions")
    arn = stack.outputs[names.STATE_MACHINE_ARN_OUTPUT]
    return [
        e["name"]
        for e in sfn.list_executions(stateMachineArn=arn)["executions"]
        if json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["source_key"] == key
    ]


def upload(stack: Deployment, name: str, text: str) -> str:
    """Upload a CSV under incoming/ and return the job id: the name of the execution it started."""
    key = f"{stack.outputs[names.UPLOAD_PREFIX_OUTPUT]}{name}"
    before = executions_of(stack, key)
    stack.client("s3").put_object(Bucket=stack.outputs[names.BUCKET_OUTPUT], Key=key, Body=text.encode())
    stack.settle()  # S3 invokes the start function asynchronously
    started = [n for n in executions_of(stack, key) if n not in before]
    assert len(started) == 1, f"expected one new execution for {key}, found {started}"
    return started[0]


def execution_arn(stack: Deployment, job_id: str) -> str:
    machine = stack.outputs[names.STATE_MACHINE_ARN_OUTPUT]
    return machine.replace(":stateMachine:", ":execution:") + f":{job_id}"


def job(stack: Deployment, job_id: str) -> dict[str, Any]:
    item = (
        stack.client("dynamodb")
        .get_item(TableName=stack.outputs[names.JOBS_TABLE_OUTPUT], Key={"job_id": {"S": job_id}})
        .get("Item", {})
    )
    return {k: next(iter(v.values())) for k, v in item.items()}


def wait_for_status(stack: Deployment, job_id: str, status: str, timeout: float = 60) -> dict[str, Any]:
    return wait_for(
        lambda: (record := job(stack, job_id)).get("status") == status and record,
        timeout=timeout,
        what=f"job {job_id} {status}",
    )


def answer(stack: Deployment, job_id: str, *, reject: bool = False, reason: str = "") -> str:
    """What `make approve` does, against the local cloud."""
    return decide(
        stack.client("dynamodb"),
        stack.client("stepfunctions"),
        stack.outputs[names.JOBS_TABLE_OUTPUT],
        job_id,
        reject=reject,
        reason=reason,
    )


def published(stack: Deployment, job_id: str) -> dict[str, Any]:
    key = f"{names.PUBLISHED_PREFIX}{job_id}.json"
    return json.loads(stack.client("s3").get_object(Bucket=stack.outputs[names.BUCKET_OUTPUT], Key=key)["Body"].read())


def history(stack: Deployment, job_id: str) -> list[dict[str, Any]]:
    return stack.client("stepfunctions").get_execution_history(
        executionArn=execution_arn(stack, job_id), maxResults=1000
    )["events"]


class StaleFirstRead:
    """A DynamoDB client whose first GetItem answers with an old task token: the job as an
    approver read it just before a retried approval request replaced the token."""

    def __init__(self, client: Any, token: str) -> None:
        self.client, self.token, self.reads = client, token, 0

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        item = self.client.get_item(**kwargs)
        self.reads += 1
        if self.reads == 1:
            item["Item"]["task_token"] = {"S": self.token}
        return item


def subscribe_to_approvals(stack: Deployment) -> str:
    """A queue subscribed to the approval topic, as a person's mailbox would be: its URL."""
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=f"approvals-{stack.stack_id}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.client("sns").subscribe(
        TopicArn=stack.outputs[names.APPROVAL_TOPIC_OUTPUT],
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return url


def approval_messages(stack: Deployment, queue_url: str) -> list[str]:
    return [m["body"] if isinstance(m["body"], str) else json.dumps(m["body"]) for m in stack.drain(queue_url)]


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
    assert as_decimals(published(app_stack, job_id)) == sales_aggregate(text)
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
    assert as_decimals(published(small, job_id)) == sales_aggregate(text)


def test_a_duplicate_upload_event_does_not_start_a_second_job(small):
    small.cloud.async_invocations.clear()
    job_id = upload(small, "twice.csv", sales_csv(20))
    # S3 delivers at least once: the very event S3 sent, delivered again, names the same execution.
    (delivered,) = [
        i.event for i in small.cloud.async_invocations if i.function_name == small.function_name("StartFunction")
    ]
    payload, error = small.invoke("StartFunction", delivered)
    assert error is None and payload["jobs"] == [job_id]
    assert executions_of(small, "incoming/twice.csv") == [job_id]
    wait_for_status(small, job_id, "AWAITING_APPROVAL")
    answer(small, job_id, reject=True, reason="test cleanup")


def test_the_same_file_uploaded_again_after_its_job_failed_or_was_rejected_runs_again(small):
    """Standard execution names cannot be reused for 90 days: a name from key + ETag meant the same
    file could never run again after a failure (the re-upload met ExecutionAlreadyExists)."""
    broken = sales_csv(30, bad_row=5)
    failed = upload(small, "rerun.csv", broken)
    assert wait_for_execution(execution_arn(small, failed), timeout=60)["status"] == "FAILED"
    again = upload(small, "rerun.csv", broken)  # the same bytes: the operator fixed what it read, say
    assert again != failed and wait_for_execution(execution_arn(small, again), timeout=60)["status"] == "FAILED"
    text = sales_csv(30)
    rejected = upload(small, "rerun.csv", text)
    wait_for_status(small, rejected, "AWAITING_APPROVAL")
    answer(small, rejected, reject=True, reason="wrong day")
    wait_for_execution(execution_arn(small, rejected))
    rerun = upload(small, "rerun.csv", text)  # identical content and ETag, after a rejection
    assert rerun not in (failed, again, rejected)
    wait_for_status(small, rerun, "AWAITING_APPROVAL")
    answer(small, rerun)
    assert wait_for_execution(execution_arn(small, rerun))["status"] == "SUCCEEDED"
    assert as_decimals(published(small, rerun)) == sales_aggregate(text)
    assert [job(small, j)["status"] for j in (failed, again, rejected, rerun)] == [
        "FAILED",
        "FAILED",
        "REJECTED",
        "PUBLISHED",
    ]


def test_a_folder_marker_or_another_file_type_starts_nothing_and_trips_no_alarm(small):
    bucket, machine = small.outputs[names.BUCKET_OUTPUT], small.outputs[names.STATE_MACHINE_ARN_OUTPUT]
    sfn = small.client("stepfunctions")
    before = {e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    small.cloud.async_invocations.clear()
    for key in ("incoming/", "incoming/2026/", "incoming/readme.txt", "incoming/sales.csv.part"):
        small.client("s3").put_object(Bucket=bucket, Key=key, Body=b"")
    small.settle()
    assert [
        i for i in small.cloud.async_invocations if i.function_name == small.function_name("StartFunction")
    ] == []  # the suffix filter
    # Delivered anyway (a notification configured by hand, say): skipped, not an error.
    payload, error = small.invoke(
        "StartFunction", s3_put(bucket, "incoming/", size=0, etag="d41d8cd98f00b204e9800998ecf8427e")
    )
    assert error is None and payload == {"jobs": [], "ignored": ["incoming/"]}
    assert {
        e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]
    } == before  # no (failing) execution
    assert small.messages("StartFailures") == [] and small.messages("StartDLQ") == []


def test_a_csv_with_a_byte_order_mark_aggregates_as_the_same_file_without_one(small):
    text = sales_csv(60)
    plain, marked = (
        upload(small, "plain.csv", text),
        upload(small, "excel.csv", "\ufeff" + text),
    )  # "CSV UTF-8" from a spreadsheet
    for job_id in (plain, marked):
        wait_for_status(small, job_id, "AWAITING_APPROVAL")
        answer(small, job_id)
        assert wait_for_execution(execution_arn(small, job_id))["status"] == "SUCCEEDED"
    assert published(small, marked) == published(small, plain)
    assert as_decimals(published(small, marked)) == sales_aggregate(text)


def test_a_chunk_failing_transiently_is_retried_and_counted_once(small):
    text = sales_csv(120)
    # The handler runs and writes its result, then the invocation fails anyway (a crash after
    # the work): the retry must not count the chunk's rows twice.
    fault = small.inject_failure(
        "ProcessChunkFunction",
        times=1,
        error_type="TransientError",
        after_handler=True,
        when=lambda e: chunk_arg(e) == 2,
    )
    job_id = upload(small, "flaky.csv", text)
    wait_for_status(small, job_id, "AWAITING_APPROVAL")
    assert fault.injected == 1
    failed = [e for e in history(small, job_id) if e["type"] in ("LambdaFunctionFailed", "TaskFailed")]
    assert len(failed) == 1 and "TransientError" in json.dumps(failed[0], default=str)
    answer(small, job_id)
    wait_for_execution(execution_arn(small, job_id))
    assert as_decimals(published(small, job_id)) == sales_aggregate(text)


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
    assert not any(
        e["type"].startswith("TaskStateEntered")
        and e.get("stateEnteredEventDetails", {}).get("name") == "WaitForApproval"
        for e in history(small, job_id)
    )


def test_a_rejected_job_ends_rejected_and_publishes_nothing(small):
    job_id = upload(small, "doubtful.csv", sales_csv(30))
    wait_for_status(small, job_id, "AWAITING_APPROVAL")
    assert "rejected" in answer(small, job_id, reject=True, reason="revenue looks doubled")
    execution = wait_for_execution(execution_arn(small, job_id))
    assert execution["status"] == "SUCCEEDED"  # a decision, not a fault: ends in JobRejected
    record = job(small, job_id)
    assert (record["status"], record["error"], record["reason"]) == ("REJECTED", "Rejected", "revenue looks doubled")
    keys = (
        small.client("s3")
        .list_objects_v2(Bucket=small.outputs[names.BUCKET_OUTPUT], Prefix=names.PUBLISHED_PREFIX)
        .get("Contents", [])
    )
    assert f"{names.PUBLISHED_PREFIX}{job_id}.json" not in [k["Key"] for k in keys]
    with pytest.raises(Refused, match="REJECTED, not waiting"):
        answer(small, job_id)  # a second answer is refused


def test_a_job_reads_its_own_upload_not_the_one_that_replaced_it(small):
    """S3 events name one version of a key. When the key is uploaded again before the first job's
    Split reads it, the first job fails saying so, and the new upload's own job runs its own data:
    no upload is processed twice, none is processed under another's job."""
    first_text, second_text = sales_csv(40), sales_csv(25)
    with small.hold_invocations("SplitFunction") as held:
        first = upload(small, "replaced.csv", first_text)
        held.wait_for(1)  # the first job's Split is about to read the key
        second = upload(small, "replaced.csv", second_text)
    record = wait_for_status(small, first, "FAILED")
    assert record["error"] == "MalformedData" and "was replaced after this job's upload" in record["reason"]
    wait_for_status(small, second, "AWAITING_APPROVAL")
    answer(small, second)
    assert wait_for_execution(execution_arn(small, second))["status"] == "SUCCEEDED"
    assert as_decimals(published(small, second)) == sales_aggregate(second_text)


def test_an_unanswered_approval_expires_the_job(quick_expiry):
    job_id = upload(quick_expiry, "forgotten.csv", sales_csv(30))
    wait_for_status(quick_expiry, job_id, "AWAITING_APPROVAL")
    execution = wait_for_execution(execution_arn(quick_expiry, job_id), timeout=APPROVAL_SECONDS * 20)
    assert (execution["status"], execution.get("error")) == ("FAILED", "ApprovalExpired")
    record = job(quick_expiry, job_id)
    assert (record["status"], record["error"]) == ("EXPIRED", "States.Timeout")  # the one deadline, approval_timeout
    assert "task_token" not in record
    with pytest.raises(Refused, match="EXPIRED, not waiting"):
        answer(quick_expiry, job_id)


def test_a_retried_approval_request_stores_the_new_token_and_the_job_publishes(small):
    """The approval function stores its token and then fails (say its SNS publish was throttled):
    Step Functions retries WaitForApproval with a NEW token. The retry must replace the stored
    token, not fail the job, and only the new token answers the task."""
    text = sales_csv(40)
    first_tokens: list[str] = []

    def first_attempt(event: Any) -> bool:
        payload = json.loads(event) if isinstance(event, str) else event
        first_tokens.append(payload["task_token"])
        return True

    messages = subscribe_to_approvals(small)
    fault = small.inject_failure(
        "RequestApprovalFunction", times=1, error_type="TransientError", after_handler=True, when=first_attempt
    )
    job_id = upload(small, "retried-approval.csv", text)

    def retried_or_ended() -> dict[str, Any] | None:
        record = job(small, job_id)
        ended = record.get("status") in ("PUBLISHED", "FAILED", "REJECTED", "EXPIRED")
        return record if first_tokens and (ended or record.get("task_token") not in (None, *first_tokens)) else None

    record = wait_for(retried_or_ended, timeout=60, what="the retried approval's token")
    assert fault.injected == 1 and record["status"] == "AWAITING_APPROVAL", (
        record
    )  # today: FAILED, ConditionalCheckFailedException
    assert record["task_token"] not in first_tokens
    # Each attempt sent a message; the retry's says it replaces the first; both state the deadline:
    # when WaitForApproval was entered plus its 24 h TimeoutSeconds, in UTC.
    # The retry stores its token before it publishes: wait for its message too.
    seen: list[str] = []

    def both_messages() -> list[str] | None:
        seen.extend(m for m in approval_messages(small, messages) if f"Job {job_id} " in m)
        return seen if len(seen) >= 2 else None

    first, second = wait_for(both_messages, timeout=30, what="both approval messages")
    entered = next(
        e["timestamp"]
        for e in history(small, job_id)
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "WaitForApproval"
    )
    stated = datetime.strptime(re.search(r"Answer before (\S+);", first).group(1), "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC
    )
    assert abs(stated - (entered + timedelta(hours=24))) < timedelta(seconds=2)
    assert "replaces an earlier one" not in first and "replaces an earlier one" in second
    with pytest.raises(small.client("stepfunctions").exceptions.TaskTimedOut):  # the first attempt's token is closed
        small.client("stepfunctions").send_task_success(
            taskToken=first_tokens[0], output=json.dumps({"approved": True})
        )
    # `make approve` run by someone who read the job before the retry stored its token:
    stale = StaleFirstRead(small.client("dynamodb"), first_tokens[0])
    with pytest.raises(
        Refused,
        match=f"sent again .* superseded \\(TaskTimedOut\\); nothing was decided: run make approve JOB={job_id} again",
    ):
        decide(
            stale,
            small.client("stepfunctions"),
            small.outputs[names.JOBS_TABLE_OUTPUT],
            job_id,
            reject=False,
            reason="",
        )
    assert "approved" in answer(small, job_id)
    execution = wait_for_execution(execution_arn(small, job_id))
    assert execution["status"] == "SUCCEEDED"
    assert job(small, job_id)["status"] == "PUBLISHED"
    assert as_decimals(published(small, job_id)) == sales_aggregate(text)
