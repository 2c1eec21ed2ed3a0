"""OUR EMULATION of Lambda's concurrency: the account's limit, each function's reservation, and
what happens to an invocation that finds no free execution environment (moto counts nothing).

- **The account.** `LocalCloud(concurrency_limit=10)` is the account's concurrent executions
  quota (10 is what a new account gets). The unreserved pool is the limit minus every function's
  `ReservedConcurrentExecutions`; Lambda keeps it at or above its minimum, 100, or the whole limit
  when the limit is under 100 (the "minimum value of [10]" a new account's deploy reports), so a
  10-quota account can reserve nothing. A reservation that would go below it is refused with
  Lambda's error (`ReservationRefused`); CloudFormation turns that into a failed stack
  (`moto_patches`).
- **In flight.** Every invocation holds a slot while it runs: its function's reservation when it
  has one (0 reserved: every invocation is throttled), else the unreserved pool. Without a free
  slot it is throttled (`TooManyRequestsException`), and the path it came by decides what
  happens: a synchronous invoke, a Step Functions task or a Function URL request gets 429; an
  asynchronous event waits in Lambda's queue (async_invoke); an SQS mapping leaves the batch on
  the queue (mappings).
- **SQS mappings' `ScalingConfig.MaximumConcurrency`**: at most that many batches of one mapping
  run at once, however many pollers are draining it (`mapping_slot`).
- **Holding invocations in flight** (`Hold`, `LocalCloud.hold_invocations`): a test can make a
  function's invocations take their slot and then wait before the handler runs, to fill the
  account or a reservation with real invocations and look at what the next caller gets.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

NEW_ACCOUNT_LIMIT = 10  # Lambda's concurrent executions quota of a new account
UNRESERVED_MINIMUM = 100  # Lambda keeps this much unreserved (or the whole limit, when smaller)
HOLD_TIMEOUT_SECONDS = 30  # a held invocation runs anyway after this, so a forgotten hold cannot hang a test


class TooManyRequestsException(Exception):
    """An invocation found no free slot: Lambda's 429. `reason` is the `Reason` Lambda gives."""

    def __init__(self, function_name: str, reason: str) -> None:
        super().__init__(f"Rate Exceeded. ({reason}: {function_name})")
        self.function_name = function_name
        self.reason = reason


class ReservationRefused(Exception):
    """A reservation the account cannot give, with Lambda's message (and the template's logical id)."""

    def __init__(self, message: str, logical_id: str = "") -> None:
        super().__init__(message)
        self.logical_id = logical_id


def unreserved_minimum(limit: int) -> int:
    return min(UNRESERVED_MINIMUM, limit)


def reservation_of(function: LambdaFunction) -> int | None:
    value = getattr(function, "reserved_concurrency", None)
    return None if value is None or value == "" else int(value)


