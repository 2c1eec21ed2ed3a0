"""Webhook: what makes the webhook correct, beyond the snapshot.

The URL path verifies and hands the delivery to the function's own queue; the same function
consumes that queue through a mapping whose MaximumConcurrency caps the slow path alone, so a burst
of slow work cannot take the execution slots the URL needs (and nothing is reserved by default).
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration
from aws_cdk.assertions import Template

from queue_redrive import names as redrive_names
from stacks.webhook import FUNCTION_URL_PAYLOAD_BYTES, SQS_MAX_MESSAGE_BYTES, WebhookStack
from tests.conftest import cdk_context
from tests.templates.helpers import as_list, construct_resource, policy_statements, resources
from webhook import names


@pytest.fixture(scope="module")
def raw(templates) -> dict:
    return templates["Webhook"]


@pytest.fixture(scope="module")
def function(raw) -> tuple[str, dict]:
    return construct_resource(raw, "AWS::Lambda::Function", "WebhookFunction")


@pytest.fixture(scope="module")
def queue(raw) -> tuple[str, dict]:
    return construct_resource(raw, "AWS::SQS::Queue", "WebhookQueue")


@pytest.fixture(scope="module")
def mapping(raw) -> dict:
    (only,) = resources(raw, "AWS::Lambda::EventSourceMapping").values()
    return only["Properties"]


def function_statements(raw: dict, function: tuple[str, dict]) -> list[dict]:
    """Every statement of every policy attached to the function's role."""
    role_id = function[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in resources(raw, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def alarms_on(raw: dict, metric: str, dimension_value: dict) -> list[dict]:
    return [
        a["Properties"]
        for a in resources(raw, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == metric and a["Properties"]["Dimensions"][0]["Value"] == dimension_value
    ]


def test_the_function_has_no_fixed_name_so_copies_never_collide(function):
    # Nothing needs to know the function's name in advance (no self-invoke ARN to build).
    assert "FunctionName" not in function[1]["Properties"]


# --- the slow path cannot starve the URL ----------------------------------------------------------


def test_nothing_is_reserved_by_default_so_a_new_account_can_deploy_it(function):
    # A new account's quota is 10, all of which must stay unreserved: any reservation fails the deploy.
    assert "ReservedConcurrentExecutions" not in function[1]["Properties"]


def test_the_same_function_consumes_its_queue_at_a_capped_concurrency_with_batch_item_failures(
    function, queue, mapping
):
    function_id, _ = function
    queue_id, _ = queue
    assert mapping["FunctionName"] == {"Ref": function_id}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    # The one cap that reserves nothing and caps the slow path alone. The default leaves half of a
    # new account's 10 executions to the URL path and everything else.
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 1  # the slow work may take minutes: one delivery an invocation


def test_the_function_no_longer_invokes_anything_asynchronously(raw, function):
    # The old hand-off, InvocationType=Event, shared the function's concurrency with the URL with no cap of its own.
    assert not any(a.startswith("lambda:") for s in function_statements(raw, function) for a in as_list(s["Action"]))
    assert resources(raw, "AWS::Lambda::EventInvokeConfig") == {}
    assert "DeadLetterConfig" not in function[1]["Properties"]


def test_the_url_path_reaches_the_slow_path_only_through_the_queue(raw, function, queue):
    # The only event source is the stack's own queue, and only the function may send to it: a
    # request to the URL (always requestContext.http) never has the SQS event's shape.
    function_id, _ = function
    queue_id, _ = queue
    assert [m["Properties"]["EventSourceArn"] for m in resources(raw, "AWS::Lambda::EventSourceMapping").values()] == [
        {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    senders = [
        (where, s)
        for where, s in policy_statements(raw)
        if "sqs:SendMessage" in as_list(s["Action"]) and {"Fn::GetAtt": [queue_id, "Arn"]} in as_list(s["Resource"])
    ]
    assert [where for where, _ in senders] == [
        construct_resource(raw, "AWS::IAM::Policy", "WebhookFunctionRoleDefaultPolicy")[0]
    ]
    (policy,) = [
        p for p in resources(raw, "AWS::SQS::QueuePolicy").values() if {"Ref": queue_id} in p["Properties"]["Queues"]
    ]
    assert all(
        s["Effect"] == "Deny" for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )  # TLS only, grants nothing
    variables = function[1]["Properties"]["Environment"]["Variables"]
    assert variables[names.WORK_QUEUE_URL_ENV] == {"Ref": queue_id}


def test_the_queue_follows_the_rules_for_a_lambda_consumer(raw, function, queue):
    _, fn = function
    _, q = queue
    props = q["Properties"]
    assert props["VisibilityTimeout"] >= 6 * fn["Properties"]["Timeout"]
    assert (
        props["RedrivePolicy"]["maxReceiveCount"] >= 5
    )  # AWS's advice for a Lambda consumer: throttled receives count
    dlq_id, dlq = construct_resource(raw, "AWS::SQS::Queue", "WebhookDLQ")
    assert props["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert dlq["Properties"]["MessageRetentionPeriod"] > props["MessageRetentionPeriod"]
    for queue_id in (dlq_id,):
        watched = alarms_on(raw, "ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": [queue_id, "QueueName"]})
        assert [(a["Threshold"], a["ComparisonOperator"]) for a in watched] == [(1, "GreaterThanOrEqualToThreshold")]
    assert props.get("SqsManagedSseEnabled") is True


def test_a_slow_path_falling_behind_and_a_refused_delivery_are_alarmed(raw, function, queue):
    function_id, _ = function
    queue_id, _ = queue
    # Deliveries waiting: the queue never empty of visible messages for 15 minutes. Not the oldest
    # message's age, which one delivery whose work failed once keeps above 15 minutes (invisible
    # for the 30-minute visibility timeout) without any backlog.
    assert not alarms_on(raw, "ApproximateAgeOfOldestMessage", {"Fn::GetAtt": [queue_id, "QueueName"]})
    (backlog,) = alarms_on(raw, "ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": [queue_id, "QueueName"]})
    assert (backlog["Statistic"], backlog["Period"], backlog["EvaluationPeriods"], backlog["Threshold"]) == (
        "Minimum",
        300,
        3,
        1,
    )
    assert backlog["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    (refused,) = alarms_on(raw, "Url5xxCount", {"Ref": function_id})
    assert (refused["Threshold"], refused["Statistic"]) == (1, "Sum")


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_failure_signals_are_alarmed(raw, metric):
    assert (
        len([a for a in resources(raw, "AWS::CloudWatch::Alarm").values() if a["Properties"]["MetricName"] == metric])
        == 1
    )


# --- payload sizes ----------------------------------------------------------------------------------


def test_bodies_are_accepted_up_to_the_function_urls_limit_and_the_hand_off_up_to_sqss(function, queue):
    variables = function[1]["Properties"]["Environment"]["Variables"]
    assert variables[names.MAX_BODY_BYTES_ENV] == str(FUNCTION_URL_PAYLOAD_BYTES) == str(6 * 1024 * 1024)
    assert (
        variables[names.HANDOFF_MAX_BYTES_ENV]
        == str(queue[1]["Properties"]["MaximumMessageSize"])
        == str(SQS_MAX_MESSAGE_BYTES)
        == "1048576"
    )


def test_claim_checks_go_to_a_private_bucket_and_outlive_a_dead_lettered_message_and_its_redrives(raw, function):
    bucket_id, bucket = construct_resource(raw, "AWS::S3::Bucket", "PayloadsBucket")
    props = bucket["Properties"]
    assert function[1]["Properties"]["Environment"]["Variables"][names.PAYLOADS_BUCKET_ENV] == props["BucketName"]
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    _, dlq = construct_resource(raw, "AWS::SQS::Queue", "WebhookDLQ")
    # A message lives the DLQ's retention from its first enqueue, and a redrive starts it again: the
    # payload (deleted once processed) is kept for several DLQ retentions, not one.
    assert (
        rule["Status"] == "Enabled"
        and rule["ExpirationInDays"] * 86400 >= 3 * dlq["Properties"]["MessageRetentionPeriod"]
    )
    assert rule["ExpirationInDays"] <= 90, "a backstop for what processing leaves, not storage forever"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["DeletionPolicy"] == "Delete"
    assert {"Key": "aws-cdk:auto-delete-objects", "Value": "true"} in props["Tags"]  # emptied on destroy


def test_the_mapping_starts_polling_only_once_the_claim_check_grant_exists(raw):
    (mapping,) = resources(raw, "AWS::Lambda::EventSourceMapping").values()
    (access_id,) = [
        lid for lid in resources(raw, "AWS::IAM::Policy") if lid.startswith("WebhookFunctionPayloadsBucketAccess")
    ]
    assert access_id in mapping.get("DependsOn", [])


def test_the_function_reads_writes_and_deletes_claim_checks_under_their_prefix_only(raw, function):
    s3 = [s for s in function_statements(raw, function) if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    by_action = {a: json.dumps(s["Resource"]) for s in s3 for a in as_list(s["Action"])}
    assert set(by_action) == {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
    assert by_action["s3:GetObject"].endswith(f'"/{names.PAYLOADS_PREFIX}*"]]}}')
    assert by_action["s3:PutObject"] == by_action["s3:DeleteObject"] == by_action["s3:GetObject"]
    assert not by_action["s3:ListBucket"].endswith('*"]]}')


# --- the URL, secrets and tables ----------------------------------------------------------------


def test_the_url_is_public_because_the_handler_verifies_signatures(raw, function):
    function_id, _ = function
    (url,) = resources(raw, "AWS::Lambda::Url").values()
    assert url["Properties"] == {"AuthType": "NONE", "TargetFunctionArn": {"Fn::GetAtt": [function_id, "Arn"]}}
    public = [
        p["Properties"]
        for p in resources(raw, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "*"
    ]
    # Principal "*" may call the URL only: lambda:InvokeFunction for "*" is limited to calls via the URL.
    assert {p["Action"] for p in public} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert all(p.get("FunctionUrlAuthType") == "NONE" or p.get("InvokedViaFunctionUrl") is True for p in public)
    assert all(p["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]} for p in public)
    assert raw["Outputs"][names.FUNCTION_URL_OUTPUT]["Value"] == {
        "Fn::GetAtt": [construct_resource(raw, "AWS::Lambda::Url", "WebhookFunctionFunctionUrl")[0], "FunctionUrl"]
    }


def test_secrets_are_stack_generated_and_only_their_arns_are_in_the_environment(raw, function):
    _, fn = function
    variables = fn["Properties"]["Environment"]["Variables"]
    for env, construct in (
        (names.GITHUB_SECRET_ENV, "GitHubWebhookSecret"),
        (names.SLACK_SECRET_ENV, "SlackSigningSecret"),
    ):
        secret_id, secret = construct_resource(raw, "AWS::SecretsManager::Secret", construct)
        assert variables[env] == {"Ref": secret_id}  # a secret's Ref is its ARN
        assert "SecretString" not in secret["Properties"], "a value in the template is a value in git"
        assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
        assert secret["DeletionPolicy"] == "Delete"
    text = json.dumps(variables).lower()
    assert "secretstring" not in text and "resolve:secretsmanager" not in text, (
        "no dynamic reference puts a value in the environment"
    )


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
    for statement in function_statements(raw, function):
        if any(a.startswith("dynamodb:") for a in as_list(statement["Action"])):
            (resource,) = as_list(statement["Resource"])
            by_table[resource["Fn::GetAtt"][0]] = set(as_list(statement["Action"]))
    assert by_table[deliveries_id] == {"dynamodb:PutItem"}
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= by_table[
        idempotency_id
    ]
    assert set(by_table) == {deliveries_id, idempotency_id}


# --- props ----------------------------------------------------------------------------------------


def test_stack_props_reach_the_template():
    app = App(context=cdk_context())
    stack = WebhookStack(
        app,
        "Tuned",
        reserved_concurrency=8,
        max_concurrency=3,
        batch_size=2,
        max_receive_count=4,
        function_timeout=Duration.minutes(2),
        max_body_bytes=1024,
    )
    template = Template.from_stack(stack)
    (fn,) = [
        f for lid, f in template.find_resources("AWS::Lambda::Function").items() if lid.startswith("WebhookFunction")
    ]
    assert fn["Properties"]["ReservedConcurrentExecutions"] == 8
    assert fn["Properties"]["Environment"]["Variables"][names.MAX_BODY_BYTES_ENV] == "1024"
    (mapping,) = template.find_resources("AWS::Lambda::EventSourceMapping").values()
    assert (mapping["Properties"]["ScalingConfig"], mapping["Properties"]["BatchSize"]) == (
        {"MaximumConcurrency": 3},
        2,
    )
    (queue,) = [q for lid, q in template.find_resources("AWS::SQS::Queue").items() if lid.startswith("WebhookQueue")]
    assert (queue["Properties"]["VisibilityTimeout"], queue["Properties"]["RedrivePolicy"]["maxReceiveCount"]) == (
        720,
        4,
    )


@pytest.mark.parametrize(
    "props, problem",
    [
        ({"reserved_concurrency": 5, "max_concurrency": 5}, "below reserved_concurrency"),
        ({"max_concurrency": 1}, "at least 2"),
        ({"max_receive_count": 2}, "at least 3"),
        ({"max_body_bytes": FUNCTION_URL_PAYLOAD_BYTES + 1}, "Function URL"),
    ],
    ids=["slow-path-takes-every-reserved-slot", "below-sqs-minimum", "too-few-receives", "over-the-url-limit"],
)
def test_props_that_would_starve_the_url_or_break_aws_rules_are_refused(props, problem):
    with pytest.raises(ValueError, match=problem):
        WebhookStack(App(context=cdk_context()), "Refused", **props)


def test_outputs_name_every_entry_point_and_the_queues_under_the_names_redrive_reads(raw, queue):
    assert {
        names.FUNCTION_URL_OUTPUT,
        names.FUNCTION_NAME_OUTPUT,
        names.DELIVERIES_TABLE_NAME_OUTPUT,
        names.GITHUB_SECRET_ARN_OUTPUT,
        names.SLACK_SECRET_ARN_OUTPUT,
        names.QUEUE_URL_OUTPUT,
        names.DEAD_LETTER_QUEUE_URL_OUTPUT,
        names.PAYLOADS_BUCKET_OUTPUT,
    } <= set(raw["Outputs"])
    # `make redrive STACK=Webhook`: scripts/redrive.py reads these two outputs by QueueRedrive's names.
    queue_id, _ = queue
    dlq_id, _ = construct_resource(raw, "AWS::SQS::Queue", "WebhookDLQ")
    assert raw["Outputs"][redrive_names.QUEUE_ARN_OUTPUT]["Value"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert raw["Outputs"][redrive_names.DEAD_LETTER_QUEUE_ARN_OUTPUT]["Value"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
