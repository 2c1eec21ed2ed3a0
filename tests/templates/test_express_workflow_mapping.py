"""ExpressWorkflow's mapping templates, rendered against StartSyncExecution's documented responses.

Response fields (StartSyncExecution API reference): executionArn, stateMachineArn, name, status
(SUCCEEDED | FAILED | TIMED_OUT), output (a JSON string), error, cause, startDate, stopDate,
billingDetails. The integration answers HTTP 200 for every outcome, so the response template alone
decides the client's status code.
"""

from __future__ import annotations

import json

import pytest

from express_workflow import names
from localcloud.vtl import render
from stacks.express_workflow_templates import load, response

MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:ExpressWorkflow-OrderCheck"
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def _sync_response(status: str, **fields) -> dict:
    return {
        "executionArn": f"arn:aws:states:eu-west-1:123456789012:express:ExpressWorkflow-OrderCheck:{REQUEST_ID}:1d2c",
        "stateMachineArn": MACHINE,
        "name": REQUEST_ID,
        "status": status,
        "startDate": 1795341600.123,
        "stopDate": 1795341600.456,
        "input": "{}",
        "inputDetails": {"included": True},
        "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 400},
        **fields,
    }


def respond(sync: dict):
    return render(response(names.REJECTED_OUTCOME), body=sync, context={"requestId": REQUEST_ID})


def test_request_passes_the_body_as_the_execution_input_and_names_the_machine():
    order = {"customer_id": "c-1", "note": 'O\'Brien said "rush" \\ ok', "items": [{"sku": "A-1", "quantity": 2}]}
    rendered = render(load("request.vtl", StateMachineArn=MACHINE), body=order, context={"requestId": REQUEST_ID})
    request = rendered.json()
    assert request["stateMachineArn"] == MACHINE
    assert request["name"] == REQUEST_ID
    assert json.loads(request["input"]) == order


def test_load_refuses_an_unknown_placeholder():
    with pytest.raises(KeyError):
        load("request.vtl", Nope="x")


def test_succeeded_returns_the_machine_output_as_a_200_body():
    output = {"order_id": "o-1", "total": "21.40", "fraud": {"score": 12}}
    rendered = respond(_sync_response("SUCCEEDED", output=json.dumps(output), outputDetails={"included": True}))
    assert rendered.status is None  # the integration response's own 200
    assert rendered.json() == output


def _rejected(details: list[dict]) -> dict:
    return {
        "outcome": names.REJECTED_OUTCOME,
        "error": "VALIDATION_FAILED",
        "message": "The order is not valid.",
        "details": details,
    }


def test_a_rejected_order_is_a_successful_run_answered_with_a_400_in_the_project_error_shape():
    details = [
        {"field": "items[0].quantity", "problem": "must be at least 1"},
        {"field": "currency", "problem": "must be one of EUR, GBP, USD"},
    ]
    rendered = respond(
        _sync_response("SUCCEEDED", output=json.dumps(_rejected(details)), outputDetails={"included": True})
    )
    assert rendered.status == 400
    assert rendered.json() == {"error": "VALIDATION_FAILED", "message": "The order is not valid.", "details": details}


def test_a_rejection_with_no_details_is_still_a_400_with_valid_json():
    rendered = respond(_sync_response("SUCCEEDED", output=json.dumps(_rejected([]))))
    assert rendered.status == 400
    assert rendered.json() == {"error": "VALIDATION_FAILED", "message": "The order is not valid.", "details": []}


@pytest.mark.parametrize(
    "text",
    ['O\'Brien "quoted" \\ back/slash', "tab\there\nnew line \u0001", "é€ 😀 中文", "lone \ud800 surrogate"],
    ids=["quotes-backslash-slash", "controls", "non-ascii", "lone-surrogate"],
)
def test_a_rejections_strings_are_escaped_into_valid_json(text):
    """The details can name what the client sent: any string must come out as the same JSON string."""
    details = [{"field": text, "problem": text}]
    output = json.dumps({**_rejected(details), "message": text})  # Step Functions' output: JSON text
    rendered = respond(_sync_response("SUCCEEDED", output=output))
    assert rendered.status == 400
    assert rendered.json() == {"error": "VALIDATION_FAILED", "message": text, "details": details}


def test_only_the_rejected_outcome_is_a_400():
    output = {"customer_id": "c-1", "decision": "REVIEW", "outcome": "accepted"}
    rendered = respond(_sync_response("SUCCEEDED", output=json.dumps(output)))
    assert rendered.status is None and rendered.json() == output


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (
            "States.TaskFailed",
            '{"errorMessage": "boom \\"quoted\\"", "errorType": "RuntimeError", "stackTrace": ["..."]}',
        ),
        ("Lambda.ServiceException", "Lambda was unable to process the request"),
        ("TransientError", "stock service throttled"),
        ('It\'s "odd"', ""),
    ],
)
def test_a_task_failure_is_a_502_naming_the_error_not_the_cause(error, cause):
    rendered = respond(_sync_response("FAILED", error=error, cause=cause))
    assert rendered.status == 502
    body = rendered.json()
    assert body["error"] == "WORKFLOW_FAILED"
    assert error in body["message"] and REQUEST_ID in body["message"]
    assert "stackTrace" not in body["message"] and "throttled" not in body["message"]


def test_a_timeout_is_a_504():
    rendered = respond(_sync_response("TIMED_OUT", error="States.Timeout", cause="The execution timed out"))
    assert rendered.status == 504
    assert rendered.json()["error"] == "WORKFLOW_TIMED_OUT"


def test_an_aborted_or_unknown_outcome_is_a_502_never_a_200():
    for status in ("ABORTED", "SOMETHING_NEW"):
        rendered = respond(_sync_response(status))
        assert rendered.status == 502
        assert rendered.json() == {
            "error": "WORKFLOW_FAILED",
            "message": f"The workflow failed ({status}); request id {REQUEST_ID}.",
        }


@pytest.mark.parametrize(
    ("aws_error", "status", "code"),
    [
        (
            {"__type": "com.amazonaws.swf.service.v2.model#ThrottlingException", "message": "Rate exceeded"},
            503,
            "WORKFLOW_BUSY",
        ),
        (
            {"__type": "com.amazonaws.swf.service.v2.model#InvalidExecutionInput", "message": "too large"},
            502,
            "WORKFLOW_NOT_STARTED",
        ),
        ({"__type": "AccessDeniedException", "Message": "not authorized"}, 502, "WORKFLOW_NOT_STARTED"),
    ],
)
def test_a_refused_start_is_a_json_5xx(aws_error, status, code):
    rendered = render(load("start_failed.vtl"), body=aws_error, context={"requestId": REQUEST_ID})
    assert rendered.status == status
    assert rendered.json()["error"] == code
