"""StreamJob: what makes the job-and-status pattern correct, beyond the snapshot."""

from __future__ import annotations

import json

import jsonschema
import pytest
from aws_cdk import App, Duration

from shared.commerce import MONEY_PATTERN
from stacks.stream_job import StreamJobStack
from stream_job import names
from tests.templates.helpers import (
    api_method,
    as_list,
    construct_resource,
    find_logical_id,
    only_model_schema,
    policy_statements,
    ref_target,
    resources,
    validated_body_model,
)

VALID_JOB = {"currency": "EUR", "principal": "1000.00", "annual_rate_percent": "6.25", "monthly_payment": "510.00"}


@pytest.fixture(scope="module")
def raw(templates) -> dict:
    return templates["StreamJob"]


@pytest.fixture(scope="module")
def mapping(raw) -> dict:
    """The processor's stream mapping."""
    (esm,) = [
        m
        for m in resources(raw, "AWS::Lambda::EventSourceMapping").values()
        if "StreamArn" in json.dumps(m["Properties"]["EventSourceArn"])
    ]
    return esm["Properties"]


def _logical_id(raw: dict, resource_type: str, prefix: str) -> str:
    try:
        return find_logical_id(raw, resource_type, prefix)
    except LookupError:  # ProcessorFailures and ProcessorFailuresDLQ: the construct itself
        return construct_resource(raw, resource_type, prefix)[0]


def _function(raw: dict, prefix: str) -> dict:
    return raw["Resources"][_logical_id(raw, "AWS::Lambda::Function", prefix)]["Properties"]


# The stream mapping ------------------------------------------------------------------------


def test_mapping_reads_the_jobs_tables_stream(raw, mapping):
    table_id = _logical_id(raw, "AWS::DynamoDB::Table", "JobsTable")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert mapping["FunctionName"] == {"Ref": _logical_id(raw, "AWS::Lambda::Function", "ProcessorFunction")}


def test_mapping_lets_through_only_inserted_pending_jobs(mapping):
    (only,) = mapping["FilterCriteria"]["Filters"]
    # Written out, not read from names.py: the filter is what keeps the processor's own writes out.
    assert json.loads(only["Pattern"]) == {
        "eventName": ["INSERT"],
        "dynamodb": {"NewImage": {"status": {"S": ["pending"]}}},
    }
    assert json.loads(only["Pattern"]) == names.PENDING_INSERT_FILTER


def test_mapping_reports_failures_per_record_and_bisects(mapping):
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True


def test_retries_and_record_age_are_bounded(mapping):
    assert mapping["MaximumRetryAttempts"] == 3
    assert mapping["MaximumRecordAgeInSeconds"] == 3600
    assert mapping["BatchSize"] == 5


def test_mapping_starts_at_the_oldest_record_so_no_accepted_job_is_skipped(mapping):
    # At LATEST, jobs accepted between the mapping's creation (or replacement) and its first poll,
    # minutes in AWS, would never run; the conditional claim makes reading them again harmless.
    assert mapping["StartingPosition"] == "TRIM_HORIZON"


