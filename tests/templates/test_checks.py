"""The checks every synth runs: cdk-nag packs and CloudFormation validation.

An unacknowledged finding fails the synth; every acknowledgment is needed, sits below the stack,
and says why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs

from app import ACCOUNT_STACKS, PATTERNS
from stacks.shared.checks import add_checks
from tests.conftest import cdk_context

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"


@pytest.fixture(scope="module")
def report(cloud_assembly) -> dict:
    return json.loads((Path(cloud_assembly.directory) / "validation-report.json").read_text())


def test_every_nag_pack_ran_and_passed(report):
    conclusions = {plugin["pluginName"]: plugin["conclusion"] for plugin in report["pluginReports"]}
    assert conclusions == {"AwsSolutions": "success", "Serverless": "success"}
    assert all(plugin["violations"] == [] for plugin in report["pluginReports"])


@pytest.mark.parametrize("stack_id", [*ACCOUNT_STACKS, *PATTERNS])
def test_every_acknowledgment_is_used_narrow_and_explained(cloud_assembly, report, stack_id):
    suppressed = {
        (s["acknowledgedAt"], s["acknowledgedId"])
        for plugin in report["pluginReports"]
        for s in plugin["suppressedViolations"]
    }
    metadata = json.loads((Path(cloud_assembly.directory) / f"{stack_id}.metadata.json").read_text())
    entries = [(path, e["data"]) for path, items in metadata.items() for e in items if e["type"] == ACKNOWLEDGED]
    assert entries, "expected the stack's deliberate acknowledgments"
    for construct_path, acknowledgments in entries:
        path = construct_path.lstrip("/")
        assert path.count("/") >= 1, f"acknowledgment on a whole stack or app: {path}"
        for rule_id, reason in acknowledgments.items():
            assert (path, rule_id) in suppressed, f"{rule_id} at {path} acknowledges nothing: remove it"
            assert len(reason) >= 60, f"{rule_id} at {path} needs a reason a reviewer would accept"


def test_an_unacknowledged_finding_fails_the_synth(tmp_path):
    app = App(outdir=str(tmp_path), context=cdk_context())
    stack = Stack(app, "Careless")
    sqs.Queue(stack, "QueueWithoutDlqOrTls")
    add_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    violations = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for plugin in violations["pluginReports"] for v in plugin["violations"]}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules


def test_an_invalid_template_fails_the_synth(tmp_path):
    # CDK's own CloudFormation validation: cdk.json's flag makes its findings errors.
    app = App(outdir=str(tmp_path), context=cdk_context())
    queue = sqs.CfnQueue(Stack(app, "Invalid"), "Queue")
    queue.add_property_override("VisibilityTimeout", 43201)  # SQS allows at most 12 hours
    add_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    failed = {plugin["pluginName"]: plugin["conclusion"] for plugin in report["pluginReports"] if plugin["violations"]}
    assert failed.get("CloudFormation Validate") == "failure", report["pluginReports"]
    violations = [
        v
        for plugin in report["pluginReports"]
        if plugin["pluginName"] == "CloudFormation Validate"
        for v in plugin["violations"]
    ]
    assert any("VisibilityTimeout" in v["description"] and v["severity"] == "error" for v in violations), violations
