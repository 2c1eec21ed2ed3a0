"""The shared construct library on its own: small stacks built here, one per construct.

Each test checks what a construct creates by default, that a caller's props win over its
defaults, and (for the constructs that own a rule) that the rule holds. The stack tests check the
same constructs again as they are used in each pattern.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template

from stacks.shared import PatternFunction
from tests.conftest import cdk_context
from tests.templates.helpers import resources


@pytest.fixture
def stack() -> Stack:
    return Stack(App(context=cdk_context()), "Probe")


def alarmed_metrics(template: dict) -> list[str]:
    return sorted(a["Properties"]["MetricName"] for a in resources(template, "AWS::CloudWatch::Alarm").values())


def only_function(template: dict) -> dict:
    (function,) = resources(template, "AWS::Lambda::Function").values()
    return function["Properties"]


# PatternFunction ---------------------------------------------------------------------------


def test_function_alarms_on_its_errors_and_throttles_by_default(stack):
    function = PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3))
    template = Template.from_stack(stack).to_json()
    assert alarmed_metrics(template) == ["Errors", "Throttles"]
    assert len(function.alarms) == 2
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": stack.get_logical_id(function.node.default_child)}}]
        assert alarm["Properties"]["AlarmActions"], "an alarm nobody hears"


def test_function_alarms_can_be_opted_out_of(stack):
    function = PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3), alarms=False)
    assert function.alarms == []
    assert resources(Template.from_stack(stack).to_json(), "AWS::CloudWatch::Alarm") == {}


def test_function_defaults_are_overridden_by_the_callers_props(stack):
    role = iam.Role(stack, "OwnRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    log_group = logs.LogGroup(stack, "OwnLogs", retention=logs.RetentionDays.ONE_DAY)
    PatternFunction(
        stack,
        "Fn",
        pattern="api_sync",
        timeout=Duration.seconds(3),
        memory_size=1024,
        role=role,
        log_group=log_group,
        layers=[],
        tracing=lambda_.Tracing.PASS_THROUGH,
        environment={"POWERTOOLS_LOG_LEVEL": "DEBUG", "EXTRA": "1"},
    )
    template = Template.from_stack(stack).to_json()
    props = only_function(template)
    assert props["MemorySize"] == 1024
    assert props["Role"] == {"Fn::GetAtt": [stack.get_logical_id(role.node.default_child), "Arn"]}
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": stack.get_logical_id(log_group.node.default_child)}
    assert "Layers" not in props
    assert props["TracingConfig"] == {"Mode": "PassThrough"}
    # environment merges over the defaults, the caller winning key by key
    assert props["Environment"]["Variables"] == {"POWERTOOLS_SERVICE_NAME": "api_sync", "POWERTOOLS_LOG_LEVEL": "DEBUG", "EXTRA": "1"}
    # no default role or log group was created beside the caller's
    assert len(resources(template, "AWS::IAM::Role")) == 1
    assert len(resources(template, "AWS::Logs::LogGroup")) == 1
    assert not [p for p in resources(template, "AWS::IAM::Policy") if "XRayWrite" in p]


def test_function_defaults_apply_when_nothing_is_overridden(stack):
    PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3))
    template = Template.from_stack(stack).to_json()
    props = only_function(template)
    assert (props["MemorySize"], props["Timeout"], props["Handler"]) == (256, 3, "api_sync.handler.main")
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Environment"]["Variables"] == {"POWERTOOLS_SERVICE_NAME": "api_sync", "POWERTOOLS_LOG_LEVEL": "INFO"}
    assert len(props["Layers"]) == 1
    assert "FnXRayWrite" in json.dumps(list(resources(template, "AWS::IAM::Policy")))
