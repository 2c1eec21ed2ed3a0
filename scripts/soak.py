"""The soak: every pattern deployed into the local cloud, driven with volume while seeded faults
are injected, then its books balanced from the end state: `make soak`.

    make soak                          # every pattern, seed 1, the default volume
    make soak SEED=7 SCALE=0.2         # another seed, a fifth of the volume
    make soak PATTERN=QueueRedrive     # one pattern
    python -m scripts.soak --seed 1 --seed 2 --seed 3 --report docs/reliability.md

Each pattern runs in its own LocalCloud, one after the other (tests/soak/engine.py; a driver per
pattern in tests/soak/). A table per pattern is printed; `--report` rewrites the figures section
of that Markdown file. Exit status 1 if any pattern's books do not balance, naming the seed and
the first unbalanced input.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DRIVERS = {
    "ApiSync": "tests.soak.api_sync",
    "EventInvoke": "tests.soak.event_invoke",
    "QueueRedrive": "tests.soak.queue_redrive",
    "ExpressWorkflow": "tests.soak.express_workflow",
    "StandardWorkflow": "tests.soak.standard_workflow",
    "FanOut": "tests.soak.fan_out",
    "StreamJob": "tests.soak.stream_job",
    "Webhook": "tests.soak.webhook",
}
BEGIN, END = "<!-- soak figures: written by scripts/soak.py -->", "<!-- end of soak figures -->"


def available() -> dict[str, str]:
    """The patterns that have a driver (a module in tests/soak/)."""
    return {stack: module for stack, module in DRIVERS.items() if (ROOT / (module.replace(".", "/") + ".py")).exists()}


def synth(outdir: str) -> str:
    from app import build_app
    from tests.conftest import cdk_context  # first: it quiets jsii and shares botocore's model loader

    build_app(outdir=outdir, context=cdk_context(), analytics_reporting=False).synth()
    return outdir


@contextlib.contextmanager
def quiet():
    """The functions' own logs (Powertools writes JSON lines to stdout) and tracebacks stay out of the table."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seed", type=int, action="append", help="the random seed (repeat for several runs); default 1"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every pattern's default volume")
    parser.add_argument("--pattern", action="append", help="only this pattern (repeatable)")
    parser.add_argument("--report", type=Path, help="rewrite the figures section of this Markdown file")
    args = parser.parse_args(argv)
    sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "soak")
    from tests.soak.engine import run, table

    drivers = available()
    chosen = args.pattern or list(drivers)
    unknown = [p for p in chosen if p not in drivers]
    if unknown:
        print(f"no soak driver for {', '.join(unknown)}; known: {', '.join(drivers)}", file=sys.stderr)
        return 2
    seeds = args.seed or [1]
    failures: list[str] = []
    sections: list[str] = []
    with tempfile.TemporaryDirectory(prefix="soak-assembly-") as outdir:
        print("synthesizing the app ...", flush=True)
        synth(outdir)
        for seed in seeds:
            started = time.monotonic()
            tables: list[str] = []
            for stack in chosen:
                driver = importlib.import_module(drivers[stack])
                with quiet():
                    books = run(driver, outdir, seed=seed, scale=args.scale)
                tables.append(table(books))
                print("\n" + tables[-1], flush=True)
                if problems := books.problems():
                    input_id, why = problems[0]
                    failures.append(f"{stack} seed {seed}: {len(problems)} unbalanced; first: {input_id}: {why}")
                    print(
                        f"\nUNBALANCED {failures[-1]}\n  reproduce: make soak SEED={seed} PATTERN={stack}", flush=True
                    )
            minutes = (time.monotonic() - started) / 60
            sections.append(
                f"### Seed {seed}, scale {args.scale:g} ({minutes:.1f} min in all)\n\n" + "\n\n".join(tables)
            )
    if args.report:
        write_report(args.report, sections)
    if failures:
        print("\nThe books do not balance:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"\nBooks balanced: {len(chosen)} pattern(s), seed(s) {', '.join(map(str, seeds))}.")
    return 0


def write_report(path: Path, sections: list[str]) -> None:
    text = path.read_text() if path.exists() else f"{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{BEGIN}\n\n" + "\n\n".join(sections) + f"\n\n{END}{tail}")


if __name__ == "__main__":
    sys.exit(main())
