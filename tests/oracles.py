"""What each pattern's work should produce, computed here from the rules its page states, with no
project code: the expected results the handler, end-to-end and soak tests compare against.

One home for each rule, so that the three test layers check the pattern against the same reading
of its page, and a change of rule is made (and reviewed) once.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from fractions import Fraction
from typing import Any

# ExpressWorkflow: the illustrative stock levels of the inventory step (lambdas/express_workflow/orders.py).
STOCK = {"A-1": 100, "B-2": 5, "C-3": 0}
# FanOut: the category of a line, by the prefix of its SKU (lambdas/fan_out/sales.py).
CATEGORY = {"BOOK": "books", "PEN": "stationery", "MUG": "kitchen", "TEA": "grocery"}


def order_check(order: dict[str, Any], *, max_fraud_score: int) -> dict[str, Any]:
    """ExpressWorkflow's answer for an order (docs/patterns/4-express-workflow.md): lines priced,
    stock checked, a fraud score from the subtotal and the number of lines, REVIEW with its reasons
    or ACCEPT."""
    lines = [
        {"sku": i["sku"], "quantity": i["quantity"], "line_total": str(Decimal(i["unit_price"]) * i["quantity"])}
        for i in order["items"]
    ]
    subtotal = sum((Decimal(line["line_total"]) for line in lines), Decimal("0.00"))
    short = [
        {"sku": i["sku"], "requested": i["quantity"], "available": STOCK.get(i["sku"], 0)}
        for i in order["items"]
        if i["quantity"] > STOCK.get(i["sku"], 0)
    ]
    score = min(100, int(subtotal // 100) + 5 * len(order["items"]))
    reasons = (["OUT_OF_STOCK"] if short else []) + (["FRAUD_RISK"] if score > max_fraud_score else [])
    return {
        "customer_id": order["customer_id"],
        "currency": order["currency"],
        "decision": "REVIEW" if reasons else "ACCEPT",
        "reasons": reasons,
        "lines": lines,
        "subtotal": str(subtotal),
        "short": short,
        "fraud_score": score,
    }


def sales_aggregate(text: str) -> dict[str, Any]:
    """StandardWorkflow's result for a CSV: count, sum, min and max per region and numeric column,
    from the csv module alone (numbers as Decimals)."""
    out: dict[str, Any] = {}
    for row in csv.DictReader(io.StringIO(text)):
        for column in ("units", "revenue"):
            value = Decimal(row[column])
            s = out.setdefault(row["region"], {}).setdefault(
                column, {"count": 0, "sum": Decimal(0), "min": value, "max": value}
            )
            s["count"] += 1
            s["sum"] += value
            s["min"], s["max"] = min(s["min"], value), max(s["max"], value)
    return out


def as_decimals(published: dict[str, Any]) -> dict[str, Any]:
    """A published aggregate (decimal strings) in `sales_aggregate`'s form: compare numbers, not spellings."""
    return {
        region: {
            c: {"count": s["count"], "sum": Decimal(s["sum"]), "min": Decimal(s["min"]), "max": Decimal(s["max"])}
            for c, s in columns.items()
        }
        for region, columns in published.items()
    }


def as_text(aggregate: dict[str, Any]) -> dict[str, Any]:
    """`sales_aggregate`'s numbers spelled as the published JSON spells them (`str` of a Decimal)."""
    return {
        region: {c: {k: v if k == "count" else str(v) for k, v in s.items()} for c, s in columns.items()}
        for region, columns in aggregate.items()
    }


def sales_report(items: list[dict[str, Any]]) -> dict[str, Any]:
    """FanOut's report for a batch of sale lines: lines, units and revenue per category and overall."""
    totals: dict[str, list[Any]] = {}
    for item in items:
        t = totals.setdefault(CATEGORY[item["sku"].split("-")[0]], [0, 0, Decimal("0")])
        t[0] += 1
        t[1] += item["quantity"]
        t[2] += item["quantity"] * Decimal(item["unit_price"])
    return {
        "categories": {name: {"lines": a, "units": b, "revenue": str(c)} for name, (a, b, c) in sorted(totals.items())},
        "total": {
            "lines": sum(t[0] for t in totals.values()),
            "units": sum(t[1] for t in totals.values()),
            "revenue": str(sum((t[2] for t in totals.values()), Decimal("0"))),
        },
    }


def loan_schedule(loan: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """StreamJob's report for a loan, and the progress percentages it writes on the way, worked in
    whole cents with exact fractions (docs/patterns/7-stream-job.md).

    Per the work module: each month interest on the balance is rounded half-up to the cent, then
    the payment (at most what clears the balance) is taken; a summary per year (12 months, or the
    last); progress after each year is the percentage of the principal repaid, rounded down.
    """
    principal = int(Decimal(loan["principal"]) * 100)
    payment = int(Decimal(loan["monthly_payment"]) * 100)
    monthly_rate = Fraction(Decimal(loan["annual_rate_percent"])) / 1200
    balance, months = principal, 0
    years: list[dict[str, Any]] = []
    progress: list[int] = []
    year_paid = year_interest = total_paid = total_interest = paid = 0
    while balance > 0:
        months += 1
        exact = balance * monthly_rate
        interest = int(exact) + (1 if exact - int(exact) >= Fraction(1, 2) else 0)
        paid = min(payment, balance + interest)
        balance += interest - paid
        year_paid, year_interest = year_paid + paid, year_interest + interest
        total_paid, total_interest = total_paid + paid, total_interest + interest
        if months % 12 == 0 or balance == 0:
            years.append(
                {
                    "year": len(years) + 1,
                    "paid": cents(year_paid),
                    "interest": cents(year_interest),
                    "closing_balance": cents(balance),
                }
            )
            year_paid = year_interest = 0
            progress.append((principal - balance) * 100 // principal)
    report = {
        "currency": loan["currency"],
        "principal": loan["principal"],
        "months": months,
        "final_payment": cents(paid),
        "total_paid": cents(total_paid),
        "total_interest": cents(total_interest),
        "years": years,
    }
    return report, progress


def cents(amount: int) -> str:
    return f"{amount // 100}.{amount % 100:02d}"
