"""Each pattern as a construct in someone else's stack: side by side, with a user's own resources
and props, its checks travelling with it.

- All eight patterns in one stack, and two of each kind in a stack of their own, synthesize clean
  under both nag packs (the acknowledgments are on the constructs), and no two resources of a
  stack get the same physical name.
- `existing_*` resources are used, not created; `*_props` win over the defaults; a removal policy
  per construct; an unknown prop names the construct and what it accepts; a missing code folder
  names the path that was checked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from aws_cdk import App, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from stacks.api_sync import ApiSync
from stacks.event_invoke import EventInvoke
from stacks.express_workflow import ExpressWorkflow
from stacks.fan_out import FanOut
from stacks.queue_redrive import QueueRedrive
from stacks.shared.buckets import NOTIFICATIONS_HANDLER, NOTIFICATIONS_HANDLER_FINDINGS
from stacks.shared.checks import add_checks
from stacks.shared.pattern import COMMON_PROPS
from stacks.standard_workflow import StandardWorkflow
from stacks.stream_job import StreamJob
from stacks.webhook import Webhook
from tests.conftest import cdk_context
from tests.templates.helpers import resources
from tests.templates.test_copies_and_destroy import NOT_NAMES, SCOPED_TO_THEIR_API, render

PATTERNS = (ApiSync, EventInvoke, QueueRedrive, ExpressWorkflow, StandardWorkflow, FanOut, StreamJob, Webhook)
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:team-alarms"
ROOT = Path(__file__).resolve().parents[2]


def new_stack(name: str = "Users", **context: object) -> Stack:
    return Stack(App(context={**cdk_context(), **context}), name)


@pytest.fixture(scope="module")
def user_app(tmp_path_factory) -> tuple[dict, dict[str, dict]]:
    """(validation report, stack name -> template) of an app such as a user writes: all eight in
    one stack; two of each kind in a stack per kind; a stack of patterns given existing resources."""
    outdir = tmp_path_factory.mktemp("user-app")
    app = App(outdir=str(outdir), context=cdk_context(), analytics_reporting=False)
    everything = Stack(app, "AllEight")
    for pattern in PATTERNS:
        pattern(everything, pattern.__name__)
        pair = Stack(app, f"Two{pattern.__name__}")
        pattern(pair, "First")
        pattern(pair, "Second")
    bring_your_own(Stack(app, "Existing"))
    add_checks(app)
    assembly = app.synth()
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    return report, {stack.stack_name: stack.template for stack in assembly.stacks}


def bring_your_own(stack: Stack) -> None:
    """Patterns given a team's own bucket, tables, secrets and alarm topic."""
    topic = sns.Topic.from_topic_arn(stack, "TeamAlarms", TOPIC_ARN)
    own_bucket = s3.Bucket(stack, "TeamBucket", enforce_ssl=True, server_access_logs_prefix="logs/")
    EventInvoke(
        stack,
        "Uploads",
        existing_bucket=s3.Bucket.from_bucket_name(stack, "Imported", "team-uploads"),
        existing_alarm_topic=topic,
    )
    StandardWorkflow(stack, "Reports", existing_bucket=own_bucket, existing_alarm_topic=topic)
    QueueRedrive(
        stack,
        "Orders",
        existing_orders_table=dynamodb.Table.from_table_name(stack, "TeamOrders", "team-orders"),
        existing_alarm_topic=topic,
    )
    Webhook(
        stack,
        "Hooks",
        existing_github_secret=secretsmanager.Secret.from_secret_complete_arn(
            stack, "GitHubSecret", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:github-AbCdEf"
        ),
        existing_slack_secret=secretsmanager.Secret.from_secret_complete_arn(
            stack, "SlackSecret", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbCdEf"
        ),
        existing_deliveries_table=dynamodb.Table.from_table_name(stack, "TeamDeliveries", "team-deliveries"),
        existing_alarm_topic=topic,
    )


def test_a_users_app_synthesizes_clean_under_both_nag_packs(user_app):
    report, templates = user_app
    assert {plugin["pluginName"]: plugin["conclusion"] for plugin in report["pluginReports"]} == {
        "AwsSolutions": "success",
        "Serverless": "success",
    }
    assert len(templates) == 1 + len(PATTERNS) + 1


def test_all_eight_share_one_stack(user_app):
    _, templates = user_app
    template = templates["AllEight"]
    assert len(resources(template, "AWS::Lambda::Function")) >= len(PATTERNS)
    assert (
        len(resources(template, "AWS::SNS::Topic")) == 2
    )  # the stack's alarm topic and StandardWorkflow's approval topic
    assert len(resources(template, "AWS::CloudWatch::Dashboard")) == 1  # one dashboard, a row per construct


