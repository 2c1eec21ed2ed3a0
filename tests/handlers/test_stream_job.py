"""StreamJob handlers: the job API and the stream processor, against moto DynamoDB.

Stream records are built from the items the job API really wrote, shaped as the table's stream
delivers them (NEW_IMAGE view), so the two handlers are tested through the record they share.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import time
from decimal import Decimal

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from hypothesis import given

from localcloud.events import api_gateway_rest, dynamodb_stream, sqs
from stream_job import jobs, names
from tests.handlers.fuzz import any_text, assert_client_safe, fuzz_settings, odd_strings, request_bodies

TTL_SECONDS = 7 * 24 * 3600
# 1,000.00 at 12 % a year (1 % a month), 510.00 a month, worked by hand:
#   month 1: interest 10.00, balance 1000.00 + 10.00 - 510.00 = 500.00
#   month 2: interest  5.00, final payment 505.00 clears it.
LOAN = {"currency": "EUR", "principal": "1000.00", "annual_rate_percent": "12", "monthly_payment": "510.00"}
LOAN_REPORT = {
    "currency": "EUR",
    "principal": "1000.00",
    "months": 2,
    "final_payment": "505.00",
    "total_paid": "1015.00",
    "total_interest": "15.00",
    "years": [{"year": 1, "paid": "1015.00", "interest": "15.00", "closing_balance": "0.00"}],
}


@pytest.fixture
def table(empty_aws, monkeypatch):
    jobs_table = empty_aws.table("jobs", "job_id")
    monkeypatch.setenv(names.JOBS_TABLE_ENV, "jobs")
    monkeypatch.setenv(names.JOB_TTL_SECONDS_ENV, str(TTL_SECONDS))
    yield jobs_table


def fresh(module: str):
    """The handler module imported as a cold start would, inside the mocked account."""
    sys.modules.pop(module, None)
    return importlib.import_module(module)


@pytest.fixture
def api(table):
    return fresh("stream_job.api")


@pytest.fixture
def processor(table):
    return fresh("stream_job.processor")


def call(api, context, method: str, path: str, body: object = None, **kwargs) -> tuple[int, dict, dict]:
    event = api_gateway_rest(method, path, body, **kwargs)
    if path.startswith("/jobs/"):
        event["resource"] = event["requestContext"]["resourcePath"] = "/jobs/{job_id}"
        event["pathParameters"] = {"job_id": path.removeprefix("/jobs/")}
    response = api.main(event, context)
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    multi = {k.lower(): v[0] for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers = {**multi, **headers}
    assert headers.get("content-type") == "application/json"
    return response["statusCode"], json.loads(response["body"]), headers


def submit(api, context, body: dict = LOAN) -> str:
    status, reply, _ = call(api, context, "POST", "/jobs", body)
    assert status == 202, reply
    return reply["job_id"]


def stored(table, job_id: str) -> dict:
    return table.get_item(Key={"job_id": job_id}, ConsistentRead=True)["Item"]


def inserted(table, *job_ids: str) -> dict:
    """The stream event the table emits for these jobs' INSERTs."""
    return dynamodb_stream("jobs", "job_id", *(stored(table, job_id) for job_id in job_ids))


def process(processor, event: dict, context) -> list[str]:
    """The sequence numbers the processor reports as failed, so the mapping retries from there.

    When every record of a batch fails, Powertools raises instead: the whole batch is retried.
    """
    try:
        response = processor.main(event, context)
    except BatchProcessingError:
        return [record["dynamodb"]["SequenceNumber"] for record in event["Records"]]
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


# --- job API: happy paths -----------------------------------------------------------------


def test_submit_answers_202_with_status_url_and_writes_pending_job(api, table, context):
    before = int(time.time())
    status, body, headers = call(api, context, "POST", "/jobs", LOAN)
    assert status == 202
    job_id = body["job_id"]
    assert jobs.JOB_ID.match(job_id)
    url = f"https://abcdef1234.execute-api.eu-west-1.amazonaws.com/v1/jobs/{job_id}"
    assert body == {"job_id": job_id, "status": "pending", "status_url": url}
    assert headers["location"] == url and headers["retry-after"] == "2"
    item = stored(table, job_id)
    assert item["status"] == "pending"
    assert item["request"] == {
        "currency": "EUR",
        "principal": "1000.00",
        "annual_rate_percent": "12",
        "monthly_payment": "510.00",
    }
    assert before + TTL_SECONDS <= item["expires_at"] <= int(time.time()) + TTL_SECONDS
    assert item["created_at"].endswith("Z")


