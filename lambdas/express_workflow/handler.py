"""ExpressWorkflow handlers: one entry point per Task state, each a few lines around orders.py.

States pass JSON: Validate gets the API's body (any JSON: validating it is the task, and a body
that does not fit is the run's rejection, not an error); the Parallel branches (Price, Stock,
Fraud) get `BranchInput` {"order": ...}; Assemble gets `AssembleInput` {"order": ..., "results":
[pricing, stock, fraud]} (the Parallel state's output, in branch order). A malformed state input
(a bug in the state machine, not in the client's request) raises MalformedData and fails the
execution.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, StrictBool, StrictInt

from express_workflow import names
from express_workflow.orders import OrderRequest, check_stock, fraud_score, price_lines
from express_workflow.orders import assemble as assemble_order
from express_workflow.orders import validate as validate_order
from shared.tasks import Text, task_input

logger = Logger()
tracer = Tracer(auto_patch=False)  # it makes no AWS calls: nothing to patch


class BranchInput(BaseModel):
    """Price, Stock and Fraud: the order Validate accepted."""

    order: OrderRequest


class PricedLine(BaseModel):
    sku: Text
    quantity: StrictInt
    line_total: Text


class Pricing(BaseModel):
    lines: list[PricedLine]
    subtotal: Text


class Shortage(BaseModel):
    sku: Text
    requested: StrictInt
    available: StrictInt


class Stock(BaseModel):
    in_stock: StrictBool
    short: list[Shortage]


class Fraud(BaseModel):
    score: StrictInt


class AssembleInput(BaseModel):
    """Assemble: the order and the Parallel state's output, one result per branch in branch order."""

    order: OrderRequest
    results: tuple[Pricing, Stock, Fraud]


def _order(event: Any) -> dict[str, Any]:
    state = task_input(BranchInput, event, expected='{"order": {...}} from the Validate state')
    return state.order.model_dump(mode="json")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def validate(event: object, context: LambdaContext) -> dict[str, Any]:
    result = validate_order(event)
    logger.info(
        "order validated",
        extra={"valid": result["valid"], "problems": len(result.get("rejection", {}).get("details", []))},
    )
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
    state = task_input(
        AssembleInput, event, expected='{"order": ..., "results": [pricing, stock, fraud]} from the Parallel state'
    )
    pricing, stock_result, fraud_result = (result.model_dump(mode="json") for result in state.results)
    order = state.order.model_dump(mode="json")
    decision = assemble_order(
        order, pricing, stock_result, fraud_result, max_fraud_score=int(os.environ[names.MAX_FRAUD_SCORE_ENV])
    )
    logger.info("order checked", extra={"decision": decision["decision"], "reasons": decision["reasons"]})
    return decision
