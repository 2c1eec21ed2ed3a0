"""StreamJob processor: DynamoDB stream batches of new `pending` jobs in, per-record failures out.

The event source mapping delivers only INSERTs of `pending` jobs (names.PENDING_INSERT_FILTER).
For each record (Powertools BatchProcessor, partial batch failures):

1. claim: pending -> processing, conditional, so a redelivered record cannot run the job twice.
   A job already complete or failed is skipped (the record succeeds). A job another run is still
   processing raises JobBusy: the record is retried later, when that run has finished or its
   claim (its own deadline) has expired and the job can be taken over.
2. work: `loans.amortize`, a plain function; each progress report is written to the job.
3. finish: -> complete with the result, or -> failed with the error, conditional on the claim.

Whose failure is it?
- The job's: the work raises `JobFailed`, or the stored request no longer validates. Retrying
  cannot change the outcome, so the job ends `failed` with the error and the record succeeds.
- Transient (anything else: throttling, timeouts, a DynamoDB or code error): the run gives the
  job back (-> pending, `last_error` set) and raises. The mapping retries the record, bisecting the
  batch, and after its bounded retries sends the batch's pointer to its on-failure destination,
  where an alarm fires and the failed-jobs handler (failed_jobs.py) ends the job `failed`, giving
  `last_error` as the reason.

The mapping starts at the stream's oldest record (TRIM_HORIZON), so a record may come again (a new
mapping reads the whole stream): step 1 skips a job that has already left `pending`.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared import aws
from stream_job import jobs, names
from stream_job.loans import JobFailed, LoanReportRequest, amortize

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
table = aws.table(os.environ[names.JOBS_TABLE_ENV])


class JobBusy(Exception):
    """Another run holds this job and its claim has not expired: retry the record later."""


def _claim_or_skip(job_id: str, claim_id: str, deadline: float) -> bool:
    if jobs.claim(table, job_id, claim_id, now=time.time(), until=deadline):
        return True
    current = jobs.get(table, job_id)
    if current is None or current["status"] in jobs.TERMINAL:
        logger.info(
            "job already finished or gone; record skipped",
            extra={"job_id": job_id, "status": (current or {}).get("status")},
        )
        return False
    raise JobBusy(f"job {job_id} is {current['status']} under another run's claim")


def _run(job_id: str, claim_id: str, stored_request: Any) -> None:
    try:
        request = LoanReportRequest.model_validate(stored_request)
        report = amortize(
            request, progress=lambda percent: jobs.set_progress(table, job_id, claim_id, percent, now=time.time())
        )
    except (JobFailed, ValidationError) as error:
        message = str(error) if isinstance(error, JobFailed) else f"the stored request is not valid: {error}"
        jobs.fail(table, job_id, claim_id, message, now=time.time())
        logger.warning("job failed", extra={"job_id": job_id, "error": message})
        return
    jobs.complete(table, job_id, claim_id, report.model_dump(mode="json"), now=time.time())
    logger.info("job complete", extra={"job_id": job_id})


@tracer.capture_method
def record_handler(record: DynamoDBRecord, lambda_context: LambdaContext) -> None:
    image = record.dynamodb.new_image if record.dynamodb else {}
    job_id = image.get("job_id")
    if not isinstance(job_id, str):
        raise ValueError(f"stream record {record.event_id} carries no job_id: is the mapping's filter missing?")
    claim_id = uuid.uuid4().hex
    # The claim lasts as long as this invocation can: after that it cannot still be running.
    deadline = time.time() + lambda_context.get_remaining_time_in_millis() / 1000
    if not _claim_or_skip(job_id, claim_id, deadline):
        return
    try:
        _run(job_id, claim_id, image.get("request"))
    except jobs.ClaimLost:
        logger.warning("claim expired and the job was taken over; this run stops", extra={"job_id": job_id})
    except Exception as error:
        try:
            jobs.release(table, job_id, claim_id, f"{type(error).__name__}: {error}"[:1000], now=time.time())
        except Exception:  # the claim then expires at `deadline` and a retry takes the job over
            logger.exception("could not give the job back", extra={"job_id": job_id})
        raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def main(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
