"""StandardWorkflow's task handlers against moto: split -> process chunks -> merge -> approve -> publish."""

from __future__ import annotations

import importlib
import json

import boto3
import pytest

from shared.errors import MalformedData
from standard_workflow import names
from tests.oracles import as_text, sales_aggregate

BUCKET = "standard-workflow-data"
TABLE = "standard-workflow-jobs"
CHUNK_BYTES = 256


@pytest.fixture
def aws(empty_aws, monkeypatch):
    monkeypatch.setenv(names.BUCKET_ENV, BUCKET)
    monkeypatch.setenv(names.JOBS_TABLE_ENV, TABLE)
    monkeypatch.setenv(names.CHUNK_BYTES_ENV, str(CHUNK_BYTES))
    monkeypatch.setenv(names.MAX_CHUNKS_ENV, "100")
    empty_aws.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    empty_aws.table(TABLE, "job_id")
    topic = empty_aws.client("sns").create_topic(Name="approvals")["TopicArn"]
    monkeypatch.setenv(names.APPROVAL_TOPIC_ENV, topic)
    from standard_workflow import handler

    yield importlib.reload(handler)


def make_csv(rows: int) -> str:
    lines = ["region,units,revenue"]
    for i in range(rows):
        lines.append(f"{['north', 'south', 'east'][i % 3]},{i % 7},{(i * 37) % 1000}.{i % 100:02d}")
    return "\n".join(lines) + "\n"


def upload(text: str, key: str = "incoming/sales.csv") -> dict[str, str]:
    """Put the object; what the Start state hands Split about it (its key and the upload's ETag)."""
    put = boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=text.encode())
    return {"source_key": key, "etag": put["ETag"].strip('"')}


def job(job_id: str) -> dict:
    return boto3.resource("dynamodb").Table(TABLE).get_item(Key={"job_id": job_id}).get("Item", {})


def run_job(handler, context, text: str, job_id: str = "job-1") -> dict:
    split = handler.split({"job_id": job_id, **upload(text), "group_by": "region"}, context)
    results = [handler.process_chunk({"job_id": job_id, **chunk}, context) for chunk in split["chunks"]]
    return {"split": split, **handler.merge({"job_id": job_id, "results": results}, context)}


def test_merged_result_equals_an_independent_aggregate_of_the_csv(aws, context):
    text = make_csv(200)
    outcome = run_job(aws, context, text)
    assert outcome["split"]["chunk_count"] > 5  # the work really was split
    merged = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=outcome["merged_key"])["Body"].read())
    assert merged == as_text(sales_aggregate(text))
    record = job("job-1")
    assert record["status"] == "PROCESSING"
    assert len(record["done_chunks"]) == record["chunks_total"] == outcome["split"]["chunk_count"]


def test_state_carries_keys_not_data(aws, context):
    outcome = run_job(aws, context, make_csv(200))
    assert len(json.dumps(outcome["split"])) < 100 * outcome["split"]["chunk_count"]
    assert set(outcome["split"]["chunks"][0]) == {"manifest_key", "chunk"}


def test_rows_longer_than_one_chunk_and_crlf_and_no_final_newline(aws, context):
    long_row = "w" * 300 + ",5,2.5"
    text = "region,units,revenue\r\n" + "east,1,1.00\r\n" + long_row + "\r\neast,2,3.00"
    outcome = run_job(aws, context, text)
    merged = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=outcome["merged_key"])["Body"].read())
    assert merged["east"]["units"] == {"count": 2, "sum": "3", "min": "1", "max": "2"}
    assert merged["w" * 300]["units"]["sum"] == "5"


BOM = "\ufeff"  # what spreadsheet tools write first in a "CSV UTF-8" file


def test_a_header_with_a_byte_order_mark_is_read_as_the_same_columns(aws, context):
    text = make_csv(40)
    plain = run_job(aws, context, text, job_id="plain")
    marked = run_job(aws, context, BOM + text, job_id="bom")  # "\ufeffregion" would not be the group-by column
    merged = [
        json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=o["merged_key"])["Body"].read())
        for o in (plain, marked)
    ]
    assert merged[0] == merged[1] == as_text(sales_aggregate(text))
    assert marked["split"]["chunk_count"] > 1  # the chunks after the first start at the right bytes too