def test_pending_job_status_asks_the_client_to_come_back(api, context):
    job_id = submit(api, context)
    status, body, headers = call(api, context, "GET", f"/jobs/{job_id}")
    assert (status, body["status"], body["progress"], headers["retry-after"]) == (200, "pending", 0, "2")
    assert "result" not in body and "error" not in body


def test_each_job_gets_its_own_id(api, context):
    assert submit(api, context) != submit(api, context)


# --- processor: the job runs once and its result is what the report should be ---------------


def test_job_runs_to_complete_with_the_report(api, processor, table, context):
    job_id = submit(api, context)
    assert processor.main(inserted(table, job_id), context) == {"batchItemFailures": []}
    status, body, headers = call(api, context, "GET", f"/jobs/{job_id}")
    assert (status, body["status"], body["progress"], body["attempts"]) == (200, "complete", 100, 1)
    assert body["result"] == LOAN_REPORT
    assert "retry-after" not in headers
    assert {"claim_id", "claimed_until"}.isdisjoint(stored(table, job_id))


def test_report_months_match_the_closed_form(api, processor, table, context):
    # n = -ln(1 - rP/A) / ln(1 + r) months, rounded up, for rate r a month, principal P, payment A.
    r, principal, payment = 0.06 / 12, 10_000, 200
    expected_months = math.ceil(-math.log(1 - r * principal / payment) / math.log(1 + r))
    job_id = submit(
        api, context, {**LOAN, "principal": "10000.00", "annual_rate_percent": "6", "monthly_payment": "200.00"}
    )
    processor.main(inserted(table, job_id), context)
    result = stored(table, job_id)["result"]
    assert result["months"] == expected_months == 58
    assert Decimal(result["total_paid"]) - Decimal(result["total_interest"]) == Decimal("10000.00")
    assert Decimal(result["total_paid"]) == 57 * Decimal("200.00") + Decimal(result["final_payment"])
    assert [y["year"] for y in result["years"]] == [1, 2, 3, 4, 5]


def test_progress_is_written_while_the_job_is_processing(api, processor, table, context, monkeypatch):
    seen = []
    real = processor.amortize

    def observed(request, progress):
        progress(40)
        item = stored(table, job_id)
        seen.append((item["status"], item["progress"]))
        return real(request, progress)

    monkeypatch.setattr(processor, "amortize", observed)
    job_id = submit(api, context)
    processor.main(inserted(table, job_id), context)
    assert seen == [("processing", 40)]
    assert stored(table, job_id)["status"] == "complete"


# --- processor: the job's own failures end `failed`, the record succeeds ------------------


@pytest.mark.parametrize(
    ("loan", "error"),
    [
        ({"monthly_payment": "10.00"}, "does not cover the first month's interest of 10.00"),
        ({"annual_rate_percent": "0", "principal": "100000.00", "monthly_payment": "1.00"}, "more than 600 months"),
    ],
)
def test_job_whose_input_cannot_be_reported_ends_failed_with_its_error(api, processor, table, context, loan, error):
    job_id = submit(api, context, {**LOAN, **loan})
    assert processor.main(inserted(table, job_id), context) == {"batchItemFailures": []}
    status, body, headers = call(api, context, "GET", f"/jobs/{job_id}")
    assert (status, body["status"]) == (200, "failed")
    assert error in body["error"]
    assert "result" not in body and "retry-after" not in headers


def test_stored_request_that_no_longer_validates_fails_the_job(processor, table, context):
    job_id = jobs.new_job_id()
    jobs.insert_pending(table, job_id, {**LOAN, "principal": 1000}, now=time.time(), ttl_seconds=60)
    assert processor.main(inserted(table, job_id), context) == {"batchItemFailures": []}
    item = stored(table, job_id)
    assert item["status"] == "failed" and item["error"].startswith("the stored request is not valid")


