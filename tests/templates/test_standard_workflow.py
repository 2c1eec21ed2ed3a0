"""StandardWorkflow: what makes the long-job workflow correct, beyond the snapshot."""

from __future__ import annotations

import json
from typing import Any

import pytest

from standard_workflow import names
from tests.templates.helpers import as_list, construct_resource, policy_statements, resources

TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "TransientError",
}
TASKS = {"Split", "ProcessChunk", "Merge", "WaitForApproval", "Publish", "RecordFailure"}


@pytest.fixture(scope="module")
def raw(templates) -> dict:
    return templates["StandardWorkflow"]


def _text(value: Any) -> str:
    """A Fn::Join of strings and references as text; a reference becomes <LogicalId> or <LogicalId.Attr>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_text(p) for p in parts)
    if "Ref" in value:
        return f"<{value['Ref']}>"
    return "<{}.{}>".format(*value["Fn::GetAtt"])


@pytest.fixture(scope="module")
def machine(raw) -> dict:
    (machine,) = resources(raw, "AWS::StepFunctions::StateMachine").values()
    return machine


@pytest.fixture(scope="module")
def states(machine) -> dict[str, dict]:
    definition = json.loads(_text(machine["Properties"]["DefinitionString"]))
    found = dict(definition["States"])
    found.update(definition["States"]["ProcessChunks"]["ItemProcessor"]["States"])
    return found


def _function_id(raw: dict, construct_id: str) -> str:
    return construct_resource(raw, "AWS::Lambda::Function", construct_id)[0]


def test_the_machine_is_standard_logged_traced_and_bounded(machine):
    props = machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False  # the task token is in the data


def test_the_flow_is_split_map_merge_approval_publish(states, machine):
    definition = json.loads(_text(machine["Properties"]["DefinitionString"]))
    assert definition["StartAt"] == "Split"
    assert [
        states["Split"]["Next"],
        states["ProcessChunks"]["Next"],
        states["Merge"]["Next"],
        states["WaitForApproval"]["Next"],
        states["Publish"]["Next"],
    ] == ["ProcessChunks", "Merge", "WaitForApproval", "Publish", "Published"]
    assert definition["TimeoutSeconds"] == 2 * 24 * 3600


def test_the_map_runs_chunks_at_a_bounded_concurrency_with_keys_only(states):
    process = states["ProcessChunks"]
    assert process["Type"] == "Map" and process["MaxConcurrency"] == 10
    assert process["ItemsPath"] == "$.chunks"
    assert process["ItemSelector"] == {
        "job_id.$": "$$.Execution.Name",
        "manifest_key.$": "$$.Map.Item.Value.manifest_key",
        "chunk.$": "$$.Map.Item.Value.chunk",
    }
    assert states["Split"]["ResultSelector"] == {"chunks.$": "$.chunks"}  # nothing but chunk keys moves on


def test_the_approval_waits_for_a_task_token_with_one_deadline_stated_in_its_message(raw, states):
    wait = states["WaitForApproval"]
    assert wait["Resource"] == "arn:<AWS::Partition>:states:::lambda:invoke.waitForTaskToken"
    # TimeoutSeconds is the deadline. No HeartbeatSeconds: nothing sends heartbeats while a person
    # decides, so a heartbeat shorter than the timeout would be the real (undocumented) deadline.
    assert wait["TimeoutSeconds"] == 24 * 3600 and "HeartbeatSeconds" not in wait and "HeartbeatSecondsPath" not in wait
    assert wait["Parameters"]["FunctionName"] == f"<{_function_id(raw, 'RequestApprovalFunction')}.Arn>"
    payload = wait["Parameters"]["Payload"]
    assert payload["task_token.$"] == "$$.Task.Token"
    # The function states the deadline in the message: when the state was entered plus its timeout.
    assert (payload["requested_at.$"], payload["timeout_seconds"]) == ("$$.State.EnteredTime", wait["TimeoutSeconds"])
    assert payload["attempt.$"] == "$$.State.RetryCount"  # a retried request's new token replaces the stored one
    timeouts = [c for c in wait["Catch"] if "States.Timeout" in c["ErrorEquals"]]
    assert timeouts and timeouts[0]["ErrorEquals"] == ["States.Timeout"] and timeouts[0]["Next"] == "RecordFailure"


def test_every_task_retries_transient_errors_only_with_backoff(states):
    for name in TASKS:
        throttled, other = states[name]["Retry"]
        assert set(throttled["ErrorEquals"]) | set(other["ErrorEquals"]) == TRANSIENT, name
        assert other["BackoffRate"] == 2 and other["MaxAttempts"] == 3 and other["IntervalSeconds"] == 2, name


def test_every_task_rides_out_a_burst_of_throttling(states):
    """A burst of uploads fills the account's concurrency with chunks for longer than three retries
    wait (in the local cloud, 60 uploads at once into a new account's 10 concurrent executions
    failed 13 jobs with Lambda.TooManyRequestsException; RecordFailure, which has no catch, throttled
    out would leave its job unfinished): throttling has a retrier of its own, first, with ten
    attempts doubling from 2 s to at most a minute (about six minutes), jittered so the throttled
    tasks of many jobs do not all come back at once."""
    for name in TASKS:
        throttled = states[name]["Retry"][0]
        assert throttled == {
            "ErrorEquals": ["Lambda.TooManyRequestsException"],
            "IntervalSeconds": 2,
            "MaxAttempts": 10,
            "BackoffRate": 2,
            "MaxDelaySeconds": 60,
            "JitterStrategy": "FULL",
        }, name
        waits = [min(2 * 2**attempt, 60) for attempt in range(throttled["MaxAttempts"])]
        assert 300 < sum(waits) < 400, name  # minutes of a full account, not the 14 s of the other retrier


def test_every_step_catches_to_record_failure_then_ends_by_status(states):
    for name in ("Split", "ProcessChunks", "Merge", "WaitForApproval", "Publish"):
        catches = states[name]["Catch"]
        assert catches[-1]["ErrorEquals"] == ["States.ALL"], name
        assert {c["Next"] for c in catches} == {"RecordFailure"} and {c["ResultPath"] for c in catches} == {
            "$.error"
        }, name
    assert "Catch" not in states["ProcessChunk"]  # the Map catches for its iterations
    assert states["RecordFailure"]["Parameters"] == {"job_id.$": "$$.Execution.Name", "error.$": "$.error"}
    choice = states[states["RecordFailure"]["Next"]]
    ends = {c["StringEquals"]: c["Next"] for c in choice["Choices"]}
    assert states[ends["EXPIRED"]] == {
        "Type": "Fail",
        "Error": "ApprovalExpired",
        "Cause": "Nobody answered the approval request in time",
    }
    assert states[ends["REJECTED"]]["Type"] == "Succeed"
    assert states[choice["Default"]]["Type"] == "Fail"


def _statements_of(raw: dict, function_construct: str) -> list[dict]:
    _, function = construct_resource(raw, "AWS::Lambda::Function", function_construct)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    found = []
    for lid, statement in policy_statements(raw):
        if lid == role_id:
            found.append(statement)
            continue
        policy = raw["Resources"][lid]
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in policy["Properties"]["Roles"]:
            found.append(statement)
    return found


def _grants(raw: dict, function_construct: str) -> dict[str, set[str]]:
    """action -> resources (as text) for one function's role, leaving out logs and X-Ray."""
    grants: dict[str, set[str]] = {}
    for statement in _statements_of(raw, function_construct):
        for action in as_list(statement["Action"]):
            if action.split(":")[0] in ("logs", "xray"):
                continue
            grants.setdefault(action, set()).update(_text(r) for r in as_list(statement["Resource"]))
    return grants


