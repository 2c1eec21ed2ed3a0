"""Money as it travels in this project's messages: a string with at most two decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("10000000")
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


Money = Annotated[Decimal, BeforeValidator(parse_money)]
