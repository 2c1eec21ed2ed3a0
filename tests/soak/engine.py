"""The soak engine: one pattern deployed into a LocalCloud, driven with many inputs while seeded
faults are injected, then its books balanced from the end state the cloud holds.

A driver (one module per pattern in this package) provides:

- `STACK`: the stack id in the cloud assembly.
- `VOLUME`: inputs at scale 1 (`make soak`); the small soak in `make test` passes its own count.
- `CLOUD`: keyword arguments for `LocalCloud` (async workers, concurrency limit).
- `drive(soak)`: send the inputs (about a tenth invalid, each documented kind), plan faults, run
  the event sources until nothing moves.
- `balance(soak)`: read the end state (tables, objects, queues, DLQs, executions) and record each
  input's outcomes with `soak.books.observe`.
- `prepare(soak)` (optional): what the run needs besides the stack, before the clock starts (a
  test-sized copy of the stack deployed in its place, say).

The engine records every write the account accepts (DynamoDB items, S3 objects: `WriteLog`, the
local equivalent of CloudTrail data events), so "done twice" is a count of effect writes, not of
what the driver believes it sent. Faults are the local cloud's own (`LocalCloud.inject_failure`:
before the handler, after its side effect, a throttle), planned per input from the seed; the
counts in the table are what the cloud injected (`Fault.injected`), not what was planned.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from localcloud import Deployment, Fault, LocalCloud

DONE, REJECTED, DEAD, STUCK = "done", "rejected", "dead-lettered", "stuck"
WRONG = "wrong result"  # its effect is there, but not what the input should have produced
TERMINAL = (DONE, REJECTED, DEAD)


class Unbalanced(AssertionError):
    """The books do not balance: the seed and the first input that does not, to reproduce it."""


@dataclass
class Input:
    """One input the driver sent: its id, what kind it is ("valid" or a documented bad input)
    and the terminal outcomes it may end in."""

    id: str
    kind: str
    expect: frozenset[str]


@dataclass
class Books:
    pattern: str
    seed: int
    inputs: dict[str, Input] = field(default_factory=dict)
    outcomes: dict[str, list[str]] = field(default_factory=dict)  # id -> outcomes found in the end state
    effects: Counter = field(default_factory=Counter)  # id -> writes of its effect
    duplicates: Counter = field(default_factory=Counter)  # id -> extra deliveries the driver caused
    faults: Counter = field(default_factory=Counter)  # kind -> injected (read back from the cloud)
    elapsed: float = 0.0  # first input to the last terminal outcome (the run settled)
    notes: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # claims or jobs left non-terminal, not tied to one input

    def add(self, input_id: str, kind: str, *expect: str) -> str:
        if input_id in self.inputs:
            raise ValueError(f"{input_id}: an input id is sent once (a duplicate is `books.duplicate`)")
        self.inputs[input_id] = Input(input_id, kind, frozenset(expect))
        return input_id

    def duplicate(self, input_id: str, times: int = 1) -> None:
        self.duplicates[input_id] += times

    def observe(self, input_id: str, outcome: str, *, effects: int | None = None) -> None:
        """One outcome found in the end state for an input (call once per place it is found)."""
        self.outcomes.setdefault(input_id, []).append(outcome)
        if effects is not None:
            self.effects[input_id] = effects

    # --- the figures -----------------------------------------------------------------------------

    def final(self, input_id: str) -> str | None:
        found = [o for o in self.outcomes.get(input_id, []) if o in TERMINAL]
        return found[0] if len(found) == 1 and STUCK not in self.outcomes.get(input_id, []) else None

    def problems(self) -> list[tuple[str, str]]:
        """(input id, what is wrong) for every input that does not balance, in sending order."""
        wrong: list[tuple[str, str]] = []
        for input_id, sent in self.inputs.items():
            found = self.outcomes.get(input_id, [])
            terminal = [o for o in found if o in TERMINAL]
            if WRONG in found:
                wrong.append((input_id, f"wrong result ({sent.kind})"))
            elif STUCK in found:
                wrong.append((input_id, f"stuck in a non-terminal state ({sent.kind})"))
            elif not terminal:
                wrong.append((input_id, f"lost: no terminal outcome found ({sent.kind})"))
            elif len(terminal) > 1:
                wrong.append((input_id, f"more than one terminal outcome: {terminal} ({sent.kind})"))
            elif self.effects[input_id] > 1:
                wrong.append(
                    (input_id, f"done twice: its effect was written {self.effects[input_id]} times ({sent.kind})")
                )
            elif terminal[0] not in sent.expect:
                wrong.append(
                    (input_id, f"ended {terminal[0]}, expected {' or '.join(sorted(sent.expect))} ({sent.kind})")
                )
        wrong += [(orphan, "stuck: an orphaned claim or job") for orphan in self.orphans]
        strangers = sorted(set(self.outcomes) - set(self.inputs))
        wrong += [(s, f"found in the end state but never sent: {self.outcomes[s]}") for s in strangers]
        return wrong

    def figures(self) -> dict[str, Any]:
        counts = Counter(self.final(i) for i in self.inputs)
        problems = [why for _, why in self.problems()]
        return {
            "inputs": len(self.inputs),
            "invalid": sum(1 for i in self.inputs.values() if i.kind != "valid"),
            "faults": dict(sorted((k, v) for k, v in self.faults.items() if v)),
            "done once": counts[DONE],
            "rejected": counts[REJECTED],
            "dead-lettered": counts[DEAD],
            "duplicates suppressed": sum(n for i, n in self.duplicates.items() if self.effects[i] <= 1),
            "lost": sum(w.startswith("lost") for w in problems),
            "done twice": sum(w.startswith("done twice") for w in problems),
            "stuck": sum(w.startswith("stuck") for w in problems),
            "unexpected": sum(w.startswith(("ended", "more than", "found", "wrong")) for w in problems),
            "throughput": len(self.inputs) / self.elapsed if self.elapsed else 0.0,
            "seconds": self.elapsed,
        }

    def check(self) -> None:
        if problems := self.problems():
            input_id, why = problems[0]
            raise Unbalanced(
                f"{self.pattern} seed {self.seed}: {len(problems)} unbalanced input(s); the first: {input_id}: {why}. "
                f"Reproduce with: make soak SEED={self.seed} PATTERN={self.pattern}"
            )


# --- the write log --------------------------------------------------------------------------------


class WriteLog:
    """Every write moto accepts while installed: (table or bucket, key) -> count. Conditional
    writes that fail are not counted (they wrote nothing), nor are the writes of a transaction
    that failed (DynamoDB applies all of them or none). `updates` also counts each DynamoDB
    update by its expression, so a driver can tell one kind of write to an item from another
    (`count_updates`: the write that completes a job, among its progress writes)."""

    def __init__(self) -> None:
        self.writes: Counter = Counter()
        self.updates: Counter = Counter()  # (table, key, update expression) -> count
        self._lock = threading.Lock()
        self._saved: list[tuple[type, str, Any]] = []
        self._transaction = threading.local()  # the writes of the transaction this thread is in

    def count(self, resource: str, key: str) -> int:
        return self.writes[(resource, key)]

    def count_updates(self, resource: str, key: str, containing: str) -> int:
        """Updates of the item whose expression contains `containing` (e.g. "#status = :complete")."""
        return sum(
            n
            for (r, k, expression), n in self.updates.items()
            if (r, k) == (resource, key) and containing in expression
        )

    def _record(self, write: tuple[str, str], expression: str | None) -> None:
        pending = getattr(self._transaction, "writes", None)
        if pending is not None:
            pending.append((write, expression))
            return
        with self._lock:
            self.writes[write] += 1
            if expression is not None:
                self.updates[(*write, expression)] += 1

    def _patch(
        self, owner: type, name: str, keyed: Callable[..., tuple[str, str]], expression: Callable[..., str | None]
    ) -> None:
        original = getattr(owner, name)
        log = self

        def wrapper(backend: Any, *args: Any, **kwargs: Any) -> Any:
            result = original(backend, *args, **kwargs)
            log._record(keyed(backend, *args, **kwargs), expression(*args, **kwargs))
            return result

        self._saved.append((owner, name, original))
        setattr(owner, name, wrapper)

    def _patch_transactions(self, owner: type) -> None:
        """moto applies a transaction's writes one by one (through put_item and update_item) and
        puts the tables back if a later condition fails: its writes count only if it succeeded."""
        original = owner.transact_write_items  # type: ignore[attr-defined]
        log = self

        def transact_write_items(backend: Any, *args: Any, **kwargs: Any) -> Any:
            log._transaction.writes = []
            try:
                result = original(backend, *args, **kwargs)
                committed = log._transaction.writes
            finally:
                log._transaction.writes = None
            for write, expression in committed:
                log._record(write, expression)
            return result

        self._saved.append((owner, "transact_write_items", original))
        owner.transact_write_items = transact_write_items  # type: ignore[attr-defined]

    def __enter__(self) -> WriteLog:
        from moto.dynamodb.models import DynamoDBBackend
        from moto.s3.models import S3Backend

        def no_expression(*args: Any, **kwargs: Any) -> None:
            return None

        self._patch(
            DynamoDBBackend,
            "put_item",
            lambda backend, table_name, item_attrs, *a, **k: (table_name, _item_key(backend, table_name, item_attrs)),
            no_expression,
        )
        self._patch(
            DynamoDBBackend,
            "update_item",
            lambda backend, table_name, key, *a, **k: (table_name, _dynamo_key(key)),
            lambda table_name, key, *a, **k: str(k.get("update_expression", a[0] if a else "")),
        )
        self._patch_transactions(DynamoDBBackend)
        self._patch(
            S3Backend,
            "put_object",
            lambda backend, bucket_name, key_name, *a, **k: (bucket_name, key_name),
            no_expression,
        )
        return self

    def __exit__(self, *exc: Any) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()


def _item_key(backend: Any, table_name: str, item: dict[str, Any]) -> str:
    table = backend.get_table(table_name)
    names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
    return _dynamo_key({n: item[n] for n in names if n in item})


def _dynamo_key(key: dict[str, Any]) -> str:
    """A DynamoDB key ({"order_id": {"S": "O-1"}}) as "O-1" (parts joined by "|")."""
    return "|".join(str(next(iter(value.values()))) for _, value in sorted(key.items()))


# --- faults ----------------------------------------------------------------------------------------


class Faults:
    """Seeded faults on inputs: `plan(kind, function, input_id, times)` makes that many invocations
    of the function whose event carries the input fail in that way. One localcloud `Fault` per
    kind and function; `ids_of(event)` (the driver's) says which inputs an event carries."""

    KINDS: dict[str, dict[str, Any]] = {
        "transient before the handler": {
            "error_type": "ServiceUnavailable",
            "message": "injected: Lambda could not start",
        },
        "crash after the write": {
            "after_handler": True,
            "error_type": "Runtime.ExitError",
            "message": "injected: crashed after its write",
        },
        "timeout after the write (slow dependency)": {
            "after_handler": True,
            "error_type": "Sandbox.Timedout",
            "message": "injected: Task timed out",
        },
        "timeout before the write (slow dependency)": {
            "error_type": "Sandbox.Timedout",
            "message": "injected: Task timed out",
        },
        "throttled": {"throttle": True},
    }

    def __init__(self, cloud: LocalCloud, books: Books) -> None:
        self.cloud = cloud
        self.books = books
        self._faults: dict[tuple[str, str], tuple[Fault, dict[str, int]]] = {}
        self._lock = threading.Lock()

    def plan(
        self,
        kind: str,
        function_name: str,
        input_id: str,
        times: int,
        ids_of: Callable[[Any], Iterable[str]],
        *,
        like: str | None = None,
        **options: Any,
    ) -> None:
        """`kind` names the fault in the table; it fails the way KINDS says for `like` (default:
        `kind` itself), with `options` on top."""
        key = (kind, function_name)
        if key not in self._faults:
            remaining: dict[str, int] = {}

            def when(event: Any, remaining: dict[str, int] = remaining) -> bool:
                if not remaining:
                    return False
                for carried in ids_of(event):
                    if remaining.get(carried, 0) > 0:
                        remaining[carried] -= 1  # under the runtime's fault lock
                        return True
                return False

            fault = self.cloud.inject_failure(
                function_name, times=10**9, when=when, **{**self.KINDS.get(like or kind, {}), **options}
            )
            self._faults[key] = (fault, remaining)
        with self._lock:
            self._faults[key][1][input_id] = self._faults[key][1].get(input_id, 0) + times

    def count(self) -> None:
        """Into the books: what each kind of fault really did."""
        for (kind, _), (fault, _) in self._faults.items():
            self.books.faults[kind] += fault.injected


# --- a run ----------------------------------------------------------------------------------------


@dataclass
class Soak:
    """What a driver works with: the deployed stack, the seeded random source, how many inputs to
    send, the books, the faults and the write log."""

    stack: Deployment
    rng: random.Random
    count: int
    books: Books
    faults: Faults
    writes: WriteLog

    @property
    def cloud(self) -> LocalCloud:
        return self.stack.cloud

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def output(self, name: str) -> str:
        return self.stack.outputs[name]

    def post_as_clients(
        self, url: str, requests: list[tuple[str, str, bool]], *, caller: str, attempts: int, clients: int
    ) -> dict[str, list[tuple[int, str]]]:
        """POST each (input id, JSON body, signed?) as a client would, `clients` at once: a 5xx is
        tried again (`attempts` in all, as the AWS SDKs' standard retry mode does), the first answer
        below 500 ends it. Every answer each input got, in the order received."""
        answers: dict[str, list[tuple[int, str]]] = {input_id: [] for input_id, _, _ in requests}

        def post(request: tuple[str, str, bool]) -> None:
            input_id, text, signed = request
            for _ in range(attempts):
                response = self.stack.request(
                    "POST",
                    url,
                    headers={"Content-Type": "application/json"},
                    body=text,
                    signed_by=caller if signed else None,
                )
                answers[input_id].append((response.status, response.text))
                if response.status < 500:
                    return

        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(post, requests))
        return answers


