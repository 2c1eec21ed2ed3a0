"""The checks every operator command makes before it touches an account, in one place.

    make deploy STACK=ApiSync      -> python -m scripts.preflight deploy ApiSync, then the CDK CLI
    make diff STACK=ApiSync        -> python -m scripts.preflight diff ApiSync (a deploy's checks), then the CDK CLI
    make destroy STACK=ApiSync     -> python -m scripts.preflight destroy ApiSync, then the CDK CLI
    make redrive / make approve / make smoke -> the same functions, from their scripts

Each check raises `Refused` with one line an operator can act on: the stack name is one of app.py's
PATTERNS, AWS credentials are found, a region is set, the stack is deployed there (or, for a
deploy, the region has the Powertools layer its functions take). `run()` turns a
refusal, or any AWS error on the way, into that one line on stderr and exit status 1, never a
traceback.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Statuses in which a stack's resources and outputs are there to use.
USABLE = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
}


class Refused(Exception):
    """A reason to stop, in one line, for the operator."""


def _stack_ids(dict_name: str) -> list[str]:
    """The keys of one stack dict in app.py, read from its source: importing app.py starts the CDK."""
    tree = ast.parse((ROOT / "app.py").read_text())
    for node in tree.body:
        target = (
            node.target
            if isinstance(node, ast.AnnAssign)
            else (node.targets[0] if isinstance(node, ast.Assign) else None)
        )
        if isinstance(target, ast.Name) and target.id == dict_name and isinstance(node.value, ast.Dict):
            return [key.value for key in node.value.keys if isinstance(key, ast.Constant)]
    raise RuntimeError(f"app.py has no {dict_name} dict")


def pattern_names() -> list[str]:
    """The pattern stacks: app.py's PATTERNS."""
    return _stack_ids("PATTERNS")


def stack_names() -> list[str]:
    """Every stack an operator may name: the account-wide ones (ACCOUNT_STACKS) and the patterns."""
    return _stack_ids("ACCOUNT_STACKS") + pattern_names()


def known_stack(name: str, *, patterns_only: bool = False) -> str:
    """`name`, if app.py has such a stack (a pattern stack, with `patterns_only`)."""
    names = pattern_names() if patterns_only else stack_names()
    if not name:
        raise Refused(f"name a stack: STACK=<one of {', '.join(names)}>")
    if name not in names:
        raise Refused(f"unknown stack {name!r}: app.py has {', '.join(names)}")
    return name


def session() -> Any:
    """A boto3 session with credentials and a region, or Refused saying which is missing."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        # AWS_REGION is what the CDK CLI and the README use; boto3 reads only AWS_DEFAULT_REGION.
        found = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
        credentials = found.get_credentials()
    except BotoCoreError as error:  # a broken profile, a credential process that failed, ...
        raise Refused(f"AWS credentials could not be loaded: {error}") from None
    if credentials is None:
        raise Refused(
            "no AWS credentials found: configure a profile (aws configure / aws sso login) or set AWS_PROFILE"
        )
    if not found.region_name:
        raise Refused("no AWS region set: set AWS_REGION (or a region in your AWS profile)")
    return found


def deployed_stack(cloudformation: Any, name: str, region: str) -> dict[str, Any]:
    """The stack's description (with Outputs) if it is deployed and usable in this region."""
    from botocore.exceptions import ClientError

    try:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            raise Refused(f"{name} is not deployed in {region}: run make deploy STACK={name}") from None
        raise
    if stack["StackStatus"] not in USABLE:
        raise Refused(
            f"{name} is {stack['StackStatus']} in {region}, not deployed and ready: see the CloudFormation console"
        )
    return stack


def outputs_of(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def check(name: str, *, deployed: bool = True) -> Any:
    """Everything: a known stack name, credentials, a region and (when `deployed`) the stack there.
    Returns the boto3 session to use."""
    known_stack(name)
    found = session()
    if deployed:
        deployed_stack(found.client("cloudformation"), name, found.region_name)
    return found


def layer_available(name: str, region: str) -> None:
    """A pattern stack's functions take the public Powertools layer, published in some regions only
    (stacks/shared/settings.py); the stack's own template rule says the same, after a synth."""
    if name not in pattern_names():
        return  # AccountSetup has no function
    from stacks.shared.settings import powertools_region_problem  # loads the CDK: only for a deploy

    problem = powertools_region_problem(region)
    if problem:
        raise Refused(problem)


def run(command: str, body: Callable[[], int | None]) -> int:
    """Run an operator command: a refusal or an AWS error is one line on stderr and status 1."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        return body() or 0
    except Refused as refused:
        print(f"{command}: {refused}", file=sys.stderr)
    except NoCredentialsError:
        print(
            f"{command}: no AWS credentials found: configure a profile (aws configure / aws sso login) or set "
            "AWS_PROFILE",
            file=sys.stderr,
        )
    except ClientError as error:
        print(f"{command}: AWS refused: {error}", file=sys.stderr)
    except BotoCoreError as error:
        print(f"{command}: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    return 1


def main(argv: list[str] | None = None) -> int:
    """`python -m scripts.preflight deploy|diff|destroy STACK`: the checks `make deploy/diff/destroy` run.

    A diff makes a deploy's checks: it compares what a deploy would change, so it needs what a
    deploy needs, and a stack not deployed yet diffs as all new."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("deploy", "diff", "destroy"):
        print("usage: python -m scripts.preflight deploy|diff|destroy STACK", file=sys.stderr)
        return 2
    command, stack = args

    def body() -> int:
        found = check(stack, deployed=command == "destroy")
        if command in ("deploy", "diff"):
            layer_available(stack, found.region_name)
        print(f"{command} {stack} in {found.region_name}")
        return 0

    return run(command, body)


if __name__ == "__main__":
    sys.exit(main())