def test_only_a_leading_byte_order_mark_is_dropped():
    from standard_workflow import aggregate

    columns, data_start = aggregate.parse_header((BOM + "region,units\nnorth,1\n").encode(), "region")
    assert (columns, data_start) == (
        ["region", "units"],
        len((BOM + "region,units\n").encode()),
    )  # offsets count the mark's 3 bytes
    with pytest.raises(MalformedData, match="no column 'region'"):
        aggregate.parse_header(
            ("units," + BOM + "region\n1,north\n").encode(), "region"
        )  # inside the header it is data


def test_a_retried_chunk_is_counted_once(aws, context):
    split = aws.split({"job_id": "j", **upload(make_csv(50)), "group_by": "region"}, context)
    for _ in range(3):
        aws.process_chunk({"job_id": "j", **split["chunks"][0]}, context)
    assert job("j")["done_chunks"] == {0}


def test_a_chunk_finishing_after_the_job_failed_is_not_counted_and_does_not_fail(aws, context):
    split = aws.split({"job_id": "j", **upload(make_csv(50)), "group_by": "region"}, context)
    aws.record_failure({"job_id": "j", "error": {"Error": "MalformedData", "Cause": "another chunk"}}, context)
    result = aws.process_chunk({"job_id": "j", **split["chunks"][0]}, context)  # raises nothing
    assert result["result_key"]
    record = job("j")
    assert record["status"] == "FAILED" and not record.get("done_chunks")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("region,units,revenue\n", "empty"),
        ("\n\n", "empty"),
        ("region,,revenue\nnorth,1,2\n", "empty or duplicate"),
        ("region,units,units\nnorth,1,2\n", "empty or duplicate"),
        ("place,units\nnorth,1\n", "no column 'region'"),
        ("region\nnorth\n", "no numeric column"),
    ],
)
def test_empty_datasets_and_malformed_headers_are_rejected_by_split(aws, context, text, problem):
    with pytest.raises(MalformedData, match=problem):
        aws.split({"job_id": "bad", **upload(text), "group_by": "region"}, context)


@pytest.mark.parametrize(
    ("bad_row", "problem"),
    [
        ("north,1", "has 2 fields"),
        ("north,x,1.0", "'units' is not a number"),
        ("north,1,NaN", "'revenue' is not a number"),
    ],
)
def test_a_malformed_row_is_a_permanent_error_naming_the_row(aws, context, bad_row, problem):
    text = "region,units,revenue\nsouth,1,1.0\n" + bad_row + "\n"
    split = aws.split({"job_id": "j", **upload(text), "group_by": "region"}, context)
    with pytest.raises(
        MalformedData,
        match=rf"row at byte {len('region,units,revenue') + 1 + len('south,1,1.0') + 1}.*{problem}|{problem}",
    ):
        aws.process_chunk({"job_id": "j", **split["chunks"][0]}, context)


def test_split_fails_the_job_when_the_upload_was_replaced_before_it_read_it(aws, context):
    """S3 events are about one version of a key; a second upload of the key has its own event and
    job. Split reads the version its event names, so the first job does not run the newer data."""
    first = upload(make_csv(20))
    upload(make_csv(30))  # same key, other bytes: a new ETag
    with pytest.raises(MalformedData, match=r"replaced after this job's upload \(ETag " + first["etag"]):
        aws.split({"job_id": "j", **first, "group_by": "region"}, context)
    assert not boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="jobs/j/").get("KeyCount")


def test_an_oversized_chunk_is_refused(aws, context):
    key = "jobs/j/chunks/99999.json"
    boto3.client("s3").put_object(
        Bucket=BUCKET,
        Key=key,
        Body=json.dumps(
            {
                "source_key": "x",
                "etag": "e",
                "size": 10_000,
                "start": 0,
                "end": CHUNK_BYTES * 4,
                "columns": ["region", "units"],
                "group_by": "region",
            }
        ).encode(),
    )
    with pytest.raises(MalformedData, match="spans 1024 bytes"):
        aws.process_chunk({"job_id": "j", "manifest_key": key, "chunk": 0}, context)


