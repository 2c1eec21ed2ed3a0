"""The work of the order check: validate, price, check stock, score fraud, assemble.

Plain Python with no AWS calls: each function is one state of the Express workflow and is what a
user replaces. Validation never raises for bad input: it returns the rejection (the API's 400
body with `"outcome": "rejected"`), and the state machine's Choice routes it to a Succeed state: a
rejected order is a successful run, so a failed execution always means something broke.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from express_workflow.names import REJECTED_OUTCOME
from shared.commerce import Currency, LineItem

MAX_LINE_ITEMS = 50
MAX_PROBLEMS = 20
# Illustrative stock levels; a real check calls an inventory service (raise TransientError when it throttles).
STOCK = {"A-1": 100, "B-2": 5, "C-3": 0}


class OrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: StrictStr = Field(min_length=1, max_length=64)
    currency: Currency
    items: list[LineItem] = Field(min_length=1, max_length=MAX_LINE_ITEMS)


def _field(location: tuple[Any, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def validate(request: object) -> dict[str, Any]:
    """{"valid": True, "order": {...}} or {"valid": False, "rejection": {"outcome": "rejected", "error",
    "message", "details": [{"field", "problem"}]}}: the rejection is the run's output, the API's 400."""
    try:
        order = OrderRequest.model_validate(request)
    except ValidationError as error:
        details = [
            {
                "field": _field(tuple(e.get("loc", ()))),
                "problem": str(e.get("msg", "invalid")).removeprefix("Value error, "),
            }
            for e in error.errors()
        ][:MAX_PROBLEMS]
        rejection = {
            "outcome": REJECTED_OUTCOME,
            "error": "VALIDATION_FAILED",
            "message": "The order does not match what this endpoint accepts.",
            "details": details,
        }
        return {"valid": False, "rejection": rejection}
    return {"valid": True, "order": order.model_dump(mode="json")}


def price_lines(order: dict[str, Any]) -> dict[str, Any]:
    lines = [
        {
            "sku": item["sku"],
            "quantity": item["quantity"],
            "line_total": str(Decimal(item["unit_price"]) * item["quantity"]),
        }
        for item in order["items"]
    ]
    return {"lines": lines, "subtotal": str(sum((Decimal(line["line_total"]) for line in lines), Decimal("0.00")))}


def check_stock(order: dict[str, Any], stock: dict[str, int] = STOCK) -> dict[str, Any]:
    short = [
        {"sku": item["sku"], "requested": item["quantity"], "available": stock.get(item["sku"], 0)}
        for item in order["items"]
        if item["quantity"] > stock.get(item["sku"], 0)
    ]
    return {"in_stock": not short, "short": short}


def fraud_score(order: dict[str, Any]) -> dict[str, Any]:
    """0-100; higher is riskier. A stand-in for a scoring service."""
    total = sum(Decimal(item["unit_price"]) * item["quantity"] for item in order["items"])
    score = min(100, int(total // 100) + 5 * len(order["items"]))
    return {"score": score}


def assemble(
    order: dict[str, Any],
    pricing: dict[str, Any],
    stock: dict[str, Any],
    fraud: dict[str, Any],
    *,
    max_fraud_score: int,
) -> dict[str, Any]:
    """The API's 200 body: a decision and the facts behind it."""
    reasons = []
    if not stock["in_stock"]:
        reasons.append("OUT_OF_STOCK")
    if fraud["score"] > max_fraud_score:
        reasons.append("FRAUD_RISK")
    return {
        "customer_id": order["customer_id"],
        "currency": order["currency"],
        "decision": "REVIEW" if reasons else "ACCEPT",
        "reasons": reasons,
        "lines": pricing["lines"],
        "subtotal": pricing["subtotal"],
        "short": stock["short"],
        "fraud_score": fraud["score"],
    }
