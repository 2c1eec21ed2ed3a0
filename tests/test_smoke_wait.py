"""tests/smoke/targets.wait_until: polls an outcome against a deadline, never a fixed sleep."""

from __future__ import annotations

import pytest

from tests.smoke.targets import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_the_first_truthy_outcome_pumping_before_each_poll():
    clock, pumped, answers = Clock(), [], iter([None, [], {"status": "complete"}])
    result = wait_until(
        lambda: next(answers),
        deadline=10,
        describe="x",
        pump=lambda: pumped.append(1),
        interval=2,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result == {"status": "complete"}
    assert (len(pumped), clock.sleeps) == (3, [2, 2])


def test_fails_after_the_deadline_naming_what_it_waited_for():
    clock = Clock()
    with pytest.raises(AssertionError, match=r"gave up waiting for the job to finish after 5 s \(4 polls\)"):
        wait_until(lambda: None, deadline=5, describe="the job to finish", interval=2, clock=clock, sleep=clock.sleep)
