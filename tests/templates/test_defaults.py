"""The defaults of the shared construct library, checked on every function of every stack.

A new pattern is covered the moment it is added to app.PATTERNS.
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

from aws_cdk import App
from aws_cdk.assertions import Match, Template

from app import PATTERNS
from stacks.api_sync import ApiSyncStack
from stacks.shared.state_machine import LOG_DELIVERY_ACTIONS
from tests.conftest import cdk_context
from tests.templates.helpers import as_list, policy_statements, ref_target, resources

# The layer of the Powertools release the tests run against (tests/templates/test_powertools_pin.py).
POWERTOOLS_PARAMETER = f"/aws/service/powertools/python/arm64/python3.14/{version('aws-lambda-powertools')}"
# Functions CDK itself adds (the provider that empties buckets on destroy) are not ours to configure.
CDK_PROVIDERS = ("CustomS3AutoDeleteObjectsCustomResourceProvider",)


def functions(templates):
    """Every function of ours in every stack."""
    for stack_id in PATTERNS:
        template = templates[stack_id]
        for logical_id, function in resources(template, "AWS::Lambda::Function").items():
            if not logical_id.startswith(CDK_PROVIDERS):
                yield stack_id, template, logical_id, function["Properties"]


def test_every_stack_has_functions(templates):
    assert {stack_id for stack_id, *_ in functions(templates)} == set(PATTERNS)


def test_runtime_architecture_tracing_and_sizes(templates):
    for stack_id, _, logical_id, props in functions(templates):
        where = f"{stack_id}/{logical_id}"
        assert props["Runtime"] == "python3.14", where
        assert props["Architectures"] == ["arm64"], where
        assert props["TracingConfig"] == {"Mode": "Active"}, where
        assert 1 <= props["Timeout"] <= 900, where
        assert props["MemorySize"] >= 128, where


def test_log_group_is_the_stacks_own_with_retention_and_removed_on_destroy(templates):
    for _stack_id, template, logical_id, props in functions(templates):
        log_group = ref_target(template, props["LoggingConfig"]["LogGroup"])
        assert log_group["Type"] == "AWS::Logs::LogGroup", logical_id
        assert log_group["Properties"]["RetentionInDays"] == 30, logical_id
        assert log_group["DeletionPolicy"] == "Delete", logical_id


def test_powertools_layer_comes_from_the_public_ssm_parameter(templates):
    for stack_id, template, logical_id, props in functions(templates):
        (layer,) = props["Layers"]
        parameter = template["Parameters"][layer["Ref"]]
        assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
        assert parameter["Default"] == POWERTOOLS_PARAMETER, f"{stack_id}/{logical_id}"


def test_role_has_no_managed_policies_and_writes_only_its_own_logs(templates):
    for _stack_id, template, logical_id, props in functions(templates):
        role = ref_target(template, props["Role"])
        assert "ManagedPolicyArns" not in role["Properties"], logical_id
        (logs_policy,) = [p for p in role["Properties"]["Policies"] if p["PolicyName"] == "WriteOwnLogs"]
        (statement,) = logs_policy["PolicyDocument"]["Statement"]
        assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert statement["Resource"] == {"Fn::GetAtt": [props["LoggingConfig"]["LogGroup"]["Ref"], "Arn"]}


def test_no_statement_grants_a_wildcard_action(templates):
    for stack_id in PATTERNS:
        for where, statement in policy_statements(templates[stack_id]):
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{stack_id}/{where}: {action}"


def test_only_xray_writes_log_delivery_and_list_streams_use_a_wildcard_resource(templates):
    # None accepts resource-level permissions; everything else is scoped to its resources.
    # dynamodb:ListStreams (a stream consumer's role needs it) stands alone in its own statement.
    allowed = {"xray:PutTelemetryRecords", "xray:PutTraceSegments", *LOG_DELIVERY_ACTIONS}
    for stack_id in PATTERNS:
        for where, statement in policy_statements(templates[stack_id]):
            if "*" in as_list(statement["Resource"]):
                if as_list(statement["Action"]) == ["dynamodb:ListStreams"]:
                    continue
                assert set(as_list(statement["Action"])) <= allowed, where
                assert "xray:PutTraceSegments" in as_list(statement["Action"]), where


def test_every_log_group_has_retention_and_is_removed_on_destroy(templates):
    for stack_id in PATTERNS:
        for lid, log_group in resources(templates[stack_id], "AWS::Logs::LogGroup").items():
            assert "RetentionInDays" in log_group["Properties"], f"{stack_id}/{lid}"
            assert log_group["DeletionPolicy"] == "Delete", f"{stack_id}/{lid}"


def test_nothing_is_tied_to_an_account_or_region(templates):
    for stack_id in PATTERNS:
        # The Rules list the regions a stack may deploy to (test_regions.py), which ties it to none.
        text = json.dumps({section: body for section, body in templates[stack_id].items() if section != "Rules"})
        assert not re.search(r"\b\d{12}\b", text), stack_id
        assert not re.search(r"\b(us|eu|ap|sa|ca|me|af|il)-[a-z]+-\d\b", text), stack_id
        names = [
            r["Properties"].get("FunctionName")
            for r in resources(templates[stack_id], "AWS::Lambda::Function").values()
        ]
        assert all(name is None or not isinstance(name, str) for name in names), "fixed names collide between copies"


def test_each_asset_holds_its_pattern_and_the_shared_package_only(cloud_assembly, templates):
    for stack_id, _, logical_id, props in functions(templates):
        pattern = props["Handler"].split(".")[0]
        asset_hash = props["Code"]["S3Key"].removesuffix(".zip")
        asset_dir = Path(cloud_assembly.directory) / f"asset.{asset_hash}"
        top_level = sorted(p.name for p in asset_dir.iterdir())
        assert top_level == sorted([pattern, "shared"]), f"{stack_id}/{logical_id}: {top_level}"
        assert not list(asset_dir.rglob("__pycache__"))
        module = props["Handler"].rsplit(".", 1)[0]  # fan_out.child.main -> fan_out/child.py
        assert (asset_dir / f"{module.replace('.', '/')}.py").is_file(), f"{stack_id}/{logical_id}: {props['Handler']}"


def test_keep_data_context_retains_logs_on_destroy():
    app = App(context={**cdk_context(), "keep_data": True})
    template = Template.from_stack(ApiSyncStack(app, "Kept"))
    template.all_resources("AWS::Logs::LogGroup", Match.object_like({"DeletionPolicy": "Retain"}))
    assert len(template.find_resources("AWS::Logs::LogGroup")) >= 2


def _dead_letter_targets(template: dict) -> set[str]:
    targets = set()
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        redrive = props.get("RedrivePolicy", {}).get("deadLetterTargetArn")
        dead_letter = props.get("DeadLetterConfig", {}).get("TargetArn")
        for arn in (redrive, dead_letter):
            if isinstance(arn, dict) and "Fn::GetAtt" in arn:
                targets.add(arn["Fn::GetAtt"][0])
    return targets


def test_every_dead_letter_queue_has_an_alarm(templates):
    for stack_id in PATTERNS:
        template = templates[stack_id]
        watched = {
            json.dumps(d["Value"])
            for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
            for d in alarm["Properties"].get("Dimensions", [])
            if alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        }
        for dlq in _dead_letter_targets(template):
            assert json.dumps({"Fn::GetAtt": [dlq, "QueueName"]}) in watched, f"{stack_id}/{dlq} has no alarm"


def test_every_sqs_mapping_reports_batch_item_failures_and_outlives_retries(templates):
    for stack_id in PATTERNS:
        template = templates[stack_id]
        for lid, mapping in resources(template, "AWS::Lambda::EventSourceMapping").items():
            props = mapping["Properties"]
            source = template["Resources"][props["EventSourceArn"]["Fn::GetAtt"][0]]
            if source["Type"] != "AWS::SQS::Queue":
                continue
            assert props.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], f"{stack_id}/{lid}"
            function = ref_target(template, props["FunctionName"])["Properties"]
            window = props.get("MaximumBatchingWindowInSeconds", 0)
            assert source["Properties"]["VisibilityTimeout"] >= 6 * function["Timeout"] + window, f"{stack_id}/{lid}"
            assert source["Properties"]["RedrivePolicy"]["maxReceiveCount"] >= 3, f"{stack_id}/{lid}"


def test_every_queue_is_encrypted(templates):
    for stack_id in PATTERNS:
        for lid, queue in resources(templates[stack_id], "AWS::SQS::Queue").items():
            props = queue["Properties"]
            assert props.get("SqsManagedSseEnabled") or props.get("KmsMasterKeyId"), f"{stack_id}/{lid}"


def test_every_queue_keeps_messages_explicitly_and_its_dlq_keeps_them_longer(templates):
    # A standard queue's message expires from its original enqueue time, even in the DLQ.
    for stack_id in PATTERNS:
        template = templates[stack_id]
        for lid, queue in resources(template, "AWS::SQS::Queue").items():
            props = queue["Properties"]
            assert "MessageRetentionPeriod" in props, f"{stack_id}/{lid}"
            if "RedrivePolicy" in props:
                dlq = ref_target(template, props["RedrivePolicy"]["deadLetterTargetArn"])
                assert dlq["Properties"]["MessageRetentionPeriod"] > props["MessageRetentionPeriod"], (
                    f"{stack_id}/{lid}"
                )
