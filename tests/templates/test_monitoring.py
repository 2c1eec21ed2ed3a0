"""Observability every stack gets from the shared construct library, checked on every stack.

- One CloudWatch dashboard per stack (stacks/shared/dashboard.py), named per stack copy, whose
  graphs cover every function, function URL, async invoke, queue, stream consumer, state machine
  and REST API of that stack, with the metrics that tell its health.
- One alarm topic per stack (stacks/shared/monitoring.py), encrypted with a customer managed key
  that CloudWatch may use for this account's alarms only, every alarm notifying it, and an email
  subscription only when `alarm_email` is given.
"""

from __future__ import annotations

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from app import PATTERNS
from stacks.api_sync import ApiSyncStack
from stacks.webhook import WebhookStack
from tests.conftest import cdk_context
from tests.templates.helpers import as_list, construct_resource, dashboard_metrics, resources

CDK_PROVIDERS = ("CustomS3AutoDeleteObjectsCustomResourceProvider",)
STACK_AND_REGION = {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-", {"Ref": "AWS::Region"}]]}
ALARM_SOURCE = {
    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    "ArnLike": {
        "aws:SourceArn": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":cloudwatch:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":alarm:*",
                ],
            ]
        }
    },
}


def the_dashboard(template: dict) -> dict:
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    return dashboard


def shown(template: dict) -> set[tuple[str, str, str, str]]:
    """(namespace, metric, dimension, statistic) for every single-dimension metric on the dashboard,
    the dimension's value given as the logical id it refers to (or its JSON text)."""
    found = set()
    for namespace, metric, dimensions, statistic in dashboard_metrics(template, the_dashboard(template)):
        for value in dimensions.values():
            if isinstance(value, dict) and "Ref" in value:
                target = value["Ref"]
            elif isinstance(value, dict) and "Fn::GetAtt" in value:
                target = value["Fn::GetAtt"][0]
            else:
                target = repr(value)
            found.add((namespace, metric, target, statistic))
    return found


def our_functions(template: dict) -> dict[str, dict]:
    return {
        lid: f for lid, f in resources(template, "AWS::Lambda::Function").items() if not lid.startswith(CDK_PROVIDERS)
    }


def missing(template: dict, namespace: str, target: str, expected: list[tuple[str, str]]) -> list[tuple[str, str]]:
    have = shown(template)
    return [(metric, stat) for metric, stat in expected if (namespace, metric, target, stat) not in have]


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_one_dashboard_named_after_the_stack_copy(templates, stack_id):
    dashboard = the_dashboard(templates[stack_id])
    # <stack name>-<region>: unique per account (dashboards are global), never truncated.
    assert dashboard["Properties"]["DashboardName"] == STACK_AND_REGION
    assert templates[stack_id]["Outputs"]["DashboardName"]["Value"] == {
        "Ref": resources_id(templates[stack_id], "AWS::CloudWatch::Dashboard")
    }


def resources_id(template: dict, resource_type: str) -> str:
    (logical_id,) = resources(template, resource_type)
    return logical_id


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_dashboard_refers_only_to_this_stacks_resources(templates, stack_id):
    template = templates[stack_id]
    for _, _, dimensions, _ in dashboard_metrics(template, the_dashboard(template)):
        for value in dimensions.values():
            for part in value["Fn::Join"][1] if isinstance(value, dict) and "Fn::Join" in value else [value]:
                if isinstance(part, dict):
                    target = part.get("Ref") or part["Fn::GetAtt"][0]
                    assert target in template["Resources"] or target.startswith("AWS::"), (stack_id, part)


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_dashboard_shows_every_function(templates, stack_id):
    template = templates[stack_id]
    functions = our_functions(template)
    assert functions
    expected = [
        ("Invocations", "Sum"),
        ("Errors", "Sum"),
        ("Throttles", "Sum"),
        ("Duration", "p50"),
        ("Duration", "p99"),
        ("Duration", "Maximum"),
    ]
    for lid, function in functions.items():
        assert missing(template, "AWS/Lambda", lid, expected) == [], lid
        concurrency = missing(template, "AWS/Lambda", lid, [("ConcurrentExecutions", "Maximum")])
        # Concurrency is graphed exactly where a reserved limit makes it a number to watch.
        assert (concurrency == []) == ("ReservedConcurrentExecutions" in function["Properties"]), lid


