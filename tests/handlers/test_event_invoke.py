"""EventInvoke handler: S3 notifications against a moto bucket and idempotency table; permanent vs
transient errors."""

from __future__ import annotations

import importlib
import json
import sys

import boto3
import pytest
from botocore.exceptions import ClientError

from event_invoke import names
from event_invoke.analysis import Rejected, analyze
from localcloud.events import s3_put

BUCKET = "eventinvoke-uploads-123456789012-eu-west-1"
IDEMPOTENCY_TABLE = "idempotency"
MAX_BYTES = 1024


@pytest.fixture
def s3(empty_aws, monkeypatch):
    client = empty_aws.client("s3")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    empty_aws.table(IDEMPOTENCY_TABLE, "id")
    monkeypatch.setenv(names.RESULTS_PREFIX_ENV, "analysis/")
    monkeypatch.setenv(names.MAX_OBJECT_BYTES_ENV, str(MAX_BYTES))
    monkeypatch.setenv(names.IDEMPOTENCY_TABLE_ENV, IDEMPOTENCY_TABLE)
    monkeypatch.setenv(names.IDEMPOTENCY_EXPIRY_SECONDS_ENV, "3600")
    monkeypatch.setenv(names.METRICS_NAMESPACE_ENV, "Tests")
    yield client


def idempotency_records() -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=IDEMPOTENCY_TABLE)["Items"]


@pytest.fixture
def handler(s3):
    sys.modules.pop("event_invoke.handler", None)
    return importlib.import_module("event_invoke.handler")


def upload(s3, key: str, body: bytes) -> dict:
    etag = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"')
    return s3_put(BUCKET, key, size=len(body), etag=etag)


def stored_result(s3, key: str) -> dict:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=f"analysis/{key}.json")["Body"].read())


def test_text_object_is_analyzed_and_the_result_written_beside_it(handler, s3, context):
    event = upload(s3, "incoming/notes 2026.md", b"# Notes\nfirst line\nsecond  line here\n")
    (result,) = handler.main(event, context)["results"]
    assert result["status"] == "analyzed"
    assert (result["lines"], result["words"], result["characters"], result["size_bytes"]) == (3, 7, 37, 37)
    assert result["content_type"] == "text/markdown"
    assert result["source"]["key"] == "incoming/notes 2026.md"
    assert stored_result(s3, "incoming/notes 2026.md") == result


def test_a_retried_event_returns_the_first_result_without_reading_or_writing_again(handler, s3, context, monkeypatch):
    event = upload(s3, "incoming/a.txt", b"one two three")
    first = handler.main(event, context)["results"][0]
    calls = []
    monkeypatch.setattr(handler.s3, "put_object", lambda **kw: calls.append(("put", kw["Key"])))
    monkeypatch.setattr(handler.s3, "get_object", lambda **kw: calls.append(("get", kw["Key"])))
    assert handler.main(event, context)["results"][0] == first
    assert calls == []
    (record,) = idempotency_records()
    assert record["status"]["S"] == "COMPLETED"


def test_the_idempotency_key_is_bucket_key_and_etag(handler, s3, context):
    event = upload(s3, "incoming/k.txt", b"keyed")
    handler.main(event, context)
    (record,) = idempotency_records()
    etag = event["Records"][0]["s3"]["object"]["eTag"]
    moved = s3_put("other-bucket", "incoming/k.txt", size=5, etag=etag)  # same key and ETag, other bucket
    with pytest.raises(ClientError):  # not served from the first record: it reads the other bucket
        handler.main(moved, context)
    assert len(idempotency_records()) == 1, "a failed attempt leaves no record, so Lambda's retry runs again"


def test_a_failed_attempt_is_retried_not_answered_from_the_record(handler, s3, context, monkeypatch):
    event = upload(s3, "incoming/f.txt", b"flaky text")
    real_get = handler.s3.get_object

    def slow_down(**kwargs):
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject")

    monkeypatch.setattr(handler.s3, "get_object", slow_down)
    with pytest.raises(ClientError, match="SlowDown"):
        handler.main(event, context)
    assert idempotency_records() == []
    monkeypatch.setattr(handler.s3, "get_object", real_get)
    (result,) = handler.main(event, context)["results"]
    assert result["status"] == "analyzed" and result["words"] == 2


