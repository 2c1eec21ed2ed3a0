"""FanOut parent: the batches API, IAM-authorized at API Gateway.

    POST /batches             validate, record the batch, invoke the child once per chunk
                              (InvocationType=Event), answer 202 with the batch id
    GET  /batches/{batch_id}  progress (chunks done of total), then the result or the error

Chunks travel inline in the async invoke payload rather than through S3: validation bounds every
line (SKU <= 37 characters, quantity <= 10,000, price < 10,000,000), so a chunk of CHUNK_SIZE lines
(`fan_out.sales`) is at most ~10 KB, far under Lambda's 1 MB limit for an async invoke payload, and no bucket, grants
or cleanup are needed. `chunk_payload` still checks the size, so raising CHUNK_SIZE or widening a line fails loudly
here; work whose items are large or unbounded should put chunks in S3 and pass keys instead.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from fan_out import batches, names
from fan_out.sales import CHUNK_SIZE, BatchReport, BatchRequest, SaleLine, chunked
from shared import aws
from shared.http import error_response, install_json_errors, on_error, reject_unreadable_body, resource_url

MAX_BODY_BYTES = 256 * 1024
MAX_CHUNK_PAYLOAD_BYTES = 64 * 1024  # a sixteenth of Lambda's 1 MB limit for an async invoke payload
RETRY_AFTER_SECONDS = 2
BATCH_TTL_SECONDS = int(os.environ[names.BATCH_TTL_SECONDS_ENV])
CHILD_FUNCTION = os.environ[names.CHILD_FUNCTION_ENV]

logger = Logger()
tracer = Tracer(auto_patch=False)  # shared.aws patches the AWS SDK before its first call
table = aws.table(os.environ[names.BATCHES_TABLE_ENV])
lambda_client = aws.client("lambda")
app = APIGatewayRestResolver(enable_validation=True)
install_json_errors(app)


class BatchNotFound(Exception):
    pass


class FanOutFailed(Exception):
    pass


class BatchView(BaseModel):
    batch_id: str
    status: str
    currency: str
    item_count: int
    chunks_total: int
    chunks_done: int
    created_at: str
    updated_at: str
    result: BatchReport | None = None
    error: str | None = None
    failed_chunk: int | None = None


def chunk_payload(batch_id: str, chunk: int, currency: str, lines: list[SaleLine]) -> bytes:
    """The child's event for one chunk; what `child.ChunkEvent` parses."""
    payload = json.dumps(
        {
            "batch_id": batch_id,
            "chunk": chunk,
            "currency": currency,
            "lines": [line.model_dump(mode="json") for line in lines],
        }
    ).encode()
    if len(payload) > MAX_CHUNK_PAYLOAD_BYTES:
        raise ValueError(
            f"chunk {chunk} is {len(payload)} bytes, over {MAX_CHUNK_PAYLOAD_BYTES}: lower CHUNK_SIZE or pass chunks "
            "through S3"
        )
    return payload


@on_error(app, BatchNotFound)
def _batch_not_found(exc: BatchNotFound) -> Response[str]:
    return error_response(404, "NOT_FOUND", f"No batch {exc}: it does not exist or has expired.")


@on_error(app, FanOutFailed)
def _fan_out_failed(exc: FanOutFailed) -> Response[str]:
    return error_response(503, "FAN_OUT_FAILED", str(exc))


@app.post("/batches")
def submit_batch(request: BatchRequest) -> Response[dict[str, Any]]:
    batch_id = batches.new_batch_id()
    chunks = chunked(request.items, CHUNK_SIZE)
    payloads = [chunk_payload(batch_id, index, request.currency, lines) for index, lines in enumerate(chunks)]
    batches.create(
        table,
        batch_id,
        currency=request.currency,
        item_count=len(request.items),
        chunks_total=len(chunks),
        now=time.time(),
        ttl_seconds=BATCH_TTL_SECONDS,
    )
    for index, payload in enumerate(payloads):
        try:
            lambda_client.invoke(FunctionName=CHILD_FUNCTION, InvocationType="Event", Payload=payload)
        except (ClientError, BotoCoreError) as error:
            # Chunks already started find the batch failed and stop; the client may submit again.
            logger.exception("could not start a chunk", extra={"batch_id": batch_id, "chunk": index})
            batches.fail(table, batch_id, chunk=index, error=f"could not start chunk {index}: {error}", now=time.time())
            raise FanOutFailed(
                f"Batch {batch_id} could not start chunk {index} of {len(chunks)}; submit it again."
            ) from error
    logger.info("batch fanned out", extra={"batch_id": batch_id, "chunks": len(chunks), "items": len(request.items)})
    status_url = resource_url(app, f"/batches/{batch_id}")
    return Response(
        status_code=202,
        content_type=content_types.APPLICATION_JSON,
        body={"batch_id": batch_id, "status": batches.RUNNING, "chunks_total": len(chunks), "status_url": status_url},
        headers={"Location": status_url, "Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@app.get("/batches/<batch_id>")
def batch_status(batch_id: str) -> Response[dict[str, Any]]:
    # A malformed id is answered like an unknown one, without a read.
    item = batches.get(table, batch_id) if batches.BATCH_ID.match(batch_id) else None
    if item is None:
        raise BatchNotFound(repr(batch_id))
    view = BatchView.model_validate({name: item[name] for name in BatchView.model_fields if name in item})
    headers = {} if item["status"] in batches.TERMINAL else {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=view.model_dump(mode="json", exclude_none=True),
        headers=headers,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def main(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return reject_unreadable_body(event, MAX_BODY_BYTES) or app.resolve(event, context)