def test_reserved_concurrency_is_drawn_as_a_line():
    template = Template.from_stack(
        WebhookStack(App(context=cdk_context()), "Reserved", reserved_concurrency=7)
    ).to_json()
    (function,) = our_functions(template).values()
    assert function["Properties"]["ReservedConcurrentExecutions"] == 7
    body = the_dashboard(template)["Properties"]["DashboardBody"]["Fn::Join"][1]
    text = "".join(part for part in body if isinstance(part, str))
    reserved = function["Properties"]["ReservedConcurrentExecutions"]
    assert f'"horizontal":[{{"value":{reserved},"label":"reserved concurrency"' in text


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_dashboard_shows_every_queue_depth_and_oldest_message(templates, stack_id):
    template = templates[stack_id]
    for lid in resources(template, "AWS::SQS::Queue"):
        expected = [("ApproximateNumberOfMessagesVisible", "Maximum"), ("ApproximateAgeOfOldestMessage", "Maximum")]
        assert missing(template, "AWS/SQS", lid, expected) == [], lid


def test_every_dead_letter_and_failure_queue_is_on_a_dashboard(templates):
    queues = [
        (stack_id, lid)
        for stack_id in PATTERNS
        for lid in resources(templates[stack_id], "AWS::SQS::Queue")
        if "DLQ" in lid or "Failures" in lid
    ]
    assert len(queues) >= 8  # every async path ends in one; a change that lost them shows here
    for stack_id, lid in queues:
        assert (
            missing(templates[stack_id], "AWS/SQS", lid, [("ApproximateNumberOfMessagesVisible", "Maximum")]) == []
        ), lid


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_dashboard_shows_iterator_age_of_every_stream_consumer(templates, stack_id):
    template = templates[stack_id]
    for lid, mapping in resources(template, "AWS::Lambda::EventSourceMapping").items():
        source = mapping["Properties"]["EventSourceArn"]
        if isinstance(source, dict) and source.get("Fn::GetAtt", [None, None])[1] == "StreamArn":
            function = mapping["Properties"]["FunctionName"]["Ref"]
            assert missing(template, "AWS/Lambda", function, [("IteratorAge", "Maximum")]) == [], lid


def test_some_stack_consumes_a_stream(templates):
    assert any(
        mapping["Properties"]["EventSourceArn"].get("Fn::GetAtt", [None, None])[1] == "StreamArn"
        for stack_id in PATTERNS
        for mapping in resources(templates[stack_id], "AWS::Lambda::EventSourceMapping").values()
        if isinstance(mapping["Properties"]["EventSourceArn"], dict)
    )


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_dashboard_shows_every_async_invoke(templates, stack_id):
    template = templates[stack_id]
    for config in resources(template, "AWS::Lambda::EventInvokeConfig").values():
        function = config["Properties"]["FunctionName"]["Ref"]
        expected = [
            ("AsyncEventsReceived", "Sum"),
            ("AsyncEventsDropped", "Sum"),
            ("AsyncEventAge", "Maximum"),
            ("DeadLetterErrors", "Sum"),
            ("DestinationDeliveryFailures", "Sum"),
        ]
        assert missing(template, "AWS/Lambda", function, expected) == [], function


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_dashboard_shows_every_function_url(templates, stack_id):
    template = templates[stack_id]
    for url in resources(template, "AWS::Lambda::Url").values():
        function = url["Properties"]["TargetFunctionArn"]["Fn::GetAtt"][0]
        expected = [
            ("UrlRequestCount", "Sum"),
            ("Url4xxCount", "Sum"),
            ("Url5xxCount", "Sum"),
            ("UrlRequestLatency", "Maximum"),
        ]
        assert missing(template, "AWS/Lambda", function, expected) == [], function


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_dashboard_shows_every_state_machine(templates, stack_id):
    template = templates[stack_id]
    for lid in resources(template, "AWS::StepFunctions::StateMachine"):
        expected = [
            ("ExecutionsStarted", "Sum"),
            ("ExecutionsSucceeded", "Sum"),
            ("ExecutionsFailed", "Sum"),
            ("ExecutionsTimedOut", "Sum"),
            ("ExecutionsAborted", "Sum"),
            ("ExecutionTime", "p99"),
        ]
        assert missing(template, "AWS/States", lid, expected) == [], lid


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_dashboard_shows_every_rest_api(templates, stack_id):
    template = templates[stack_id]
    for lid, api in resources(template, "AWS::ApiGateway::RestApi").items():
        # API Gateway's metrics are keyed by the API's name, so the name is the stack copy's own...
        name = api["Properties"]["Name"]
        assert {"Ref": "AWS::StackName"} in name["Fn::Join"][1], lid
        # ...and the dashboard asks for exactly that name.
        expected = [
            ("Count", "Sum"),
            ("4XXError", "Sum"),
            ("5XXError", "Sum"),
            ("Latency", "p50"),
            ("Latency", "p99"),
            ("IntegrationLatency", "p99"),
        ]
        assert missing(template, "AWS/ApiGateway", repr(name), expected) == [], lid


