"""`make bench`: what the project costs in time and size, against the project's performance budget.

Every figure is printed with its target and whether it is met:

- synth: `cdk synth` of the whole app (nag packs and validation included), as a multiple of the
  same CLI synthesizing an app with one SQS queue (the floor any CDK app pays: node, jsii, the
  CLI), measured in the same run. Target: at most 1.5x.
- tests: the test suite, run exactly as `make test` runs it (`python -m pytest`, whatever options
  the project's pytest configuration adds), wall time. Target: at most 90 s.
- imports: each handler module's cold import in a fresh interpreter, as a multiple of a bare
  `import boto3` in the same environment, measured in the same run. The environment is what the
  function gets in Lambda: the variables its stack sets (references to other resources become
  placeholders) plus the ones the Lambda runtime sets (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME,
  ...), which Powertools and the X-Ray SDK read at import. CPU time of the import, so a busy
  machine slows the figure less than wall time would. Target: at most 2x.
- assets: each function's code asset, zipped as Lambda receives it. Target: at most 50 KB.

A report, not a test: it exits 0 whether targets are met or not. Medians of --runs runs.
`--only imports,assets` skips the slow parts; `--assembly cdk.out` reuses a synthesized app.
`--write` (what `make bench` passes) also writes docs/benchmarks.md: the table, the machine, the date.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PAGE = ROOT / "docs" / "benchmarks.md"
CDK = [str(ROOT / "node_modules" / ".bin" / "cdk")]
QUIET_ENV = {
    "CDK_DISABLE_VERSION_CHECK": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}
ONE_QUEUE_APP = """
import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
app = cdk.App()
sqs.Queue(cdk.Stack(app, "OneQueue"), "Queue")
app.synth()
"""
PARTS = ("synth", "tests", "imports", "assets")

# The performance budget.
MAX_SYNTH_RATIO = 1.5
MAX_SUITE_SECONDS = 90.0
MAX_IMPORT_RATIO = 2.0
MAX_ASSET_BYTES = 50 * 1024

# What the Lambda runtime itself sets for every function (besides the stack's variables).
REGION = "us-east-1"
LAMBDA_RUNTIME_ENV = {
    "LAMBDA_TASK_ROOT": str(ROOT / "lambdas"),
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.14",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
}


# --- what is measured, as plain data ------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One line of the report: what was measured, its value as text, the target, whether it is met."""

    what: str
    value: str
    target: str = ""
    met: bool | None = None  # None: a baseline, with no target of its own


def verdict(met: bool | None) -> str:
    return "" if met is None else "met" if met else "NOT met"


def table(figures: Iterable[Figure]) -> str:
    lines = ["| what | figure | target | |", "|---|---|---|---|"]
    lines += [f"| {f.what} | {f.value} | {f.target} | {verdict(f.met)} |" for f in figures]
    return "\n".join(lines)


def ratio_figure(what: str, value: float, baseline: float, limit: float, unit: str, scale: float = 1.0) -> Figure:
    """`value` as a multiple of `baseline` (both in seconds), against at most `limit` times."""
    ratio = value / baseline
    return Figure(what, f"{value * scale:.0f} {unit} = {ratio:.2f}x", f"≤ {limit:g}x", ratio <= limit)


def zipped(path: Path) -> bytes:
    """`path` as CDK uploads a `zip` asset: a directory's files deflated under their relative
    paths, or a file that already is the archive."""
    if path.is_file():
        return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            archive.write(file, file.relative_to(path).as_posix())
    return buffer.getvalue()


def size_figure(what: str, size: int, limit: int = MAX_ASSET_BYTES) -> Figure:
    return Figure(what, f"{size / 1024:.1f} KB", f"≤ {limit / 1024:g} KB", size <= limit)


@dataclass(frozen=True)
class Function:
    stack: str
    logical_id: str
    handler: str  # module.function
    runtime: str
    asset: str  # the asset's path in the assembly, "" when the code is not an asset
    environment: dict[str, str]


