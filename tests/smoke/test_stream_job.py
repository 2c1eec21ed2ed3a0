"""StreamJob: a job submitted to the job API runs from the table's stream; the caller polls its
status URL. A job that cannot be computed reports its error."""

from __future__ import annotations

from stream_job import names

STACK = "StreamJob"
DEADLINE = 120
# 1,000.00 at 12 % a year (1 % a month), 510.00 a month: 10.00 then 5.00 interest, 2 months.
LOAN = {"currency": "EUR", "principal": "1000.00", "annual_rate_percent": "12", "monthly_payment": "510.00"}
# 10.00 a month does not cover the first month's 10.00 interest: the job fails.
HOPELESS = {**LOAN, "monthly_payment": "10.00"}


def finished(target, status_url: str) -> dict | None:
    response = target.get(status_url)
    assert response.status == 200, response.text
    return response.json() if response.json()["status"] in ("complete", "failed") else None


def submit(target, loan: dict) -> str:
    response = target.post(target.outputs[names.JOBS_ENDPOINT_OUTPUT], loan)
    assert (response.status, response.json()["status"]) == (202, "pending"), response.text
    assert response.headers["location"] == response.json()["status_url"]
    return response.json()["status_url"]


def test_a_submitted_job_completes_with_its_report(target):
    status_url = submit(target, LOAN)
    job = target.wait_until(lambda: finished(target, status_url), deadline=DEADLINE, describe="the job to finish")
    assert (job["status"], job["attempts"]) == ("complete", 1), job
    assert (job["result"]["months"], job["result"]["total_interest"]) == (2, "15.00")


def test_a_job_that_cannot_be_computed_reports_its_error(target):
    status_url = submit(target, HOPELESS)
    job = target.wait_until(lambda: finished(target, status_url), deadline=DEADLINE, describe="the job to finish")
    assert job["status"] == "failed" and "would never be repaid" in job["error"], job
    assert "result" not in job


def test_an_unsigned_call_is_refused_at_the_gateway(target):
    response = target.post(target.outputs[names.JOBS_ENDPOINT_OUTPUT], LOAN, signed=False)
    assert (response.status, response.json()["error"]) == (403, "MISSING_AUTHENTICATION_TOKEN")


def test_a_body_failing_the_request_model_is_a_400(target):
    response = target.post(target.outputs[names.JOBS_ENDPOINT_OUTPUT], {**LOAN, "principal": 1000})
    assert (response.status, response.json()["error"]) == (400, "BAD_REQUEST_BODY")
