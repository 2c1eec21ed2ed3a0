"""ApiSync handler: API Gateway REST proxy events in, JSON responses out."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from api_sync.quotes import Quote, QuoteRequest, price_quote
from shared.http import install_json_errors, reject_unreadable_body

MAX_BODY_BYTES = 64 * 1024

logger = Logger()
tracer = Tracer(auto_patch=False)  # it makes no AWS calls: nothing to patch
app = APIGatewayRestResolver(enable_validation=True)
install_json_errors(app)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/quotes")
def create_quote(request: QuoteRequest) -> Response[Quote]:
    quote = price_quote(request)
    logger.info("quote priced", extra={"quote_id": quote.quote_id, "lines": len(quote.lines)})
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=quote,
        headers={"Location": f"/quotes/{quote.quote_id}"},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def main(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return reject_unreadable_body(event, MAX_BODY_BYTES) or app.resolve(event, context)
