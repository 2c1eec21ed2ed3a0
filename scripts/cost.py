"""What each pattern costs at 1 million events a month, from its synthesized template.

    make cost                                           # writes docs/cost.md
    make cost-measure                                   # times the work functions again, then make cost
    .venv/bin/python -m scripts.cost                    # prints the page (synthesizes the app in a temporary directory)
    .venv/bin/python -m scripts.cost --cdk-out cdk.out  # reads an assembly `cdk synth` wrote
    .venv/bin/python -m scripts.cost --events 5000000

Three inputs, kept apart so each can be checked:
- PRICES: us-east-1 on-demand list prices, as of PRICES_AS_OF. Free tiers are ignored.
- The template (read, never assumed): each function's MemorySize, Architectures and Timeout;
  an SQS mapping's BatchSize and batching window; each state machine's type, states and log
  level; how many alarms, dashboards, KMS keys and secrets the stack holds.
- MODELS: one small function per pattern declaring what one event does (requests, invocations,
  DynamoDB and S3 calls), reading from the template what the stack decides. A function's billed
  duration is its work function timed here, in-process, on a representative input (the plain
  code a handler calls, free of AWS calls: `measured`), plus ASSUMED_CALL_MS for each AWS call
  the handler makes and ASSUMED_INVOKE_OVERHEAD_MS for the handler around the work (`assumed`).
  Work timings are CPU time, not a Graviton's. They are recorded as data in MEASUREMENTS (with when,
  where and how they were taken) by `make cost-measure`, not re-timed on every run, so the same
  templates give the same page on any machine.
Events are spread evenly over a 30-day month. No failures, retries or cold starts (Lambda bills
the INIT phase too: ~0.4-0.7 s a cold start, `make bench`); no storage (S3, DynamoDB, logs kept).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "lambdas"):  # the work functions import as they do in Lambda
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from localcloud.resources import find_resource, resources_of_type  # noqa: E402 (after the path is set)

EVENTS_PER_MONTH = 1_000_000
SECONDS_PER_MONTH = 30 * 24 * 3600

# us-east-1 on-demand list prices (USD), as published on each service's pricing page on PRICES_AS_OF
# (DynamoDB on-demand: the prices since 1 November 2024). The machine that wrote them here had no
# internet, so they were not re-read from the pages then: check them before relying on them.
PRICES_AS_OF = "2025-11-01"
PRICES: dict[str, tuple[float, str]] = {
    "lambda_request": (0.20 / 1e6, "Lambda: $0.20 per million requests"),
    "lambda_arm64_gb_s": (0.0000133334, "Lambda arm64: $0.0000133334 per GB-second"),
    "lambda_x86_64_gb_s": (0.0000166667, "Lambda x86_64: $0.0000166667 per GB-second"),
    "apigw_rest_request": (3.50 / 1e6, "API Gateway REST: $3.50 per million requests"),
    "sqs_request": (0.40 / 1e6, "SQS standard: $0.40 per million requests (64 KB each)"),
    "sfn_standard_transition": (0.025 / 1000, "Step Functions Standard: $0.025 per 1,000 state transitions"),
    "sfn_express_request": (1.00 / 1e6, "Step Functions Express: $1.00 per million requests"),
    "sfn_express_gb_s": (0.00001667, "Step Functions Express: $0.00001667 per GB-second (64 MB, 100 ms steps)"),
    "dynamodb_wru": (0.625 / 1e6, "DynamoDB on-demand: $0.625 per million write request units"),
    "dynamodb_rru": (
        0.125 / 1e6,
        "DynamoDB on-demand: $0.125 per million read request units; stream reads by Lambda free",
    ),
    "s3_put": (0.005 / 1000, "S3 Standard: $0.005 per 1,000 PUT, COPY, POST, LIST"),
    "s3_get": (0.0004 / 1000, "S3 Standard: $0.0004 per 1,000 GET, HEAD"),
    "sns_publish": (0.50 / 1e6, "SNS: $0.50 per million publishes"),
    "xray_trace": (5.00 / 1e6, "X-Ray: $5.00 per million traces recorded"),
    "logs_gb": (0.50, "CloudWatch Logs: $0.50 per GB ingested"),
    "secret_call": (0.05 / 10_000, "Secrets Manager: $0.05 per 10,000 API calls"),
    "alarm_month": (0.10, "CloudWatch: $0.10 per standard alarm metric a month"),
    "composite_alarm_month": (0.50, "CloudWatch: $0.50 per composite alarm a month"),
    "dashboard_month": (3.00, "CloudWatch: $3.00 per dashboard a month (3 per account free)"),
    "kms_key_month": (1.00, "KMS: $1.00 per customer managed key a month (+ $0.03 per 10,000 requests)"),
    "secret_month": (0.40, "Secrets Manager: $0.40 per secret a month"),
    "function_url_request": (0.0, "Lambda function URL: no charge beyond the invocation"),
}

# Assumptions, each printed with the table.
ASSUMED_CALL_MS = 10.0  # one AWS API call from a warm function, in region (DynamoDB, S3, SQS, Lambda invoke, SNS)
ASSUMED_INVOKE_OVERHEAD_MS = 5.0  # the handler around the work: event parsing, Powertools logging and tracing
ASSUMED_S3_MB_PER_S = 80.0  # one GetObject stream into a function
ASSUMED_LOG_KB_PER_INVOCATION = 1.0  # START/END/REPORT lines and a structured log line or two
ASSUMED_LOG_KB_PER_API_REQUEST = 0.5  # one JSON access-log line
ASSUMED_LOG_KB_PER_STATE_LOG_EVENT = 0.25  # a Step Functions log event without execution data
ASSUMED_STATE_LOG_EVENTS_PER_STATE = 2  # level ALL: an entered and an exited event per state
ASSUMED_EXPRESS_MEMORY_MB = 64  # Express bills in 64 MB steps; small definitions and state stay at one
ASSUMED_SQS_POLLERS = 5  # an SQS event source mapping long-polls with 5 pollers when idle
SQS_LONG_POLL_SECONDS = 20
WORK_RUNS = 7  # each work function is timed this many times; the fastest counts
MEASUREMENTS = ROOT / "scripts" / "cost_measurements.json"
PAGE = ROOT / "docs" / "cost.md"


class Measurements:
    """The work functions' timings: read from MEASUREMENTS, or taken now (`record=True`)."""

    def __init__(self, *, record: bool = False) -> None:
        self.record = record
        self.data: dict[str, Any] = {"work_ms": {}} if record else json.loads(MEASUREMENTS.read_text())

    def work_ms(self, key: str, work: Callable[[], object]) -> float:
        """Milliseconds of CPU one call of `work` takes (`key`: stack/function)."""
        if self.record:
            self.data["work_ms"][key] = round(measure_ms(work), 3)
        if key not in self.data["work_ms"]:
            raise KeyError(f"{MEASUREMENTS.name} has no timing for {key}: run make cost-measure")
        return float(self.data["work_ms"][key])

    def save(self) -> None:
        import platform
        from datetime import date

        self.data["measured_on"] = date.today().isoformat()
        self.data["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        self.data["how"] = f"CPU time (time.process_time) of one call, in-process, fastest of {WORK_RUNS} runs"
        MEASUREMENTS.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n")


_recorded: list[Measurements] = []


def recorded() -> Measurements:
    """The recorded timings (MEASUREMENTS), read once."""
    if not _recorded:
        _recorded.append(Measurements())
    return _recorded[0]


def price(key: str) -> float:
    return PRICES[key][0]


# --- the template --------------------------------------------------------------------------------


class Template:
    """Reads what the cost depends on from one synthesized CloudFormation template."""

    def __init__(self, stack_id: str, template: dict[str, Any]) -> None:
        self.stack_id = stack_id
        self.template = template
        self.resources: dict[str, dict[str, Any]] = template["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return resources_of_type(self.template, resource_type)

    def count(self, resource_type: str) -> int:
        return len(self.of_type(resource_type))

    def one(self, resource_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
        try:
            return find_resource(self.template, resource_type, prefix)
        except LookupError as error:
            raise LookupError(f"{self.stack_id}: {error}") from None

    def function(self, prefix: str) -> FunctionConfig:
        lid, resource = self.one("AWS::Lambda::Function", prefix)
        props = resource["Properties"]
        return FunctionConfig(
            logical_id=lid,
            memory_mb=int(props.get("MemorySize", 128)),
            architecture=(props.get("Architectures") or ["x86_64"])[0],
            timeout_s=int(props.get("Timeout", 3)),
            environment=props.get("Environment", {}).get("Variables", {}),
            traced=props.get("TracingConfig", {}).get("Mode") == "Active",
        )

    def mapping(self, function_logical_id: str) -> dict[str, Any]:
        """The event source mapping whose FunctionName refers to the function."""
        found = [
            r["Properties"]
            for r in self.of_type("AWS::Lambda::EventSourceMapping").values()
            if _refers_to(r["Properties"].get("FunctionName"), function_logical_id)
        ]
        if len(found) != 1:
            raise LookupError(f"{self.stack_id}: {len(found)} event source mappings invoke {function_logical_id}")
        return found[0]

    def sqs_mappings(self) -> int:
        return sum(
            1
            for r in self.of_type("AWS::Lambda::EventSourceMapping").values()
            if "Queue" in json.dumps(r["Properties"].get("EventSourceArn"))
        )

    def alarm_metrics(self) -> int:
        """Alarm metrics billed: one per standard alarm, one per metric of a metric-math alarm."""
        return sum(
            max(1, sum(1 for m in a["Properties"].get("Metrics", []) if "MetricStat" in m))
            for a in self.of_type("AWS::CloudWatch::Alarm").values()
        )

    def state_machine(self) -> StateMachineConfig:
        (lid, resource), *others = self.of_type("AWS::StepFunctions::StateMachine").items()
        if others:
            raise LookupError(f"{self.stack_id}: more than one state machine")
        props = resource["Properties"]
        return StateMachineConfig(
            logical_id=lid,
            type=props.get("StateMachineType", "STANDARD"),
            definition=definition(props["DefinitionString"]),
            log_level=props.get("LoggingConfiguration", {}).get("Level", "OFF"),
        )


@dataclass(frozen=True)
class FunctionConfig:
    logical_id: str
    memory_mb: int
    architecture: str
    timeout_s: int
    environment: dict[str, Any]
    traced: bool


@dataclass(frozen=True)
class StateMachineConfig:
    logical_id: str
    type: str
    definition: dict[str, Any]
    log_level: str


def _refers_to(value: Any, logical_id: str) -> bool:
    return value == {"Ref": logical_id} or (
        isinstance(value, dict) and value.get("Fn::GetAtt", [None])[0] == logical_id
    )


def definition(definition_string: Any) -> dict[str, Any]:
    """A state machine definition as JSON; a `Ref`/`Fn::GetAtt` inside it becomes the logical id."""
    if isinstance(definition_string, str):
        return json.loads(definition_string)
    parts = definition_string["Fn::Join"][1]

    def text(part: Any) -> str:
        if isinstance(part, str):
            return part
        if "Fn::GetAtt" in part:
            return part["Fn::GetAtt"][0]
        return str(part.get("Ref", "?"))

    return json.loads("".join(text(p) for p in parts))


def happy_path(states: dict[str, Any], start: str, map_items: int) -> Iterator[tuple[str, dict[str, Any], int]]:
    """(name, state, times entered) along the path of a run with no failures: a Choice takes its
    Default, a Parallel enters every branch once, a Map enters its item states `map_items` times."""
    name: str | None = start
    while name is not None:
        state = states[name]
        yield name, state, 1
        if state["Type"] == "Parallel":
            for branch in state["Branches"]:
                yield from happy_path(branch["States"], branch["StartAt"], map_items)
        elif state["Type"] == "Map":
            processor = state.get("ItemProcessor") or state["Iterator"]
            for inner, inner_state, times in happy_path(processor["States"], processor["StartAt"], map_items):
                yield inner, inner_state, times * map_items
        if state["Type"] in ("Succeed", "Fail") or state.get("End"):
            return
        name = state["Default"] if state["Type"] == "Choice" else state["Next"]


def state_transitions(definition: dict[str, Any], *, map_items: int) -> int:
    """States entered by one run on the happy path: what Standard bills as state transitions."""
    return sum(times for _, _, times in happy_path(definition["States"], definition["StartAt"], map_items))


def task_function(state: dict[str, Any]) -> str | None:
    """The logical id of the Lambda function a Task state invokes."""
    if state["Type"] != "Task":
        return None
    resource = state.get("Resource", "")
    if resource.startswith("arn:"):
        return state.get("Parameters", {}).get("FunctionName")
    return resource


def critical_path_ms(states: dict[str, Any], start: str, durations: dict[str, float]) -> float:
    """How long one run takes: task durations in sequence, the slowest branch of a Parallel."""
    total, name = 0.0, start
    while True:
        state = states[name]
        if state["Type"] == "Parallel":
            total += max(critical_path_ms(b["States"], b["StartAt"], durations) for b in state["Branches"])
        function = task_function(state)
        if function is not None:
            total += durations[function]
        if state["Type"] in ("Succeed", "Fail") or state.get("End"):
            return total
        name = state["Default"] if state["Type"] == "Choice" else state["Next"]


# --- arithmetic ----------------------------------------------------------------------------------


def lambda_compute(invocations: float, duration_ms: float, memory_mb: int, architecture: str) -> float:
    """Duration charge: invocations x billed seconds (whole ms) x GB configured x the GB-s price."""
    billed_s = math.ceil(duration_ms) / 1000
    return invocations * billed_s * (memory_mb / 1024) * price(f"lambda_{architecture}_gb_s")


def express_duration(executions: float, duration_ms: float, memory_mb: int = ASSUMED_EXPRESS_MEMORY_MB) -> float:
    """Express duration charge: billed in 100 ms steps and 64 MB steps."""
    billed_s = math.ceil(duration_ms / 100) / 10
    billed_gb = math.ceil(memory_mb / 64) * 64 / 1024
    return executions * billed_s * billed_gb * price("sfn_express_gb_s")


def sqs_idle_polls_per_month(pollers: int = ASSUMED_SQS_POLLERS) -> float:
    """ReceiveMessage calls a mapping makes when the queue is empty: each poller long-polls 20 s."""
    return pollers * SECONDS_PER_MONTH / SQS_LONG_POLL_SECONDS


def messages_per_batch(events: int, batch_size: int, window_s: float) -> float:
    """Messages in an SQS batch at an even rate: what arrives in the batching window, 1 to BatchSize."""
    return max(1.0, min(float(batch_size), events / SECONDS_PER_MONTH * window_s))


# --- measuring the work --------------------------------------------------------------------------


def measure_ms(work: Callable[[], object], runs: int = WORK_RUNS) -> float:
    """CPU milliseconds of `work()`: the fastest of `runs` after a warm-up run (the machine may be
    shared, and other load only ever adds time)."""
    work()
    samples = []
    for _ in range(runs):
        start = time.process_time()
        work()
        samples.append((time.process_time() - start) * 1000)
    return min(samples)


@dataclass
class Invocation:
    """A function's invocations per event, and what one of them does."""

    function: str  # logical id prefix in the template
    per_event: float
    work: Callable[[], object] | None = None  # the plain work, timed here
    work_scale: float = 1.0  # times the timed work runs in one invocation (items in a batch, sample to real size)
    aws_calls: float = 0  # AWS calls in one invocation, ASSUMED_CALL_MS each
    transfer_mb: float = 0  # MB read from S3 in one invocation, at ASSUMED_S3_MB_PER_S
    what: str = ""
    # filled in by `resolve`
    config: FunctionConfig | None = None
    work_ms: float = 0.0
    duration_ms: float = 0.0

    def resolve(self, template: Template, measurements: Measurements | None = None) -> None:
        self.config = template.function(self.function)
        measured = measurements or recorded()
        self.work_ms = (
            measured.work_ms(f"{template.stack_id}/{self.function}", self.work) * self.work_scale if self.work else 0.0
        )
        self.duration_ms = (
            self.work_ms
            + ASSUMED_INVOKE_OVERHEAD_MS
            + self.aws_calls * ASSUMED_CALL_MS
            + self.transfer_mb / ASSUMED_S3_MB_PER_S * 1000
        )
        if self.duration_ms > self.config.timeout_s * 1000:
            raise ValueError(
                f"{template.stack_id} {self.function}: {self.duration_ms:.0f} ms is over its {self.config.timeout_s} s "
                "timeout"
            )


@dataclass
class Model:
    """What one event does in one pattern."""

    event: str  # what one event is: "request", "upload", ...
    invocations: list[Invocation]
    api_requests: float = 0
    sqs_requests: float = 0
    dynamodb_wru: float = 0
    dynamodb_rru: float = 0
    s3_puts: float = 0
    s3_gets: float = 0
    sns_publishes: float = 0
    traces: float = 1  # X-Ray: one trace an event (API Gateway, Step Functions and async invokes pass it on)
    map_items: int = 0  # Map iterations a Standard run makes
    secret_cache_s: float = 0  # secrets read once per cache period per warm instance
    notes: list[str] = field(default_factory=list)


@dataclass
class Cost:
    stack_id: str
    model: Model
    per_event: dict[str, float]  # item -> USD per event
    monthly: dict[str, float]  # item -> USD a month, whatever the traffic
    facts: dict[str, str]

    def variable(self, events: int) -> float:
        return sum(self.per_event.values()) * events

    def fixed(self) -> float:
        return sum(self.monthly.values())

    def total(self, events: int) -> float:
        return self.variable(events) + self.fixed()


def cost(
    stack_id: str,
    template: Template,
    model: Model,
    events: int = EVENTS_PER_MONTH,
    measurements: Measurements | None = None,
) -> Cost:
    """Price one pattern: the model's per-event usage at the template's configuration."""
    per_event: dict[str, float] = {}
    facts: dict[str, str] = {}

    def add(item: str, usd: float) -> None:
        if usd:
            per_event[item] = per_event.get(item, 0.0) + usd

    invocations = 0.0
    for inv in model.invocations:
        inv.resolve(template, measurements)
        assert inv.config is not None
        invocations += inv.per_event
        add("Lambda requests", inv.per_event * price("lambda_request"))
        add(
            "Lambda duration",
            lambda_compute(inv.per_event, inv.duration_ms, inv.config.memory_mb, inv.config.architecture),
        )
    add("API Gateway REST", model.api_requests * price("apigw_rest_request"))
    add("SQS", model.sqs_requests * price("sqs_request"))
    add("DynamoDB writes", model.dynamodb_wru * price("dynamodb_wru"))
    add("DynamoDB reads", model.dynamodb_rru * price("dynamodb_rru"))
    add("S3 requests", model.s3_puts * price("s3_put") + model.s3_gets * price("s3_get"))
    add("SNS", model.sns_publishes * price("sns_publish"))
    add("X-Ray", model.traces * price("xray_trace"))

    log_kb = invocations * ASSUMED_LOG_KB_PER_INVOCATION + model.api_requests * ASSUMED_LOG_KB_PER_API_REQUEST
    machines = template.of_type("AWS::StepFunctions::StateMachine")
    if machines:
        machine = template.state_machine()
        transitions = state_transitions(machine.definition, map_items=model.map_items)
        facts["states"] = f"{machine.type} {transitions} states a run"
        if machine.type == "EXPRESS":
            durations = {inv.config.logical_id: inv.duration_ms for inv in model.invocations if inv.config}
            run_ms = critical_path_ms(machine.definition["States"], machine.definition["StartAt"], durations)
            facts["states"] += f", {run_ms:.0f} ms"
            add("Step Functions", price("sfn_express_request") + express_duration(1, run_ms))
        else:
            add("Step Functions", transitions * price("sfn_standard_transition"))
        if machine.log_level == "ALL":
            log_kb += transitions * ASSUMED_STATE_LOG_EVENTS_PER_STATE * ASSUMED_LOG_KB_PER_STATE_LOG_EVENT
    add("CloudWatch Logs", log_kb / 1024 / 1024 * price("logs_gb"))

    secrets = template.count("AWS::SecretsManager::Secret")
    monthly = {
        "alarms": template.alarm_metrics() * price("alarm_month")
        + template.count("AWS::CloudWatch::CompositeAlarm") * price("composite_alarm_month"),
        "dashboards": template.count("AWS::CloudWatch::Dashboard") * price("dashboard_month"),
        "KMS keys": template.count("AWS::KMS::Key") * price("kms_key_month"),
        "secrets": secrets * price("secret_month"),
        "SQS idle polling": template.sqs_mappings() * sqs_idle_polls_per_month() * price("sqs_request"),
    }
    if model.secret_cache_s:
        monthly["secrets"] += secrets * SECONDS_PER_MONTH / model.secret_cache_s * price("secret_call")
    monthly = {k: v for k, v in monthly.items() if v}
    facts["functions"] = ", ".join(
        f"{inv.config.logical_id[:-8]} {inv.config.memory_mb} MB {inv.config.architecture} {inv.duration_ms:.0f} ms"
        for inv in model.invocations
        if inv.config
    )
    return Cost(stack_id, model, per_event, monthly, facts)


# --- the patterns --------------------------------------------------------------------------------
# One function per stack: what one event does, with the template supplying what the stack decides.


def _line_items(n: int) -> list[dict[str, Any]]:
    return [{"sku": f"BOOK-{i:03d}", "quantity": 1 + i % 5, "unit_price": f"{10 + i}.50"} for i in range(n)]


def api_sync(template: Template, events: int) -> Model:
    from api_sync.quotes import QuoteRequest, price_quote

    body = {"customer_id": "C-1001", "currency": "EUR", "country": "DE", "items": _line_items(5)}
    return Model(
        event="request",
        api_requests=1,
        invocations=[
            Invocation(
                "QuotesFunction",
                1,
                lambda: price_quote(QuoteRequest.model_validate(body)).model_dump_json(),
                what="a 5-line quote",
            )
        ],
    )


def event_invoke(template: Template, events: int) -> Model:
    from event_invoke.analysis import analyze

    text = ("the quick brown fox jumps over the lazy dog\n" * 500).encode()  # ~22 KB
    return Model(
        event="upload",
        invocations=[
            Invocation(
                "AnalyzeFunction",
                1,
                lambda: analyze("incoming/notes.txt", text, max_bytes=10 * 2**20),
                aws_calls=4,
                transfer_mb=len(text) / 2**20,
                what="a 22 KB text file: idempotency put + update, GET, PUT",
            )
        ],
        s3_puts=2,  # the upload itself, the analysis result
        s3_gets=1,
        dynamodb_wru=2,  # idempotency record: in progress, completed
        sqs_requests=1,  # the on-success record (its consumer's receive and delete are not this stack's)
    )


def queue_redrive(template: Template, events: int) -> Model:
    from queue_redrive.orders import Order, fulfil_order

    order = {
        "order_id": "O-1001",
        "customer_id": "C-42",
        "currency": "EUR",
        "placed_at": "2026-11-22T12:00:00Z",
        "lines": _line_items(3),
    }
    function = template.function("OrdersFunction")
    mapping = template.mapping(function.logical_id)
    batch = messages_per_batch(events, mapping["BatchSize"], mapping.get("MaximumBatchingWindowInSeconds", 0))
    return Model(
        event="order",
        invocations=[
            Invocation(
                "OrdersFunction",
                1 / batch,
                lambda: fulfil_order(Order.model_validate(order)).model_dump_json(),
                work_scale=batch,
                aws_calls=3 * batch,
                what=f"a batch of {batch:.1f} orders (rate x window): 3 DynamoDB writes each",
            )
        ],
        sqs_requests=1 + 2 / batch,  # send; a receive and a batched delete per batch
        dynamodb_wru=3,  # idempotency in progress and completed, the order
        notes=[
            f"batches of {batch:.1f}: {events:,} orders a month arrive at {events / SECONDS_PER_MONTH:.2f}/s into a "
            f"{mapping.get('MaximumBatchingWindowInSeconds', 0)} s window (BatchSize {mapping['BatchSize']})"
        ],
    )


def express_workflow(template: Template, events: int) -> Model:
    from express_workflow import orders

    body = {"customer_id": "C-42", "currency": "EUR", "items": _line_items(5)}
    order = orders.validate(body)["order"]
    pricing, stock, fraud = orders.price_lines(order), orders.check_stock(order), orders.fraud_score(order)
    return Model(
        event="request",
        api_requests=1,
        invocations=[
            Invocation("ValidateFunction", 1, lambda: orders.validate(body), what="a 5-line order"),
            Invocation("PriceFunction", 1, lambda: orders.price_lines(order)),
            Invocation("StockFunction", 1, lambda: orders.check_stock(order)),
            Invocation("FraudFunction", 1, lambda: orders.fraud_score(order)),
            Invocation(
                "AssembleFunction", 1, lambda: orders.assemble(order, pricing, stock, fraud, max_fraud_score=60)
            ),
        ],
    )


ASSUMED_JOB_BYTES = 40 * 2**20  # StandardWorkflow: a 40 MB CSV a job


def standard_workflow(template: Template, events: int) -> Model:
    from standard_workflow import aggregate

    chunk_bytes = int(template.function("ProcessChunkFunction").environment["CHUNK_BYTES"])
    chunks = math.ceil(ASSUMED_JOB_BYTES / chunk_bytes)
    sample = b"region,units,revenue\n" + b"".join(
        f"{r},{i % 97},{i % 1000}.25\n".encode() for i in range(40_000) for r in ["eu-west"]
    )
    size = len(sample)
    columns, start = aggregate.parse_header(sample, "region")

    def chunk_work() -> object:
        return aggregate.aggregate_rows(aggregate.owned_lines(sample, 0, start, size, size), columns, "region")

    results = [chunk_work() for _ in range(chunks)]
    return Model(
        event="job",
        map_items=chunks,
        invocations=[
            Invocation("StartFunction", 1, aws_calls=1, what="StartExecution"),
            Invocation(
                "SplitFunction",
                1,
                lambda: aggregate.byte_ranges(start, ASSUMED_JOB_BYTES, chunk_bytes),
                aws_calls=4 + chunks,
                what="2 job updates, HEAD, GET of the header, a manifest PUT per chunk",
            ),
            Invocation(
                "ProcessChunkFunction",
                chunks,
                chunk_work,
                work_scale=chunk_bytes / size,
                aws_calls=4,
                transfer_mb=chunk_bytes / 2**20,
                what=(
                    f"a chunk of {chunk_bytes / 2**20:.0f} MB (timed on {size / 2**20:.1f} MB, scaled): manifest GET, "
                    "range GET, result PUT, job update"
                ),
            ),
            Invocation(
                "MergeFunction",
                1,
                lambda: aggregate.merge_results(results),
                aws_calls=chunks + 1,
                what="a GET per chunk result, PUT",
            ),
            Invocation("RequestApprovalFunction", 1, aws_calls=2, what="job update, SNS publish"),
            Invocation("PublishFunction", 1, aws_calls=2, what="COPY, job update"),
        ],
        s3_puts=1 + chunks + chunks + 1 + 1,  # upload, manifests, chunk results, merged, COPY to published/
        s3_gets=2 + chunks * 2 + chunks,  # HEAD + header; manifest + range per chunk; merge reads each result
        dynamodb_wru=4 + chunks,  # start, processing, awaiting approval, published; each chunk done
        sns_publishes=1,
        notes=[
            f"a {ASSUMED_JOB_BYTES // 2**20} MB file in {chunks} chunks of CHUNK_BYTES {chunk_bytes // 2**20} MiB "
            "(from the template): "
            f"the Map runs its item states once per chunk; the person's approval is not timed"
        ],
    )


ASSUMED_BATCH_ITEMS = 1_000  # FanOut: lines in a batch
ASSUMED_STATUS_POLLS = 2  # FanOut: GETs a client makes before the batch is complete


def fan_out(template: Template, events: int) -> Model:
    from fan_out.sales import CHUNK_SIZE, BatchRequest, SaleLine, chunked, summarize_chunk

    chunk_size = CHUNK_SIZE
    chunks = math.ceil(ASSUMED_BATCH_ITEMS / chunk_size)
    skus = ["BOOK-1", "PEN-2", "MUG-3", "TEA-4"]
    body = {
        "currency": "EUR",
        "items": [
            {"sku": skus[i % 4], "quantity": 1 + i % 7, "unit_price": f"{i % 50}.25"}
            for i in range(ASSUMED_BATCH_ITEMS)
        ],
    }
    lines = [SaleLine.model_validate(item) for item in body["items"][:chunk_size]]
    summaries = [summarize_chunk(lines) for _ in range(chunks)]
    return Model(
        event="batch",
        api_requests=1 + ASSUMED_STATUS_POLLS,
        invocations=[
            Invocation(
                "ApiFunction",
                1,
                lambda: chunked(BatchRequest.model_validate(body).items, chunk_size),
                aws_calls=1 + chunks,
                what=f"POST of {ASSUMED_BATCH_ITEMS:,} lines: put the batch, one async invoke per chunk",
            ),
            Invocation("ApiFunction", ASSUMED_STATUS_POLLS, aws_calls=1, what="GET the batch's status"),
            Invocation(
                "ChildFunction",
                chunks,
                lambda: summarize_chunk(lines),
                aws_calls=3 + 3 / chunks,
                what=f"a chunk of {chunk_size}: get, transaction, get; the last one also claims, batch-gets, completes",
            ),
        ],
        # Batch put 1; per chunk a transaction of 2 items (2 WRU each); the claim 1; the completed report ~2 KB: 2.
        dynamodb_wru=1 + chunks * 4 + 1 + 2,
        # Strongly consistent: 2 gets per chunk, the fan-in's batch-get of each chunk, each status poll.
        dynamodb_rru=chunks * 2 + chunks + ASSUMED_STATUS_POLLS,
        notes=[
            f"a batch of {ASSUMED_BATCH_ITEMS:,} lines in {chunks} chunks of CHUNK_SIZE {chunk_size} "
            f"(lambdas/fan_out/sales.py), polled {ASSUMED_STATUS_POLLS} times; merge of {len(summaries)} chunk "
            "summaries included in the last child"
        ],
    )


ASSUMED_JOB_POLLS = 3  # StreamJob: GETs a client makes (Retry-After: 2)


def stream_job(template: Template, events: int) -> Model:
    from stream_job.loans import LoanReportRequest, amortize

    body = {"currency": "EUR", "principal": "10000.00", "annual_rate_percent": "6", "monthly_payment": "500.00"}
    years = len(amortize(LoanReportRequest.model_validate(body)).years)
    processor = template.function("ProcessorFunction")
    mapping = template.mapping(processor.logical_id)
    batch = messages_per_batch(events, mapping["BatchSize"], mapping.get("MaximumBatchingWindowInSeconds", 0))
    return Model(
        event="job",
        api_requests=1 + ASSUMED_JOB_POLLS,
        invocations=[
            Invocation(
                "ApiFunction",
                1,
                lambda: LoanReportRequest.model_validate(body),
                aws_calls=1,
                what="POST: put the pending job",
            ),
            Invocation("ApiFunction", ASSUMED_JOB_POLLS, aws_calls=1, what="GET the job"),
            Invocation(
                "ProcessorFunction",
                1 / batch,
                lambda: amortize(LoanReportRequest.model_validate(body)).model_dump_json(),
                work_scale=batch,
                aws_calls=(2 + years) * batch,
                what=f"a {years}-year loan report: claim, progress each year, complete",
            ),
        ],
        # put; claim; a progress write a year; the ~2 KB completed job: 2.
        dynamodb_wru=1 + 1 + years + 2,
        dynamodb_rru=ASSUMED_JOB_POLLS,  # strongly consistent GetItem of a job under 4 KB
        notes=[
            f"a client polls {ASSUMED_JOB_POLLS} times; stream records reach the processor "
            f"{batch:.0f} at a time (BatchSize {mapping['BatchSize']}, window "
            f"{mapping.get('MaximumBatchingWindowInSeconds', 0)} s); "
            "stream reads by Lambda and filtered-out records are free"
        ],
    )


def webhook(template: Template, events: int) -> Model:
    import hashlib
    import hmac

    from webhook.deliveries import Delivery, summarize
    from webhook.signatures import github_problem

    payload = {
        "action": "opened",
        "repository": {"full_name": "octo/repo"},
        "sender": {"login": "octo"},
        "commits": [{"id": str(i)} for i in range(20)],
    }
    raw = json.dumps(payload).encode()
    secret = b"s" * 32
    headers = {"x-hub-signature-256": "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()}
    delivery = {"provider": "github", "delivery_id": "d-1", "event_type": "push", "payload": payload}
    function = template.function("WebhookFunction")
    mapping = template.mapping(function.logical_id)
    batch = messages_per_batch(events, mapping["BatchSize"], mapping.get("MaximumBatchingWindowInSeconds", 0))
    return Model(
        event="delivery",
        invocations=[
            Invocation(
                "WebhookFunction",
                1,
                lambda: (github_problem(raw, headers, secret), json.loads(raw)),
                aws_calls=1,
                what="URL request: verify the HMAC (secret cached), send to its own queue",
            ),
            Invocation(
                "WebhookFunction",
                1 / batch,
                lambda: summarize(Delivery.model_validate(delivery)),
                work_scale=batch,
                aws_calls=3 * batch,
                what=f"SQS path, {batch:.0f} a batch: idempotency put, delivery put, idempotency update",
            ),
        ],
        sqs_requests=1 + 2 / batch,  # send; a receive and a delete per batch
        dynamodb_wru=3,  # idempotency in progress and completed, the delivery record
        secret_cache_s=float(function.environment["SECRET_MAX_AGE_SECONDS"]),
        notes=[
            "the function URL costs nothing beyond the invocation; each secret is read once per cache period "
            "(SECRET_MAX_AGE_SECONDS, from the template) by one warm instance; no delivery is over 1 MiB, so no "
            "claim check (each one adds an S3 PUT and GET)"
        ],
    )


MODELS: dict[str, Callable[[Template, int], Model]] = {
    "ApiSync": api_sync,
    "EventInvoke": event_invoke,
    "QueueRedrive": queue_redrive,
    "ExpressWorkflow": express_workflow,
    "StandardWorkflow": standard_workflow,
    "FanOut": fan_out,
    "StreamJob": stream_job,
    "Webhook": webhook,
}
# Where each pattern is described, relative to docs/ (the page's folder): its page in docs/patterns/.
PATTERN_DOCS = "patterns/"
SECTIONS = {
    "ApiSync": "1-api-sync.md",
    "EventInvoke": "2-event-invoke.md",
    "QueueRedrive": "3-queue-redrive.md",
    "ExpressWorkflow": "4-express-workflow.md",
    "StandardWorkflow": "5-standard-workflow.md",
    "FanOut": "6-fan-out.md",
    "StreamJob": "7-stream-job.md",
    "Webhook": "8-webhook.md",
}


# --- output --------------------------------------------------------------------------------------


def usd(amount: float) -> str:
    """Dollars to the cent; three decimals below ten cents, so small items do not show as $0.00."""
    return f"${amount:,.2f}" if amount >= 0.1 or amount == 0 else f"${amount:.3f}"


def summary_table(costs: list[Cost], events: int) -> str:
    rows = [
        f"| stack | one event | per {events:,} events | fixed a month | total a month | biggest items |",
        "|---|---|---:|---:|---:|---|",
    ]
    for c in costs:
        top = sorted(c.per_event.items(), key=lambda kv: -kv[1])[:3]
        rows.append(
            f"| [`{c.stack_id}`]({PATTERN_DOCS}{SECTIONS.get(c.stack_id, '')}) | one {c.model.event} | "
            f"{usd(c.variable(events))} | "
            f"{usd(c.fixed())} "
            f"| **{usd(c.total(events))}** | {', '.join(f'{k} {usd(v * events)}' for k, v in top)} |"
        )
    return "\n".join(rows)


def detail_table(costs: list[Cost], events: int) -> str:
    """A section per stack (`### ApiSync`, the anchor the pattern pages link to), each with its table."""
    sections = []
    for c in costs:
        usage = [
            (
                f"{inv.per_event:.3g} x {inv.function} ({inv.config.memory_mb} MB {inv.config.architecture}, timeout "
                f"{inv.config.timeout_s} s): {inv.duration_ms:.0f} ms = {inv.work_ms:.2f} measured + "
                f"{inv.duration_ms - inv.work_ms:.0f} assumed; {inv.what}"
            ).rstrip("; ")
            for inv in c.model.invocations
            if inv.config
        ]
        m = c.model
        counts = [
            f"{label} {value:.3g}"
            for label, value in (
                ("REST requests", m.api_requests),
                ("SQS requests", m.sqs_requests),
                ("DynamoDB WRU", m.dynamodb_wru),
                ("RRU", m.dynamodb_rru),
                ("S3 PUT", m.s3_puts),
                ("S3 GET", m.s3_gets),
                ("SNS publishes", m.sns_publishes),
            )
            if value
        ]
        if "states" in c.facts:
            counts.append(c.facts["states"])
        text = "<br>".join(usage + ["; ".join(counts)] + m.notes)
        items = [(k, v * events) for k, v in c.per_event.items()] + [(f"{k} (fixed)", v) for k, v in c.monthly.items()]
        rows = [
            f"### {c.stack_id}",
            "",
            f"[The pattern's page]({PATTERN_DOCS}{SECTIONS.get(c.stack_id, '')}); "
            f"{usd(c.total(events))} a month at {events:,} events (an event: one {c.model.event}).",
            "",
            "| what one event does (template and model) | item | a month |",
            "|---|---|---:|",
        ]
        for i, (item, amount) in enumerate(items):
            rows.append(f"| {text if i == 0 else ''} | {item} | {usd(amount)} |")
        sections.append("\n".join(rows))
    return "## Each pattern, item by item\n\n" + "\n\n".join(sections)


def assumptions(measurements: Measurements) -> str:
    measured = measurements.data
    return "\n".join(
        [
            "## Prices and assumptions",
            "",
            f"Prices: us-east-1 on-demand list prices as of {PRICES_AS_OF}, free tiers ignored:",
            *[f"- {text}" for _, text in PRICES.values()],
            "",
            "Assumptions:",
            "- events spread evenly over a 30-day month; no failures, retries or cold starts; no storage",
            f"- a function's duration: its work function's recorded time ({MEASUREMENTS.name}: "
            f"{measured.get('how', 'not recorded yet')}; measured {measured.get('measured_on', '-')} on "
            f"{measured.get('machine', '-')}), plus {ASSUMED_INVOKE_OVERHEAD_MS:g} ms for the handler and "
            f"{ASSUMED_CALL_MS:g} ms per AWS call (assumed), plus S3 reads at {ASSUMED_S3_MB_PER_S:g} MB/s (assumed)",
            f"- logs: {ASSUMED_LOG_KB_PER_INVOCATION:g} KB a Lambda invocation, {ASSUMED_LOG_KB_PER_API_REQUEST:g} KB "
            f"an API access-log line, {ASSUMED_STATE_LOG_EVENTS_PER_STATE} x {ASSUMED_LOG_KB_PER_STATE_LOG_EVENT:g} "
            "KB a state at level ALL (ERROR logs nothing on success)",
            "- X-Ray: one trace an event (at ~0.4 events a second the default rule, 1 a second and 5 %, "
            "records nearly all)",
            f"- Express: {ASSUMED_EXPRESS_MEMORY_MB} MB billed, for the run's critical path "
            "(the slowest Parallel branch)",
            f"- an SQS event source mapping long-polls an empty queue with {ASSUMED_SQS_POLLERS} pollers "
            f"({sqs_idle_polls_per_month():,.0f} requests a month)",
            "- fixed costs: alarms, dashboards (the first 3 in an account are free: 8 stacks pay for 5), "
            "customer managed KMS keys, secrets, counted in the template",
        ]
    )


def report(costs: list[Cost], events: int, measurements: Measurements | None = None) -> str:
    return "\n\n".join(
        [summary_table(costs, events), detail_table(costs, events), assumptions(measurements or recorded())]
    )


def page(costs: list[Cost], events: int, measurements: Measurements | None = None) -> str:
    """docs/cost.md: the report under a title, and how it is made."""
    return (
        "# What each pattern costs\n\n"
        "Generated by `make cost` from the synthesized templates and the recorded work timings in "
        f"`scripts/{MEASUREMENTS.name}`; do not edit by hand (a test fails when this page differs from what "
        "`make cost` writes). `make cost-measure` times the work functions again.\n\n"
        f"{report(costs, events, measurements)}\n"
    )


def synthesize(outdir: Path) -> dict[str, dict[str, Any]]:
    """Every stack's template, synthesized as `cdk synth` would (cdk.json's context)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from app import build_app

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    assembly = build_app(outdir=str(outdir), context=context, analytics_reporting=False).synth()
    return {stack.stack_name: stack.template for stack in assembly.stacks}


def read_assembly(cdk_out: Path) -> dict[str, dict[str, Any]]:
    return {stack_id: json.loads((cdk_out / f"{stack_id}.template.json").read_text()) for stack_id in MODELS}


def price_all(
    templates: dict[str, dict[str, Any]], events: int, measurements: Measurements | None = None
) -> list[Cost]:
    return [
        cost(
            stack_id,
            Template(stack_id, templates[stack_id]),
            model(Template(stack_id, templates[stack_id]), events),
            events,
            measurements,
        )
        for stack_id, model in MODELS.items()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cdk-out", type=Path, help="read the templates from this cloud assembly instead of synthesizing"
    )
    parser.add_argument("--events", type=int, default=EVENTS_PER_MONTH, help="events a month (default: %(default)s)")
    parser.add_argument("--write", action="store_true", help=f"write {PAGE.relative_to(ROOT)} instead of printing")
    parser.add_argument(
        "--measure", action="store_true", help=f"time the work functions again into {MEASUREMENTS.name}"
    )
    args = parser.parse_args(argv)
    if args.cdk_out:
        templates = read_assembly(args.cdk_out)
    else:
        with tempfile.TemporaryDirectory() as outdir:
            templates = synthesize(Path(outdir))
    measurements = Measurements(record=args.measure)
    text = page(price_all(templates, args.events, measurements), args.events, measurements)
    if args.measure:
        measurements.save()
        text = page(price_all(templates, args.events), args.events, Measurements())  # as make cost reads it back
    if args.write:
        PAGE.write_text(text)
        print(f"wrote {PAGE.relative_to(ROOT)}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
