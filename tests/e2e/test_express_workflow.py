"""ExpressWorkflow end to end: the deployed machine run as API Gateway would run it.

moto has no API Gateway integrations, so each request goes the way the deployed method sends it:
the method's own request template (read from the deployed template, not from the .vtl file)
renders the StartSyncExecution request with localcloud.vtl; LocalCloud runs the Express
machine synchronously with the real handlers; the method's own 200 integration response renders
the client's answer from StartSyncExecution's answer.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from express_workflow import names
from localcloud import Deployment
from localcloud.vtl import Rendered, render
from tests.oracles import order_check

REQUEST_ID = "0f6a2c1e-5b7d-4e1a-9c3b-2d4e6f8a0b1c"
ORDER = {
    "customer_id": "c-42",
    "currency": "EUR",
    "items": [
        {"sku": "A-1", "quantity": 3, "unit_price": "12.50"},
        {"sku": "B-2", "quantity": 1, "unit_price": "4.00"},
    ],
}


@pytest.fixture(scope="module")
def stack(deploy, cloud_assembly) -> Deployment:
    return deploy(cloud_assembly.directory, "ExpressWorkflow")


@pytest.fixture(autouse=True)
def no_leftover_faults(stack):
    yield
    stack.cloud.runtime.faults.clear()


@pytest.fixture(scope="module")
def method(stack) -> dict:
    (props,) = [r["Properties"] for r in stack.template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Method"]
    return props


@pytest.fixture(scope="module")
def request_schema(stack) -> dict:
    (model,) = [r["Properties"] for r in stack.template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Model"]
    return model["Schema"]


def call(stack: Deployment, method: dict, body: dict, *, request_id: str = REQUEST_ID) -> tuple[Rendered, dict]:
    """POST /orders/check as the deployed integration does it: (client answer, StartSyncExecution answer)."""
    integration = method["Integration"]
    request_template = stack.resolve(integration["RequestTemplates"]["application/json"])
    start = render(request_template, body=body, context={"requestId": request_id}).json()
    assert start["stateMachineArn"] == stack.outputs[names.STATE_MACHINE_ARN_OUTPUT]
    run = stack.cloud.start_sync_execution(start["stateMachineArn"], name=start["name"], input_text=start["input"])
    (ok,) = [r for r in integration["IntegrationResponses"] if r["StatusCode"] == "200"]
    wire = json.dumps(run, default=lambda value: value.timestamp())  # the API's JSON: dates in epoch seconds
    answer = render(ok["ResponseTemplates"]["application/json"], body=wire, context={"requestId": request_id})
    return answer, run


def max_fraud_score(stack: Deployment) -> int:
    env = stack.properties("AWS::Lambda::Function", "AssembleFunction")["Environment"]["Variables"]
    return int(env[names.MAX_FRAUD_SCORE_ENV])


def test_a_valid_order_is_a_200_with_the_assembled_answer(stack, method, request_schema):
    jsonschema.Draft4Validator(request_schema).validate(ORDER)  # API Gateway lets it through
    answer, run = call(stack, method, ORDER)
    assert run["status"] == "SUCCEEDED" and run["name"] == REQUEST_ID  # the execution is named after the API request
    assert answer.status is None  # the integration response's own 200
    assert answer.json() == order_check(ORDER, max_fraud_score=max_fraud_score(stack))
    assert answer.json()["subtotal"] == "41.50"


def test_short_stock_and_a_big_order_go_to_review(stack, method):
    order = {
        **ORDER,
        "items": [
            {"sku": "B-2", "quantity": 6, "unit_price": "999.00"},
            {"sku": "C-3", "quantity": 1, "unit_price": "1.00"},
        ],
    }
    answer, _ = call(stack, method, order, request_id="req-review")
    assert answer.status is None
    body = answer.json()
    assert body == order_check(order, max_fraud_score=max_fraud_score(stack))
    assert body["decision"] == "REVIEW" and set(body["reasons"]) == {"OUT_OF_STOCK", "FRAUD_RISK"}


@pytest.mark.parametrize(
    ("order", "field"),
    [
        ({**ORDER, "currency": "JPY"}, "currency"),
        ({**ORDER, "items": [{"sku": "A-1", "quantity": 1, "unit_price": "0"}]}, "items[0].unit_price"),
        ({**ORDER, "customer_id": "C-\ud800"}, "customer_id"),  # a client's "\ud800" escape: not text
    ],
    ids=["unknown-currency", "zero-price", "lone-surrogate"],
)
def test_an_order_the_model_lets_through_but_validation_refuses_is_a_400_from_a_successful_run(
    stack, method, request_schema, order, field
):
    jsonschema.Draft4Validator(request_schema).validate(order)  # well-formed: only the Validate state can refuse it
    answer, run = call(stack, method, order, request_id=f"req-{field}")
    assert answer.status == 400
    body = answer.json()
    assert body["error"] == "VALIDATION_FAILED" and body["message"]
    assert [d["field"] for d in body["details"]] == [field]
    assert set(body) == {"error", "message", "details"}  # the project's error shape, nothing of the run's
    # A client's bad order is not a failed execution: ExecutionsFailed (and its alarm) stays for what broke.
    execution = stack.client("stepfunctions").describe_execution(executionArn=run["executionArn"])
    assert execution["status"] == run["status"] == "SUCCEEDED"
    assert "error" not in execution and json.loads(execution["output"])["outcome"] == names.REJECTED_OUTCOME


def test_a_permanent_task_failure_is_a_502_naming_the_error_and_is_not_retried(stack, method):
    fault = stack.inject_failure(
        "PriceFunction", error_type="MalformedData", message="price feed returned garbage", times=5
    )
    answer, run = call(stack, method, ORDER, request_id="req-permanent")
    assert (run["status"], run["error"]) == ("FAILED", "MalformedData")
    assert fault.injected == 1  # MalformedData is not in the Retry list
    assert answer.status == 502
    body = answer.json()
    assert body["error"] == "WORKFLOW_FAILED"
    assert "MalformedData" in body["message"] and "req-permanent" in body["message"]
    assert "garbage" not in body["message"]  # the cause stays in the logs


def test_a_transient_failure_is_retried_and_the_caller_gets_a_200(stack, method):
    fault = stack.inject_failure("StockFunction", error_type="TransientError", message="inventory throttled")
    answer, run = call(stack, method, ORDER, request_id="req-transient")
    assert fault.injected == 1
    assert run["status"] == "SUCCEEDED"
    assert answer.status is None
    assert answer.json() == order_check(ORDER, max_fraud_score=max_fraud_score(stack))


def test_a_transient_failure_that_outlasts_the_retries_is_a_502(stack, method):
    retry = _retry_of(stack, "Fraud")
    fault = stack.inject_failure("FraudFunction", error_type="TransientError", times=retry["MaxAttempts"] + 5)
    answer, run = call(stack, method, ORDER, request_id="req-exhausted")
    assert fault.injected == retry["MaxAttempts"] + 1  # the first attempt and every retry, then no more
    assert (run["status"], run["error"]) == ("FAILED", "TransientError")
    assert answer.status == 502 and "TransientError" in answer.json()["message"]


def _retry_of(stack: Deployment, state: str) -> dict:
    definition = stack.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.outputs[names.STATE_MACHINE_ARN_OUTPUT]
    )["definition"]
    states = json.loads(definition)["States"]
    for branch in states["CheckOrder"]["Branches"]:
        states.update(branch["States"])
    (retry,) = states[state]["Retry"]
    return retry
