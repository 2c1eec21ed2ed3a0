"""EventInvoke: an upload to the bucket invokes the analysis asynchronously; results land in S3 and
the on-success destination, permanent errors are reported, not retried."""

from __future__ import annotations

import json
import uuid

from event_invoke import names

STACK = "EventInvoke"
RESULTS_PREFIX = "analysis/"  # stacks/event_invoke.py: where AnalyzeFunction writes analysis/<key>.json
DEADLINE = 120  # S3 -> async invoke -> result: seconds in AWS


def analysis(target, key: str) -> dict | None:
    s3 = target.client("s3")
    try:
        body = s3.get_object(Bucket=target.outputs[names.BUCKET_NAME_OUTPUT], Key=f"{RESULTS_PREFIX}{key}.json")[
            "Body"
        ].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def upload(target, name: str, body: bytes) -> str:
    key = f"{target.outputs[names.UPLOAD_PREFIX_OUTPUT]}smoke-{uuid.uuid4().hex[:12]}-{name}"
    target.upload(target.outputs[names.BUCKET_NAME_OUTPUT], key, body)
    return key


def test_an_upload_is_analyzed_and_reported_to_the_on_success_queue(target):
    key = upload(target, "poem.txt", b"roses are red\nviolets are blue\n")
    result = target.wait_until(lambda: analysis(target, key), deadline=DEADLINE, describe=f"{RESULTS_PREFIX}{key}.json")
    assert (result["status"], result["words"]) == ("analyzed", 6), result
    results_queue = target.outputs[names.RESULTS_QUEUE_URL_OUTPUT]
    (record,) = target.wait_until(
        lambda: target.take_messages(results_queue, lambda body: key in body),
        deadline=DEADLINE,
        describe="the on-success record on the results queue",
    )
    assert json.loads(record)["requestContext"]["condition"] == "Success"


def test_a_file_that_cannot_be_analyzed_is_rejected_with_its_reason(target):
    key = upload(target, "photo.jpg", b"\xff\xd8\xff\xe0 JFIF binary")
    result = target.wait_until(lambda: analysis(target, key), deadline=DEADLINE, describe=f"{RESULTS_PREFIX}{key}.json")
    assert result["status"] == "rejected" and "not UTF-8" in result["reason"], result
    assert (
        target.take_messages(target.outputs[names.FAILURES_QUEUE_URL_OUTPUT], lambda body: key in body) == []
    )  # not a failure: not retried
    target.take_messages(
        target.outputs[names.RESULTS_QUEUE_URL_OUTPUT], lambda body: key in body
    )  # leave the queue as found
