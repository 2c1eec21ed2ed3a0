"""StandardWorkflow's start function: S3 invokes it (asynchronously) for each `.csv` object created
under incoming/, and it starts one execution per upload.

The execution name is the job id, derived from the key and the event's `sequencer`
(`jobs.job_id_for`): S3 delivers events at least once, and a repeated event finds its execution
already started (ExecutionAlreadyExists) instead of starting a second job; a new upload of the
same key has a new sequencer, so it runs again even after a job that failed. Anything that is not
a `.csv` (a folder marker `incoming/`, `x.txt`) is logged and skipped: no execution, no error.
Any other error raises, so Lambda retries the event and then hands it to the on-failure
destination and the dead-letter queue.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import aws
from standard_workflow import jobs, names

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
sfn = aws.client("stepfunctions")
STATE_MACHINE_ARN = os.environ[names.STATE_MACHINE_ARN_ENV]
GROUP_BY = os.environ[names.GROUP_BY_ENV]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_source(data_class=S3Event)
def main(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    started, ignored = [], []
    for record in event.records:
        key = unquote_plus(record.s3.get_object.key)  # S3 URL-encodes keys
        if not key.endswith(names.CSV_SUFFIX):
            logger.info("not a CSV: no job started", extra={"source_key": key})
            ignored.append(key)
            continue
        sequencer = record.s3.get_object.get("sequencer") or ""
        if not sequencer:
            raise ValueError(f"the S3 event for {key!r} has no sequencer")
        job_id = jobs.job_id_for(key, sequencer)
        # The version this event is about: Split reads that one, not whatever the key holds by then.
        etag = (record.s3.get_object.etag or "").strip('"')
        if not etag:
            raise ValueError(f"the S3 event for {key!r} has no eTag")
        try:
            sfn.start_execution(
                stateMachineArn=STATE_MACHINE_ARN,
                name=job_id,
                input=json.dumps({"source_key": key, "etag": etag, "group_by": GROUP_BY}),
            )
            logger.info("job started", extra={"job_id": job_id, "source_key": key})
        except sfn.exceptions.ExecutionAlreadyExists:
            logger.info("duplicate event: job already started", extra={"job_id": job_id, "source_key": key})
        started.append(job_id)
    return {"jobs": started, "ignored": ignored}