def run(
    driver: ModuleType, assembly_dir: str | Path, *, seed: int, count: int | None = None, scale: float = 1.0
) -> Books:
    """Deploy the driver's stack in a fresh LocalCloud, drive it, balance its books (not checked:
    call `books.check()`). `count` overrides `VOLUME * scale`."""
    inputs = count if count is not None else max(1, round(driver.VOLUME * scale))
    books = Books(driver.STACK, seed)
    with LocalCloud(**getattr(driver, "CLOUD", {})) as cloud, WriteLog() as writes:
        stack = cloud.deploy(assembly_dir, driver.STACK)
        soak = Soak(stack, random.Random(f"{seed}/{driver.STACK}"), inputs, books, Faults(cloud, books), writes)
        if prepare := getattr(driver, "prepare", None):
            prepare(soak)
        started = time.monotonic()
        driver.drive(soak)
        cloud.settle(timeout=600)
        books.elapsed = time.monotonic() - started
        soak.faults.count()
        throttles = sum(cloud.concurrency.throttles.values())
        books.faults["throttled"] = max(books.faults.get("throttled", 0), throttles)  # injected and real
        driver.balance(soak)
    return books


def kind_of_input(roll: float, bad: dict[str, tuple[Any, ...]]) -> str:
    """Which bad input a roll in [0, 1) picks ("valid" past them all): `bad` maps each documented
    kind to a tuple whose first item is its share of the inputs."""
    for name, (share, *_) in bad.items():
        if roll < share:
            return name
        roll -= share
    return "valid"


