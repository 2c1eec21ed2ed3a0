"""StreamJob job API: submit a loan report job, then poll its status.

    POST /jobs           validate, write the job as `pending`, answer 202 with its status URL
    GET  /jobs/{job_id}  status, progress, and the result or the error

The API does no work itself: the `pending` item's INSERT reaches the processor through the
table's stream. Bad input gets the project's JSON errors (shared/http.py) and never a job.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from shared import aws
from shared.http import error_response, install_json_errors, on_error, reject_unreadable_body, resource_url
from stream_job import jobs, names
from stream_job.loans import LoanReport, LoanReportRequest

MAX_BODY_BYTES = 16 * 1024
RETRY_AFTER_SECONDS = 2
JOB_TTL_SECONDS = int(os.environ[names.JOB_TTL_SECONDS_ENV])

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
table = aws.table(os.environ[names.JOBS_TABLE_ENV])
app = APIGatewayRestResolver(enable_validation=True)
install_json_errors(app)


class JobView(BaseModel):
    """What a client sees of a job: the stored item without the processor's bookkeeping."""

    job_id: str
    status: str
    progress: int
    attempts: int
    created_at: str
    updated_at: str
    result: LoanReport | None = None
    error: str | None = None


def _view(item: dict[str, Any]) -> dict[str, Any]:
    fields = {name: item[name] for name in JobView.model_fields if name in item}
    if item["status"] != jobs.COMPLETE:
        fields.pop("result", None)
    if item["status"] != jobs.FAILED:
        fields.pop("error", None)
    return JobView.model_validate(fields).model_dump(mode="json", exclude_none=True)


@app.post("/jobs")
def submit_job(request: LoanReportRequest) -> Response[dict[str, Any]]:
    job_id = jobs.new_job_id()
    jobs.insert_pending(table, job_id, request.model_dump(mode="json"), now=time.time(), ttl_seconds=JOB_TTL_SECONDS)
    logger.info("job submitted", extra={"job_id": job_id})
    status_url = resource_url(app, f"/jobs/{job_id}")
    return Response(
        status_code=202,
        content_type=content_types.APPLICATION_JSON,
        body={"job_id": job_id, "status": jobs.PENDING, "status_url": status_url},
        headers={"Location": status_url, "Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class JobNotFound(Exception):
    pass


@on_error(app, JobNotFound)
def _job_not_found(exc: JobNotFound) -> Response[str]:
    return error_response(404, "NOT_FOUND", f"No job {exc}: it does not exist or has expired.")


@app.get("/jobs/<job_id>")
def job_status(job_id: str) -> Response[dict[str, Any]]:
    # A malformed id is answered like an unknown one, without a read.
    item = jobs.get(table, job_id) if jobs.JOB_ID.match(job_id) else None
    if item is None:
        raise JobNotFound(repr(job_id))
    headers = {} if item["status"] in jobs.TERMINAL else {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=_view(item), headers=headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def main(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return reject_unreadable_body(event, MAX_BODY_BYTES) or app.resolve(event, context)
