"""scripts/approve.py: the job record from moto DynamoDB, Step Functions stubbed (moto's
SendTaskSuccess accepts any token and checks nothing)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from botocore.stub import Stubber
from moto import mock_aws

from scripts import approve

TABLE = "jobs"


@pytest.fixture
def dynamodb(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(
            TableName=TABLE,
            Item={
                "job_id": {"S": "j-1"},
                "status": {"S": "AWAITING_APPROVAL"},
                "task_token": {"S": "tok"},
                "merged_key": {"S": "jobs/j-1/merged.json"},
            },
        )
        client.put_item(TableName=TABLE, Item={"job_id": {"S": "j-2"}, "status": {"S": "PUBLISHED"}})
        yield client


@pytest.fixture
def sfn():
    client = boto3.client("stepfunctions", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_approve_sends_task_success_with_the_stored_token(dynamodb, sfn):
    client, stubber = sfn
    stubber.add_response("send_task_success", {}, {"taskToken": "tok", "output": json.dumps({"approved": True})})
    line = approve.decide(dynamodb, client, TABLE, "j-1", reject=False, reason="")
    assert line == "job j-1 approved: it will publish jobs/j-1/merged.json"


def test_reject_sends_task_failure_with_the_reason(dynamodb, sfn):
    client, stubber = sfn
    stubber.add_response(
        "send_task_failure", {}, {"taskToken": "tok", "error": "Rejected", "cause": "totals look wrong"}
    )
    assert (
        approve.decide(dynamodb, client, TABLE, "j-1", reject=True, reason="totals look wrong")
        == "job j-1 rejected: totals look wrong"
    )


@pytest.mark.parametrize(("job", "message"), [("nope", "no job nope"), ("j-2", "is PUBLISHED, not waiting")])
def test_unknown_jobs_and_jobs_not_waiting_are_refused(dynamodb, sfn, job, message):
    with pytest.raises(approve.Refused, match=message):
        approve.decide(dynamodb, sfn[0], TABLE, job, reject=False, reason="")


def test_an_expired_token_is_refused_clearly(dynamodb, sfn):
    client, stubber = sfn
    stubber.add_client_error("send_task_success", "TaskTimedOut", "Task Timed Out")
    with pytest.raises(approve.Refused, match="no longer open"):
        approve.decide(dynamodb, client, TABLE, "j-1", reject=False, reason="")


class RetriedMeanwhile:
    """Step Functions as the approver meets it when WaitForApproval was retried between reading the
    job and answering: the retry stored a new token, and the old one's task is closed."""

    def __init__(self, dynamodb, code: str) -> None:
        self.dynamodb, self.code, self.tokens = dynamodb, code, []

    def _closed(self, taskToken: str, **_: object) -> None:
        self.tokens.append(taskToken)
        self.dynamodb.update_item(
            TableName=TABLE,
            Key={"job_id": {"S": "j-1"}},
            UpdateExpression="SET task_token = :t",
            ExpressionAttributeValues={":t": {"S": "tok-2"}},
        )
        raise ClientError(
            {"Error": {"Code": self.code, "Message": "Task Timed Out: 'Provided task does not exist anymore'"}},
            "SendTaskSuccess",
        )

    send_task_success = send_task_failure = _closed


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken"])
@pytest.mark.parametrize("reject", [False, True])
def test_a_superseded_token_gets_a_clear_answer_to_run_again(dynamodb, code, reject):
    sfn = RetriedMeanwhile(dynamodb, code)
    with pytest.raises(approve.Refused) as refused:
        approve.decide(dynamodb, sfn, TABLE, "j-1", reject=reject, reason="r")
    message = str(refused.value)
    assert sfn.tokens == ["tok"] and "\n" not in message
    assert (
        "sent again" in message
        and "superseded" in message
        and "run make approve JOB=j-1 again" in message
        and code in message
    )


def test_main_prints_one_line_and_exits_1_without_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    def no_credentials(*_args, **_kwargs):
        raise NoCredentialsError()

    monkeypatch.setattr(approve.preflight, "check", lambda stack: boto3.session.Session())
    monkeypatch.setattr(approve, "table_name", no_credentials)
    assert approve.main(["j-1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("approve: no AWS credentials") and "Traceback" not in err


def test_main_reports_an_unknown_job(monkeypatch, capsys, dynamodb):
    monkeypatch.setattr(approve.preflight, "check", lambda stack: boto3.session.Session())
    monkeypatch.setattr(approve, "table_name", lambda *_: TABLE)
    assert approve.main(["ghost"]) == 1
    assert capsys.readouterr().err.strip() == f"approve: no job ghost in {TABLE}"


def test_the_table_comes_from_the_stack_output():
    client = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        stack = {
            "StackName": "StandardWorkflow",
            "CreationTime": "2026-11-22T00:00:00Z",
            "StackStatus": "CREATE_COMPLETE",
        }
        stubber.add_response(
            "describe_stacks",
            {"Stacks": [{**stack, "Outputs": [{"OutputKey": "JobsTableName", "OutputValue": "t-1"}]}]},
        )
        stubber.add_response("describe_stacks", {"Stacks": [stack]})
        assert approve.table_name(client, "StandardWorkflow") == "t-1"
        with pytest.raises(approve.Refused, match="no output JobsTableName"):
            approve.table_name(client, "StandardWorkflow")
