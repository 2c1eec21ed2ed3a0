"""`python -m scripts.profile_synth`: where `cdk synth` of this app spends its time.

Runs the app in this process the way `cdk synth` runs app.py (cdk.json's context plus the CLI's
defaults, the same checks) and prints what each phase costs, on the Python side and in the jsii
kernel (the node process every CDK Python app talks to, where the CDK code itself runs):

- importing app.py (aws_cdk and cdk_nag load their JavaScript into node);
- constructing each stack, with its jsii calls (each a round trip to node) by kind;
- `add_checks`: registering the two cdk-nag packs;
- `app.synth()`, with each cdk-nag pack's `validate` timed on its own, and CDK's own counters
  (template resolution, CloudFormation validation per template, asset fingerprinting, files).
  It includes building CDK's CloudFormation validation engine: seconds of CPU, once per process,
  which every CDK app pays (the one-queue app too).

`--one-queue` profiles the app with one SQS queue that `make bench` compares against, and
`-c KEY=VALUE` overrides a context value (a feature flag, say) to see what it costs.

Compare CPU seconds and call counts, not wall time: wall time moves with the machine's load.
A script, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Meter:
    """CPU of this process and of the jsii node process, wall time, and jsii calls, since a mark."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self.total_calls = 0
        self.node_pid: int | None = None

    def node_cpu(self) -> float:
        """CPU seconds of the jsii runtime's processes (node starts a child node that does the work)."""
        if self.node_pid is None:
            return 0.0
        ticks, pending = 0, [self.node_pid]
        while pending:
            pid = pending.pop()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        return ticks / CLOCK_TICKS

    def mark(self) -> tuple[float, float, float, int]:
        return time.perf_counter(), time.process_time(), self.node_cpu(), self.total_calls

    def since(self, start: tuple[float, float, float, int]) -> dict[str, float]:
        wall, py_cpu, node_cpu, calls = self.mark()
        return {
            "wall": wall - start[0],
            "python_cpu": py_cpu - start[1],
            "node_cpu": node_cpu - start[2],
            "jsii_calls": calls - start[3],
        }


def instrument(meter: Meter) -> None:
    """Count every request the Python side sends to the jsii kernel, by kind."""
    from jsii._kernel.providers import process

    original_send = process._NodeProcess.send

    def describe(request: object) -> str:
        kind = type(request).__name__.removesuffix("Request")
        for attribute in ("fqn", "method", "property"):
            value = getattr(request, attribute, None)
            if value:
                objref = getattr(request, "objref", None)
                owner = str(getattr(objref, "ref", "")).split("@")[0] if objref is not None else ""
                return f"{kind} {owner + '.' if owner else ''}{value}"
        return kind

    def send(self, request, response_type):  # type: ignore[no-untyped-def]
        if meter.node_pid is None and getattr(self, "_process", None) is not None:
            meter.node_pid = self._process.pid
        meter.total_calls += 1
        meter.calls[describe(request)] += 1
        return original_send(self, request, response_type)

    process._NodeProcess.send = send  # type: ignore[method-assign]