def _objects(prefix: str) -> str:
    return f"arn:<AWS::Partition>:s3:::standardworkflow-9edea4aa-data-<AWS::AccountId>-<AWS::Region>/{prefix}*"


BUCKET = "arn:<AWS::Partition>:s3:::standardworkflow-9edea4aa-data-<AWS::AccountId>-<AWS::Region>"


@pytest.mark.parametrize(
    ("function", "reads", "writes", "table", "others"),
    [
        ("SplitFunction", {"incoming/", "jobs/"}, {"jobs/"}, True, set()),
        ("ProcessChunkFunction", {"incoming/", "jobs/"}, {"jobs/"}, True, set()),
        ("MergeFunction", {"jobs/"}, {"jobs/"}, False, set()),
        ("RequestApprovalFunction", set(), set(), True, {"sns:Publish"}),
        ("PublishFunction", {"jobs/", "published/"}, {"published/"}, True, set()),
        ("RecordFailureFunction", set(), set(), True, set()),
    ],
)
def test_each_task_function_reaches_only_its_prefixes_and_the_jobs_table(raw, function, reads, writes, table, others):
    grants = _grants(raw, function)
    table_id, _ = construct_resource(raw, "AWS::DynamoDB::Table", "JobsTable")
    expected_actions = (
        ({"s3:ListBucket", "s3:GetObject"} if reads else set())
        | ({"s3:PutObject"} if writes else set())
        | ({"dynamodb:UpdateItem"} if table else set())
        | others
    )
    assert set(grants) == expected_actions
    if reads:
        assert grants["s3:GetObject"] == {_objects(p) for p in reads}
        assert grants["s3:ListBucket"] == {BUCKET}
    if writes:
        assert grants["s3:PutObject"] == {_objects(p) for p in writes}
    if table:
        assert grants["dynamodb:UpdateItem"] == {f"<{table_id}.Arn>"}
    if others:
        topic_id, _ = construct_resource(raw, "AWS::SNS::Topic", "ApprovalTopic")
        assert grants["sns:Publish"] == {f"<{topic_id}>"}


