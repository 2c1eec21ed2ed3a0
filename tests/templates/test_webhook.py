"""Webhook: what makes the self-invoking webhook correct, beyond the snapshot."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import App, Duration
from aws_cdk.assertions import Template

from stacks.webhook import WebhookStack
from tests.conftest import cdk_context
from tests.templates.helpers import as_list, construct_resource, policy_statements, resources
from webhook import names


@pytest.fixture(scope="module")
def raw(templates) -> dict:
    return templates["Webhook"]



@pytest.fixture(scope="module")
def function(raw) -> tuple[str, dict]:
    return construct_resource(raw, "AWS::Lambda::Function", "WebhookFunction")


def _own_arn(function_name: dict) -> dict:
    """The ARN a function named `function_name` has, as CloudFormation would join it."""
    (separator, parts) = function_name["Fn::Join"]
    assert separator == ""
    return {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":lambda:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":function:", *parts],
        ]
    }


def _references(value: object) -> set[str]:
    """Logical ids a template value points at with Ref or Fn::GetAtt (pseudo parameters aside)."""
    text = json.dumps(value)
    refs = set(re.findall(r'"Ref": "([A-Za-z0-9]+)"', text)) | set(re.findall(r'"Fn::GetAtt": \["([A-Za-z0-9]+)"', text))
    return {r for r in refs if not r.startswith("AWS")}


def test_the_function_name_is_derived_from_the_stack_not_from_itself(function):
    _, fn = function
    name = fn["Properties"]["FunctionName"]
    assert name == {"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-webhook"]]}


def test_the_function_may_invoke_itself_and_nothing_else(raw, function):
    function_id, fn = function
    invokes = [(where, s) for where, s in policy_statements(raw) if any(a.startswith("lambda:") for a in as_list(s["Action"]))]
    assert len(invokes) == 1, invokes
    ((_, statement),) = invokes
    assert as_list(statement["Action"]) == ["lambda:InvokeFunction"]
    assert statement["Effect"] == "Allow" and "Condition" not in statement
    # Its own unqualified ARN (the handler invokes context.invoked_function_arn; no alias or version
    # is published), built from the name, so the policy needs no reference to the function.
    assert statement["Resource"] == _own_arn(fn["Properties"]["FunctionName"])
    assert function_id not in _references(statement)


def test_no_circular_dependency_the_role_policy_does_not_depend_on_the_function(raw, function):
    function_id, fn = function
    for lid, policy in resources(raw, "AWS::IAM::Policy").items():
        assert function_id not in _references(policy), f"{lid} depends on the function that depends on it"
    assert set(fn.get("DependsOn", [])) >= {construct_resource(raw, "AWS::IAM::Policy", "WebhookFunctionRoleDefaultPolicy")[0]}


def test_grant_invoke_on_itself_would_be_a_cycle():
    # Why the stack builds the ARN: the documented mistake fails the synth (DESIGN.md).
    app = App(context=cdk_context())
    stack = WebhookStack(app, "CycleProbe")
    stack.function.grant_invoke(stack.function)
    with pytest.raises(Exception, match="(?i)cycl"):
        app.synth()


def test_the_url_is_public_because_the_handler_verifies_signatures(raw, function):
    function_id, _ = function
    (url,) = resources(raw, "AWS::Lambda::Url").values()
    assert url["Properties"] == {"AuthType": "NONE", "TargetFunctionArn": {"Fn::GetAtt": [function_id, "Arn"]}}
    public = [p["Properties"] for p in resources(raw, "AWS::Lambda::Permission").values() if p["Properties"]["Principal"] == "*"]
    # Principal "*" may call the URL only: lambda:InvokeFunction for "*" is limited to calls via the URL.
    assert {p["Action"] for p in public} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert all(p.get("FunctionUrlAuthType") == "NONE" or p.get("InvokedViaFunctionUrl") is True for p in public)
    assert all(p["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]} for p in public)
    assert raw["Outputs"][names.FUNCTION_URL_OUTPUT]["Value"] == {"Fn::GetAtt": [construct_resource(raw, "AWS::Lambda::Url", "WebhookFunctionFunctionUrl")[0], "FunctionUrl"]}


def test_secrets_are_stack_generated_and_only_their_arns_are_in_the_environment(raw, function):
    _, fn = function
    variables = fn["Properties"]["Environment"]["Variables"]
    for env, construct in ((names.GITHUB_SECRET_ENV, "GitHubWebhookSecret"), (names.SLACK_SECRET_ENV, "SlackSigningSecret")):
        secret_id, secret = construct_resource(raw, "AWS::SecretsManager::Secret", construct)
        assert variables[env] == {"Ref": secret_id}  # a secret's Ref is its ARN
        assert "SecretString" not in secret["Properties"], "a value in the template is a value in git"
        assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
        assert secret["DeletionPolicy"] == "Delete"
    text = json.dumps(variables).lower()
    assert "secretstring" not in text and "resolve:secretsmanager" not in text, "no dynamic reference puts a value in the environment"


def test_the_function_reads_exactly_its_two_secrets(raw):
    secret_ids = set(resources(raw, "AWS::SecretsManager::Secret"))
    reads = [s for _, s in policy_statements(raw) if any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))]
    assert len(reads) == 1
    assert set(as_list(reads[0]["Action"])) == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    assert {r["Ref"] for r in as_list(reads[0]["Resource"])} == secret_ids and len(secret_ids) == 2


def test_tables_are_scoped_deliveries_write_only(raw, function):
    _, fn = function
    variables = fn["Properties"]["Environment"]["Variables"]
    deliveries_id, _ = construct_resource(raw, "AWS::DynamoDB::Table", "DeliveriesTable")
    idempotency_id, idempotency = construct_resource(raw, "AWS::DynamoDB::Table", "IdempotencyTable")
    assert variables[names.DELIVERIES_TABLE_ENV] == {"Ref": deliveries_id}
    assert variables[names.IDEMPOTENCY_TABLE_ENV] == {"Ref": idempotency_id}
    assert idempotency["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    by_table = {}
    for _, statement in policy_statements(raw):
        if any(a.startswith("dynamodb:") for a in as_list(statement["Action"])):
            (resource,) = as_list(statement["Resource"])
            by_table[resource["Fn::GetAtt"][0]] = set(as_list(statement["Action"]))
    assert by_table[deliveries_id] == {"dynamodb:PutItem"}
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= by_table[idempotency_id]
    assert set(by_table) == {deliveries_id, idempotency_id}


def test_the_slow_path_retries_then_reaches_an_alarmed_failure_destination_and_dlq(raw, function):
    function_id, fn = function
    (config,) = resources(raw, "AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": function_id} and props["Qualifier"] == "$LATEST"
    assert (props["MaximumRetryAttempts"], props["MaximumEventAgeInSeconds"]) == (2, 6 * 3600)
    failures_id, _ = construct_resource(raw, "AWS::SQS::Queue", "WebhookFailures")
    dlq_id, _ = construct_resource(raw, "AWS::SQS::Queue", "WebhookDLQ")
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [failures_id, "Arn"]}}}
    assert fn["Properties"]["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    for queue_id in (failures_id, dlq_id):
        watched = [
            a["Properties"] for a in resources(raw, "AWS::CloudWatch::Alarm").values()
            if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
            and a["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}
        ]
        assert [(a["Threshold"], a["ComparisonOperator"]) for a in watched] == [(1, "GreaterThanOrEqualToThreshold")]


def test_no_concurrency_is_reserved_by_default_so_a_new_account_can_deploy_it(function):
    # A new account's quota is 10, all of which Lambda keeps unreserved: any reservation fails the deploy.
    assert "ReservedConcurrentExecutions" not in function[1]["Properties"]


def test_stack_props_reach_the_template():
    app = App(context=cdk_context())
    stack = WebhookStack(app, "Tuned", reserved_concurrency=3, retry_attempts=0, max_event_age=Duration.minutes(30), max_body_bytes=1024)
    template = Template.from_stack(stack)
    (fn,) = [f for lid, f in template.find_resources("AWS::Lambda::Function").items() if lid.startswith("WebhookFunction")]
    assert fn["Properties"]["ReservedConcurrentExecutions"] == 3
    assert fn["Properties"]["Environment"]["Variables"][names.MAX_BODY_BYTES_ENV] == "1024"
    (config,) = template.find_resources("AWS::Lambda::EventInvokeConfig").values()
    assert (config["Properties"]["MaximumRetryAttempts"], config["Properties"]["MaximumEventAgeInSeconds"]) == (0, 1800)


def test_a_stack_name_too_long_for_the_function_name_is_refused():
    with pytest.raises(ValueError, match="too long"):
        WebhookStack(App(context=cdk_context()), "W" * 60)


@pytest.mark.parametrize("metric", ["Errors", "Throttles", "DeadLetterErrors", "DestinationDeliveryFailures"])
def test_failure_signals_are_alarmed(raw, metric):
    assert len([a for a in resources(raw, "AWS::CloudWatch::Alarm").values() if a["Properties"]["MetricName"] == metric]) == 1


def test_outputs_name_every_entry_point(raw):
    assert {
        names.FUNCTION_URL_OUTPUT,
        names.FUNCTION_NAME_OUTPUT,
        names.DELIVERIES_TABLE_NAME_OUTPUT,
        names.GITHUB_SECRET_ARN_OUTPUT,
        names.SLACK_SECRET_ARN_OUTPUT,
        names.FAILURES_QUEUE_URL_OUTPUT,
        names.DEAD_LETTER_QUEUE_URL_OUTPUT,
    } <= set(raw["Outputs"])
