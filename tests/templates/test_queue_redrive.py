"""QueueRedrive: what makes the queued-work pattern correct, beyond the snapshot."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration
from aws_cdk.assertions import Template

from stacks.queue_redrive import QueueRedriveStack
from tests.templates.helpers import as_list, find_resource, policy_statements, ref_target, resources


@pytest.fixture(scope="module")
def raw(templates) -> dict:
    return templates["QueueRedrive"]


@pytest.fixture(scope="module")
def mapping(raw) -> dict:
    (esm,) = resources(raw, "AWS::Lambda::EventSourceMapping").values()
    return esm["Properties"]


@pytest.fixture(scope="module")
def function(raw) -> dict:
    (fn,) = resources(raw, "AWS::Lambda::Function").values()
    return fn["Properties"]


def _queue(raw: dict, prefix: str) -> tuple[str, dict]:
    return find_resource(raw, "AWS::SQS::Queue", prefix)


def test_mapping_reads_the_orders_queue_in_bounded_batches(raw, mapping):
    queue_id, _ = _queue(raw, "OrdersQueue")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (10, 5)
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}


def test_failures_redrive_to_the_dlq_after_three_receives(raw):
    _, queue = _queue(raw, "OrdersQueue")
    dlq_id, dlq = _queue(raw, "OrdersDLQ")
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 3,
    }
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_visibility_timeout_is_six_function_timeouts_plus_the_batching_window(raw, mapping, function):
    _, queue = _queue(raw, "OrdersQueue")
    expected = 6 * function["Timeout"] + mapping["MaximumBatchingWindowInSeconds"]
    assert queue["Properties"]["VisibilityTimeout"] == expected


def test_visibility_timeout_follows_the_function_timeout():
    template = Template.from_stack(
        QueueRedriveStack(App(), "Slow", function_timeout=Duration.minutes(2), batching_window=Duration.seconds(10))
    )
    (queue,) = [q for lid, q in template.find_resources("AWS::SQS::Queue").items() if lid.startswith("OrdersQueue")]
    assert queue["Properties"]["VisibilityTimeout"] == 6 * 120 + 10


def test_fewer_than_three_receives_is_refused():
    with pytest.raises(ValueError, match="at least 3"):
        QueueRedriveStack(App(), "Hasty", max_receive_count=2)


def test_queues_are_encrypted_and_tls_only(raw):
    policies = resources(raw, "AWS::SQS::QueuePolicy").values()
    protected = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}:
                protected |= {q["Ref"] for q in policy["Properties"]["Queues"]}
    for logical_id, queue in resources(raw, "AWS::SQS::Queue").items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, logical_id
        assert logical_id in protected, logical_id


def test_alarms_on_dlq_depth_and_oldest_message_age(raw):
    alarms = [a["Properties"] for a in resources(raw, "AWS::CloudWatch::Alarm").values()]
    dlq_id, _ = _queue(raw, "OrdersDLQ")
    queue_id, _ = _queue(raw, "OrdersQueue")

    def on(queue_id: str, metric: str) -> list[dict]:
        return [
            a
            for a in alarms
            if a["MetricName"] == metric and a["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}
        ]

    (depth,) = on(dlq_id, "ApproximateNumberOfMessagesVisible")
    assert (depth["Threshold"], depth["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    (age,) = on(queue_id, "ApproximateAgeOfOldestMessage")
    assert age["Threshold"] == 15 * 60


def test_idempotency_table_expires_records(raw):
    (table,) = [t for lid, t in resources(raw, "AWS::DynamoDB::Table").items() if lid.startswith("IdempotencyTable")]
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_function_gets_its_tables_and_queue_from_the_environment(raw, function):
    variables = function["Environment"]["Variables"]
    assert ref_target(raw, variables["ORDERS_TABLE"])["Type"] == "AWS::DynamoDB::Table"
    assert ref_target(raw, variables["IDEMPOTENCY_TABLE"])["Type"] == "AWS::DynamoDB::Table"
    assert variables["IDEMPOTENCY_EXPIRY_SECONDS"] == "86400"


def test_function_may_touch_only_its_queue_and_tables(raw):
    allowed = {lid for lid in resources(raw, "AWS::SQS::Queue") if lid.startswith("OrdersQueue")}
    allowed |= set(resources(raw, "AWS::DynamoDB::Table"))
    for where, statement in policy_statements(raw):
        if not where.startswith("OrdersFunctionRole"):
            continue
        for action in as_list(statement["Action"]):
            if action.startswith(("sqs:", "dynamodb:")):
                targets = {
                    r["Fn::GetAtt"][0]
                    for r in as_list(statement["Resource"])
                    if isinstance(r, dict) and "Fn::GetAtt" in r
                }
                assert targets and targets <= allowed, (action, statement["Resource"])
                assert all(isinstance(r, dict) for r in as_list(statement["Resource"])), statement["Resource"]


def test_outputs_name_the_queues_and_table(raw):
    assert {
        "QueueUrl",
        "QueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "OrdersTableName",
        "AlarmTopicArn",
    } <= set(raw["Outputs"])
