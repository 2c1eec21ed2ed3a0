"""StandardWorkflow's start function against moto: one execution per upload event (key +
sequencer), named as the job; only .csv objects start one."""

from __future__ import annotations

import importlib
import json

import boto3
import pytest
from moto import mock_aws

from localcloud.events import s3_put
from standard_workflow import jobs, names

BUCKET = "standard-workflow-data"


@pytest.fixture
def start(monkeypatch):
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        sfn = boto3.client("stepfunctions")
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
        arn = sfn.create_state_machine(
            name="jobs", definition=definition, roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        monkeypatch.setenv(names.STATE_MACHINE_ARN_ENV, arn)
        monkeypatch.setenv(names.GROUP_BY_ENV, "region")
        from standard_workflow import start as module

        yield importlib.reload(module), sfn, arn


def test_an_upload_starts_one_execution_named_as_its_job(start, context):
    module, sfn, arn = start
    out = module.main(s3_put(BUCKET, "incoming/daily sales.csv", size=10, etag="abc"), context)
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert out == {"jobs": [execution["name"]], "ignored": []}
    assert execution["name"].startswith("daily-sales-")
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {
        "source_key": "incoming/daily sales.csv",
        "etag": "abc",  # the version Split must read
        "group_by": "region",
    }  # key URL-decoded


def test_a_repeated_event_does_not_start_a_second_execution(start, context):
    module, sfn, arn = start
    event = s3_put(BUCKET, "incoming/a.csv", size=10, etag="abc")
    first, second = module.main(event, context), module.main(event, context)
    assert first == second
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1


def test_a_new_version_of_the_same_key_is_a_new_job(start, context):
    module, sfn, arn = start
    module.main(s3_put(BUCKET, "incoming/a.csv", size=10, etag="v1", sequencer="0055AED6DCD90281E5"), context)
    module.main(s3_put(BUCKET, "incoming/a.csv", size=12, etag="v2", sequencer="0055AED6DCD90281E6"), context)
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 2


def test_the_same_content_uploaded_again_is_a_new_job(start, context):
    """A re-upload after a job FAILED, was REJECTED or EXPIRED runs again: same key, same bytes
    (same ETag), but a new upload event (a new sequencer). Execution names cannot be reused for
    90 days, so a name from key + ETag alone could never run that file again."""
    module, sfn, arn = start
    first = module.main(s3_put(BUCKET, "incoming/a.csv", size=10, etag="same", sequencer="0055AED6DCD90281E5"), context)
    again = module.main(s3_put(BUCKET, "incoming/a.csv", size=10, etag="same", sequencer="0055AED6DCD9028F01"), context)
    assert first["jobs"] != again["jobs"]
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 2


@pytest.mark.parametrize(
    "key",
    [
        "incoming/",
        "incoming/notes.txt",
        "incoming/sub/",
        "incoming/sales.csv.tmp",
        "incoming/SALES.CSV",
        "incoming/csv",
    ],
)
def test_anything_but_a_csv_is_ignored_without_an_error(start, context, key, caplog):
    """Only `.csv` objects start a job (the notification's suffix filter says the same): a folder
    marker or another file is logged and skipped, so no execution fails and no alarm fires."""
    module, sfn, arn = start
    event = s3_put(BUCKET, key, size=0, etag="d41d8cd98f00b204e9800998ecf8427e")
    event["Records"].append(s3_put(BUCKET, "incoming/real.csv", size=10, etag="abc")["Records"][0])
    out = module.main(event, context)
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert out == {"jobs": [execution["name"]], "ignored": [key]}
    assert (
        json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])["source_key"]
        == "incoming/real.csv"
    )


@pytest.mark.parametrize("field", ["sequencer", "eTag"])
def test_an_event_without_a_sequencer_or_etag_fails(start, context, field):
    module, sfn, arn = start
    event = s3_put(BUCKET, "incoming/a.csv", size=10, etag="abc")
    del event["Records"][0]["s3"]["object"][field]
    with pytest.raises(ValueError, match=field):
        module.main(event, context)
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_job_ids_are_valid_execution_names():
    for key in ("incoming/" + "x" * 300 + ".csv", "incoming/ümlaut & spaces!.csv", "incoming/.csv"):
        job_id = jobs.job_id_for(key, "0055AED6DCD90281E5")
        assert len(job_id) <= 80 and job_id.replace("-", "").replace("_", "").isalnum() and job_id.isascii()


@pytest.mark.parametrize(
    "event",
    [{}, {"Records": "nope"}, {"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "incoming/a.csv"}}}]}],
)
def test_an_event_that_is_not_an_s3_notification_fails(start, context, event):
    module, sfn, arn = start
    with pytest.raises(Exception):  # noqa: B017 (any error: Lambda retries it, then its DLQ holds it)
        module.main(event, context)
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
