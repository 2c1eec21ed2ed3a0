"""The work of the quotes API: price line items, add tax, return a quote.

Plain Python with no AWS calls: replace `price_quote` with your own synchronous work. It must
finish well inside the function timeout, which itself stays under API Gateway's 29 seconds.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from shared.commerce import CENT, Currency, LineItem

MAX_LINE_ITEMS = 100
QUOTE_VALIDITY = timedelta(days=14)
# Standard VAT or sales-tax rate by destination country (illustrative, not tax advice).
TAX_RATES = {
    "DE": Decimal("0.19"),
    "FR": Decimal("0.20"),
    "GB": Decimal("0.20"),
    "IE": Decimal("0.23"),
    "NL": Decimal("0.21"),
    "US": Decimal("0.00"),
}


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: StrictStr = Field(min_length=1, max_length=64)
    currency: Currency
    country: StrictStr
    items: list[LineItem] = Field(min_length=1, max_length=MAX_LINE_ITEMS)

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        if value not in TAX_RATES:
            raise ValueError(f"no tax rate for this country; known: {', '.join(sorted(TAX_RATES))}")
        return value


class QuoteLine(BaseModel):
    sku: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


class Quote(BaseModel):
    quote_id: str
    customer_id: str
    currency: str
    country: str
    lines: list[QuoteLine]
    subtotal: Decimal
    tax_rate: Decimal
    tax: Decimal
    total: Decimal
    created_at: datetime
    valid_until: datetime


def price_quote(request: QuoteRequest, *, now: datetime | None = None, quote_id: str | None = None) -> Quote:
    """Line totals, subtotal, tax rounded half-up to the cent, and the total."""
    created_at = now or datetime.now(UTC)
    lines = [
        QuoteLine(
            sku=item.sku, quantity=item.quantity, unit_price=item.unit_price, line_total=item.unit_price * item.quantity
        )
        for item in request.items
    ]
    subtotal = sum((line.line_total for line in lines), Decimal("0.00"))
    tax_rate = TAX_RATES[request.country]
    tax = (subtotal * tax_rate).quantize(CENT, rounding=ROUND_HALF_UP)
    return Quote(
        quote_id=quote_id or f"q-{uuid.uuid4().hex}",
        customer_id=request.customer_id,
        currency=request.currency,
        country=request.country,
        lines=lines,
        subtotal=subtotal,
        tax_rate=tax_rate,
        tax=tax,
        total=subtotal + tax,
        created_at=created_at,
        valid_until=created_at + QUOTE_VALIDITY,
    )
