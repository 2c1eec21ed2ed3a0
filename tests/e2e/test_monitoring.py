"""The observability every stack gets, deployed: its dashboard, its alarm topic and its key.

ApiSync stands for every stack here (the template tests check all eight): the synthesized
template deployed into moto's CloudFormation, then read back through the service APIs. (moto's
CloudFormation has no model for AWS::CloudWatch::Alarm and skips the alarms: the template tests
check that every alarm notifies the alarm topic.)
"""

from __future__ import annotations

import json

import pytest

from localcloud import Deployment


@pytest.fixture(scope="module")
def stack(deploy, cloud_assembly) -> Deployment:
    return deploy(cloud_assembly.directory, "ApiSync")


def test_dashboard_is_deployed_under_the_stack_and_region_name(stack):
    names = [d["DashboardName"] for d in stack.client("cloudwatch").list_dashboards()["DashboardEntries"]]
    assert names == [f"ApiSync-{stack.region}"]
    assert stack.outputs["DashboardName"] == f"ApiSync-{stack.region}"


def test_dashboard_graphs_the_deployed_resources(stack):
    body = json.loads(
        stack.client("cloudwatch").get_dashboard(DashboardName=f"ApiSync-{stack.region}")["DashboardBody"]
    )
    dimensions = {(row[1], row[3]) for widget in body["widgets"] for row in widget["properties"]["metrics"]}
    function = stack.function_name("QuotesFunction")
    (api_name,) = [api["name"] for api in stack.client("apigateway").get_rest_apis()["items"]]
    assert api_name == "ApiSync-Api"  # the stack's own name: API Gateway's metrics are per API name
    assert {("Invocations", function), ("Errors", function), ("Duration", function)} <= dimensions
    assert {("Count", api_name), ("5XXError", api_name), ("Latency", api_name)} <= dimensions
    assert {widget["properties"]["region"] for widget in body["widgets"]} == {stack.region}


def alarm_topic_arn(stack: Deployment) -> str:
    return stack.outputs["AlarmTopicArn"]


def test_alarm_topic_is_encrypted_with_a_rotating_customer_managed_key(stack):
    attributes = stack.client("sns").get_topic_attributes(TopicArn=alarm_topic_arn(stack))["Attributes"]
    key_id = stack.physical_id("AWS::KMS::Key", "AlarmTopicKey")
    kms = stack.client("kms")
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert attributes["KmsMasterKeyId"] == metadata["Arn"]
    assert metadata["KeyManager"] == "CUSTOMER"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_key_policy_grants_cloudwatch_the_two_actions_alarms_need(stack):
    kms = stack.client("kms")
    policy = json.loads(
        kms.get_key_policy(KeyId=stack.physical_id("AWS::KMS::Key", "AlarmTopicKey"), PolicyName="default")["Policy"]
    )
    (statement,) = [s for s in policy["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert "Condition" not in statement