def test_a_new_version_of_the_object_gets_a_new_result(handler, s3, context):
    handler.main(upload(s3, "incoming/a.txt", b"one"), context)
    (second,) = handler.main(upload(s3, "incoming/a.txt", b"one two"), context)["results"]
    assert second["words"] == 2 and stored_result(s3, "incoming/a.txt") == second


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe\x00binary", "not UTF-8 text"),
        (b"text with a \x00 NUL", "binary content"),
        (b"x" * (MAX_BYTES + 1), "the limit is 1024"),
    ],
    ids=["not-utf8", "nul-bytes", "oversized"],
)
def test_unsupported_content_is_rejected_without_retry(handler, s3, context, capsys, body, reason):
    (result,) = handler.main(upload(s3, "incoming/bad.bin", body), context)["results"]
    assert result["status"] == "rejected" and reason in result["reason"]
    assert stored_result(s3, "incoming/bad.bin")["reason"] == result["reason"]
    metric_lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(m.get("RejectedObjects") == [1.0] or m.get("RejectedObjects") == 1.0 for m in metric_lines)


def test_oversized_object_is_rejected_from_the_event_without_downloading(handler, s3, context, monkeypatch):
    event = s3_put(BUCKET, "incoming/huge.txt", size=MAX_BYTES * 100, etag="abc")
    monkeypatch.setattr(handler.s3, "get_object", _explode_on("incoming/huge.txt", handler.s3.get_object))
    (result,) = handler.main(event, context)["results"]
    assert result["status"] == "rejected" and "102400 bytes" in result["reason"]


def _explode_on(key: str, real):
    def get_object(**kwargs):
        if kwargs["Key"] == key:
            raise AssertionError("downloaded an object it should have rejected")
        return real(**kwargs)

    return get_object


def test_deleted_object_is_rejected(handler, s3, context):
    event = upload(s3, "incoming/gone.txt", b"soon gone")
    s3.delete_object(Bucket=BUCKET, Key="incoming/gone.txt")
    (result,) = handler.main(event, context)["results"]
    assert (result["status"], result["reason"]) == ("rejected", "the object was deleted before it could be analyzed")


def test_replaced_object_is_left_to_its_own_event(handler, s3, context):
    stale = upload(s3, "incoming/r.txt", b"first version")
    upload(s3, "incoming/r.txt", b"second version")
    (result,) = handler.main(stale, context)["results"]
    assert result["status"] == "rejected" and "replaced" in result["reason"]


def test_transient_s3_error_raises_so_lambda_retries(handler, s3, context, monkeypatch):
    event = upload(s3, "incoming/t.txt", b"text")
    real_get = handler.s3.get_object

    def throttled(**kwargs):
        if kwargs["Key"].startswith("incoming/"):
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject"
            )
        return real_get(**kwargs)

    monkeypatch.setattr(handler.s3, "get_object", throttled)
    with pytest.raises(ClientError, match="SlowDown"):
        handler.main(event, context)


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": []},
        {"Records": [{"eventSource": "aws:sqs", "body": "{}"}]},
        {"detail": {"bucket": {"name": BUCKET}}},
    ],
    ids=["empty", "no-records", "sqs-record", "eventbridge-shape"],
)
def test_an_event_that_is_not_an_s3_notification_fails(handler, context, event):
    with pytest.raises(ValueError, match="not an S3 event notification"):
        handler.main(event, context)


def test_analysis_counts():
    analysis = analyze("incoming/a.csv", b"a,b\n1,2\n", max_bytes=100)
    assert (analysis.lines, analysis.words, analysis.content_type) == (2, 2, "text/csv")
    with pytest.raises(Rejected):
        analyze("incoming/a.txt", b"x" * 101, max_bytes=100)