def test_every_kind_of_resource_is_covered_somewhere(templates):
    """The per-type tests above pass vacuously for a stack without that type: make sure each type exists."""
    types = {r["Type"] for stack_id in PATTERNS for r in templates[stack_id]["Resources"].values()}
    assert {
        "AWS::Lambda::Function",
        "AWS::Lambda::Url",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::SQS::Queue",
        "AWS::StepFunctions::StateMachine",
        "AWS::ApiGateway::RestApi",
    } <= types


# The alarm topic.


def alarm_topic(template: dict) -> tuple[str, dict]:
    return construct_resource(template, "AWS::SNS::Topic", "AlarmTopic")


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_alarm_topic_is_encrypted_with_the_stacks_own_rotating_key(templates, stack_id):
    template = templates[stack_id]
    _, topic = alarm_topic(template)
    key_id, key = construct_resource(template, "AWS::KMS::Key", "AlarmTopicKey")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["PendingWindowInDays"] == 7
    assert key["DeletionPolicy"] == "Delete"  # sandbox default; keep_data retains it


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_key_policy_lets_cloudwatch_use_the_key_as_aws_documents(templates, stack_id):
    _, key = construct_resource(templates[stack_id], "AWS::KMS::Key", "AlarmTopicKey")
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1
    (statement,) = cloudwatch
    assert statement["Effect"] == "Allow"
    assert sorted(as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    # The documented statement, unconditioned (monitoring.py says why); the topic policy limits
    # publishing to this account's alarms (test below).
    assert "Condition" not in statement
    # No other service principal may use the key.
    assert all("Service" not in s.get("Principal", {}) for s in statements if s is not statement)


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_topic_policy_lets_this_accounts_alarms_publish_over_tls_only(templates, stack_id):
    template = templates[stack_id]
    topic_id, _ = alarm_topic(template)
    (policy,) = [
        p
        for p in resources(template, "AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_id} in p["Properties"]["Topics"]
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (publish,) = [s for s in statements if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == "sns:Publish"
    assert publish["Resource"] == {"Ref": topic_id}
    assert publish["Condition"] == ALARM_SOURCE
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("stack_id", PATTERNS)
def test_every_alarm_notifies_the_alarm_topic(templates, stack_id):
    template = templates[stack_id]
    topic_id, _ = alarm_topic(template)
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert alarms
    for lid, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}], lid


def test_no_email_subscription_without_alarm_email(templates):
    for stack_id in PATTERNS:
        topic_id, _ = alarm_topic(templates[stack_id])
        subscriptions = resources(templates[stack_id], "AWS::SNS::Subscription").values()
        assert not [s for s in subscriptions if s["Properties"]["TopicArn"] == {"Ref": topic_id}], stack_id


def synth_api_sync(**context: object) -> dict:
    app = App(context={**cdk_context(), **context})
    return Template.from_stack(ApiSyncStack(app, "ApiSync")).to_json()


def test_alarm_email_subscribes_that_address_to_the_alarm_topic():
    template = synth_api_sync(alarm_email="ops@example.com")
    topic_id, _ = alarm_topic(template)
    (subscription,) = resources(template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {
        "Protocol": "email",
        "TopicArn": {"Ref": topic_id},
        "Endpoint": "ops@example.com",
    }


def test_alarm_email_must_be_an_address():
    with pytest.raises(ValueError, match="not an email address"):
        synth_api_sync(alarm_email="ops at example.com")


def test_keep_data_retains_the_alarm_topic_key():
    template = synth_api_sync(keep_data=True)
    _, key = construct_resource(template, "AWS::KMS::Key", "AlarmTopicKey")
    assert key["DeletionPolicy"] == "Retain"
