"""EventInvoke end to end: uploads to the deployed bucket invoke the function asynchronously."""

from __future__ import annotations

import json

import pytest

from event_invoke import names
from localcloud import Deployment
from localcloud.events import s3_put


@pytest.fixture(scope="module")
def stack(deploy, cloud_assembly) -> Deployment:
    return deploy(cloud_assembly.directory, "EventInvoke")


@pytest.fixture(autouse=True)
def fresh_records(stack):
    stack.cloud.async_invocations.clear()
    yield
    for output in (names.RESULTS_QUEUE_URL_OUTPUT, names.FAILURES_QUEUE_URL_OUTPUT, names.DEAD_LETTER_QUEUE_URL_OUTPUT):
        stack.drain(stack.outputs[output])


def upload(stack: Deployment, key: str, body: bytes) -> None:
    stack.client("s3").put_object(Bucket=stack.outputs[names.BUCKET_NAME_OUTPUT], Key=key, Body=body)
    stack.settle()  # S3 invokes asynchronously: wait for the invocation and its retries


def result(stack: Deployment, key: str) -> dict:
    body = (
        stack.client("s3")
        .get_object(Bucket=stack.outputs[names.BUCKET_NAME_OUTPUT], Key=f"analysis/{key}.json")["Body"]
        .read()
    )
    return json.loads(body)


def records(stack: Deployment, output: str) -> list[dict]:
    return [m["body"] for m in stack.drain(stack.outputs[output])]


def max_retries(stack: Deployment) -> int:
    (config,) = stack.resources_of_type("AWS::Lambda::EventInvokeConfig").values()
    return config["Properties"]["MaximumRetryAttempts"]


def test_an_upload_is_analyzed_once_and_reported_to_on_success(stack):
    upload(stack, "incoming/poem.txt", b"roses are red\nviolets are blue\n")
    assert result(stack, "incoming/poem.txt")["words"] == 6
    (record,) = records(stack, names.RESULTS_QUEUE_URL_OUTPUT)
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"]["results"][0]["status"] == "analyzed"
    # Writing analysis/... did not trigger the function again: one invocation, one attempt.
    assert [(i.condition, i.attempts) for i in stack.cloud.async_invocations] == [("Success", 1)]


def test_uploads_outside_the_prefix_are_ignored(stack):
    upload(stack, "elsewhere/notes.txt", b"not for analysis")
    assert stack.cloud.async_invocations == []


def test_a_permanent_error_is_not_retried_but_visible_with_its_reason(stack):
    upload(stack, "incoming/photo.jpg", b"\xff\xd8\xff\xe0 JFIF binary")
    rejected = result(stack, "incoming/photo.jpg")
    assert rejected["status"] == "rejected" and "not UTF-8" in rejected["reason"]
    assert [i.attempts for i in stack.cloud.async_invocations] == [1]
    (record,) = records(stack, names.RESULTS_QUEUE_URL_OUTPUT)
    assert record["responsePayload"]["results"][0]["reason"] == rejected["reason"]
    assert records(stack, names.FAILURES_QUEUE_URL_OUTPUT) == []


def test_a_failing_event_is_retried_then_lands_in_on_failure_and_the_dlq(stack):
    event = s3_put("eventinvoke-no-such-bucket", "incoming/x.txt", size=10, etag="0" * 32)
    assert stack.invoke_async("AnalyzeFunction", event) == 202
    stack.settle()
    (invocation,) = stack.cloud.async_invocations
    assert invocation.attempts == max_retries(stack) + 1 == 3
    (failure,) = records(stack, names.FAILURES_QUEUE_URL_OUTPUT)
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["responsePayload"]["errorType"] == "NoSuchBucket"
    (dead,) = stack.drain(stack.outputs[names.DEAD_LETTER_QUEUE_URL_OUTPUT])
    assert dead["body"] == event
    assert "NoSuchBucket" in dead["attributes"]["ErrorMessage"]["StringValue"]


def test_a_duplicate_event_does_not_produce_a_second_different_result(stack):
    upload(stack, "incoming/dup.txt", b"same words twice")
    first = result(stack, "incoming/dup.txt")
    head = stack.client("s3").head_object(
        Bucket=stack.outputs[names.BUCKET_NAME_OUTPUT], Key="analysis/incoming/dup.txt.json"
    )
    etag = (
        stack.client("s3")
        .head_object(Bucket=stack.outputs[names.BUCKET_NAME_OUTPUT], Key="incoming/dup.txt")["ETag"]
        .strip('"')
    )
    stack.invoke_async(
        "AnalyzeFunction", s3_put(stack.outputs[names.BUCKET_NAME_OUTPUT], "incoming/dup.txt", size=16, etag=etag)
    )
    stack.settle()
    assert result(stack, "incoming/dup.txt") == first
    again = stack.client("s3").head_object(
        Bucket=stack.outputs[names.BUCKET_NAME_OUTPUT], Key="analysis/incoming/dup.txt.json"
    )
    assert again["ETag"] == head["ETag"] and again["LastModified"] == head["LastModified"]
    assert [r["responsePayload"]["results"][0] for r in records(stack, names.RESULTS_QUEUE_URL_OUTPUT)] == [
        first,
        first,
    ]
