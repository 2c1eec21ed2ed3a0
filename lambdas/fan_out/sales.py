"""The work of a FanOut batch: sales lines totalled per product category.

Plain Python with no AWS calls. The parent splits a batch with `chunked`; each child runs
`summarize_chunk` on its chunk; the fan-in runs `merge` over every chunk's summary. Replace these
three with your own work: a chunk's summary must be small (it is stored in one DynamoDB item) and
`merge` must not depend on the order of chunks.

A child looks each SKU's category up (here a fixed prefix table standing in for a catalogue);
a SKU with no category is a permanent error for its chunk (`ChunkRejected`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from shared.commerce import Currency, Money

MAX_ITEMS = 2_000
CHUNK_SIZE = 100  # lines per chunk: one child invocation each
MAX_QUANTITY = 10_000
SKU_PATTERN = r"^[A-Z]{2,12}-[A-Z0-9]{1,24}$"
CATEGORIES = {"BOOK": "books", "PEN": "stationery", "MUG": "kitchen", "TEA": "grocery"}
T = TypeVar("T")


class SaleLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: StrictStr = Field(pattern=SKU_PATTERN)
    quantity: StrictInt = Field(ge=1, le=MAX_QUANTITY)
    unit_price: Money


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: Currency
    items: list[SaleLine] = Field(min_length=1, max_length=MAX_ITEMS)


class Totals(BaseModel):
    lines: int = 0
    units: int = 0
    revenue: Decimal = Decimal("0.00")

    def plus(self, other: Totals) -> Totals:
        return Totals(
            lines=self.lines + other.lines, units=self.units + other.units, revenue=self.revenue + other.revenue
        )


class ChunkSummary(BaseModel):
    categories: dict[str, Totals]


class BatchReport(BaseModel):
    categories: dict[str, Totals]
    total: Totals


class ChunkRejected(Exception):
    """The chunk cannot be summarised, now or on any retry."""


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def summarize_chunk(lines: Iterable[SaleLine]) -> ChunkSummary:
    categories: dict[str, Totals] = {}
    for line in lines:
        category = CATEGORIES.get(line.sku.split("-", 1)[0])
        if category is None:
            raise ChunkRejected(f"no category for SKU {line.sku!r}")
        line_totals = Totals(lines=1, units=line.quantity, revenue=line.unit_price * line.quantity)
        categories[category] = categories.get(category, Totals()).plus(line_totals)
    return ChunkSummary(categories=categories)


def merge(summaries: Iterable[ChunkSummary]) -> BatchReport:
    categories: dict[str, Totals] = {}
    for summary in summaries:
        for category, totals in summary.categories.items():
            categories[category] = categories.get(category, Totals()).plus(totals)
    total = Totals()
    for totals in categories.values():
        total = total.plus(totals)
    return BatchReport(categories=dict(sorted(categories.items())), total=total)