def test_the_start_function_only_starts_this_machine(raw, machine):
    grants = _grants(raw, "StartFunction")
    (machine_id,) = resources(raw, "AWS::StepFunctions::StateMachine")
    assert grants.pop("states:StartExecution") == {f"<{machine_id}>"}
    assert {a.split(":")[0] for a in grants} == {"sqs"}  # its failure queue and dead-letter queue, nothing else


def test_the_machine_invokes_only_its_task_functions(raw):
    (machine,) = resources(raw, "AWS::StepFunctions::StateMachine").values()
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    invoked: set[str] = set()
    for lid, statement in policy_statements(raw):
        policy = raw["Resources"][lid]
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in policy["Properties"]["Roles"]:
            if "lambda:InvokeFunction" in as_list(statement["Action"]):
                invoked.update(_text(r).split(".Arn>")[0].lstrip("<") for r in as_list(statement["Resource"]))
    expected = {
        _function_id(raw, f)
        for f in (
            "SplitFunction",
            "ProcessChunkFunction",
            "MergeFunction",
            "RequestApprovalFunction",
            "PublishFunction",
            "RecordFailureFunction",
        )
    }
    assert invoked == expected


def test_csv_uploads_under_incoming_start_jobs(raw):
    start_id = _function_id(raw, "StartFunction")
    _, bucket = construct_resource(raw, "AWS::S3::Bucket", "DataBucket")
    (config,) = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    assert config["Function"] == {"Fn::GetAtt": [start_id, "Arn"]}
    # A folder marker (incoming/) or another file type never invokes the start function.
    assert config["Filter"]["S3Key"]["Rules"] == [
        {"Name": "prefix", "Value": names.INCOMING_PREFIX},
        {"Name": "suffix", "Value": ".csv"},
    ]
    (invoke_config,) = [
        c
        for c in resources(raw, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": start_id}
    ]
    assert "OnFailure" in invoke_config["Properties"]["DestinationConfig"]


def test_the_approval_topic_is_encrypted_and_tls_only(raw):
    topic_id, topic = construct_resource(raw, "AWS::SNS::Topic", "ApprovalTopic")
    assert _text(topic["Properties"]["KmsMasterKeyId"]).endswith(":alias/aws/sns")
    (policy,) = [
        p for p in resources(raw, "AWS::SNS::TopicPolicy").values() if {"Ref": topic_id} in p["Properties"]["Topics"]
    ]
    (deny,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_outputs_name_every_entry_point(raw):
    assert {
        names.BUCKET_OUTPUT,
        names.UPLOAD_PREFIX_OUTPUT,
        names.STATE_MACHINE_ARN_OUTPUT,
        names.JOBS_TABLE_OUTPUT,
        names.APPROVAL_TOPIC_OUTPUT,
        names.START_FUNCTION_OUTPUT,
    } <= set(raw["Outputs"])
    assert raw["Outputs"][names.UPLOAD_PREFIX_OUTPUT]["Value"] == names.INCOMING_PREFIX