def cli_context(overrides: dict[str, object]) -> dict[str, object]:
    """The context `cdk synth` gives app.py: cdk.json's, and the CLI's own defaults."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {
        **context,
        "aws:cdk:enable-path-metadata": True,
        "aws:cdk:enable-asset-metadata": True,
        "aws:cdk:version-reporting": True,
        "aws:cdk:bundling-stacks": ["**"],
        "@aws-cdk/core.slowSynthThreshold": 0,  # always write CDK's performance counters
        **overrides,
    }


def context_value(text: str) -> tuple[str, object]:
    """`key=value` as on the cdk command line; the value is parsed as JSON when it can be."""
    key, _, raw = text.partition("=")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def timed_plugins(meter: Meter, timings: dict[str, dict[str, float]]) -> None:
    """Wrap each validation plugin the app adds (the nag packs) in a proxy that measures `validate`
    (a CloudFormationValidatePlugin stays unwrapped: CDK recognises it by its class)."""
    import jsii
    from aws_cdk import CloudFormationValidatePlugin, IPolicyValidationPlugin, Validations

    @jsii.implements(IPolicyValidationPlugin)
    class TimedPlugin:
        def __init__(self, inner: IPolicyValidationPlugin) -> None:
            self._inner = inner

        @property
        def name(self) -> str:
            return self._inner.name

        @property
        def version(self) -> str | None:
            return self._inner.version

        @property
        def rule_ids(self) -> list[str] | None:
            return self._inner.rule_ids

        def validate(self, context):  # type: ignore[no-untyped-def]
            start = meter.mark()
            report = self._inner.validate(context)
            timings[f"validate: {self.name}"] = meter.since(start)
            return report

    original_add_plugins = Validations.add_plugins

    def add_plugins(self, *plugins):  # type: ignore[no-untyped-def]
        wrapped = [p if isinstance(p, CloudFormationValidatePlugin) else TimedPlugin(p) for p in plugins]
        return original_add_plugins(self, *wrapped)

    Validations.add_plugins = add_plugins  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=25, help="jsii call kinds to list (default 25)")
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        type=context_value,
        metavar="KEY=VALUE",
        help="override a context value, as `cdk synth -c` does (repeatable)",
    )
    parser.add_argument(
        "--one-queue",
        action="store_true",
        help="profile an app with one SQS queue and no checks instead (the floor `make bench` compares with)",
    )
    args = parser.parse_args()

    meter = Meter()
    rows: dict[str, dict[str, float]] = {}
    proxy_calls = 0
    with tempfile.TemporaryDirectory() as tmp:
        counters_file = Path(tmp) / "performance-counters.json"
        os.environ.update(
            {
                "CDK_CONTEXT_JSON": json.dumps(cli_context(dict(args.context))),
                "CDK_OUTDIR": str(Path(tmp) / "cdk.out"),
                "CDK_PERF_COUNTERS_FILE": str(counters_file),
                "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            }
        )
        instrument(meter)
        sys.path.insert(0, str(ROOT))

        start = meter.mark()
        import aws_cdk

        rows["import aws_cdk"] = meter.since(start)
        start = meter.mark()
        if args.one_queue:
            from aws_cdk import aws_sqs

            patterns = {"OneQueue": lambda scope, id: aws_sqs.Queue(aws_cdk.Stack(scope, id), "Queue")}
            add_checks = None
            rows["import aws_sqs"] = meter.since(start)
        else:
            import app as app_module

            patterns, add_checks = app_module.PATTERNS, app_module.add_checks
            rows["import app (stacks, cdk_nag, ...)"] = meter.since(start)
            timed_plugins(meter, rows)

        start = meter.mark()
        app = aws_cdk.App()
        rows["App()"] = meter.since(start)
        per_stack_calls: dict[str, collections.Counter[str]] = {}
        for stack_id, stack_class in patterns.items():
            before = collections.Counter(meter.calls)
            start = meter.mark()
            stack_class(app, stack_id)
            rows[f"construct {stack_id}"] = meter.since(start)
            per_stack_calls[stack_id] = meter.calls - before
        if add_checks is not None:
            start = meter.mark()
            add_checks(app)
            rows["add_checks"] = meter.since(start)
        before = collections.Counter(meter.calls)
        start = meter.mark()
        app.synth()
        rows["app.synth()"] = meter.since(start)
        synth_calls = meter.calls - before
        # The timing proxies pass each pack's report through Python: calls no real synth makes.
        proxy_calls = sum(row["jsii_calls"] for name, row in rows.items() if name.startswith("validate: "))
        counters = json.loads(counters_file.read_text())["counters"] if counters_file.exists() else {}

    print(f"{'phase':45} {'wall s':>7} {'py cpu':>7} {'node cpu':>8} {'jsii calls':>10}")
    totals = collections.Counter()
    for name, row in rows.items():
        nested = name.startswith("validate: ")
        if not nested:
            totals.update(row)
        label = f"  {name}" if nested else name
        print(f"{label:45} {row['wall']:7.2f} {row['python_cpu']:7.2f} {row['node_cpu']:8.2f} {row['jsii_calls']:10d}")
    print(
        f"{'total':45} {totals['wall']:7.2f} {totals['python_cpu']:7.2f} {totals['node_cpu']:8.2f} "
        f"{totals['jsii_calls']:10d}"
    )

    print("\nCDK's own counters during synth (ms, calls):")
    for name, value in counters.items():
        if not name.endswith("(cnt)") and value >= 20:
            print(f"  {name:50} {value:7d} {counters.get(name + '(cnt)', '')}")

    print("\njsii calls per stack: total, creates; most frequent kinds")
    for stack_id, calls in per_stack_calls.items():
        creates = sum(n for kind, n in calls.items() if kind.startswith("Create"))
        common = ", ".join(f"{kind} {n}" for kind, n in calls.most_common(4))
        print(f"  {stack_id:18} {sum(calls.values()):6d} {creates:5d}  {common}")
    print(f"  {'app.synth()':18} {sum(synth_calls.values()):6d}        ({proxy_calls} of them by the timing proxies)")

    print(f"\njsii calls by kind, whole run (top {args.top}):")
    for kind, n in meter.calls.most_common(args.top):
        print(f"  {n:6d}  {kind}")


if __name__ == "__main__":
    main()
