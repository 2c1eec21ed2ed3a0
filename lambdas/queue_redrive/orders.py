"""The work of the queue consumer: turn an order message into a fulfilment record.

Plain Python with no AWS calls: replace `fulfil_order` with your own work. It may run more than
once for the same order (SQS delivers at least once); the handler's idempotency record makes the
second run return the first result instead of repeating side effects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr

from shared.commerce import Currency, LineItem

MAX_LINES = 100


class Order(BaseModel):
    """An order event as producers put it on the queue."""

    model_config = ConfigDict(extra="forbid")

    order_id: StrictStr = Field(pattern=r"^[A-Za-z0-9-]{1,64}$")
    customer_id: StrictStr = Field(min_length=1, max_length=64)
    currency: Currency
    placed_at: AwareDatetime
    lines: list[LineItem] = Field(min_length=1, max_length=MAX_LINES)


class Fulfilment(BaseModel):
    order_id: str
    customer_id: str
    currency: str
    item_count: int
    total: Decimal
    placed_at: datetime
    fulfilled_at: datetime


def fulfil_order(order: Order, *, now: datetime | None = None) -> Fulfilment:
    """Totals an order and stamps it fulfilled."""
    return Fulfilment(
        order_id=order.order_id,
        customer_id=order.customer_id,
        currency=order.currency,
        item_count=sum(line.quantity for line in order.lines),
        total=sum((line.unit_price * line.quantity for line in order.lines), Decimal("0.00")),
        placed_at=order.placed_at,
        fulfilled_at=now or datetime.now(UTC),
    )
