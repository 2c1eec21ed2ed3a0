"""StreamJob end to end: jobs submitted through the deployed job API, run from the table's stream.

The API function is invoked with REST proxy events as API Gateway would send them (API Gateway
itself, its IAM auth and request model are not emulated: tests/templates assert them). The stream
reaches the processor only when a test drains it (`stack.drain_stream`), through the deployed
mapping's filter, batch size, retries, bisect, partial batch responses and on-failure destination.

Not emulated: the mapping's MaximumRecordAgeInSeconds (localcloud keeps no record age: records
are delivered however old they are); tests/templates/test_stream_job.py asserts its value.
"""

from __future__ import annotations

import json
import re
import time

import boto3
import pytest

from localcloud import Deployment
from localcloud.events import api_gateway_rest
from stream_job import jobs, names
from tests.oracles import loan_schedule

PROCESSOR = "ProcessorFunction"
FAILED_JOBS = "FailedJobsFunction"

# 10,000.00 at 6 % a year, 500.00 a month: repaid in the second year (a progress write per year).
LOAN = {"currency": "EUR", "principal": "10000.00", "annual_rate_percent": "6", "monthly_payment": "500.00"}
# 1,000.00 at 12 % a year: the first month's interest (10.00) eats the whole payment.
HOPELESS = {"currency": "EUR", "principal": "1000.00", "annual_rate_percent": "12", "monthly_payment": "10.00"}


@pytest.fixture(scope="module")
def stack(deploy, cloud_assembly) -> Deployment:
    return deploy(cloud_assembly.directory, "StreamJob")


@pytest.fixture(autouse=True)
def quiet_stream(stack):
    """Each test starts with nothing new on the stream and leaves no failure record behind."""
    stack.drain_stream(PROCESSOR)
    yield
    stack.drain(stack.outputs[names.STREAM_FAILURES_QUEUE_OUTPUT])
    stack.messages("ProcessorFailuresDLQ")


def call(stack: Deployment, method: str, path: str, body: object = None) -> tuple[int, dict, dict]:
    event = api_gateway_rest(method, path, body)
    if path.startswith("/jobs/"):
        event["resource"] = event["requestContext"]["resourcePath"] = "/jobs/{job_id}"
        event["pathParameters"] = {"job_id": path.removeprefix("/jobs/")}
    response, error = stack.invoke("ApiFunction", event)
    assert error is None, response
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    headers |= {k.lower(): v[0] for k, v in (response.get("multiValueHeaders") or {}).items()}
    return response["statusCode"], json.loads(response["body"]), headers


def submit(stack: Deployment, loan: dict) -> str:
    status, body, headers = call(stack, "POST", "/jobs", loan)
    assert (status, body["status"]) == (202, "pending"), body
    assert body["status_url"].endswith(f"/v1/jobs/{body['job_id']}") and headers["location"] == body["status_url"]
    assert headers["retry-after"] == "2"
    return body["job_id"]


def job(stack: Deployment, job_id: str) -> dict:
    status, body, _ = call(stack, "GET", f"/jobs/{job_id}")
    assert status == 200, body
    return body


def stream_records(stack: Deployment) -> list[dict]:
    """Every record on the jobs table's stream, oldest first, read straight from DynamoDB Streams."""
    streams = stack.client("dynamodbstreams")
    arn = stack.attribute(stack.logical_id("AWS::DynamoDB::Table", "JobsTable"), "StreamArn")
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    return streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]


def images_of(records: list[dict], job_id: str) -> list[tuple[str, str, int]]:
    """(event name, status, progress) of each record of one job."""
    return [
        (r["eventName"], r["dynamodb"]["NewImage"]["status"]["S"], int(r["dynamodb"]["NewImage"]["progress"]["N"]))
        for r in records
        if r["dynamodb"]["Keys"]["job_id"]["S"] == job_id
    ]


def job_ids(batches) -> list[str]:
    return [r["dynamodb"]["NewImage"]["job_id"]["S"] for batch in batches for r in batch.records]


def mapping_config(stack: Deployment) -> dict:
    (mapping,) = stack.client("lambda").list_event_source_mappings(FunctionName=stack.function_name(PROCESSOR))[
        "EventSourceMappings"
    ]
    return mapping


