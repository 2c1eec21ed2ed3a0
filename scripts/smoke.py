"""Drive every pattern through its real entry point and check what comes out: `make smoke`.

    make smoke                      # against your account if pattern stacks are deployed there, else locally
    make smoke STACK=ApiSync        # one pattern
    SMOKE_TARGET=local make smoke   # insist on the local cloud (no account needed)
    SMOKE_TARGET=aws make smoke     # insist on the account: refuses in one line if it cannot

The tests are tests/smoke (one module per pattern, see tests/smoke/targets.py). Each step prints
one line: what was sent, where it went, what came back; each test ends with PASSED or FAILED.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts import preflight

ROOT = Path(__file__).resolve().parents[1]


def deployed_patterns(session: Any) -> list[str]:
    """The app's pattern stacks deployed and usable in the session's account and region."""
    paginator = session.client("cloudformation").get_paginator("list_stacks")
    names = {
        s["StackName"]
        for page in paginator.paginate(StackStatusFilter=sorted(preflight.USABLE))
        for s in page["StackSummaries"]
    }
    return [name for name in preflight.pattern_names() if name in names]


def choose_target(stack: str | None, forced: str) -> tuple[str, str]:
    """(target, why): "aws" or "local". Raises Refused when SMOKE_TARGET=aws cannot be honoured."""
    if forced == "local":
        return "local", "SMOKE_TARGET=local"
    if forced == "aws":
        session = preflight.session()
        if stack:
            preflight.deployed_stack(session.client("cloudformation"), stack, session.region_name)
            return "aws", f"SMOKE_TARGET=aws, {stack} deployed in {session.region_name}"
        found = deployed_patterns(session)
        if not found:
            raise preflight.Refused(
                f"no pattern stack is deployed in {session.region_name}: run make deploy STACK=<one of "
                f"{', '.join(preflight.pattern_names())}>"
            )
        return "aws", f"SMOKE_TARGET=aws, deployed in {session.region_name}: {', '.join(found)}"
    try:
        session = preflight.session()
        found = (
            [stack] if stack and stack in deployed_patterns(session) else ([] if stack else deployed_patterns(session))
        )
    except preflight.Refused as refused:
        return "local", f"{refused}; SMOKE_TARGET=aws to insist"
    except Exception as error:  # expired credentials, no network: the local cloud still works
        return "local", f"AWS unreachable ({type(error).__name__}: {error})"
    if not found:
        return (
            "local",
            f"{stack} is not deployed in {session.region_name}"
            if stack
            else f"no pattern stack is deployed in {session.region_name}",
        )
    return "aws", f"deployed in {session.region_name}: {', '.join(found)}"


def module_of(stack: str) -> str:
    return "tests/smoke/test_" + re.sub(r"(?<!^)(?=[A-Z])", "_", stack).lower() + ".py"


class StepReporter:
    """Replaces pytest's progress dots: each test's outcome on a line of its own after its steps."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: Any) -> tuple[str, str, str] | None:
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            return report.outcome, "", report.outcome.upper()
        return None

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            reason = f": {report.longrepr[2]}" if report.skipped and isinstance(report.longrepr, tuple) else ""
            sys.__stdout__.write(f"  {report.outcome.upper()}{reason}\n")
            sys.__stdout__.flush()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    stack = args[0] if args else None
    forced = os.environ.get("SMOKE_TARGET", "")
    chosen: dict[str, str] = {}

    def body() -> int:
        if forced not in ("", "aws", "local"):
            raise preflight.Refused(
                f"SMOKE_TARGET={forced!r}: use aws or local (or leave it unset to choose automatically)"
            )
        if stack:
            preflight.known_stack(stack, patterns_only=True)
        chosen["target"], why = choose_target(stack, forced)
        print(
            f"smoke: running against {'your AWS account' if chosen['target'] == 'aws' else 'the local cloud'} ({why})",
            flush=True,
        )
        if chosen["target"] == "local":
            print(
                "smoke: synthesizing the app (a minute or so), then deploying each stack into a local cloud (moto)",
                flush=True,
            )
        return 0

    if (status := preflight.run("smoke", body)) != 0:
        return status
    os.environ["SMOKE_TARGET"] = chosen["target"]
    os.environ["SMOKE_STEPS"] = "1"  # tests/smoke/targets.say writes to the terminal
    os.chdir(ROOT)
    # --capture=sys: the steps go to the terminal, the functions' own logs stay captured.
    options = [
        "-q",
        "--capture=sys",
        "-p",
        "no:cacheprovider",
        "-rfEs",
        "--tb=short",
        "-o",
        "console_output_style=classic",
    ]
    return int(pytest.main([*options, module_of(stack) if stack else "tests/smoke"], plugins=[StepReporter()]))


if __name__ == "__main__":
    sys.exit(main())
