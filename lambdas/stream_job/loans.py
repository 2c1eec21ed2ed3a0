"""The work of a StreamJob: a loan repayment report, month by month until the loan is repaid.

Plain Python with no AWS calls: replace `amortize` with your own slow job. It reports progress
through a callback (the processor writes it to the job record) and raises `JobFailed` when the
input cannot produce a result, an outcome that retrying would not change.

Each month interest is charged on the balance, rounded half-up to the cent, then the payment
is taken; the last payment is whatever clears the balance.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from shared.commerce import CENT, Currency, Money

MAX_MONTHS = 600  # 50 years
MAX_RATE_PERCENT = Decimal("100")
RATE_STEP = Decimal("0.001")
ZERO = Decimal("0.00")


def parse_rate(value: object) -> Decimal:
    """ "6.25" -> Decimal("6.25"); a float, more than three decimals or outside 0..100 is refused."""
    if not isinstance(value, str):
        raise ValueError('must be a string such as "6.25", not a number')
    try:
        rate = Decimal(value)
    except ArithmeticError:
        # Not the value itself: a client's text in an error message is text the error must carry.
        raise ValueError('must be a percentage such as "6.25"') from None
    if not rate.is_finite() or not ZERO <= rate <= MAX_RATE_PERCENT or rate != rate.quantize(RATE_STEP):
        raise ValueError("must be between 0 and 100 with at most three decimals")
    return rate


RatePercent = Annotated[Decimal, BeforeValidator(parse_rate)]


class LoanReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: Currency
    principal: Money
    annual_rate_percent: RatePercent
    monthly_payment: Money


class YearSummary(BaseModel):
    year: int
    paid: Decimal
    interest: Decimal
    closing_balance: Decimal


class LoanReport(BaseModel):
    currency: str
    principal: Decimal
    months: int
    final_payment: Decimal
    total_paid: Decimal
    total_interest: Decimal
    years: list[YearSummary]


class JobFailed(Exception):
    """The job's input cannot produce a result; the job ends `failed` with this message."""


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def amortize(request: LoanReportRequest, progress: Callable[[int], None] = lambda percent: None) -> LoanReport:
    """The repayment schedule, summarised per year; `progress(percent of principal repaid)` after each year."""
    monthly_rate = request.annual_rate_percent / 100 / 12
    first_interest = _cents(request.principal * monthly_rate)
    if request.monthly_payment <= first_interest:
        raise JobFailed(
            f"a monthly payment of {request.monthly_payment} does not cover the first month's interest of "
            f"{first_interest}: the loan would never be repaid"
        )
    balance = request.principal
    years: list[YearSummary] = []
    year_paid = year_interest = total_paid = total_interest = ZERO
    payment = ZERO
    months = 0
    while balance > 0:
        months += 1
        if months > MAX_MONTHS:
            raise JobFailed(f"repaying this loan takes more than {MAX_MONTHS} months; the report stops at {MAX_MONTHS}")
        interest = _cents(balance * monthly_rate)
        payment = min(request.monthly_payment, balance + interest)
        balance = balance + interest - payment
        year_paid, year_interest = year_paid + payment, year_interest + interest
        total_paid, total_interest = total_paid + payment, total_interest + interest
        if months % 12 == 0 or balance == 0:
            years.append(
                YearSummary(year=len(years) + 1, paid=year_paid, interest=year_interest, closing_balance=balance)
            )
            year_paid = year_interest = ZERO
            progress(int((request.principal - balance) * 100 / request.principal))
    return LoanReport(
        currency=request.currency,
        principal=request.principal,
        months=months,
        final_payment=payment,
        total_paid=total_paid,
        total_interest=total_interest,
        years=years,
    )