# --- the happy path: 202, pending, the stream runs it, complete with the report -------------


def test_a_job_goes_pending_processing_complete_with_the_report(stack):
    report, progress = loan_schedule(LOAN)
    assert report["months"] == 22 and progress[-1] == 100  # the loan runs into a second year

    job_id = submit(stack, LOAN)
    pending = job(stack, job_id)
    assert (pending["status"], pending["progress"], pending["attempts"]) == ("pending", 0, 0)
    assert "result" not in pending

    (batch,) = stack.drain_stream(PROCESSOR)
    assert (job_ids([batch]), batch.errored, batch.response) == ([job_id], False, {"batchItemFailures": []})

    done = job(stack, job_id)
    assert (done["status"], done["progress"], done["attempts"]) == ("complete", 100, 1)
    assert done["result"] == report
    # The stream saw every transition: the insert, the claim, a progress write per year, the end.
    assert images_of(stream_records(stack), job_id) == [
        ("INSERT", "pending", 0),
        ("MODIFY", "processing", 0),
        *[("MODIFY", "processing", p) for p in progress],
        ("MODIFY", "complete", 100),
    ]


def test_a_job_whose_input_cannot_be_reported_ends_failed_with_its_error(stack):
    job_id = submit(stack, HOPELESS)
    (batch,) = stack.drain_stream(PROCESSOR)
    assert (job_ids([batch]), batch.errored, batch.failed_ids) == (
        [job_id],
        False,
        [],
    )  # the job's failure, not the record's
    failed = job(stack, job_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["error"] == (
        "a monthly payment of 10.00 does not cover the first month's interest of 10.00: the loan would never be repaid"
    )
    assert "result" not in failed


# --- exactly once, and no re-trigger ---------------------------------------------------------


def test_a_duplicate_stream_record_does_not_run_the_job_twice(stack):
    job_id = submit(stack, LOAN)
    (batch,) = stack.drain_stream(PROCESSOR)
    first = job(stack, job_id)
    writes = len(images_of(stream_records(stack), job_id))

    # Lambda delivers at least once: the same record again, as the mapping would redeliver it.
    assert isinstance(batch.records[0]["dynamodb"]["ApproximateCreationDateTime"], int)  # epoch seconds, as in AWS
    response, error = stack.invoke(PROCESSOR, {"Records": batch.records})
    assert (error, response) == (None, {"batchItemFailures": []})
    again = job(stack, job_id)
    assert again == first and again["attempts"] == 1
    assert len(images_of(stream_records(stack), job_id)) == writes  # no claim, no write


def test_the_processors_own_writes_do_not_trigger_it_again(stack):
    job_id = submit(stack, LOAN)
    (batch,) = stack.drain_stream(PROCESSOR)
    assert job_ids([batch]) == [job_id]
    assert job(stack, job_id)["status"] == "complete"
    last_delivered = int(batch.records[-1]["dynamodb"]["SequenceNumber"])

    # The processor's writes are on the stream, after the insert it was given...
    later = [r for r in stream_records(stack) if int(r["dynamodb"]["SequenceNumber"]) > last_delivered]
    assert [(name, status) for name, status, _ in images_of(later, job_id)][-1] == ("MODIFY", "complete")
    assert len(later) >= 3 and {r["eventName"] for r in later} == {"MODIFY"}
    # ...and the filter (INSERT of a pending job) matches none of them,
    (only,) = mapping_config(stack)["FilterCriteria"]["Filters"]
    assert json.loads(only["Pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"status": {"S": ["pending"]}}},
    }
    # so a second drain reads past them (the checkpoint moves) and invokes nothing.
    assert stack.drain_stream(PROCESSOR) == []
    assert stack.cloud.stream_checkpoints[mapping_config(stack)["UUID"]] == int(later[-1]["dynamodb"]["SequenceNumber"])
    assert job(stack, job_id)["attempts"] == 1


# --- where the mapping starts: no job accepted before it polls is skipped ---------------------


def test_a_job_accepted_before_the_mapping_starts_polling_is_processed(stack):
    """AWS begins polling minutes after a mapping is created (or replaced): a job accepted in that
    window is still processed, and replaying the stream from its start runs no job twice."""
    earlier = {r["dynamodb"]["Keys"]["job_id"]["S"] for r in stream_records(stack)}
    before = {job_id: job(stack, job_id) for job_id in earlier}
    stack.restart_stream(PROCESSOR)  # the mapping as just created: it has not polled yet
    job_id = submit(stack, LOAN)  # accepted in that window

    batches = stack.drain_stream(PROCESSOR)  # polling begins now, at the mapping's StartingPosition
    assert job_id in job_ids(batches)
    assert not any(b.failed_ids for b in batches)
    done = job(stack, job_id)
    assert (done["status"], done["attempts"], done["result"]) == ("complete", 1, loan_schedule(LOAN)[0])
    # The mapping began at the oldest record: every earlier job's INSERT came again, and a replayed
    # record of a job that had already left `pending` changed nothing.
    assert set(job_ids(batches)) == earlier | {job_id}
    finished = {j: view for j, view in before.items() if view["status"] in ("complete", "failed")}
    assert finished and {j: job(stack, j) for j in finished} == finished


# --- transient failures: retried, bisected, then the on-failure destination ------------------


def failure_records(stack: Deployment) -> list[dict]:
    """Run the failed-jobs handler on ProcessorFailures: the failure records it was given."""
    batches = stack.drain_sqs(FAILED_JOBS)
    assert not any(b.failed_ids for b in batches), [b.response for b in batches]
    return [json.loads(r["body"]) for b in batches for r in b.records]


def test_a_job_every_attempt_failed_for_ends_failed_with_the_reason_for_the_client(stack):
    retries = mapping_config(stack)["MaximumRetryAttempts"]
    assert retries == 3
    job_id = submit(stack, LOAN)
    fault = stack.inject_failure(
        PROCESSOR, times=retries + 1, error_type="ServiceUnavailable", message="Lambda could not start"
    )

    batches = stack.drain_stream(PROCESSOR)
    assert fault.injected == retries + 1
    assert [(job_ids([b]), b.errored) for b in batches] == [([job_id], True)] * (retries + 1)
    assert job(stack, job_id)["status"] == "pending"  # no run started: the mapping gave up on the record

    # The mapping's failure record names the batch (shard, sequence numbers), not the job...
    (failure,) = failure_records(stack)
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == retries + 1
    assert failure["requestContext"]["functionArn"].endswith(f":function:{stack.function_name(PROCESSOR)}")
    sequence = batches[0].records[0]["dynamodb"]["SequenceNumber"]
    info = failure["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (sequence, sequence, 1)
    assert info["streamArn"] == stack.attribute(stack.logical_id("AWS::DynamoDB::Table", "JobsTable"), "StreamArn")
    # ...and the failed-jobs handler read it back from the stream: the client sees why, and stops.
    status, failed, headers = call(stack, "GET", f"/jobs/{job_id}")
    assert (status, failed["status"], failed["attempts"]) == (200, "failed", 0)
    assert failed["error"] == (
        f"The job could not be processed: every attempt failed after {retries + 1} attempts (RetryAttemptsExhausted); "
        "the processor failed before running it (Unhandled)."
    )
    assert "retry-after" not in headers
    assert stack.messages("ProcessorFailuresDLQ") == []


def test_one_jobs_transient_failure_does_not_hold_back_the_rest_of_its_batch(stack):
    retries = mapping_config(stack)["MaximumRetryAttempts"]
    good, bad = submit(stack, LOAN), submit(stack, LOAN)
    # Every invocation whose batch holds `bad` fails before the handler runs.
    fault = stack.inject_failure(PROCESSOR, times=100, when=lambda event: bad in json.dumps(event))
    try:
        batches = stack.drain_stream(PROCESSOR)
    finally:
        fault.times = fault.injected  # spent: later tests see no fault
    # The whole batch fails once; bisect splits it; `good` completes and `bad` alone uses up its retries.
    assert [(job_ids([b]), b.errored) for b in batches] == [
        ([good, bad], True),
        ([good], False),
        *[([bad], True)] * (retries + 1),
    ]
    (failure,) = failure_records(stack)
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == batches[-1].records[0]["dynamodb"]["SequenceNumber"]
    assert (job(stack, good)["status"], job(stack, bad)["status"]) == ("complete", "failed")


def crashed_run_claims(stack: Deployment, job_id: str, *, deadline: float) -> None:
    """What a processor run that claimed the job and then crashed or timed out left behind: the
    job `processing` under its claim, which lasts until that run's own deadline."""
    table = boto3.resource("dynamodb").Table(stack.table_name("JobsTable"))
    assert jobs.claim(table, job_id, "crashed-run", now=time.time(), until=deadline)


def test_a_job_whose_claim_expired_mid_run_ends_failed_with_the_reason_for_the_client(stack):
    retries = mapping_config(stack)["MaximumRetryAttempts"]
    job_id = submit(stack, LOAN)
    crashed_run_claims(stack, job_id, deadline=time.time() - 1)  # the run's deadline has passed
    fault = stack.inject_failure(PROCESSOR, times=retries + 1, message="Task timed out")  # no retry gets to run it

    stack.drain_stream(PROCESSOR)
    assert fault.injected == retries + 1
    assert job(stack, job_id)["status"] == "processing"  # what a client would see forever, before
    (failure,) = failure_records(stack)
    failed = job(stack, job_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["error"] == (
        f"The job could not be processed: every attempt failed after {retries + 1} attempts (RetryAttemptsExhausted); "
        "the last run stopped while holding the job (it timed out or crashed) and its claim expired."
    )


def test_a_job_whose_run_died_holding_it_is_taken_over_by_the_retry(stack):
    job_id = submit(stack, LOAN)
    crashed_run_claims(stack, job_id, deadline=time.time() - 1)
    batches = stack.drain_stream(PROCESSOR)
    assert [(job_ids([b]), b.errored) for b in batches] == [([job_id], False)]
    done = job(stack, job_id)
    assert (done["status"], done["attempts"], done["result"]) == ("complete", 2, loan_schedule(LOAN)[0])


def test_a_transient_error_inside_the_handler_gives_the_job_back_and_a_retry_completes_it(stack):
    """After the handler ran and failed (timed out, crashed): the retried record may claim again."""
    report, _ = loan_schedule(LOAN)
    job_id = submit(stack, LOAN)
    fault = stack.inject_failure(PROCESSOR, times=1, after_handler=True, message="Task timed out")
    batches = stack.drain_stream(PROCESSOR)
    assert fault.injected == 1
    assert [(job_ids([b]), b.errored) for b in batches] == [([job_id], True), ([job_id], False)]
    # The first run completed the job before its invocation failed: the retry skipped it.
    done = job(stack, job_id)
    assert (done["status"], done["attempts"], done["result"]) == ("complete", 1, report)
    assert stack.drain(stack.outputs[names.STREAM_FAILURES_QUEUE_OUTPUT]) == []


# --- bad input through the deployed API --------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({k: v for k, v in LOAN.items() if k != "principal"}, 422, "VALIDATION_FAILED"),
        ({**LOAN, "principal": 10000}, 422, "VALIDATION_FAILED"),
        ({**LOAN, "currency": "XXX"}, 422, "VALIDATION_FAILED"),
    ],
    ids=["missing-field", "number-principal", "unknown-currency"],
)
def test_bad_requests_are_refused_and_start_no_job(stack, body, status, code):
    got, reply, _ = call(stack, "POST", "/jobs", body)
    assert (got, reply["error"]) == (status, code)
    assert stack.drain_stream(PROCESSOR) == []


def test_an_unknown_job_is_404(stack):
    got, reply, _ = call(stack, "GET", "/jobs/j-" + "0" * 32)
    assert (got, reply["error"]) == (404, "NOT_FOUND")


def test_outputs_name_the_entry_points(stack):
    assert stack.outputs[names.JOBS_ENDPOINT_OUTPUT].endswith("/jobs")  # moto has no Stage: its name resolves to None
    assert stack.outputs[names.JOBS_TABLE_OUTPUT] == stack.table_name("JobsTable")
    (failures_id,) = [lid for lid in stack.physical_ids if re.fullmatch(r"ProcessorFailures[0-9A-F]{8}", lid)]
    assert (
        stack.outputs[names.STREAM_FAILURES_QUEUE_OUTPUT] == stack.physical_ids[failures_id]
    )  # a queue's physical id is its URL
