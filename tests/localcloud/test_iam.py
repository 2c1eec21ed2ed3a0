"""Functions run with their own execution role's credentials, and what the role does not allow fails.

The caller of the IamFixture stack is granted one queue, table, topic, function and key prefix of
each pair and not the other. A denied call is an AccessDenied the handler does not catch, so it is
the function's error, as in AWS.
"""

from __future__ import annotations

import json

import pytest

from localcloud import Deployment


@pytest.fixture(scope="module")
def stack(deploy, fixture_assembly) -> Deployment:
    return deploy(fixture_assembly, "IamFixture")


def call(stack: Deployment, action: str, target: str | None = None, **extra: str) -> tuple[dict, str | None]:
    payload, error = stack.invoke("Caller", {"action": action, "target": target, **extra})
    return (json.loads(payload) if isinstance(payload, str) else payload), error


def denied(payload: dict, error: str | None, action: str) -> bool:
    return (
        error == "Unhandled"
        and "AccessDenied" in payload["errorMessage"]
        and (action in payload["errorMessage"] or action.startswith("s3:"))
    )


def role_of(stack: Deployment, function_prefix: str) -> str:
    role_logical_id = stack.properties("AWS::Lambda::Function", function_prefix)["Role"]["Fn::GetAtt"][0]
    return stack.physical_ids[role_logical_id]  # a role's physical id is its name


def test_a_function_calls_as_its_own_execution_role(stack):
    payload, error = call(stack, "whoami")
    assert error is None
    name = stack.function_name("Caller")
    assert payload["arn"] == f"arn:aws:sts::{stack.cloud.account}:assumed-role/{role_of(stack, 'Caller')}/{name}"


@pytest.mark.parametrize(
    ("action", "granted", "withheld"),
    [
        ("sqs:SendMessage", "GrantedQueue", "WithheldQueue"),
        ("dynamodb:PutItem", "GrantedTable", "WithheldTable"),
        ("dynamodb:GetItem", "GrantedTable", "WithheldTable"),
        ("sns:Publish", "GrantedTopicArn", "WithheldTopicArn"),
        ("lambda:InvokeFunction", "GrantedCallee", "WithheldCallee"),
    ],
)
def test_the_granted_resource_is_allowed_and_the_other_denied(stack, action, granted, withheld):
    def target(prefix: str) -> str:
        if action.startswith("sqs:"):
            return stack.queue_url(prefix)
        if action.startswith("dynamodb:"):
            return stack.table_name(prefix)
        if action.startswith("lambda:"):
            return stack.function_name(prefix)
        return stack.outputs[prefix]

    payload, error = call(stack, action, target(granted))
    assert error is None, payload
    payload, error = call(stack, action, target(withheld))
    assert denied(payload, error, action), payload


def test_a_tables_stream_is_checked_against_the_streams_arn(stack):
    """DescribeStream, GetShardIterator and GetRecords name the stream (GetRecords through its
    iterator): a grant on one table's stream does not reach another's."""
    payload, error = call(stack, "dynamodb:GetRecords", stack.outputs["GrantedStreamArn"])
    assert error is None and isinstance(payload["records"], int), payload
    payload, error = call(stack, "dynamodb:GetRecords", stack.outputs["WithheldStreamArn"])
    # moto renders this denial as XML under HTTP 403 (AWS: AccessDeniedException in JSON)
    assert error == "Unhandled" and "not authorized to perform: dynamodb:DescribeStream" in payload["errorMessage"], (
        payload
    )


def test_a_transaction_needs_each_items_own_action_on_each_table(stack):
    # IAM has no dynamodb:TransactWriteItems action: a Put in a transaction is dynamodb:PutItem.
    granted, withheld = stack.table_name("GrantedTable"), stack.table_name("WithheldTable")
    payload, error = call(stack, "dynamodb:TransactWriteItems", granted)
    assert error is None, payload
    for tables in (withheld, f"{granted},{withheld}"):
        payload, error = call(stack, "dynamodb:TransactWriteItems", tables)
        assert denied(payload, error, "dynamodb:PutItem"), (tables, payload)


