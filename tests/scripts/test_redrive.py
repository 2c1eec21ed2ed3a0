"""scripts/redrive.py against a stubbed SQS (moto has no StartMessageMoveTask)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from queue_redrive import names
from scripts.redrive import queue_arns_from_stack, redrive

DLQ = "arn:aws:sqs:eu-west-1:123456789012:QueueRedrive-OrdersDLQ"
SOURCE = "arn:aws:sqs:eu-west-1:123456789012:QueueRedrive-OrdersQueue"


@pytest.fixture
def sqs():
    client = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _task(status: str, moved: int, **extra) -> dict:
    return {
        "TaskHandle": "h-1",
        "Status": status,
        "SourceArn": DLQ,
        "ApproximateNumberOfMessagesMoved": moved,
        "ApproximateNumberOfMessagesToMove": 7,
        **extra,
    }


def test_moves_the_dlq_back_to_its_source_and_waits_for_completion(sqs):
    client, stubber = sqs
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "h-1"},
        {"SourceArn": DLQ, "DestinationArn": SOURCE, "MaxNumberOfMessagesPerSecond": 25},
    )
    stubber.add_response(
        "list_message_move_tasks", {"Results": [_task("RUNNING", 3)]}, {"SourceArn": DLQ, "MaxResults": 10}
    )
    stubber.add_response(
        "list_message_move_tasks", {"Results": [_task("COMPLETED", 7)]}, {"SourceArn": DLQ, "MaxResults": 10}
    )
    lines, sleeps = [], []
    task = redrive(client, DLQ, SOURCE, rate=25, sleep=sleeps.append, report=lines.append)
    assert task["Status"] == "COMPLETED"
    assert sleeps == [5]
    assert lines[-1] == "COMPLETED: 7 of 7 moved"


def test_a_failed_task_is_returned_with_its_reason(sqs):
    client, stubber = sqs
    stubber.add_response("start_message_move_task", {"TaskHandle": "h-1"}, {"SourceArn": DLQ, "DestinationArn": SOURCE})
    stubber.add_response(
        "list_message_move_tasks",
        {"Results": [_task("FAILED", 2, FailureReason="AccessDenied")]},
        {"SourceArn": DLQ, "MaxResults": 10},
    )
    task = redrive(client, DLQ, SOURCE, sleep=lambda _: None, report=lambda _: None)
    assert (task["Status"], task["FailureReason"]) == ("FAILED", "AccessDenied")


def test_a_running_task_on_the_same_dlq_is_an_error(sqs):
    client, stubber = sqs
    stubber.add_client_error("start_message_move_task", "InvalidParameterValue", "There is already a task running")
    with pytest.raises(client.exceptions.ClientError, match="already a task running"):
        redrive(client, DLQ, SOURCE, sleep=lambda _: None, report=lambda _: None)


def test_queues_come_from_the_stack_outputs():
    client = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    outputs = [
        {"OutputKey": names.DEAD_LETTER_QUEUE_ARN_OUTPUT, "OutputValue": DLQ},
        {"OutputKey": names.QUEUE_ARN_OUTPUT, "OutputValue": SOURCE},
    ]
    with Stubber(client) as stubber:
        stubber.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "QueueRedrive",
                        "CreationTime": "2026-11-22T00:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": outputs,
                    }
                ]
            },
            {"StackName": "QueueRedrive"},
        )
        assert queue_arns_from_stack(client, "QueueRedrive") == (DLQ, SOURCE)
