"""`make bench`: what the project costs in time, as medians of several runs on this machine.

- `cdk synth` of the whole app, next to the same CLI synthesizing an app with one SQS queue
  (the floor any CDK app pays: node, jsii, the CLI);
- the test suite (`pytest -q`);
- for each handler, the cold import time of its module in a fresh interpreter, next to a bare
  `import boto3` (what every Python function pays before our code runs).

A script, not a test: timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
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


def timed(command: list[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env={**os.environ, **QUIET_ENV, **(env or {})}, check=True, capture_output=True)
    return time.perf_counter() - start


def median(runs: int, measure) -> tuple[float, float, float]:
    samples = [measure() for _ in range(runs)]
    return statistics.median(samples), min(samples), max(samples)


def import_time(module: str, environment: dict[str, str]) -> float:
    """Seconds to import `module` in a fresh interpreter, measured inside it."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {**os.environ, **environment, "PYTHONPATH": str(ROOT / "lambdas"), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([PYTHON, "-c", code], env=env, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def handler_environments(assembly: Path) -> dict[str, dict[str, str]]:
    """Handler module -> the environment its function gets in the synthesized templates
    (references to other resources become placeholder strings), so imports run as in Lambda."""
    found: dict[str, dict[str, str]] = {}
    for template_file in sorted(assembly.glob("*.template.json")):
        for logical_id, resource in json.loads(template_file.read_text())["Resources"].items():
            props = resource.get("Properties", {})
            if resource["Type"] != "AWS::Lambda::Function" or not str(props.get("Runtime", "")).startswith("python"):
                continue
            module = str(props["Handler"]).rsplit(".", 1)[0]  # pattern.module.function -> pattern.module
            if module in found:  # several functions share a module (one per entry point): import it once
                continue
            variables = props.get("Environment", {}).get("Variables", {})
            found[module] = {
                "AWS_DEFAULT_REGION": "us-east-1",
                **{k: v if isinstance(v, str) else f"bench-{logical_id}-{k.lower()}" for k, v in variables.items()},
            }
    return found


def row(name: str, stats: tuple[float, float, float], unit: str = "s", scale: float = 1.0) -> str:
    mid, low, high = (value * scale for value in stats)
    return f"| {name} | {mid:.2f} {unit} | {low:.2f}–{high:.2f} {unit} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (default 5)")
    parser.add_argument("--test-runs", type=int, default=3, help="runs of the test suite (default 3)")
    args = parser.parse_args()

    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"medians of {args.runs} runs ({args.test_runs} for the test suite).",
        "",
        "| what | median | range |",
        "|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "one_queue.py").write_text(ONE_QUEUE_APP)
        full = median(args.runs, lambda: timed([*CDK, "synth", "--quiet", "-o", str(tmp_path / "full")]))
        floor = median(
            args.runs,
            lambda: timed(
                [*CDK, "synth", "--quiet", "--app", f"{PYTHON} one_queue.py", "-o", str(tmp_path / "floor")],
                cwd=tmp_path,
            ),
        )
        environments = handler_environments(tmp_path / "full")
    lines.append(row("`cdk synth`, every stack, with nag and validation", full))
    lines.append(row("`cdk synth`, an app with one SQS queue", floor))
    lines.append(row("cold `import boto3`", median(args.runs, lambda: import_time("boto3", {"AWS_DEFAULT_REGION": "us-east-1"})), "ms", 1000))
    for module, environment in sorted(environments.items()):
        lines.append(row(f"cold `import {module}`", median(args.runs, lambda m=module, e=environment: import_time(m, e)), "ms", 1000))
    suite = median(args.test_runs, lambda: timed([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"]))
    lines.append(row("test suite (`pytest -q`)", suite))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