def plain(value: dict[str, Any]) -> Any:
    """A DynamoDB attribute value as plain JSON (whole numbers as int, other numbers as Decimal)."""
    ((kind, inner),) = value.items()
    if kind == "M":
        return {k: plain(v) for k, v in inner.items()}
    if kind == "L":
        return [plain(v) for v in inner]
    if kind == "N":
        return int(inner) if inner.lstrip("-").isdigit() else Decimal(inner)
    return inner


def load_json(value: Any) -> Any:
    """A message body or record as JSON, whatever form it comes in (localcloud's drain decodes it)."""
    if isinstance(value, (bytes, str)):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def small_soak(driver: ModuleType, assembly_dir: str | Path, *, seed: int, count: int) -> Books:
    """The small seeded soak `make test` runs for one pattern: its books balance, and faults were
    really injected (a soak in which nothing went wrong proves nothing)."""
    books = run(driver, assembly_dir, seed=seed, count=count)
    books.check()
    assert sum(books.faults.values()) > 0, f"{books.pattern}: no fault was injected"
    return books


# --- the report -----------------------------------------------------------------------------------

COLUMNS = (
    "inputs",
    "invalid",
    "done once",
    "rejected",
    "dead-lettered",
    "duplicates suppressed",
    "lost",
    "done twice",
    "stuck",
)


def table(books: Books) -> str:
    """One pattern's figures as a Markdown table (what `make soak` prints and docs/reliability.md holds)."""
    f = books.figures()
    rows = [(c, str(f[c])) for c in COLUMNS]
    if f["unexpected"]:
        rows.append(("unexpected outcome", str(f["unexpected"])))
    rows += [(f"fault: {kind}", str(n)) for kind, n in f["faults"].items()]
    rows += [
        ("throughput in the local cloud", f"{f['throughput']:.0f} inputs/s"),
        ("time to the last terminal outcome", f"{f['seconds']:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [
        f"**{books.pattern}** (seed {books.seed})",
        "",
        f"| {'figure'.ljust(width)} | value |",
        f"|{'-' * (width + 2)}|-------|",
    ]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    lines += [f"\n{note}" for note in books.notes]
    return "\n".join(lines)
