"""StreamJob in a real account: a signed job is accepted, runs from the stream and completes;
unsigned calls are refused at the gateway. Polls with a deadline, never a fixed sleep."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from stream_job import names

pytestmark = pytest.mark.aws("StreamJob")

# 1,000.00 at 12 % a year (1 % a month), 510.00 a month: 10.00 then 5.00 interest, 2 months.
LOAN = {"currency": "EUR", "principal": "1000.00", "annual_rate_percent": "12", "monthly_payment": "510.00"}
DEADLINE_SECONDS = 120


def call(url: str, body: object | None, *, sign: bool = True) -> tuple[int, dict, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = AWSRequest(method="POST" if data else "GET", url=url, data=data, headers={"Content-Type": "application/json"})
    if sign:
        session = boto3.session.Session()
        SigV4Auth(session.get_credentials(), "execute-api", session.region_name).add_auth(request)
    prepared = urllib.request.Request(url, data=data, headers=dict(request.headers), method=request.method)
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), dict(error.headers)


@pytest.fixture(scope="module")
def endpoint(stack_outputs) -> str:
    return stack_outputs("StreamJob")[names.JOBS_ENDPOINT_OUTPUT]


def test_a_submitted_job_completes_with_its_report(endpoint):
    status, body, headers = call(endpoint, LOAN)
    assert (status, body["status"]) == (202, "pending")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        status, job, headers = call(body["status_url"], None)
        assert status == 200, job
        if job["status"] in ("complete", "failed") or time.monotonic() > deadline:
            break
        time.sleep(int(headers.get("Retry-After", "2")))
    assert (job["status"], job["attempts"]) == ("complete", 1), job
    assert (job["result"]["months"], job["result"]["total_interest"]) == (2, "15.00")


def test_unsigned_calls_are_refused_by_the_gateway(endpoint):
    status, body, _ = call(endpoint, LOAN, sign=False)
    assert status == 403 and "error" in body


def test_body_failing_the_request_model_is_a_json_400(endpoint):
    status, body, _ = call(endpoint, {**LOAN, "principal": 1000})
    assert (status, body["error"]) == (400, "BAD_REQUEST_BODY")
