"""Shared with the probe handlers while they run in this process: lets a test make functions meet
(a barrier they can only pass together) and record what they saw, without the emulation's own
bookkeeping. A handler imports it at run time; in Lambda it would not exist (these are probes)."""

from __future__ import annotations

import threading
from typing import Any

BARRIER_TIMEOUT_SECONDS = 5
barrier: threading.Barrier | None = None
calls: list[dict[str, Any]] = []


def reset(parties: int, timeout: float = BARRIER_TIMEOUT_SECONDS) -> None:
    global barrier
    barrier = threading.Barrier(parties, timeout=timeout)
    calls.clear()


def meet() -> None:
    """Wait until `parties` functions are here at the same time; BrokenBarrierError otherwise."""
    assert barrier is not None, "the test did not reset the rendezvous"
    barrier.wait()


def record(**seen: Any) -> None:
    calls.append(seen)