def test_two_of_a_kind_get_no_physical_name_in_common(user_app):
    _, templates = user_app
    for pattern in PATTERNS:
        template = templates[f"Two{pattern.__name__}"]
        names = Counter(
            render(value, f"Two{pattern.__name__}")
            for resource in template["Resources"].values()
            for key, value in resource.get("Properties", {}).items()
            if key.endswith("Name") and key not in NOT_NAMES and (resource["Type"], key) not in SCOPED_TO_THEIR_API
        )
        # A name rendered with "<...>" refers to one of the stack's resources (a permission's
        # FunctionName): not a name of its own.
        assert [name for name, count in names.items() if count > 1 and "<" not in name] == [], pattern.__name__


def test_two_apis_of_a_kind_report_metrics_under_names_of_their_own(user_app):
    # API Gateway's metrics are per API name: two APIs of one name would add up in each one's alarms.
    _, templates = user_app
    names = [
        render(api["Properties"]["Name"], "TwoApiSync")
        for api in resources(templates["TwoApiSync"], "AWS::ApiGateway::RestApi").values()
    ]
    assert sorted(names) == ["TwoApiSync-First-Api", "TwoApiSync-Second-Api"]


def test_existing_resources_are_used_not_created(user_app):
    _, templates = user_app
    template = templates["Existing"]
    buckets = resources(template, "AWS::S3::Bucket")
    assert not any(lid.startswith(("Uploads", "Reports")) for lid in buckets), list(
        buckets
    )  # the Webhook keeps its claim-check bucket
    assert len(resources(template, "AWS::SecretsManager::Secret")) == 0
    tables = {lid for lid in resources(template, "AWS::DynamoDB::Table")}
    assert not any("OrdersTable" in lid or "DeliveriesTable" in lid for lid in tables), tables
    # The functions are told the team's names, and S3 notifies them through CDK's custom resource.
    environments = [
        f["Properties"].get("Environment", {}).get("Variables", {})
        for f in resources(template, "AWS::Lambda::Function").values()
    ]
    assert any(env.get("ORDERS_TABLE") == "team-orders" for env in environments)
    assert any(env.get("DELIVERIES_TABLE") == "team-deliveries" for env in environments)
    (notifications,) = [
        r
        for r in resources(template, "Custom::S3BucketNotifications").values()
        if r["Properties"]["BucketName"] == "team-uploads"
    ]
    (configuration,) = notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert configuration["Events"] == ["s3:ObjectCreated:*"]
    assert configuration["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "incoming/"}]


def test_an_existing_alarm_topic_gets_every_alarm_and_no_topic_is_created(user_app):
    _, templates = user_app
    template = templates["Existing"]
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert alarms and all(a["Properties"]["AlarmActions"] == [TOPIC_ARN] for a in alarms.values())
    topics = resources(template, "AWS::SNS::Topic")
    assert all("ApprovalTopic" in lid for lid in topics), topics  # StandardWorkflow's approvals, not alarms


def test_props_of_the_caller_win_over_the_defaults():
    stack = new_stack()
    ApiSync(
        stack,
        "Quotes",
        function_props={"memory_size": 1024, "environment": {"FEATURE": "on"}},
        api_props={"rest_api_name": "quotes"},
    )
    QueueRedrive(
        stack, "Orders", queue_props={"retention_period": Duration.days(2)}, table_props={"deletion_protection": True}
    )
    template = Template.from_stack(stack).to_json()
    (function,) = [
        f for lid, f in resources(template, "AWS::Lambda::Function").items() if lid.startswith("QuotesQuotesFunction")
    ]
    assert function["Properties"]["MemorySize"] == 1024
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["FEATURE"] == "on" and variables["POWERTOOLS_SERVICE_NAME"] == "api_sync"  # merged, not replaced
    assert [api["Properties"]["Name"] for api in resources(template, "AWS::ApiGateway::RestApi").values()] == ["quotes"]
    queues = {
        lid: q["Properties"]["MessageRetentionPeriod"] for lid, q in resources(template, "AWS::SQS::Queue").items()
    }
    assert queues[next(lid for lid in queues if lid.startswith("OrdersOrdersQueue"))] == 2 * 24 * 3600
    assert (
        queues[next(lid for lid in queues if lid.startswith("OrdersOrdersDLQ"))] == 14 * 24 * 3600
    )  # work queues only
    assert all(
        t["Properties"]["DeletionProtectionEnabled"] is True
        for t in resources(template, "AWS::DynamoDB::Table").values()
    )


def test_each_construct_has_its_own_removal_policy():
    stack = new_stack()
    QueueRedrive(stack, "Kept", removal_policy=RemovalPolicy.RETAIN)
    QueueRedrive(stack, "Sandbox")
    template = Template.from_stack(stack).to_json()
    for kind in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Logs::LogGroup"):
        for lid, resource in resources(template, kind).items():
            assert resource["DeletionPolicy"] == ("Retain" if lid.startswith("Kept") else "Delete"), lid


def test_a_constructs_removal_policy_wins_over_the_apps_keep_data():
    stack = new_stack(keep_data=True)
    QueueRedrive(stack, "Scratch", removal_policy=RemovalPolicy.DESTROY)
    template = Template.from_stack(stack).to_json()
    assert {r["DeletionPolicy"] for r in resources(template, "AWS::DynamoDB::Table").values()} == {"Delete"}


def test_a_removal_policy_other_than_keep_or_destroy_is_refused():
    with pytest.raises(ValueError, match="DESTROY or RemovalPolicy.RETAIN"):
        QueueRedrive(new_stack(), "Orders", removal_policy=RemovalPolicy.SNAPSHOT)


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.__name__)
def test_an_unknown_prop_names_the_construct_and_what_it_accepts(pattern):
    with pytest.raises(TypeError) as raised:
        pattern(new_stack(), "Misspelt", function_prop={"memory_size": 1024})
    message = str(raised.value)
    assert message.startswith(f"{pattern.__name__} has no prop 'function_prop' (did you mean 'function_props'?)")
    assert all(common in message for common in COMMON_PROPS)