# --- processor: redelivery and races ------------------------------------------------------


def counting_work(processor, monkeypatch) -> list[str]:
    runs: list[str] = []
    real = processor.amortize

    def counted(request, progress):
        runs.append(str(request.principal))
        return real(request, progress)

    monkeypatch.setattr(processor, "amortize", counted)
    return runs


def test_redelivered_record_of_a_finished_job_does_not_run_it_again(api, processor, table, context, monkeypatch):
    runs = counting_work(processor, monkeypatch)
    job_id = submit(api, context)
    event = inserted(table, job_id)
    processor.main(event, context)
    finished = stored(table, job_id)
    assert processor.main(event, context) == {"batchItemFailures": []}
    assert runs == ["1000.00"]
    assert stored(table, job_id) == finished


def test_record_of_a_job_another_run_holds_is_retried_not_run(api, processor, table, context, monkeypatch):
    runs = counting_work(processor, monkeypatch)
    job_id = submit(api, context)
    event = inserted(table, job_id)
    assert jobs.claim(table, job_id, "other-run", now=time.time(), until=time.time() + 300)
    assert process(processor, event, context) == [event["Records"][0]["dynamodb"]["SequenceNumber"]]
    assert runs == []
    assert (stored(table, job_id)["status"], stored(table, job_id)["claim_id"]) == ("processing", "other-run")


def test_job_whose_run_died_is_taken_over_after_its_claim_expires(api, processor, table, context, monkeypatch):
    runs = counting_work(processor, monkeypatch)
    job_id = submit(api, context)
    assert jobs.claim(table, job_id, "timed-out-run", now=time.time() - 900, until=time.time() - 1)
    assert processor.main(inserted(table, job_id), context) == {"batchItemFailures": []}
    item = stored(table, job_id)
    assert (item["status"], item["attempts"], runs) == ("complete", 2, ["1000.00"])
    # The dead run wakes up: its writes are refused and it cannot overwrite the result.
    with pytest.raises(jobs.ClaimLost):
        jobs.fail(table, job_id, "timed-out-run", "late", now=time.time())
    assert stored(table, job_id)["result"] == LOAN_REPORT


def test_transient_error_gives_the_job_back_and_the_retried_record_completes_it(
    api, processor, table, context, monkeypatch
):
    real = processor.amortize

    def flaky(request, progress):
        raise ConnectionError("endpoint timed out")

    job_id = submit(api, context)
    event = inserted(table, job_id)
    monkeypatch.setattr(processor, "amortize", flaky)
    assert process(processor, event, context) == [event["Records"][0]["dynamodb"]["SequenceNumber"]]
    item = stored(table, job_id)
    assert (item["status"], item["last_error"]) == ("pending", "ConnectionError: endpoint timed out")
    assert "claim_id" not in item

    monkeypatch.setattr(processor, "amortize", real)
    assert processor.main(event, context) == {"batchItemFailures": []}
    item = stored(table, job_id)
    assert (item["status"], item["attempts"], item["result"]) == ("complete", 2, LOAN_REPORT)


def test_only_the_record_that_failed_transiently_is_reported(api, processor, table, context, monkeypatch):
    real = processor.amortize

    def flaky_for_2000(request, progress):
        if request.principal == Decimal("2000.00"):
            raise TimeoutError("read timed out")
        return real(request, progress)

    monkeypatch.setattr(processor, "amortize", flaky_for_2000)
    ids = [submit(api, context, {**LOAN, "principal": p}) for p in ("1000.00", "2000.00", "3000.00")]
    event = inserted(table, *ids)
    assert process(processor, event, context) == [event["Records"][1]["dynamodb"]["SequenceNumber"]]
    assert [stored(table, job_id)["status"] for job_id in ids] == ["complete", "pending", "complete"]


def test_record_without_a_job_is_reported_failed(processor, context):
    event = dynamodb_stream("jobs", "id", {"id": "not-a-job"})
    assert len(process(processor, event, context)) == 1