@dataclass
class Hold:
    """Invocations of `function_name` (that `when` accepts) take their slot, then wait for `release()`."""

    function_name: str
    when: Callable[[Any], bool] | None = None
    held: int = 0  # invocations waiting now
    total: int = 0  # invocations held so far
    _open: threading.Event = field(default_factory=threading.Event)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def applies(self, function: LambdaFunction, event: Any) -> bool:
        return (
            not self._open.is_set()
            and self.function_name == function.function_name
            and (self.when is None or self.when(event))
        )

    def wait_here(self) -> None:
        with self._changed:
            self.held += 1
            self.total += 1
            self._changed.notify_all()
        try:
            self._open.wait(HOLD_TIMEOUT_SECONDS)
        finally:
            with self._changed:
                self.held -= 1
                self._changed.notify_all()

    def wait_for(self, count: int, *, timeout: float = 10) -> int:
        """Wait until `count` invocations are held at once (a bounded wait); the number held."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.held < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{self.held} of {count} invocations of {self.function_name} held after {timeout} s"
                    )
                self._changed.wait(remaining)
            return self.held

    def release(self) -> None:
        self._open.set()


class Concurrency:
    """The account's concurrency for one LocalCloud: limits, slots in flight, mapping slots."""

    def __init__(self, limit: int = NEW_ACCOUNT_LIMIT, *, functions: Callable[[], list[LambdaFunction]] = list) -> None:
        if limit < 1:
            raise ValueError("the account's concurrency limit is at least 1")
        self.limit = limit
        self.minimum = unreserved_minimum(limit)
        self.functions = functions  # every function in the account (moto's backend)
        self.in_flight: dict[str, int] = {}  # function name -> invocations running
        self.unreserved_in_flight = 0
        self.mapping_in_flight: dict[str, int] = {}  # mapping UUID -> batches running
        self.mapping_waiting: dict[str, int] = {}  # mapping UUID -> pollers waiting for a batch slot
        self.throttles: dict[str, int] = {}  # function name -> invocations throttled so far
        self.releases = 0  # slots freed so far: a waiter sees whether any freed while it waited
        self.holds: list[Hold] = []
        self._changed = threading.Condition()

    # --- reservations --------------------------------------------------------------------------

    def reserved_total(self, *, excluding: str | None = None) -> int:
        return sum(r for f in self.functions() if f.function_name != excluding and (r := reservation_of(f)) is not None)

    def unreserved_limit(self) -> int:
        return self.limit - self.reserved_total()

    def check_reservation(self, function_name: str, reserved: int | None) -> None:
        """Raise ReservationRefused when reserving `reserved` for the function leaves the
        unreserved pool below its minimum (Lambda's PutFunctionConcurrency rule)."""
        if reserved is None:
            return
        if self.limit - self.reserved_total(excluding=function_name) - int(reserved) < self.minimum:
            raise ReservationRefused(self._refusal())

    def check_template(self, template: dict[str, Any]) -> None:
        """Raise ReservationRefused, naming the function, when the template's functions reserve
        more than the account can give on top of the reservations already made."""
        reserved = self.reserved_total()
        for logical_id, resource in template.get("Resources", {}).items():
            if resource.get("Type") != "AWS::Lambda::Function":
                continue
            value = resource.get("Properties", {}).get("ReservedConcurrentExecutions")
            if not isinstance(value, (int, str)) or not str(value).isdigit():
                continue  # absent, or an expression this check cannot resolve
            reserved += int(value)
            if self.limit - reserved < self.minimum:
                raise ReservationRefused(self._refusal(), logical_id)

    def _refusal(self) -> str:
        return (
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{self.minimum}]."
        )

    # --- slots -----------------------------------------------------------------------------------

    def acquire(self, function: LambdaFunction) -> bool:
        """Take a slot for one invocation, or raise TooManyRequestsException.

        Returns whether the slot came from the unreserved pool, for `release`: the function's
        reservation may change while it runs (PutFunctionConcurrency), the slot's pool does not."""
        name = function.function_name
        reserved = reservation_of(function)
        with self._changed:
            if reserved is not None:
                if self.in_flight.get(name, 0) >= reserved:
                    self.throttles[name] = self.throttles.get(name, 0) + 1
                    raise TooManyRequestsException(name, "ReservedFunctionConcurrentInvocationLimitExceeded")
            elif self.unreserved_in_flight >= self.unreserved_limit():
                self.throttles[name] = self.throttles.get(name, 0) + 1
                raise TooManyRequestsException(name, "ConcurrentInvocationLimitExceeded")
            else:
                self.unreserved_in_flight += 1
            self.in_flight[name] = self.in_flight.get(name, 0) + 1
            return reserved is None

    def throttled(self, function: LambdaFunction) -> None:
        """Refuse one invocation as if the account were full (an injected throttle): counted, raised."""
        with self._changed:
            self.throttles[function.function_name] = self.throttles.get(function.function_name, 0) + 1
        raise TooManyRequestsException(function.function_name, "ConcurrentInvocationLimitExceeded")

    def release(self, function: LambdaFunction, *, unreserved: bool) -> None:
        name = function.function_name
        with self._changed:
            self.in_flight[name] -= 1
            if unreserved:
                self.unreserved_in_flight -= 1
            self.releases += 1
            self._changed.notify_all()

    @contextlib.contextmanager
    def slot(self, function: LambdaFunction, event: Any = None) -> Iterator[None]:
        """Hold a slot while the block runs (waiting first at a `Hold` that applies)."""
        unreserved = self.acquire(function)
        try:
            for hold in list(self.holds):
                if hold.applies(function, event):
                    hold.wait_here()
                    break
            yield
        finally:
            self.release(function, unreserved=unreserved)

    def wait_for_release(self, seen: int, timeout: float) -> bool:
        """Wait until a slot is freed after `seen` releases (True) or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.releases == seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    # --- event source mappings -------------------------------------------------------------------

    @contextlib.contextmanager
    def mapping_slot(self, mapping_id: str, maximum: int | None) -> Iterator[None]:
        """One batch of a mapping in flight; waits while `maximum` batches of it already are."""
        with self._changed:
            self.mapping_waiting[mapping_id] = self.mapping_waiting.get(mapping_id, 0) + 1
            self._changed.notify_all()
            try:
                while maximum is not None and self.mapping_in_flight.get(mapping_id, 0) >= maximum:
                    self._changed.wait()
            finally:
                self.mapping_waiting[mapping_id] -= 1
            self.mapping_in_flight[mapping_id] = self.mapping_in_flight.get(mapping_id, 0) + 1
        try:
            yield
        finally:
            with self._changed:
                self.mapping_in_flight[mapping_id] -= 1
                self._changed.notify_all()

    def wait_until(
        self, condition: Callable[[Concurrency], bool], *, timeout: float = 10, what: str = "condition"
    ) -> None:
        """Wait (bounded) until `condition(self)` holds, re-checking whenever a count changes."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {what} after {timeout} s")
                self._changed.wait(min(remaining, 0.05))
