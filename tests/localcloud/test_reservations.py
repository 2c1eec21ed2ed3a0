"""Reserved concurrency: what an account can reserve, and a reservation's own slots.

Lambda keeps the unreserved pool at or above its minimum: 100, or the whole limit when the limit
is under 100. So a new account (limit 10) can reserve nothing, and deploying a function with any
reservation fails there; an account of 101 can reserve one unit."""

from __future__ import annotations

import pytest

from localcloud.concurrency import Concurrency, ReservationRefused

REFUSAL = (
    "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
    "below its minimum value of [{}]."
)


@pytest.mark.parametrize(
    ("limit", "reserve", "minimum"),
    [(10, 1, 10), (10, 10, 10), (50, 1, 50), (101, 2, 100), (150, 51, 100), (1000, 901, 100)],
)
def test_a_reservation_that_leaves_less_than_the_minimum_unreserved_is_refused(limit, reserve, minimum):
    with pytest.raises(ReservationRefused) as refused:
        Concurrency(limit).check_reservation("f", reserve)
    assert str(refused.value) == REFUSAL.format(minimum)


@pytest.mark.parametrize(("limit", "reserve"), [(10, 0), (101, 1), (150, 50), (1000, 900)])
def test_a_reservation_that_leaves_the_minimum_unreserved_is_given(limit, reserve):
    Concurrency(limit).check_reservation("f", reserve)
