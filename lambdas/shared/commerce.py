"""Money, currencies and line items as they travel in this project's requests and messages.

Money is a string of plain decimal digits with at most two decimals ("12.50"), never a float,
an exponent ("1e3") or padding (" 12.50 "): MONEY_PATTERN is the whole format.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

CENT = Decimal("0.01")
MAX_QUANTITY = 10_000
CURRENCIES = frozenset({"EUR", "GBP", "USD"})
# 1 to 7 integer digits without leading zeros (so below 10,000,000), optionally 1 or 2 decimals. ASCII
# digits only ([0-9], not \d, which in Python matches any Unicode digit). API request models repeat it.
MONEY_PATTERN = r"^(0|[1-9][0-9]{0,6})(\.[0-9]{1,2})?$"
_MONEY = re.compile(MONEY_PATTERN)


def parse_money(value: object) -> Decimal:
    """ "12.50" -> Decimal("12.50"); a float, an exponent, a third decimal, zero or a negative is refused."""
    if not isinstance(value, str):
        raise ValueError('must be a string such as "12.50", not a number')
    if not _MONEY.fullmatch(value):
        raise ValueError('must be digits with at most two decimals, such as "12.50", below 10,000,000')
    amount = Decimal(value)
    if amount <= 0:
        raise ValueError("must be positive")
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
