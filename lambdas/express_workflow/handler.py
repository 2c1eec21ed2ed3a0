"""ExpressWorkflow handlers: one entry point per Task state, each a few lines around orders.py.

States pass JSON: Validate gets the API's body; the Parallel branches (Price, Stock, Fraud) get
{"order": ...}; Assemble gets {"order": ..., "results": [pricing, stock, fraud]} (the Parallel
state's output, in branch order). A malformed event (a bug in the state machine, not in the
client's request) raises MalformedData and fails the execution.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from express_workflow import names
from express_workflow.orders import assemble as assemble_order
from express_workflow.orders import check_stock, fraud_score, price_lines
from express_workflow.orders import validate as validate_order
from shared.errors import MalformedData

logger = Logger()
tracer = Tracer(auto_patch=False)  # it makes no AWS calls: nothing to patch


def _order(event: Any) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("order"), dict):
        raise MalformedData('expected {"order": {...}} from the Validate state')
    return event["order"]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def validate(event: Any, context: LambdaContext) -> dict[str, Any]:
    result = validate_order(event)
    logger.info("order validated", extra={"valid": result["valid"], "problems": len(result.get("rejection", {}).get("details", []))})
    return result


@tracer.capture_lambda_handler
def price(event: Any, context: LambdaContext) -> dict[str, Any]:
    return price_lines(_order(event))


@tracer.capture_lambda_handler
def stock(event: Any, context: LambdaContext) -> dict[str, Any]:
    return check_stock(_order(event))


@tracer.capture_lambda_handler
def fraud(event: Any, context: LambdaContext) -> dict[str, Any]:
    return fraud_score(_order(event))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def assemble(event: Any, context: LambdaContext) -> dict[str, Any]:
    results = event.get("results") if isinstance(event, dict) else None
    if not isinstance(results, list) or len(results) != 3:
        raise MalformedData('expected {"order": ..., "results": [pricing, stock, fraud]} from the Parallel state')
    pricing, stock_result, fraud_result = results
    decision = assemble_order(_order(event), pricing, stock_result, fraud_result, max_fraud_score=int(os.environ[names.MAX_FRAUD_SCORE_ENV]))
    logger.info("order checked", extra={"decision": decision["decision"], "reasons": decision["reasons"]})
    return decision