def test_record_of_an_expired_job_is_skipped(processor, context, monkeypatch):
    runs = counting_work(processor, monkeypatch)
    gone = {"job_id": jobs.new_job_id(), "status": "pending", "request": LOAN}
    assert processor.main(dynamodb_stream("jobs", "job_id", gone), context) == {"batchItemFailures": []}
    assert runs == []


# --- failed-jobs handler: the jobs of a batch the mapping gave up on end failed ------------


@pytest.fixture
def streamed(table, empty_aws, monkeypatch):
    """The jobs table with its stream on (NEW_IMAGE), as the stack makes it."""
    # moto routes DynamoDB Streams calls only without the account id in the endpoint.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    empty_aws.client("dynamodb").update_table(
        TableName="jobs", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    )
    return table


@pytest.fixture
def failed_jobs(streamed):
    return fresh("stream_job.failed_jobs")


def stream_failure(empty_aws, *job_ids: str, condition: str = "RetryAttemptsExhausted", attempts: int = 4) -> str:
    """Lambda's on-failure record for a stream batch from the first of these jobs' INSERTs to the
    last (the processor's own writes in between included), as the mapping sends it."""
    streams = empty_aws.client("dynamodbstreams")
    arn = empty_aws.client("dynamodb").describe_table(TableName="jobs")["Table"]["LatestStreamArn"]
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    inserts = [
        r["dynamodb"]["SequenceNumber"]
        for r in streams.get_records(ShardIterator=iterator)["Records"]
        if r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["job_id"]["S"] in job_ids
    ]
    assert len(inserts) == len(job_ids)
    return json.dumps(
        {
            "requestContext": {
                "requestId": "r-1",
                "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:processor",
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2026-12-04T18:00:00.000Z",
            "DDBStreamBatchInfo": {
                "shardId": shard["ShardId"],
                "startSequenceNumber": inserts[0],
                "endSequenceNumber": inserts[-1],
                "batchSize": len(inserts),
                "streamArn": arn,
            },
        }
    )


def give_back(processor, table, context, monkeypatch, job_id: str) -> None:
    """A run that fails transiently: the job is given back, pending with its last error."""
    real = processor.amortize
    monkeypatch.setattr(
        processor, "amortize", lambda request, progress: (_ for _ in ()).throw(ConnectionError("endpoint timed out"))
    )
    process(processor, inserted(table, job_id), context)
    monkeypatch.setattr(processor, "amortize", real)
    assert stored(table, job_id)["status"] == "pending"


def test_a_job_every_attempt_failed_ends_failed_with_the_last_error_for_the_client(
    api, processor, failed_jobs, streamed, empty_aws, context, monkeypatch
):
    job_id = submit(api, context)
    give_back(processor, streamed, context, monkeypatch, job_id)
    assert failed_jobs.main(sqs(stream_failure(empty_aws, job_id)), context) == {"batchItemFailures": []}

    status, body, headers = call(api, context, "GET", f"/jobs/{job_id}")
    assert (status, body["status"]) == (200, "failed")
    assert body["error"] == (
        "The job could not be processed: every attempt failed after 4 attempts (RetryAttemptsExhausted); "
        "last error: ConnectionError: endpoint timed out."
    )
    assert "retry-after" not in headers  # final: the client stops polling
    # A replay of the job's record (a new mapping at TRIM_HORIZON) does not run it.
    runs = counting_work(processor, monkeypatch)
    before = stored(streamed, job_id)
    assert processor.main(inserted(streamed, job_id), context) == {"batchItemFailures": []}
    assert (runs, stored(streamed, job_id)) == ([], before)


def test_a_job_no_run_started_ends_failed_naming_the_processors_failure(api, failed_jobs, streamed, empty_aws, context):
    job_id = submit(api, context)
    failed_jobs.main(sqs(stream_failure(empty_aws, job_id, condition="RecordAgeExceeded", attempts=2)), context)
    item = stored(streamed, job_id)
    assert (item["status"], item["attempts"]) == ("failed", 0)
    assert item["error"] == (
        "The job could not be processed: its stream record grew older than the processor's maximum record age; "
        "the processor failed before running it (Unhandled)."
    )


def test_a_job_whose_run_died_holding_it_ends_failed_once_its_claim_has_expired(
    api, failed_jobs, streamed, empty_aws, context
):
    job_id = submit(api, context)
    assert jobs.claim(streamed, job_id, "crashed-run", now=time.time() - 200, until=time.time() + 300)
    message = sqs(stream_failure(empty_aws, job_id))
    # The claim is live: the run may still be working. The message fails and comes back later,
    # reported as a batch item failure, not an invocation error (which would page as Errors).
    (only,) = message["Records"]
    assert failed_jobs.main(message, context) == {"batchItemFailures": [{"itemIdentifier": only["messageId"]}]}
    assert stored(streamed, job_id)["status"] == "processing"
    # Time passes: the claim expired at the run's deadline.
    streamed.update_item(
        Key={"job_id": job_id},
        UpdateExpression="SET claimed_until = :past",
        ExpressionAttributeValues={":past": int(time.time()) - 1},
    )
    assert failed_jobs.main(message, context) == {"batchItemFailures": []}
    item = stored(streamed, job_id)
    assert item["status"] == "failed" and "claim_id" not in item and "claimed_until" not in item
    assert "the last run stopped while holding the job" in item["error"]
    # The dead run cannot overwrite the failure if it wakes up.
    with pytest.raises(jobs.ClaimLost):
        jobs.complete(streamed, job_id, "crashed-run", LOAN_REPORT, now=time.time())


def test_finished_jobs_of_the_batch_are_left_alone_and_a_redelivered_record_changes_nothing(
    api, processor, failed_jobs, streamed, empty_aws, context, monkeypatch
):
    done, given_back, hopeless = (
        submit(api, context),
        submit(api, context),
        submit(api, context, {**LOAN, "monthly_payment": "10.00"}),
    )
    processor.main(inserted(streamed, done, hopeless), context)
    give_back(processor, streamed, context, monkeypatch, given_back)
    finished = {job_id: stored(streamed, job_id) for job_id in (done, hopeless)}
    message = sqs(stream_failure(empty_aws, done, given_back, hopeless))
    assert failed_jobs.main(message, context) == {"batchItemFailures": []}
    assert {job_id: stored(streamed, job_id) for job_id in finished} == finished
    failed = stored(streamed, given_back)
    assert failed["status"] == "failed"
    assert failed_jobs.main(message, context) == {"batchItemFailures": []}
    assert stored(streamed, given_back) == failed


def test_a_job_deleted_by_its_ttl_is_skipped(api, failed_jobs, streamed, empty_aws, context):
    job_id = submit(api, context)
    message = sqs(stream_failure(empty_aws, job_id))
    streamed.delete_item(Key={"job_id": job_id})
    assert failed_jobs.main(message, context) == {"batchItemFailures": []}
    assert "Item" not in streamed.get_item(Key={"job_id": job_id})


@pytest.mark.parametrize(
    "body", ["not json", json.dumps({"requestContext": {}, "requestPayload": {}})], ids=["not-json", "async-record"]
)
def test_a_message_that_is_not_a_stream_failure_record_is_reported_failed(failed_jobs, context, body):
    message = sqs(body)
    (only,) = message["Records"]  # its only record failed: reported, retried, then the DLQ
    assert failed_jobs.main(message, context) == {"batchItemFailures": [{"itemIdentifier": only["messageId"]}]}


# --- job API: bad input -------------------------------------------------------------------


def assert_no_jobs(table) -> None:
    assert table.scan()["Items"] == []


def test_malformed_json_is_400(api, table, context):
    status, body, _ = call(api, context, "POST", "/jobs", raw_body='{"currency": "EUR",')
    assert (status, body["error"]) == (400, "MALFORMED_JSON")
    assert_no_jobs(table)


@pytest.mark.parametrize(
    "raw",
    [
        '{"currency": "EUR", "principal": "1000.00", "annual_rate_percent": "\\ud800", "monthly_payment": "510.00"}',
        '{"currency": "EUR", "principal": "1000.00", "annual_rate_percent": "12", "monthly_payment": "510.00", '
        '"\\udc00": 1}',
    ],
    ids=["lone-surrogate-value", "lone-surrogate-key"],
)
def test_a_lone_surrogate_escape_is_a_400_not_a_crash(api, table, context, raw):
    # A JSON escape of half a surrogate pair parses to a string no UTF-8 can carry: pydantic raised
    # UnicodeEncodeError on it (a 500) when a validator echoed the value in its message.
    response = api.main(api_gateway_rest("POST", "/jobs", raw_body=raw), context)
    body = assert_client_safe(response)
    assert (response["statusCode"], body["error"]) == (400, "MALFORMED_JSON")
    assert "surrogate" in body["message"]
    assert_no_jobs(table)


def test_a_rate_that_is_not_a_number_is_refused_without_echoing_it(api, table, context):
    status, body, _ = call(api, context, "POST", "/jobs", {**LOAN, "annual_rate_percent": "twelve <b>"})
    assert (status, body["error"]) == (422, "VALIDATION_FAILED")
    assert "twelve" not in json.dumps(body)
    assert_no_jobs(table)


def test_body_marked_base64_that_does_not_decode_is_400(api, table, context):
    event = api_gateway_rest("POST", "/jobs", raw_body="not base64!")
    event["isBase64Encoded"] = True
    response = api.main(event, context)
    assert (response["statusCode"], json.loads(response["body"])["error"]) == (400, "MALFORMED_BODY")
    assert_no_jobs(table)


def test_oversized_body_is_413(api, table, context):
    status, body, _ = call(api, context, "POST", "/jobs", {**LOAN, "padding": "x" * 20_000})
    assert (status, body["error"]) == (413, "PAYLOAD_TOO_LARGE")
    assert_no_jobs(table)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in LOAN.items() if k != "principal"}, "principal"),
        ({**LOAN, "principal": 1000}, "principal"),
        ({**LOAN, "principal": "-5.00"}, "principal"),
        ({**LOAN, "monthly_payment": "1.001"}, "monthly_payment"),
        ({**LOAN, "annual_rate_percent": 5.5}, "annual_rate_percent"),
        ({**LOAN, "annual_rate_percent": "101"}, "annual_rate_percent"),
        ({**LOAN, "annual_rate_percent": "-1"}, "annual_rate_percent"),
        ({**LOAN, "currency": "JPY"}, "currency"),
        ({**LOAN, "status": "complete"}, "status"),
    ],
)
def test_invalid_request_is_422_naming_the_field(api, table, context, body, field):
    status, reply, _ = call(api, context, "POST", "/jobs", body)
    assert (status, reply["error"]) == (422, "VALIDATION_FAILED")
    assert field in [detail["field"] for detail in reply["details"]]
    assert_no_jobs(table)