@pytest.mark.parametrize(
    ("entry", "event"),
    [
        ("split", {"source_key": "k", "etag": "e", "group_by": "region"}),
        ("split", {"job_id": "j", "source_key": "k", "group_by": "region"}),  # no etag
        ("split", {"job_id": "j", "source_key": "incoming/missing.csv", "etag": "e", "group_by": "region"}),
        ("process_chunk", {"job_id": "j", "manifest_key": "m"}),
        ("process_chunk", {"job_id": "j", "manifest_key": "jobs/j/chunks/none.json", "chunk": 0}),
        ("merge", {"job_id": "j"}),
        ("merge", {"job_id": "j", "results": [{}]}),
        ("publish", {"job_id": "j"}),
    ],
)
def test_missing_keys_and_objects_are_permanent_errors(aws, context, entry, event):
    with pytest.raises(MalformedData):
        getattr(aws, entry)(event, context)


@pytest.mark.parametrize(
    ("entry", "event", "field"),
    [
        ("process_chunk", {"job_id": "j", "manifest_key": "m", "chunk": True}, "chunk"),
        ("merge", {"job_id": "j", "results": [{"result_key": ""}]}, "results.0.result_key"),
        ("publish", {"job_id": "j", "merged_key": 7}, "merged_key"),
    ],
    ids=["chunk-a-boolean", "empty-result-key", "merged-key-a-number"],
)
def test_a_task_input_of_the_wrong_type_is_malformed_data_naming_the_field(aws, context, entry, event, field):
    with pytest.raises(MalformedData, match=field.replace(".", r"\.")):
        getattr(aws, entry)(event, context)


def approval_request(
    job_id: str,
    merged_key: str,
    token: str,
    *,
    attempt: int = 0,
    requested_at: str = "2026-11-22T09:30:15.250Z",
    timeout_seconds: int = 86400,
) -> dict:
    """WaitForApproval's payload, as the state machine builds it ($$.State.EnteredTime as AWS writes it)."""
    return {
        "job_id": job_id,
        "merged_key": merged_key,
        "task_token": token,
        "attempt": attempt,
        "requested_at": requested_at,
        "timeout_seconds": timeout_seconds,
    }


def test_approval_stores_the_token_and_tells_a_person_how_to_decide_and_by_when(aws, context):
    outcome = run_job(aws, context, make_csv(20), job_id="job-7")
    sent = []
    aws.sns.publish = lambda **kwargs: sent.append(kwargs) or {"MessageId": "m"}
    answer = aws.request_approval(approval_request("job-7", outcome["merged_key"], "tok-123"), context)
    record = job("job-7")
    assert (record["status"], record["task_token"]) == ("AWAITING_APPROVAL", "tok-123")
    assert "make approve JOB=job-7" in sent[0]["Message"] and "DECISION=reject" in sent[0]["Message"]
    # The deadline: entered 2026-11-22 09:30:15 UTC + 24 h, stated as an absolute UTC time.
    assert answer == {"deadline": "2026-11-23T09:30:15Z"} and "Answer before 2026-11-23T09:30:15Z" in sent[0]["Message"]
    published = aws.publish({"job_id": "job-7", "merged_key": outcome["merged_key"]}, context)
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=published["published_key"])["Body"].read()
    assert json.loads(body) == as_text(sales_aggregate(make_csv(20)))
    record = job("job-7")
    assert record["status"] == "PUBLISHED" and "task_token" not in record


@pytest.mark.parametrize(
    ("requested_at", "timeout_seconds", "deadline"),
    [
        ("2026-11-22T23:59:59.999Z", 1, "2026-11-23T00:00:00Z"),  # AWS's EnteredTime: milliseconds, Z
        ("2026-11-22T10:00:00.123456+00:00", 3600, "2026-11-22T11:00:00Z"),  # an offset form
        ("2026-11-22T12:00:00+02:00", 60, "2026-11-22T10:01:00Z"),  # stated in UTC
    ],
)
def test_the_deadline_is_the_entered_time_plus_the_timeout_in_utc(requested_at, timeout_seconds, deadline):
    from standard_workflow import jobs

    assert jobs.approval_deadline(requested_at, timeout_seconds) == deadline


