"""StandardWorkflow's start function against moto: one execution per object version, named as the job."""

from __future__ import annotations

import importlib
import json

import boto3
import pytest
from moto import mock_aws

from standard_workflow import jobs, names
from tests.events import s3_put

BUCKET = "standard-workflow-data"


@pytest.fixture
def start(monkeypatch):
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        sfn = boto3.client("stepfunctions")
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
        arn = sfn.create_state_machine(name="jobs", definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
        monkeypatch.setenv(names.STATE_MACHINE_ARN_ENV, arn)
        monkeypatch.setenv(names.GROUP_BY_ENV, "region")
        from standard_workflow import start as module

        yield importlib.reload(module), sfn, arn


def test_an_upload_starts_one_execution_named_as_its_job(start, context):
    module, sfn, arn = start
    out = module.main(s3_put(BUCKET, "incoming/daily sales.csv", size=10, etag="abc"), context)
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert out == {"jobs": [execution["name"]]}
    assert execution["name"].startswith("daily-sales-")
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"source_key": "incoming/daily sales.csv", "group_by": "region"}  # key URL-decoded


def test_a_repeated_event_does_not_start_a_second_execution(start, context):
    module, sfn, arn = start
    event = s3_put(BUCKET, "incoming/a.csv", size=10, etag="abc")
    first, second = module.main(event, context), module.main(event, context)
    assert first == second
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1


def test_a_new_version_of_the_same_key_is_a_new_job(start, context):
    module, sfn, arn = start
    module.main(s3_put(BUCKET, "incoming/a.csv", size=10, etag="v1"), context)
    module.main(s3_put(BUCKET, "incoming/a.csv", size=12, etag="v2"), context)
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 2


def test_job_ids_are_valid_execution_names():
    for key in ("incoming/" + "x" * 300 + ".csv", "incoming/ümlaut & spaces!.csv", "incoming/.csv"):
        job_id = jobs.job_id_for(key, '"etag"')
        assert len(job_id) <= 80 and job_id.replace("-", "").replace("_", "").isalnum() and job_id.isascii()


@pytest.mark.parametrize("event", [{}, {"Records": "nope"}, {"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "incoming/a.csv"}}}]}])
def test_an_event_that_is_not_an_s3_notification_fails(start, context, event):
    module, sfn, arn = start
    with pytest.raises(Exception):
        module.main(event, context)
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