@pytest.mark.parametrize("body", [None, [LOAN], "a string"])
def test_body_that_is_not_an_object_is_rejected(api, table, context, body):
    status, reply, _ = call(api, context, "POST", "/jobs", body)
    assert (status, reply["error"]) == (422, "VALIDATION_FAILED")
    assert_no_jobs(table)


@pytest.mark.parametrize("job_id", ["j-" + "0" * 32, "j-XYZ", "..%2F..%2Fetc", "j-" + "a" * 33])
def test_unknown_or_malformed_job_id_is_404(api, context, job_id):
    status, body, _ = call(api, context, "GET", f"/jobs/{job_id}")
    assert (status, body["error"]) == (404, "NOT_FOUND")


# --- property: no client input makes the job API answer 5xx ----------------------------------


@fuzz_settings
@given(body=request_bodies(valid=LOAN))
def test_no_body_makes_the_job_api_fail(api, context, body):
    assert_client_safe(api.main(body.apply_to(api_gateway_rest("POST", "/jobs")), context))


@fuzz_settings
@given(job_id=any_text(max_size=80) | odd_strings)
def test_no_job_id_makes_the_status_api_fail(api, context, job_id):
    event = api_gateway_rest("GET", f"/jobs/{job_id}")
    event["resource"] = event["requestContext"]["resourcePath"] = "/jobs/{job_id}"
    event["pathParameters"] = {"job_id": job_id}
    response = api.main(event, context)
    assert_client_safe(response)
    assert response["statusCode"] == 404
