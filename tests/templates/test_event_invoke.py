"""EventInvoke: what makes the async-invoke pattern correct, beyond the snapshot."""

from __future__ import annotations

import json

import pytest

from event_invoke import names
from tests.templates.helpers import as_list, construct_resource, resources


@pytest.fixture(scope="module")
def raw(templates) -> dict:
    return templates["EventInvoke"]


@pytest.fixture(scope="module")
def function(raw) -> tuple[str, dict]:
    return construct_resource(raw, "AWS::Lambda::Function", "AnalyzeFunction")


def test_retries_event_age_and_both_destinations_are_explicit(raw, function):
    function_id, _ = function
    (config,) = resources(raw, "AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": function_id}
    assert (props["MaximumRetryAttempts"], props["MaximumEventAgeInSeconds"]) == (2, 3600)
    results_id, _ = construct_resource(raw, "AWS::SQS::Queue", "AnalysisResults")
    failures_id, _ = construct_resource(raw, "AWS::SQS::Queue", "AnalyzeFailures")
    assert props["DestinationConfig"] == {
        "OnSuccess": {"Destination": {"Fn::GetAtt": [results_id, "Arn"]}},
        "OnFailure": {"Destination": {"Fn::GetAtt": [failures_id, "Arn"]}},
    }


def test_failed_events_also_go_to_a_dead_letter_queue(raw, function):
    _, fn = function
    dlq_id, dlq = construct_resource(raw, "AWS::SQS::Queue", "AnalyzeDLQ")
    assert fn["Properties"]["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_s3_invokes_the_function_for_uploads_only(raw, function):
    function_id, _ = function
    _, bucket = construct_resource(raw, "AWS::S3::Bucket", "UploadsBucket")
    (config,) = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Function"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert config["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "incoming/"}]
    variables = function[1]["Properties"]["Environment"]["Variables"]
    assert not variables[names.RESULTS_PREFIX_ENV].startswith("incoming/"), "results would re-trigger the function"


def test_only_this_bucket_in_this_account_may_invoke(raw, function):
    function_id, _ = function
    _, permission = construct_resource(raw, "AWS::Lambda::Permission", "AllowUploadsBucketInvokeAnalyzeFunction")
    props = permission["Properties"]
    assert props["Principal"] == "s3.amazonaws.com"
    assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}
    bucket_name = construct_resource(raw, "AWS::S3::Bucket", "UploadsBucket")[1]["Properties"]["BucketName"]
    assert bucket_name["Fn::Join"][1][0] in json.dumps(props["SourceArn"])
    assert (
        "AllowUploadsBucketInvokeAnalyzeFunction"
        in construct_resource(raw, "AWS::S3::Bucket", "UploadsBucket")[1]["DependsOn"]
    )


def _object_access(raw: dict) -> dict[tuple[str, ...], str]:
    _, policy = construct_resource(raw, "AWS::IAM::Policy", "AnalyzeFunctionUploadsBucketAccess")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    return {tuple(as_list(s["Action"])): json.dumps(s["Resource"]) for s in statements}


def test_function_reads_uploads_and_writes_results_only(raw):
    granted = _object_access(raw)
    assert set(granted) == {("s3:ListBucket",), ("s3:GetObject",), ("s3:GetObject", "s3:PutObject")}
    assert "incoming/" in granted[("s3:GetObject",)] and "analysis/" not in granted[("s3:GetObject",)]
    assert (
        "analysis/" in granted[("s3:GetObject", "s3:PutObject")]
        and "incoming/" not in granted[("s3:GetObject", "s3:PutObject")]
    )


def test_the_function_that_reads_objects_may_list_its_bucket_so_a_missing_key_is_a_404(raw):
    # Without s3:ListBucket, GetObject on a deleted key answers 403 AccessDenied, which the handler
    # must treat as transient (retry, then the DLQ) instead of "deleted before analysis".
    granted = _object_access(raw)
    bucket_name = construct_resource(raw, "AWS::S3::Bucket", "UploadsBucket")[1]["Properties"]["BucketName"]
    listed = json.loads(granted[("s3:ListBucket",)])
    assert (
        json.dumps(bucket_name) in json.dumps(listed)
        and "/" not in json.dumps(listed).split(":s3:::")[-1].split('"')[0]
    )
    assert "*" not in json.dumps(listed), "the stack's own bucket only"
    _, policy = construct_resource(raw, "AWS::IAM::Policy", "AnalyzeFunctionUploadsBucketAccess")
    assert all("Condition" not in s for s in policy["Properties"]["PolicyDocument"]["Statement"])


def test_retried_or_duplicated_events_are_idempotent_on_a_table_of_their_own(raw, function):
    table_id, table = construct_resource(raw, "AWS::DynamoDB::Table", "IdempotencyTable")
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    variables = function[1]["Properties"]["Environment"]["Variables"]
    assert variables[names.IDEMPOTENCY_TABLE_ENV] == {"Ref": table_id}
    assert int(variables[names.IDEMPOTENCY_EXPIRY_SECONDS_ENV]) == 24 * 3600


def test_buckets_are_encrypted_private_tls_only_logged_and_emptied_on_destroy(raw):
    for lid, bucket in resources(raw, "AWS::S3::Bucket").items():
        props = bucket["Properties"]
        assert (
            props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
                "SSEAlgorithm"
            ]
            == "AES256"
        ), lid
        assert all(props["PublicAccessBlockConfiguration"].values()), lid
        assert bucket["DeletionPolicy"] == "Delete", lid
    _, uploads = construct_resource(raw, "AWS::S3::Bucket", "UploadsBucket")
    assert "LoggingConfiguration" in uploads["Properties"]
    tls_denied = [
        p
        for p in resources(raw, "AWS::S3::BucketPolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(tls_denied) == 2
    assert len(resources(raw, "Custom::S3AutoDeleteObjects")) == 2


@pytest.mark.parametrize(
    "metric", ["DeadLetterErrors", "DestinationDeliveryFailures", "Errors", "Throttles", "RejectedObjects"]
)
def test_failure_signals_are_alarmed(raw, metric):
    alarms = [a for a in resources(raw, "AWS::CloudWatch::Alarm").values() if a["Properties"]["MetricName"] == metric]
    assert len(alarms) == 1


@pytest.mark.parametrize("queue", ["AnalyzeFailures", "AnalyzeDLQ"])
def test_failure_queues_alarm_on_their_first_message(raw, queue):
    queue_id, _ = construct_resource(raw, "AWS::SQS::Queue", queue)
    watched = [
        a["Properties"]
        for a in resources(raw, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}
    ]
    assert [(a["Threshold"], a["ComparisonOperator"]) for a in watched] == [(1, "GreaterThanOrEqualToThreshold")]


def test_outputs_name_the_bucket_and_every_outcome_queue(raw):
    assert {
        names.BUCKET_NAME_OUTPUT,
        names.UPLOAD_PREFIX_OUTPUT,
        names.RESULTS_QUEUE_URL_OUTPUT,
        names.FAILURES_QUEUE_URL_OUTPUT,
        names.DEAD_LETTER_QUEUE_URL_OUTPUT,
        names.FUNCTION_NAME_OUTPUT,
    } <= set(raw["Outputs"])