def functions(assembly: Path) -> list[Function]:
    """Every Lambda function of every stack in a synthesized cloud assembly."""
    found = []
    for template_file in sorted(assembly.glob("*.template.json")):
        stack = template_file.name.removesuffix(".template.json")
        manifest = assembly / f"{stack}.assets.json"
        files = json.loads(manifest.read_text())["files"] if manifest.exists() else {}
        for logical_id, resource in json.loads(template_file.read_text())["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            props = resource.get("Properties", {})
            key = props.get("Code", {}).get("S3Key")
            source = files.get(key.removesuffix(".zip"), {}).get("source", {}) if isinstance(key, str) else {}
            variables = props.get("Environment", {}).get("Variables", {})
            found.append(
                Function(
                    stack=stack,
                    logical_id=logical_id,
                    handler=str(props.get("Handler", "")),
                    runtime=str(props.get("Runtime", "")),
                    asset=str(source.get("path", "")),
                    environment={
                        k: v if isinstance(v, str) else f"bench-{logical_id}-{k.lower()}" for k, v in variables.items()
                    },
                )
            )
    return found


def handler_environments(found: list[Function]) -> dict[str, dict[str, str]]:
    """Python handler module -> the environment its (first) function gets in Lambda. Several
    functions share a module (one per entry point): it is imported once."""
    environments: dict[str, dict[str, str]] = {}
    for function in found:
        module = function.handler.rsplit(".", 1)[0]  # pattern.module.function -> pattern.module
        if function.runtime.startswith("python") and module not in environments:
            environments[module] = {**LAMBDA_RUNTIME_ENV, **function.environment}
    return environments


def assets(found: list[Function]) -> dict[str, list[Function]]:
    """Asset path -> the functions whose code it is."""
    by_asset: dict[str, list[Function]] = {}
    for function in found:
        if function.asset:
            by_asset.setdefault(function.asset, []).append(function)
    return by_asset


def asset_label(users: list[Function]) -> str:
    """ "code of FanOut (fan_out.api, fan_out.child)": the stacks and handler modules using an asset."""
    stacks = ", ".join(sorted({f.stack for f in users}))
    modules = sorted({f.handler.rsplit(".", 1)[0] for f in users if f.runtime.startswith("python")})
    return f"code of {stacks} ({', '.join(modules) if modules else f'{users[0].logical_id}, {users[0].runtime}'})"


# --- measuring ----------------------------------------------------------------------------------


def timed(command: list[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None, check: bool = True) -> float:
    """Wall seconds `command` takes; with check=False, negative when it fails."""
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env={**os.environ, **QUIET_ENV, **(env or {})}, check=check, capture_output=True
    )
    seconds = time.perf_counter() - start
    return seconds if done.returncode == 0 else -seconds


def import_time(module: str, environment: dict[str, str]) -> float:
    """CPU seconds to import `module` in a fresh interpreter, measured inside it."""
    code = f"import time; t = time.process_time(); import {module}; print(time.process_time() - t)"
    env = {**os.environ, **environment, "PYTHONPATH": str(ROOT / "lambdas"), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([PYTHON, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def per_stack_figure(full: float, floor: float, stacks: int) -> Figure:
    """What each stack adds to synth above the one-queue floor: a figure to watch, with no target."""
    return Figure(f"`cdk synth` above the baseline, per stack ({stacks} stacks)", f"{(full - floor) / stacks:.2f} s")


def machine_speed(runs: int = 3) -> float:
    """CPU seconds of a fixed pure-Python loop in a fresh interpreter (median of `runs`): how fast
    the machine is at the time. Its speed swings by a third from hour to hour, so the absolute
    figures (the suite's seconds) are read against this one."""
    code = "import time; t = time.process_time(); sum(i * i for i in range(15_000_000)); print(time.process_time() - t)"
    samples = [
        float(subprocess.run([PYTHON, "-c", code], check=True, capture_output=True, text=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(samples)


def synth_figures(runs: int, tmp: Path) -> tuple[list[Figure], Path]:
    (tmp / "one_queue.py").write_text(ONE_QUEUE_APP)
    fulls, floors = [], []
    for _ in range(runs):  # alternated, so a change in the machine's load hits both sides
        fulls.append(timed([*CDK, "synth", "--quiet", "-o", str(tmp / "full")]))
        floors.append(
            timed([*CDK, "synth", "--quiet", "--app", f"{PYTHON} one_queue.py", "-o", str(tmp / "floor")], cwd=tmp)
        )
    full, floor = statistics.median(fulls), statistics.median(floors)
    return [
        ratio_figure(
            "`cdk synth`, every stack, with nag and validation, vs an app with one SQS queue",
            full,
            floor,
            MAX_SYNTH_RATIO,
            "s",
        ),
        Figure("`cdk synth`, an app with one SQS queue (the baseline)", f"{floor:.1f} s"),
        per_stack_figure(full, floor, len(list((tmp / "full").glob("*.template.json")))),
    ], tmp / "full"


def suite_figure(runs: int) -> Figure:
    # Exactly the Makefile's `test` target: the pytest configuration decides the options.
    results = [timed([PYTHON, "-m", "pytest"], check=False) for _ in range(runs)]
    seconds = statistics.median(abs(result) for result in results)
    failed = sum(1 for result in results if result < 0)
    value = f"{seconds:.0f} s" + (f" (FAILED in {failed} of {runs} runs)" if failed else "")
    return Figure(
        "test suite, as `make test` runs it",
        value,
        f"≤ {MAX_SUITE_SECONDS:g} s",
        seconds <= MAX_SUITE_SECONDS and not failed,
    )


def import_figures(runs: int, found: list[Function]) -> list[Figure]:
    # Rounds of baseline-then-every-handler, so a change in the machine's load hits both sides.
    environments = {"boto3": LAMBDA_RUNTIME_ENV, **dict(sorted(handler_environments(found).items()))}
    samples: dict[str, list[float]] = {module: [] for module in environments}
    for _ in range(runs):
        for module, environment in environments.items():
            samples[module].append(import_time(module, environment))
    baseline = statistics.median(samples.pop("boto3"))
    figures = [Figure("cold `import boto3` (the baseline)", f"{baseline * 1000:.0f} ms")]
    for module, times in samples.items():
        figures.append(
            ratio_figure(f"cold `import {module}`", statistics.median(times), baseline, MAX_IMPORT_RATIO, "ms", 1000)
        )
    return figures


def asset_figures(assembly: Path, found: list[Function]) -> list[Figure]:
    by_label = sorted((asset_label(users), path) for path, users in assets(found).items())
    return [size_figure(label, len(zipped(assembly / path))) for label, path in by_label]


def parse_only(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [part for part in chosen if part not in PARTS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose among {', '.join(PARTS)} (comma-separated), not {text!r}")
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument("--test-runs", type=int, default=3, help="runs of the test suite (default 3)")
    parser.add_argument(
        "--only", type=parse_only, default=PARTS, help=f"what to measure, comma-separated (default {','.join(PARTS)})"
    )
    parser.add_argument(
        "--assembly", type=Path, help="a synthesized cloud assembly to read functions from (default: synthesize one)"
    )
    parser.add_argument("--write", action="store_true", help=f"also write {PAGE.relative_to(ROOT)}")
    args = parser.parse_args(argv)

    figures: list[Figure] = []
    speed_before = machine_speed()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        assembly = args.assembly
        if "synth" in args.only:
            synth, synthesized = synth_figures(args.runs, tmp_path)
            figures += synth
            assembly = assembly or synthesized
        if assembly is None and {"imports", "assets"} & set(args.only):
            assembly = tmp_path / "assembly"
            timed([*CDK, "synth", "--quiet", "-o", str(assembly)])
        found = functions(assembly) if assembly else []
        if "tests" in args.only:
            figures.append(suite_figure(args.test_runs))
        if "imports" in args.only:
            figures += import_figures(args.runs, found)
        if "assets" in args.only:
            figures += asset_figures(assembly, found)

    missed = sum(1 for f in figures if f.met is False)
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"medians of {args.runs} runs ({args.test_runs} for the test suite); a fixed Python loop took "
        f"{speed_before:.2f} s of CPU before and {machine_speed():.2f} s after"
    )
    verdict_line = "Every target met." if not missed else f"{missed} target(s) NOT met."
    print(f"Machine: {machine}.\n\n{table(figures)}\n\n{verdict_line}")
    if args.write:
        PAGE.write_text(page(figures, machine, verdict_line, args.only))
        print(f"wrote {PAGE.relative_to(ROOT)}")


def page(figures: list[Figure], machine: str, verdict_line: str, parts: Iterable[str]) -> str:
    """docs/benchmarks.md: what was measured, where and when, and the table."""
    from datetime import date

    return (
        "# Benchmarks\n\n"
        "Written by `make bench` (scripts/bench.py, which says how each figure is measured and why its "
        "target is what it is); do not edit by hand.\n\n"
        f"- Date: {date.today().isoformat()}\n"
        f"- Machine: {machine}\n"
        f"- Measured: {', '.join(parts)}\n\n"
        f"{table(figures)}\n\n"
        f"{verdict_line}\n"
    )


if __name__ == "__main__":
    main()