def test_exhausted_batches_go_to_the_failed_jobs_handler(raw, mapping):
    queue_id = _logical_id(raw, "AWS::SQS::Queue", "ProcessorFailures")
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}}
    # ... which is the queue the failed-jobs handler consumes, reporting failures per message.
    (consumer,) = [
        m["Properties"]
        for m in resources(raw, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"] is not mapping
    ]
    assert consumer["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert consumer["FunctionName"] == {"Ref": _logical_id(raw, "AWS::Lambda::Function", "FailedJobsFunction")}
    assert consumer["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert _function(raw, "FailedJobsFunction")["Handler"] == "stream_job.failed_jobs.main"
    assert raw["Outputs"][names.STREAM_FAILURES_QUEUE_OUTPUT]["Value"] == {"Ref": queue_id}


def _alarms_on_queue(raw: dict, queue_id: str, metric: str) -> list[dict]:
    return [
        a["Properties"]
        for a in resources(raw, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == metric
        and a["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    ]


def test_a_failure_record_arriving_is_alarmed_though_its_consumer_empties_the_queue(raw):
    (arriving,) = _alarms_on_queue(
        raw, _logical_id(raw, "AWS::SQS::Queue", "ProcessorFailures"), "NumberOfMessagesSent"
    )
    assert (arriving["Threshold"], arriving["Statistic"]) == (1, "Sum") and arriving["AlarmActions"]


def test_a_failure_record_the_handler_cannot_handle_ends_in_an_alarmed_dlq(raw):
    failures = raw["Resources"][_logical_id(raw, "AWS::SQS::Queue", "ProcessorFailures")]["Properties"]
    dlq_id = _logical_id(raw, "AWS::SQS::Queue", "ProcessorFailuresDLQ")
    assert failures["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert failures["MessageRetentionPeriod"] < raw["Resources"][dlq_id]["Properties"]["MessageRetentionPeriod"]
    (waiting,) = _alarms_on_queue(raw, dlq_id, "ApproximateNumberOfMessagesVisible")
    assert waiting["Threshold"] == 1 and waiting["AlarmActions"]


def test_a_job_whose_dead_run_still_holds_its_claim_is_failed_on_a_later_receive(raw):
    """A run that crashed holding a job keeps its claim up to the processor's timeout; the handler
    then leaves the message to come back, so some receive before the last must find it expired."""
    failures = raw["Resources"][_logical_id(raw, "AWS::SQS::Queue", "ProcessorFailures")]["Properties"]
    processor, handler = _function(raw, "ProcessorFunction"), _function(raw, "FailedJobsFunction")
    assert failures["VisibilityTimeout"] >= 6 * handler["Timeout"]  # AWS's rule for a Lambda consumer
    assert failures["VisibilityTimeout"] > processor["Timeout"]
    assert failures["RedrivePolicy"]["maxReceiveCount"] >= 2


def test_iterator_age_is_alarmed(raw):
    processor_id = _logical_id(raw, "AWS::Lambda::Function", "ProcessorFunction")
    (age,) = [
        a["Properties"]
        for a in resources(raw, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "IteratorAge"
    ]
    assert age["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": processor_id}}]
    assert (age["Statistic"], age["Threshold"]) == ("Maximum", 5 * 60 * 1000)
    assert age["AlarmActions"]


# The table ---------------------------------------------------------------------------------


def test_jobs_table_streams_new_images_and_expires_jobs(raw):
    (table,) = resources(raw, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"}]
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


# The functions -----------------------------------------------------------------------------


def test_functions_run_their_handlers_with_the_table_and_ttl(raw):
    api, processor = _function(raw, "ApiFunction"), _function(raw, "ProcessorFunction")
    assert (api["Handler"], processor["Handler"]) == ("stream_job.api.main", "stream_job.processor.main")
    for function in (api, processor):
        assert (
            ref_target(raw, function["Environment"]["Variables"][names.JOBS_TABLE_ENV])["Type"]
            == "AWS::DynamoDB::Table"
        )
    assert api["Environment"]["Variables"][names.JOB_TTL_SECONDS_ENV] == str(7 * 24 * 3600)


def test_processor_timeout_fits_the_work_and_the_api_the_gateway(raw):
    # The work: up to 600 months, a progress write per year (50) and three conditional writes per
    # job, for a batch of 5 jobs; two minutes leaves room for throttled retries of those writes.
    assert _function(raw, "ProcessorFunction")["Timeout"] == 120
    assert _function(raw, "ApiFunction")["Timeout"] < 29


def test_timeouts_beyond_the_limits_are_refused():
    with pytest.raises(ValueError, match="29 s"):
        StreamJobStack(App(), "SlowApi", api_timeout=Duration.seconds(29))
    with pytest.raises(ValueError, match="15 minutes"):
        StreamJobStack(App(), "TooSlow", processor_timeout=Duration.minutes(16))


def _grants(raw: dict, role_prefix: str, service: str) -> dict[str, set[str]]:
    """action -> the logical ids (or literal ARNs) it is allowed on, for one role and service."""
    role_id = _logical_id(raw, "AWS::IAM::Role", role_prefix)
    policies = {
        lid for lid, p in resources(raw, "AWS::IAM::Policy").items() if {"Ref": role_id} in p["Properties"]["Roles"]
    } | {role_id}
    grants: dict[str, set[str]] = {}
    for where, statement in policy_statements(raw):
        if where not in policies:
            continue
        for action in as_list(statement["Action"]):
            if action.startswith(f"{service}:"):
                for resource in as_list(statement["Resource"]):
                    target = resource if isinstance(resource, str) else "/".join(resource["Fn::GetAtt"])
                    grants.setdefault(action, set()).add(target)
    return grants


def test_api_may_only_put_and_get_jobs(raw):
    table_id = _logical_id(raw, "AWS::DynamoDB::Table", "JobsTable")
    assert _grants(raw, "ApiFunctionRole", "dynamodb") == {
        "dynamodb:PutItem": {f"{table_id}/Arn"},
        "dynamodb:GetItem": {f"{table_id}/Arn"},
    }


def test_processor_may_only_get_and_update_jobs_and_read_the_stream(raw):
    table_id = _logical_id(raw, "AWS::DynamoDB::Table", "JobsTable")
    assert _grants(raw, "ProcessorFunctionRole", "dynamodb") == {
        "dynamodb:GetItem": {f"{table_id}/Arn"},
        "dynamodb:UpdateItem": {f"{table_id}/Arn"},
        "dynamodb:DescribeStream": {f"{table_id}/StreamArn"},
        "dynamodb:GetRecords": {f"{table_id}/StreamArn"},
        "dynamodb:GetShardIterator": {f"{table_id}/StreamArn"},
        "dynamodb:ListStreams": {"*"},  # no resource-level permissions; its own policy
    }


def test_processor_may_send_only_to_its_failure_queue(raw):
    queue_id = _logical_id(raw, "AWS::SQS::Queue", "ProcessorFailures")
    grants = _grants(raw, "ProcessorFunctionRole", "sqs")
    assert grants["sqs:SendMessage"] == {f"{queue_id}/Arn"}
    assert set().union(*grants.values()) == {f"{queue_id}/Arn"}
    assert _grants(raw, "ApiFunctionRole", "sqs") == {}


def test_failed_jobs_handler_may_only_get_and_update_jobs_and_read_the_stream_back(raw):
    table_id = _logical_id(raw, "AWS::DynamoDB::Table", "JobsTable")
    assert _grants(raw, "FailedJobsFunctionRole", "dynamodb") == {
        "dynamodb:GetItem": {f"{table_id}/Arn"},
        "dynamodb:UpdateItem": {f"{table_id}/Arn"},
        "dynamodb:GetRecords": {f"{table_id}/StreamArn"},
        "dynamodb:GetShardIterator": {f"{table_id}/StreamArn"},
    }
    queue_id = _logical_id(raw, "AWS::SQS::Queue", "ProcessorFailures")
    assert set().union(*_grants(raw, "FailedJobsFunctionRole", "sqs").values()) == {f"{queue_id}/Arn"}


# The API -----------------------------------------------------------------------------------


def test_every_method_requires_iam_auth_and_proxies_to_the_api_function(raw):
    methods = resources(raw, "AWS::ApiGateway::Method")
    assert len(methods) == 2
    api_id = _logical_id(raw, "AWS::Lambda::Function", "ApiFunction")
    for method in methods.values():
        assert method["Properties"]["AuthorizationType"] == "AWS_IAM"
        assert method["Properties"]["Integration"]["Type"] == "AWS_PROXY"
        assert api_id in json.dumps(method["Properties"]["Integration"]["Uri"])


def test_routes_are_post_jobs_and_get_a_job(raw):
    validated_body_model(raw, api_method(raw, "POST", "jobs"))
    get = api_method(raw, "GET", "{job_id}")
    assert get["RequestParameters"] == {"method.request.path.job_id": True}
    parent = ref_target(raw, ref_target(raw, get["ResourceId"])["Properties"]["ParentId"])
    assert parent["Properties"]["PathPart"] == "jobs"


@pytest.fixture(scope="module")
def request_schema(raw) -> dict:
    return only_model_schema(raw)


def test_request_model_repeats_the_money_format(request_schema):
    for field in ("principal", "monthly_payment"):
        assert request_schema["properties"][field]["pattern"] == MONEY_PATTERN


def test_request_model_accepts_a_valid_job(request_schema):
    jsonschema.validate(VALID_JOB, request_schema)
    jsonschema.validate({**VALID_JOB, "annual_rate_percent": "0"}, request_schema)


@pytest.mark.parametrize(
    "body",
    [
        {k: v for k, v in VALID_JOB.items() if k != "principal"},
        {**VALID_JOB, "priority": "high"},
        {**VALID_JOB, "principal": 1000},
        {**VALID_JOB, "monthly_payment": "510.005"},
        {**VALID_JOB, "annual_rate_percent": 6.25},
        {**VALID_JOB, "annual_rate_percent": "6.2500"},
        ["not", "an", "object"],
    ],
    ids=[
        "missing-field",
        "unknown-field",
        "number-principal",
        "third-decimal",
        "number-rate",
        "rate-four-decimals",
        "array",
    ],
)
def test_request_model_refuses_bad_bodies(request_schema, body):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, request_schema)


def test_outputs_name_the_endpoint_table_and_failure_queue(raw):
    assert {names.JOBS_ENDPOINT_OUTPUT, names.JOBS_TABLE_OUTPUT, names.STREAM_FAILURES_QUEUE_OUTPUT} <= set(
        raw["Outputs"]
    )
    table_id = _logical_id(raw, "AWS::DynamoDB::Table", "JobsTable")
    assert raw["Outputs"][names.JOBS_TABLE_OUTPUT]["Value"] == {"Ref": table_id}
    assert "/jobs" in json.dumps(raw["Outputs"][names.JOBS_ENDPOINT_OUTPUT]["Value"])