def test_an_unknown_prop_lists_the_patterns_own_props_too():
    with pytest.raises(TypeError, match=r"did you mean 'max_concurrency'\?\)\. It accepts: .*max_receive_count"):
        QueueRedrive(new_stack(), "Orders", max_concurency=3)


def test_a_missing_code_folder_names_the_path_it_checked(tmp_path):
    with pytest.raises(ValueError) as raised:
        QueueRedrive(new_stack(), "Orders", code_directory=tmp_path)
    assert str(tmp_path / "queue_redrive") in str(raised.value)
    assert "code_directory" in str(raised.value) and "lambda_code_directory" in str(raised.value)


def test_the_code_directory_can_come_from_context(tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path / "webhook")):
        Webhook(new_stack(lambda_code_directory=str(tmp_path)), "Hooks")


def test_every_acknowledgment_on_a_users_stack_is_used(user_app):
    # What a construct acknowledges for resources a user gave it (their bucket, CDK's notification
    # handler) must each hide a real finding, as the app's own are checked to (test_checks.py).
    report, _ = user_app
    suppressed = {
        (s["acknowledgedAt"], s["acknowledgedId"])
        for plugin in report["pluginReports"]
        for s in plugin["suppressedViolations"]
    }
    at_handler = {rule for path, rule in suppressed if NOTIFICATIONS_HANDLER in path and path.startswith("Existing/")}
    assert at_handler == set(NOTIFICATIONS_HANDLER_FINDINGS)


def test_the_patterns_need_cdk_nag_only_to_add_the_checks():
    # A user who does not add the checks need not install cdk-nag: no module of the library
    # imports it but add_checks, when called.
    modules = ", ".join(
        f"stacks.{p}"
        for p in (
            "api_sync",
            "event_invoke",
            "queue_redrive",
            "express_workflow",
            "standard_workflow",
            "fan_out",
            "stream_job",
            "webhook",
        )
    )
    code = f"import sys; sys.modules['cdk_nag'] = None; import {modules}, stacks.shared.checks; print('imported')"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "imported" in result.stdout, result.stderr[-2000:]


def test_a_code_directory_elsewhere_is_used_and_tool_leftovers_stay_out_of_the_asset(tmp_path):
    code = tmp_path / "pattern_code"
    for folder in ("api_sync", "shared"):
        shutil.copytree(ROOT / "lambdas" / folder, code / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for leftover in (".mypy_cache/3.11", ".ruff_cache", "__pycache__", "api_sync/.pytest_cache", "shared/.hypothesis"):
        (code / leftover).mkdir(parents=True, exist_ok=True)
        (code / leftover / "junk").write_text("left by a tool")
    app = App(outdir=str(tmp_path / "out"), context=cdk_context())
    ApiSync(Stack(app, "Elsewhere"), "Quotes", code_directory=code)
    app.synth()
    (asset,) = [d for d in (tmp_path / "out").iterdir() if d.name.startswith("asset.") and d.is_dir()]
    paths = sorted(str(p.relative_to(asset)) for p in asset.rglob("*"))
    assert "api_sync/handler.py" in paths and "shared/errors.py" in paths
    assert [p for p in paths if "junk" in p or "cache" in p or "hypothesis" in p] == []  # not even an empty folder
