"""docs/own-app.md followed as a user would, in a fresh app laid out unlike this repository.

A temporary folder gets what the page says to copy, under other names: the construct library as
`myapp/patterns/`, the Lambda code of the patterns used as `myapp/pattern_code/`, the page's
`app.py` and example stack, and a `cdk.json` with the feature flags a fresh `cdk init` writes
(this repository's, which are the same) and the page's one context line. `cdk synth` runs there
in a subprocess, with nothing of this repository importable, so the copy has to stand alone;
both nag packs must pass. The synthesized stack, two QueueRedrives side by side among other
patterns, is then deployed into the local cloud and each queue's order followed to its table.

The page shows `USER_APP` and `USER_STACK` verbatim (checked below), so the two stay in step.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "own-app.md"

LIBRARY = Path("myapp") / "patterns"
CODE = Path("myapp") / "pattern_code"
CODE_CONTEXT_LINE = '"lambda_code_directory": "myapp/pattern_code"'
PATTERNS_USED = ("queue_redrive", "webhook", "api_sync")

USER_APP = """\
import aws_cdk as cdk

from myapp.orders_stack import OrdersStack
from myapp.patterns.account_setup import AccountSetupStack
from myapp.patterns.shared.checks import add_checks

app = cdk.App()
AccountSetupStack(app, "AccountSetup")  # once per account and region (see below)
OrdersStack(app, "Orders")
add_checks(app)  # both cdk-nag packs; a finding fails the synth
app.synth()
"""

USER_STACK = """\
from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from myapp.patterns.api_sync import ApiSync
from myapp.patterns.queue_redrive import QueueRedrive
from myapp.patterns.webhook import Webhook


class OrdersStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        shop = QueueRedrive(self, "ShopOrders", removal_policy=RemovalPolicy.RETAIN)
        wholesale = QueueRedrive(
            self,
            "WholesaleOrders",
            batch_size=5,
            function_props={"environment": {"POWERTOOLS_LOG_LEVEL": "WARNING"}},
        )
        Webhook(self, "GitHubHooks")
        ApiSync(self, "Quotes", throttling_rate_limit=20)

        for name, orders in (("Shop", shop), ("Wholesale", wholesale)):
            CfnOutput(self, f"{name}QueueUrl", value=orders.queue.queue_url)
            CfnOutput(self, f"{name}TableName", value=orders.orders_table.table_name)
"""


@dataclass
class UserApp:
    folder: Path
    env: dict[str, str]
    synth: subprocess.CompletedProcess[str]


def user_environment() -> dict[str, str]:
    """This test run's environment as a user's shell: the virtual environment's `python3` first on
    PATH (as after `source .venv/bin/activate`), and no PYTHONPATH."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
    )
    return env


def build(folder: Path) -> None:
    """The user's app, from what the page says to copy and write."""
    (folder / "myapp").mkdir()
    (folder / "myapp" / "__init__.py").write_text("")
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "stacks", folder / LIBRARY, ignore=skip)
    for part in ("shared", *PATTERNS_USED):
        shutil.copytree(ROOT / "lambdas" / part, folder / CODE / part, ignore=skip)
    (folder / "myapp" / "orders_stack.py").write_text(USER_STACK)
    (folder / "app.py").write_text(USER_APP)
    # What `cdk init app --language python` writes (its feature flags are this project's), plus the
    # page's line for the code folder.
    flags = {
        key: value
        for key, value in json.loads((ROOT / "cdk.json").read_text())["context"].items()
        if key.startswith("@")
    }
    context = {**flags, **json.loads("{" + CODE_CONTEXT_LINE + "}")}
    (folder / "cdk.json").write_text(json.dumps({"app": "python3 app.py", "context": context}, indent=2))


@pytest.fixture(scope="module")
def user_app(tmp_path_factory: pytest.TempPathFactory) -> UserApp:
    folder = tmp_path_factory.mktemp("own-app")
    build(folder)
    env = user_environment()
    synth = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "--no-notices"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return UserApp(folder, env, synth)


def test_the_page_shows_the_app_this_test_builds():
    page = PAGE.read_text()
    assert USER_APP in page and USER_STACK in page and CODE_CONTEXT_LINE in page


def test_nothing_of_this_repository_is_importable_in_the_users_app(user_app):
    # This repository's library, local cloud and Lambda code, by the names they have here.
    names = ("stacks", "localcloud", "queue_redrive")
    probe = f"import importlib.util as u, sys; sys.exit(any(u.find_spec(n) for n in {names}))"
    assert subprocess.run(["python3", "-c", probe], cwd=user_app.folder, env=user_app.env).returncode == 0


def test_the_users_app_synthesizes_clean_with_both_packs(user_app):
    assert user_app.synth.returncode == 0, user_app.synth.stdout[-2000:] + user_app.synth.stderr[-4000:]
    report = json.loads((user_app.folder / "cdk.out" / "validation-report.json").read_text())
    assert {plugin["pluginName"]: plugin["conclusion"] for plugin in report["pluginReports"]} == {
        "AwsSolutions": "success",
        "Serverless": "success",
    }
    stacks = json.loads((user_app.folder / "cdk.out" / "manifest.json").read_text())["artifacts"]
    assert {"AccountSetup", "Orders"} <= set(stacks)


def order(order_id: str) -> str:
    line = {"sku": "CABLE-2M", "quantity": 4, "unit_price": "3.25"}
    return json.dumps(
        {
            "order_id": order_id,
            "customer_id": "C-7",
            "currency": "USD",
            "placed_at": "2026-11-22T09:30:00+00:00",
            "lines": [line],
        }
    )


def test_each_of_two_queue_redrives_fills_its_own_table(user_app, deploy):
    assert user_app.synth.returncode == 0, "the synth failed (see the test above)"
    stack = deploy(user_app.folder / "cdk.out", "Orders")
    sqs, dynamodb = stack.client("sqs"), stack.client("dynamodb")
    kinds = ("Shop", "Wholesale")
    for kind in kinds:
        sqs.send_message(QueueUrl=stack.outputs[f"{kind}QueueUrl"], MessageBody=order(f"{kind}-1"))
    for kind in kinds:
        stack.drain_sqs(f"{kind}Orders")  # the one function of the construct with that id
    landed = {
        kind: {item["order_id"]["S"] for item in dynamodb.scan(TableName=stack.outputs[f"{kind}TableName"])["Items"]}
        for kind in kinds
    }
    assert landed == {"Shop": {"Shop-1"}, "Wholesale": {"Wholesale-1"}}