def test_a_function_invoked_by_another_runs_as_its_own_role(stack):
    payload, error = call(stack, "lambda:InvokeFunction", stack.function_name("GrantedCallee"))
    assert error is None
    assert f":assumed-role/{role_of(stack, 'GrantedCallee')}/" in payload["arn"]
    assert role_of(stack, "GrantedCallee") != role_of(stack, "Caller")


def test_s3_objects_are_checked_by_key(stack):
    bucket = stack.outputs["BucketName"]
    assert call(stack, "s3:PutObject", "granted/a.txt", bucket=bucket)[1] is None
    assert call(stack, "s3:GetObject", "granted/a.txt", bucket=bucket) == ({"body": "probe"}, None)
    assert denied(*call(stack, "s3:PutObject", "withheld/a.txt", bucket=bucket), "s3:PutObject")
    stack.client("s3").put_object(Bucket=bucket, Key="withheld/b.txt", Body=b"secret")
    assert denied(*call(stack, "s3:GetObject", "withheld/b.txt", bucket=bucket), "s3:GetObject")


def test_a_bucket_that_does_not_exist_is_no_such_bucket_not_access_denied(stack):
    """S3 answers NoSuchBucket for a bucket nobody owns before evaluating any policy (even to an
    anonymous caller); moto would check IAM first, so LocalCloud lets moto answer the 404."""
    payload, error = call(stack, "s3:GetObject", "x", bucket="iamfixture-no-such-bucket")
    assert error == "Unhandled" and "NoSuchBucket" in payload["errorMessage"], payload


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:HeadObject"])
def test_a_missing_key_is_access_denied_to_a_role_that_may_not_list_the_bucket(stack, action):
    """AWS: "If the object you request doesn't exist, the error that Amazon S3 returns depends on
    whether you also have the s3:ListBucket permission. If you have the s3:ListBucket permission on
    the bucket, Amazon S3 returns an HTTP status code 404 Not Found error. If you don't have the
    s3:ListBucket permission, Amazon S3 returns an HTTP status code 403 Access Denied error."
    (Amazon S3 API Reference, GetObject and HeadObject, Permissions.) Caller may get granted/* and
    not list the bucket; Lister may do both."""
    bucket = stack.outputs["BucketName"]
    payload, error = call(stack, action, "granted/missing.txt", bucket=bucket)
    assert error == "Unhandled", payload
    # AWS's 403 to a HEAD has no body (botocore then names it "403"); moto's carries AccessDenied.
    assert "(AccessDenied)" in payload["errorMessage"] and "NoSuchKey" not in payload["errorMessage"], payload

    payload, error = stack.invoke("Lister", {"action": action, "target": "granted/missing.txt", "bucket": bucket})
    assert error == "Unhandled", payload
    assert ("(NoSuchKey)" if action == "s3:GetObject" else "(404)") in payload["errorMessage"], payload


def test_a_key_that_exists_is_read_without_list_bucket_and_a_deleted_one_is_missing_again(stack):
    bucket = stack.outputs["BucketName"]
    stack.client("s3").put_object(Bucket=bucket, Key="granted/present.txt", Body=b"here")
    assert call(stack, "s3:HeadObject", "granted/present.txt", bucket=bucket) == ({"length": 4}, None)
    stack.client("s3").delete_object(Bucket=bucket, Key="granted/present.txt")
    payload, error = call(stack, "s3:GetObject", "granted/present.txt", bucket=bucket)
    assert error == "Unhandled" and "(AccessDenied)" in payload["errorMessage"], payload


def test_the_test_process_keeps_full_access(stack):
    stack.client("sqs").send_message(QueueUrl=stack.queue_url("WithheldQueue"), MessageBody="from the test")
    stack.client("dynamodb").put_item(TableName=stack.table_name("WithheldTable"), Item={"id": {"S": "t"}})
    assert stack.client("dynamodb").get_item(TableName=stack.table_name("WithheldTable"), Key={"id": {"S": "t"}})[
        "Item"
    ]


def test_warm_invocations_reuse_the_function_session(stack, monkeypatch):
    import boto3

    call(stack, "whoami")  # warm: the function's session exists
    made = []
    original = boto3.session.Session.__init__
    monkeypatch.setattr(
        boto3.session.Session, "__init__", lambda self, *a, **k: made.append(1) or original(self, *a, **k)
    )
    for _ in range(3):
        assert call(stack, "whoami")[1] is None
    assert made == []