@pytest.mark.parametrize(
    ("requested_at", "timeout_seconds"),
    [
        (None, 60),
        ("yesterday", 60),
        ("2026-11-22T10:00:00Z", 0),
        ("2026-11-22T10:00:00Z", "60"),
        ("2026-11-22T10:00:00Z", True),
    ],
)
def test_an_approval_request_without_a_usable_deadline_is_malformed(aws, context, requested_at, timeout_seconds):
    outcome = run_job(aws, context, make_csv(5), job_id="d")
    with pytest.raises(MalformedData):
        aws.request_approval(
            approval_request(
                "d", outcome["merged_key"], "t", requested_at=requested_at, timeout_seconds=timeout_seconds
            ),
            context,
        )
    assert job("d")["status"] == "PROCESSING"  # nothing stored, nothing sent


def test_a_retried_approval_request_replaces_the_token_and_says_so(aws, context):
    """Step Functions retries WaitForApproval with a new token: the retry succeeds and its token is
    the one stored (it failed with ConditionalCheckFailed, and the job ended FAILED)."""
    outcome = run_job(aws, context, make_csv(5), job_id="r")
    sent = []
    aws.sns.publish = lambda **kwargs: sent.append(kwargs) or {"MessageId": "m"}
    aws.request_approval(approval_request("r", outcome["merged_key"], "first"), context)
    aws.request_approval(approval_request("r", outcome["merged_key"], "second", attempt=1), context)
    record = job("r")
    assert (record["status"], record["task_token"], record["approval_attempt"]) == ("AWAITING_APPROVAL", "second", 1)
    assert "replaces an earlier one" not in sent[0]["Message"] and "replaces an earlier one" in sent[1]["Message"]


def test_an_earlier_attempt_never_replaces_a_later_token_nor_moves_a_job_out_of_order(aws, context):
    conditional = aws.table.meta.client.exceptions.ConditionalCheckFailedException
    aws.split({"job_id": "j", **upload(make_csv(5)), "group_by": "region"}, context)
    aws.jobs.start(aws.table, "s", "incoming/s.csv")
    with pytest.raises(conditional):
        aws.jobs.awaiting_approval(aws.table, "s", "t0", "m")  # still SPLITTING
    aws.jobs.awaiting_approval(aws.table, "j", "t2", "m", attempt=2)
    with pytest.raises(conditional):
        aws.jobs.awaiting_approval(aws.table, "j", "t1", "m", attempt=1)  # a late, earlier attempt
    assert job("j")["task_token"] == "t2"
    aws.jobs.published(aws.table, "j", "published/j.json")
    with pytest.raises(conditional):
        aws.jobs.awaiting_approval(aws.table, "j", "t3", "m", attempt=3)  # answered and published: stays so


@pytest.mark.parametrize(
    ("error", "cause", "status", "reason"),
    [
        (
            "MalformedData",
            json.dumps({"errorMessage": "row at byte 9 has 2 fields", "errorType": "MalformedData", "stackTrace": []}),
            "FAILED",
            "row at byte 9 has 2 fields",
        ),
        ("States.Timeout", "", "EXPIRED", ""),
        ("Rejected", "numbers look wrong", "REJECTED", "numbers look wrong"),
        ("States.HeartbeatTimeout", None, "EXPIRED", ""),  # Step Functions may send a null Cause
    ],
)
def test_record_failure_keeps_error_and_reason(aws, context, error, cause, status, reason):
    aws.split({"job_id": "j", **upload(make_csv(5)), "group_by": "region"}, context)
    assert aws.record_failure({"job_id": "j", "error": {"Error": error, "Cause": cause}}, context)["status"] == status
    record = job("j")
    assert (record["status"], record["error"], record["reason"]) == (status, error, reason)


def test_a_published_job_is_never_marked_failed(aws, context):
    outcome = run_job(aws, context, make_csv(5), job_id="p")
    aws.jobs.awaiting_approval(aws.table, "p", "t", outcome["merged_key"])
    aws.publish({"job_id": "p", "merged_key": outcome["merged_key"]}, context)
    with pytest.raises(aws.table.meta.client.exceptions.ConditionalCheckFailedException):
        aws.record_failure({"job_id": "p", "error": {"Error": "States.TaskFailed", "Cause": "late"}}, context)
