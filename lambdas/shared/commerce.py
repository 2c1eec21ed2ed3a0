"""Money, currencies and line items as they travel in this project's requests and messages.

Money is a string with at most two decimals ("12.50"), never a float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("10000000")
MAX_QUANTITY = 10_000
CURRENCIES = frozenset({"EUR", "GBP", "USD"})


def parse_money(value: object) -> Decimal:
    """"12.50" -> Decimal("12.50"); a float, a third decimal, zero or a negative is refused."""
    if not isinstance(value, str):
        raise ValueError('must be a string such as "12.50", not a number')
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise ValueError(f'"{value}" is not an amount') from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT) or amount >= MAX_AMOUNT:
        raise ValueError("must be positive, below 10,000,000 and have at most two decimals")
    return amount


def known_currency(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError(f"must be one of {', '.join(sorted(CURRENCIES))}")
    return value


Money = Annotated[Decimal, BeforeValidator(parse_money)]
Currency = Annotated[StrictStr, AfterValidator(known_currency)]


class LineItem(BaseModel):
    """One line of a quote or an order: a SKU, a whole quantity and a unit price."""

    model_config = ConfigDict(extra="forbid")

    sku: StrictStr = Field(min_length=1, max_length=64)
    quantity: StrictInt = Field(ge=1, le=MAX_QUANTITY)
    unit_price: Money
