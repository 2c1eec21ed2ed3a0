"""Step Functions: machines run with their declared type; task tokens answered through the API."""

from __future__ import annotations

import json

import pytest

from localcloud import Deployment, start_sync_execution, wait_for, wait_for_execution


@pytest.fixture(scope="module")
def stack(deploy, fixture_assembly) -> Deployment:
    return deploy(fixture_assembly, "WorkflowFixture")


def machine_arn(stack: Deployment, prefix: str) -> str:
    return stack.state_machine_arn(prefix)


def test_machines_keep_their_declared_type(stack):
    sfn = stack.client("stepfunctions")
    assert sfn.describe_state_machine(stateMachineArn=machine_arn(stack, "Express"))["type"] == "EXPRESS"
    assert sfn.describe_state_machine(stateMachineArn=machine_arn(stack, "Standard"))["type"] == "STANDARD"


def test_express_machine_runs_synchronously_through_the_real_function(stack):
    result = start_sync_execution(machine_arn(stack, "Express"), {"value": 21})
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"value": 42}


def test_sync_start_of_a_standard_machine_is_refused(stack):
    with pytest.raises(ValueError, match="StateMachineTypeNotSupported"):
        start_sync_execution(machine_arn(stack, "Standard"), {})


def _start_and_get_token(stack: Deployment, request: dict) -> tuple[str, str]:
    sfn = stack.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=machine_arn(stack, "Standard"), name=request["id"], input=json.dumps(request)
    )
    token = wait_for(lambda: [m["body"]["payload"] for m in stack.messages("Evidence") if m["body"]["kind"] == "token"])
    (payload,) = token
    assert payload["request"] == request
    return execution["executionArn"], payload["token"]


def test_task_token_success_resumes_the_execution(stack):
    execution_arn, token = _start_and_get_token(stack, {"id": "approve-1"})
    assert stack.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    stack.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps({"approved": True}))
    execution = wait_for_execution(execution_arn)
    assert (execution["status"], json.loads(execution["output"])) == ("SUCCEEDED", {"approved": True})


def test_task_token_failure_fails_the_execution(stack):
    execution_arn, token = _start_and_get_token(stack, {"id": "reject-1"})
    stack.client("stepfunctions").send_task_failure(taskToken=token, error="Rejected", cause="not in budget")
    execution = wait_for_execution(execution_arn)
    assert (execution["status"], execution.get("error"), execution.get("cause")) == (
        "FAILED",
        "Rejected",
        "not in budget",
    )


def test_sync_start_takes_the_request_as_a_mapping_template_renders_it(stack):
    """API Gateway sends StartSyncExecution a name and the input as a JSON string: both pass as is."""
    result = start_sync_execution(machine_arn(stack, "Express"), name="api-request-1", input_text='{"value": 4}')
    assert (result["status"], result["name"], json.loads(result["output"])) == (
        "SUCCEEDED",
        "api-request-1",
        {"value": 8},
    )
    assert result["stateMachineArn"] == machine_arn(stack, "Express") and result["input"] == '{"value": 4}'


def test_sync_start_refuses_two_inputs(stack):
    with pytest.raises(ValueError, match="not both"):
        start_sync_execution(machine_arn(stack, "Express"), {"value": 1}, input_text="{}")


def test_resolve_joins_deployed_values(stack):
    (logical_id,) = [
        lid
        for lid in stack.template["Resources"]
        if lid.startswith("Express") and stack.template["Resources"][lid]["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    joined = stack.resolve({"Fn::Join": ["|", ["machine", {"Ref": logical_id}]]})
    assert joined == f"machine|{machine_arn(stack, 'Express')}"


def test_a_token_answered_before_the_heartbeat_clock_starts_still_resumes_the_task(stack):
    """moto sets up a task's heartbeat wait only after its Lambda call returns: an answer sent in
    between must not be lost (it was: the task then failed with States.HeartbeatTimeout)."""
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint, CallbackOutcomeSuccess

    endpoint = CallbackEndpoint(callback_id="answered-early")
    endpoint.notify(CallbackOutcomeSuccess(callback_id="answered-early", output="{}"))
    heartbeat = endpoint.setup_heartbeat_endpoint(heartbeat_seconds=2)
    assert heartbeat.clear_and_wait() is True  # moto alone: waits the 2 s and returns False


def test_a_retried_wait_for_token_task_gets_a_fresh_token_and_the_old_one_is_closed(stack):
    """Step Functions retries a waitForTaskToken task by calling it again with a NEW token; the
    superseded token belongs to a closed task: answering it is TaskTimedOut, and only the new one
    resumes the execution. (moto alone hands every attempt the first attempt's token.)"""
    sfn = stack.client("stepfunctions")
    fault = stack.inject_failure(
        "HandOutToken", times=1, after_handler=True
    )  # the token was handed out, then the call failed
    execution = sfn.start_execution(
        stateMachineArn=machine_arn(stack, "Standard"), name="retried-1", input=json.dumps({"id": "retried-1"})
    )
    seen: list[str] = []

    def two_tokens() -> list[str]:
        seen.extend(m["body"]["payload"]["token"] for m in stack.messages("Evidence") if m["body"]["kind"] == "token")
        return seen if len(seen) >= 2 else []

    first, second = wait_for(two_tokens, what="a token per attempt")
    assert fault.injected == 1 and first != second
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=first, output=json.dumps({"approved": "stale"}))
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_failure(taskToken=first, error="Rejected", cause="stale")
    assert sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "RUNNING"
    sfn.send_task_success(taskToken=second, output=json.dumps({"approved": True}))
    finished = wait_for_execution(execution["executionArn"])
    assert (finished["status"], json.loads(finished["output"])) == ("SUCCEEDED", {"approved": True})


def test_an_answered_token_is_closed(stack):
    """A second answer to a task that already ended is TaskTimedOut, as in AWS, not a silent no-op."""
    execution_arn, token = _start_and_get_token(stack, {"id": "answer-twice"})
    sfn = stack.client("stepfunctions")
    sfn.send_task_success(taskToken=token, output="{}")
    wait_for_execution(execution_arn)
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_failure(taskToken=token, error="Rejected", cause="too late")


def test_a_second_answer_right_after_the_first_is_refused_and_the_first_stands(stack):
    """Two people answer one approval at once: Step Functions takes the first answer and refuses
    the second with TaskTimedOut. (moto alone keeps the token open until the execution's thread
    reads the answer, so a second answer in between was accepted and replaced the first.)"""
    execution_arn, token = _start_and_get_token(stack, {"id": "answer-twice-at-once"})
    sfn = stack.client("stepfunctions")
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_failure(taskToken=token, error="Rejected", cause="second answer")
    finished = wait_for_execution(execution_arn)
    assert (finished["status"], json.loads(finished["output"])) == ("SUCCEEDED", {"approved": True})
