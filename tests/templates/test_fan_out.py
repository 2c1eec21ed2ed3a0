"""FanOut: what makes the fan-out/fan-in pattern correct, beyond the snapshot."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from fan_out import names, sales
from shared.commerce import MONEY_PATTERN
from stacks.fan_out import FanOutStack
from tests.conftest import cdk_context
from tests.templates.helpers import as_list, construct_resource, only_model_schema, resources, validated_body_model


@pytest.fixture(scope="module")
def raw(templates) -> dict:
    return templates["FanOut"]


def _statements(raw: dict, function_id: str) -> list[dict]:
    """Every statement of the function's role's grants (its DefaultPolicy)."""
    _, function = construct_resource(raw, "AWS::Lambda::Function", function_id)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        s
        for p in resources(raw, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"] and "DefaultPolicy" in json.dumps(p["Properties"]["PolicyName"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def _granted(raw: dict, function_id: str, service: str) -> dict[tuple[str, ...], object]:
    return {
        tuple(sorted(as_list(s["Action"]))): s["Resource"]
        for s in _statements(raw, function_id)
        if as_list(s["Action"])[0].startswith(f"{service}:")
    }


def test_child_async_invoke_retries_then_sends_failures_to_the_consumed_queue(raw):
    child_id, child = construct_resource(raw, "AWS::Lambda::Function", "ChildFunction")
    (config,) = resources(raw, "AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": child_id}
    assert (props["MaximumRetryAttempts"], props["MaximumEventAgeInSeconds"]) == (2, 3600)
    failures_id, _ = construct_resource(raw, "AWS::SQS::Queue", "ChunkFailures")
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [failures_id, "Arn"]}}}
    # ... which is the queue the chunk-failed handler consumes, not a queue nobody reads.
    (mapping,) = resources(raw, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [failures_id, "Arn"]}
    assert mapping["Properties"]["FunctionName"] == {
        "Ref": construct_resource(raw, "AWS::Lambda::Function", "ChunkFailedFunction")[0]
    }
    dlq_id, _ = construct_resource(raw, "AWS::SQS::Queue", "ChunkDLQ")
    assert child["Properties"]["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}}


def test_chunk_failed_consumer_reports_batch_item_failures_and_has_its_own_dlq(raw):
    (mapping,) = resources(raw, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    _, failures = construct_resource(raw, "AWS::SQS::Queue", "ChunkFailures")
    dlq_id, dlq = construct_resource(raw, "AWS::SQS::Queue", "ChunkFailuresDLQ")
    redrive = failures["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert redrive["maxReceiveCount"] >= 3
    assert failures["Properties"]["MessageRetentionPeriod"] < dlq["Properties"]["MessageRetentionPeriod"]
    _, consumer = construct_resource(raw, "AWS::Lambda::Function", "ChunkFailedFunction")
    assert failures["Properties"]["VisibilityTimeout"] >= 6 * consumer["Properties"]["Timeout"]


def test_no_function_reserves_concurrency_by_default_so_a_new_account_can_deploy_it(raw):
    # A new account's quota is 10, all of which Lambda keeps unreserved: any reservation fails the deploy.
    assert {
        lid: f["Properties"]["ReservedConcurrentExecutions"]
        for lid, f in resources(raw, "AWS::Lambda::Function").items()
        if "ReservedConcurrentExecutions" in f["Properties"]
    } == {}


def test_child_concurrency_reserves_and_caps_the_child_when_asked():
    stack = FanOutStack(App(context=cdk_context()), "Reserved", child_concurrency=50)
    (child,) = [
        f
        for lid, f in Template.from_stack(stack).find_resources("AWS::Lambda::Function").items()
        if lid.startswith("ChildFunction")
    ]
    assert child["Properties"]["ReservedConcurrentExecutions"] == 50


def test_parent_may_invoke_only_the_child(raw):
    child_id, _ = construct_resource(raw, "AWS::Lambda::Function", "ChildFunction")
    invoke = [s for s in _statements(raw, "ApiFunction") if "lambda:InvokeFunction" in as_list(s["Action"])]
    (statement,) = invoke
    assert as_list(statement["Action"]) == ["lambda:InvokeFunction"]
    resources_ = as_list(statement["Resource"])
    assert {"Fn::GetAtt": [child_id, "Arn"]} in resources_
    assert all(child_id in json.dumps(r) and "*" not in json.dumps(r) for r in resources_), resources_
    variables = construct_resource(raw, "AWS::Lambda::Function", "ApiFunction")[1]["Properties"]["Environment"][
        "Variables"
    ]
    assert variables[names.CHILD_FUNCTION_ENV] == {"Ref": child_id}
    for other in ("ChildFunction", "ChunkFailedFunction"):
        assert not [s for s in _statements(raw, other) if "lambda:InvokeFunction" in as_list(s["Action"])], other


@pytest.mark.parametrize(
    ("function_id", "actions"),
    [
        ("ApiFunction", ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")),
        ("ChildFunction", ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")),
        ("ChunkFailedFunction", ("dynamodb:UpdateItem",)),
    ],
)
def test_each_function_gets_only_the_table_actions_it_uses(raw, function_id, actions):
    table_id, _ = construct_resource(raw, "AWS::DynamoDB::Table", "BatchesTable")
    assert _granted(raw, function_id, "dynamodb") == {actions: {"Fn::GetAtt": [table_id, "Arn"]}}
    variables = construct_resource(raw, "AWS::Lambda::Function", function_id)[1]["Properties"]["Environment"][
        "Variables"
    ]
    assert variables[names.BATCHES_TABLE_ENV] == {"Ref": table_id}


def test_batches_expire_on_the_ttl_attribute_the_handlers_write(raw):
    _, table = construct_resource(raw, "AWS::DynamoDB::Table", "BatchesTable")
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    variables = construct_resource(raw, "AWS::Lambda::Function", "ApiFunction")[1]["Properties"]["Environment"][
        "Variables"
    ]
    assert int(variables[names.BATCH_TTL_SECONDS_ENV]) == 7 * 24 * 3600


def test_routes_are_iam_authorized_and_post_bodies_checked_against_the_model(raw):
    methods = {
        m["Properties"]["HttpMethod"]: m["Properties"] for m in resources(raw, "AWS::ApiGateway::Method").values()
    }
    assert set(methods) == {"POST", "GET"}
    for method in methods.values():
        assert method["AuthorizationType"] == "AWS_IAM"
        assert method["Integration"]["Type"] == "AWS_PROXY"
    assert methods["GET"]["RequestParameters"] == {"method.request.path.batch_id": True}
    model = validated_body_model(raw, methods["POST"])
    assert model is construct_resource(raw, "AWS::ApiGateway::Model", "ApiBatchRequest")[1]
    schema = only_model_schema(raw)
    assert schema["required"] == ["currency", "items"] and schema["additionalProperties"] is False
    items = schema["properties"]["items"]
    assert (items["minItems"], items["maxItems"]) == (1, sales.MAX_ITEMS)
    line = items["items"]["properties"]
    assert line["sku"]["pattern"] == sales.SKU_PATTERN
    assert line["unit_price"]["pattern"] == MONEY_PATTERN
    assert (line["quantity"]["minimum"], line["quantity"]["maximum"]) == (1, sales.MAX_QUANTITY)


@pytest.mark.parametrize(
    ("metric", "count"),
    [
        ("DeadLetterErrors", 1),
        ("DestinationDeliveryFailures", 1),
        ("NumberOfMessagesSent", 1),
        ("Errors", 3),
        ("Throttles", 2),
        ("AsyncEventAge", 1),
    ],
)
def test_failure_signals_are_alarmed(raw, metric, count):
    alarms = [a for a in resources(raw, "AWS::CloudWatch::Alarm").values() if a["Properties"]["MetricName"] == metric]
    assert len(alarms) == count


def _alarms_on(raw: dict, function_id: str) -> dict[str, dict]:
    logical_id, _ = construct_resource(raw, "AWS::Lambda::Function", function_id)
    return {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in resources(raw, "AWS::CloudWatch::Alarm").values()
        if {"Name": "FunctionName", "Value": {"Ref": logical_id}} in a["Properties"].get("Dimensions", [])
    }


def test_the_child_alarms_when_chunks_are_at_risk_not_on_the_throttles_of_a_normal_big_batch(raw):
    # The parent invokes the child asynchronously once per chunk: a batch of more chunks than the
    # concurrency available throttles every time, and Lambda retries those events. Work is at risk
    # when the oldest queued chunk nears its maximum age, or a chunk fails or expires.
    child = _alarms_on(raw, "ChildFunction")
    assert "Throttles" not in child
    (config,) = resources(raw, "AWS::Lambda::EventInvokeConfig").values()
    max_age_ms = config["Properties"]["MaximumEventAgeInSeconds"] * 1000
    age = child["AsyncEventAge"]
    assert age["Statistic"] == "Maximum" and 0 < age["Threshold"] < max_age_ms
    assert {"Errors", "DeadLetterErrors", "DestinationDeliveryFailures"} <= set(child)
    # the synchronously invoked functions keep theirs: a throttle there is a refused request
    assert "Throttles" in _alarms_on(raw, "ApiFunction")


def test_a_chunk_failure_record_arriving_is_alarmed_though_its_consumer_empties_the_queue(raw):
    failures_id, _ = construct_resource(raw, "AWS::SQS::Queue", "ChunkFailures")
    (arriving,) = [
        a["Properties"]
        for a in resources(raw, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "NumberOfMessagesSent"
    ]
    assert arriving["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [failures_id, "QueueName"]}}]
    assert arriving["Threshold"] == 1


@pytest.mark.parametrize("queue", ["ChunkFailuresDLQ", "ChunkDLQ"])
def test_dead_letter_queues_alarm_on_their_first_message(raw, queue):
    queue_id, _ = construct_resource(raw, "AWS::SQS::Queue", queue)
    watched = [
        a["Properties"]
        for a in resources(raw, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}
    ]
    assert [(a["Threshold"], a["ComparisonOperator"]) for a in watched] == [(1, "GreaterThanOrEqualToThreshold")]


def test_outputs_name_every_entry_point(raw):
    assert {
        names.BATCHES_ENDPOINT_OUTPUT,
        names.BATCHES_TABLE_OUTPUT,
        names.CHILD_FUNCTION_OUTPUT,
        names.CHUNK_FAILURES_QUEUE_OUTPUT,
    } <= set(raw["Outputs"])
    failures_id, _ = construct_resource(raw, "AWS::SQS::Queue", "ChunkFailures")
    assert raw["Outputs"][names.CHUNK_FAILURES_QUEUE_OUTPUT]["Value"] == {"Ref": failures_id}
