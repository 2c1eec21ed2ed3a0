"""ExpressWorkflow: what makes the synchronous Express workflow pattern correct, beyond the snapshot."""

from __future__ import annotations

import json

import jsonschema
import pytest
from aws_cdk import App, Duration

from express_workflow import names
from express_workflow.orders import MAX_LINE_ITEMS
from shared.commerce import MAX_QUANTITY, MONEY_PATTERN
from stacks.express_workflow import COLD_START_ESTIMATE_SECONDS, ExpressWorkflowStack
from stacks.express_workflow_templates import load, response
from stacks.shared.api import API_GATEWAY_INTEGRATION_LIMIT
from stacks.shared.state_machine import TRANSIENT_TASK_ERRORS
from tests.templates.helpers import (
    as_list,
    find_logical_id,
    only_model_schema,
    policy_statements,
    ref_target,
    resources,
    validated_body_model,
)

VALID_ORDER = {
    "customer_id": "c-42",
    "currency": "EUR",
    "items": [{"sku": "A-1", "quantity": 3, "unit_price": "12.50"}],
}
FUNCTIONS = ("ValidateFunction", "PriceFunction", "StockFunction", "FraudFunction", "AssembleFunction")


@pytest.fixture(scope="module")
def raw(templates) -> dict:
    return templates["ExpressWorkflow"]


@pytest.fixture(scope="module")
def machine(raw) -> tuple[str, dict]:
    ((logical_id, resource),) = resources(raw, "AWS::StepFunctions::StateMachine").items()
    return logical_id, resource["Properties"]


def _definition(raw: dict, machine_props: dict) -> dict:
    """The definition with each function's GetAtt replaced by its logical id."""
    separator, parts = machine_props["DefinitionString"]["Fn::Join"]
    text = separator.join(part if isinstance(part, str) else part["Fn::GetAtt"][0] for part in parts)
    return json.loads(text)


@pytest.fixture(scope="module")
def definition(raw, machine) -> dict:
    return _definition(raw, machine[1])


def _states(definition: dict) -> dict:
    states = dict(definition["States"])
    for state in definition["States"].values():
        for branch in state.get("Branches", []):
            states.update(_states(branch))
    return states


def _function_id(raw: dict, prefix: str) -> str:
    return find_logical_id(raw, "AWS::Lambda::Function", prefix)


def _method(raw: dict) -> dict:
    (method,) = resources(raw, "AWS::ApiGateway::Method").values()
    return method["Properties"]


# --- the state machine -------------------------------------------------------------------------


def test_machine_is_express_with_a_timeout_under_api_gateways_limit(machine, definition):
    _, props = machine
    assert props["StateMachineType"] == "EXPRESS"
    assert 0 < definition["TimeoutSeconds"] < 29


def test_machine_logs_to_a_vended_log_group_and_is_traced(raw, machine):
    _, props = machine
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ERROR" and logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    log_group = ref_target(raw, destination["CloudWatchLogsLogGroup"]["LogGroupArn"])
    assert log_group["Properties"]["LogGroupName"].startswith("/aws/vendedlogs/states/")
    assert log_group["Properties"]["RetentionInDays"] > 0


def test_flow_is_validate_choice_rejected_or_parallel_then_assemble(raw, definition):
    states = definition["States"]
    assert definition["StartAt"] == "Validate"
    assert states["Validate"]["Resource"] == _function_id(raw, "ValidateFunction")
    choice = states[states["Validate"]["Next"]]
    assert choice["Type"] == "Choice"
    (rule,) = choice["Choices"]
    assert (rule["Variable"], rule["BooleanEquals"]) == ("$.valid", False)
    # A rejected order ends the run successfully, its output the rejection the Validate function wrote.
    assert states[rule["Next"]] == {"Type": "Succeed", "OutputPath": "$.rejection"}
    parallel = states[choice["Default"]]
    assert parallel["Type"] == "Parallel" and parallel["ResultPath"] == "$.results"
    branches = [branch["States"][branch["StartAt"]]["Resource"] for branch in parallel["Branches"]]
    # Branch order is the order Assemble reads results in: pricing, stock, fraud.
    assert branches == [_function_id(raw, p) for p in ("PriceFunction", "StockFunction", "FraudFunction")]
    assemble = states[parallel["Next"]]
    assert assemble["Resource"] == _function_id(raw, "AssembleFunction") and assemble["End"] is True


def _reachable(states: dict, start: str) -> set[str]:
    """Every state a run can reach from `start` (Next, Default, Choices, Catch), branches included."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        todo += [n for n in (state.get("Next"), state.get("Default")) if n]
        todo += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
        for branch in state.get("Branches", []):
            todo.append(branch["StartAt"])
    return seen


def test_no_fail_state_is_reachable_for_a_rejected_order_or_at_all(definition):
    """A client's bad order is a successful run: ExecutionsFailed (and its alarm) means something broke."""
    states = _states(definition)
    choice = states[states["Validate"]["Next"]]
    (rule,) = choice["Choices"]
    rejected_path = _reachable(states, rule["Next"])
    assert all(states[name]["Type"] != "Fail" for name in rejected_path)
    assert [name for name in _reachable(states, definition["StartAt"]) if states[name]["Type"] == "Fail"] == []


def test_every_task_retries_only_transient_errors_and_its_timeout_with_jittered_backoff(definition):
    tasks = {name: state for name, state in _states(definition).items() if state["Type"] == "Task"}
    assert set(tasks) == {"Validate", "Price", "Stock", "Fraud", "Assemble"}
    for name, task in tasks.items():
        (retry,) = task["Retry"]
        assert sorted(retry["ErrorEquals"]) == sorted([*TRANSIENT_TASK_ERRORS, "States.Timeout"]), name
        assert "States.ALL" not in retry["ErrorEquals"] and "States.TaskFailed" not in retry["ErrorEquals"]
        assert retry["JitterStrategy"] == "FULL" and retry["BackoffRate"] > 1 and retry["MaxAttempts"] >= 1
        assert 0 < task["TimeoutSeconds"] < definition["TimeoutSeconds"]
        assert "Catch" not in task  # a failure fails the run, and the API answers it as a 5xx


def test_a_tasks_timeout_covers_a_cold_start_with_margin_and_its_functions_own_timeout(raw, definition):
    """States.Timeout means the invocation, cold start included, overran: the task waits longer
    than the function's own timeout (which bounds only the handler) and 1.5x the cold start estimate."""
    states = _states(definition)
    for name, prefix in (
        ("Validate", "ValidateFunction"),
        ("Price", "PriceFunction"),
        ("Stock", "StockFunction"),
        ("Fraud", "FraudFunction"),
        ("Assemble", "AssembleFunction"),
    ):
        function_timeout = raw["Resources"][_function_id(raw, prefix)]["Properties"]["Timeout"]
        assert states[name]["TimeoutSeconds"] > function_timeout, name
        assert states[name]["TimeoutSeconds"] >= 1.5 * COLD_START_ESTIMATE_SECONDS, name
        assert raw["Resources"][_function_id(raw, prefix)]["Properties"]["MemorySize"] == 256


def _worst_seconds(states: dict, name: str | None) -> float:
    """The longest a run can spend from state `name` on: every task attempt up to its timeout, the
    longest backoff before each retry, a Parallel as long as its longest branch, a Choice its longest way."""
    if name is None:
        return 0.0
    state = states[name]
    own = 0.0
    if state["Type"] == "Task":
        attempts = 1 + sum(r.get("MaxAttempts", 3) for r in state.get("Retry", []))
        own = attempts * state["TimeoutSeconds"]
        for retry in state.get("Retry", []):
            interval, rate, cap = (
                retry.get("IntervalSeconds", 1),
                retry.get("BackoffRate", 2.0),
                retry.get("MaxDelaySeconds", float("inf")),
            )
            own += sum(min(interval * rate**k, cap) for k in range(retry.get("MaxAttempts", 3)))
    elif state["Type"] == "Parallel":
        own = max(_worst_seconds(branch["States"], branch["StartAt"]) for branch in state["Branches"])
    nexts = [state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Choices", []))]
    return own + max(_worst_seconds(states, n) for n in nexts if n) if any(nexts) else own


def test_every_retry_of_every_stage_fits_in_the_machine_timeout_under_api_gateways(definition):
    worst = _worst_seconds(definition["States"], definition["StartAt"])
    assert worst > 3 * 4  # three stages of at least one 4 s attempt: the walk saw them all
    assert worst <= definition["TimeoutSeconds"] < API_GATEWAY_INTEGRATION_LIMIT.to_seconds() == 29


def test_transient_errors_are_lambdas_own_and_the_shared_transient_error():
    from shared.errors import TransientError

    assert set(TRANSIENT_TASK_ERRORS) == {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        TransientError.__name__,
    }


def test_workflow_timeout_must_stay_under_api_gateways_limit():
    with pytest.raises(ValueError, match="29 s"):
        ExpressWorkflowStack(App(), "TooSlow", workflow_timeout=Duration.seconds(30))


@pytest.mark.parametrize(
    ("props", "match"),
    [
        ({"retry_attempts": 2}, "do not fit in workflow_timeout"),
        ({"task_timeout": Duration.seconds(6)}, "do not fit in workflow_timeout"),
        ({"task_timeout": Duration.seconds(3)}, "cold start"),
        ({"function_timeout": Duration.seconds(4)}, "shorter than task_timeout"),
    ],
    ids=["too-many-retries", "too-long-tasks", "no-cold-start-margin", "function-outlasts-task"],
)
def test_timeouts_and_retries_that_cannot_fit_are_refused(props, match):
    with pytest.raises(ValueError, match=match):
        ExpressWorkflowStack(App(), "Unfit", **props)


# --- the API -----------------------------------------------------------------------------------


def test_the_route_is_iam_authorized_and_starts_the_machine_synchronously(raw, machine):
    props = _method(raw)
    assert props["AuthorizationType"] == "AWS_IAM" and props["HttpMethod"] == "POST"
    assert ref_target(raw, props["ResourceId"])["Properties"]["PathPart"] == "check"
    integration = props["Integration"]
    assert integration["Type"] == "AWS" and integration["IntegrationHttpMethod"] == "POST"
    assert "states:action/StartSyncExecution" in json.dumps(integration["Uri"])
    assert integration["PassthroughBehavior"] == "NEVER"  # no unmapped body reaches Step Functions


def test_the_integration_role_may_only_start_this_machine_synchronously(raw, machine):
    role_id = _method(raw)["Integration"]["Credentials"]["Fn::GetAtt"][0]
    role = raw["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    statements = [s for lid, s in policy_statements(raw) if lid != role_id and _attached_to(raw, lid, role_id)]
    assert statements == [{"Action": "states:StartSyncExecution", "Effect": "Allow", "Resource": {"Ref": machine[0]}}]


def _attached_to(raw: dict, policy_id: str, role_id: str) -> bool:
    policy = raw["Resources"][policy_id]
    return policy["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in policy["Properties"]["Roles"]


def test_request_template_is_the_projects_with_the_machine_arn(raw, machine):
    request = _method(raw)["Integration"]["RequestTemplates"]["application/json"]
    separator, parts = request["Fn::Join"]
    assert {"Ref": machine[0]} in parts
    rendered = separator.join(p if isinstance(p, str) else "${StateMachineArn}" for p in parts)
    assert rendered == load("request.vtl", StateMachineArn="${StateMachineArn}")


def test_responses_use_the_projects_templates_and_no_200_for_a_refused_start(raw):
    responses = {r["StatusCode"]: r for r in _method(raw)["Integration"]["IntegrationResponses"]}
    assert set(responses) == {"200", "502"}
    assert "SelectionPattern" not in responses["200"]  # the default: StartSyncExecution answered 2xx
    assert responses["200"]["ResponseTemplates"] == {"application/json": response(names.REJECTED_OUTCOME)}
    assert responses["502"]["SelectionPattern"] == r"[45]\d{2}"
    assert responses["502"]["ResponseTemplates"] == {"application/json": load("start_failed.vtl")}
    method_codes = {r["StatusCode"] for r in _method(raw)["MethodResponses"]}
    assert method_codes == {"200", "400", "502", "503", "504"}


def test_body_is_validated_against_the_order_model(raw):
    validated_body_model(raw, _method(raw))


@pytest.fixture(scope="module")
def request_schema(raw) -> dict:
    return only_model_schema(raw)


@pytest.mark.parametrize(
    "body",
    [
        {k: v for k, v in VALID_ORDER.items() if k != "items"},
        {**VALID_ORDER, "coupon": "FREE"},
        {**VALID_ORDER, "items": []},
        {**VALID_ORDER, "items": [{"sku": "A", "quantity": "2", "unit_price": "1.00"}]},
        {**VALID_ORDER, "items": [{"sku": "A", "quantity": 2, "unit_price": 1.5}]},
        {**VALID_ORDER, "customer_id": 42},
        [VALID_ORDER],
    ],
    ids=["missing-items", "extra-field", "no-items", "quantity-as-string", "price-as-number", "id-as-number", "array"],
)
def test_request_model_rejects_malformed_bodies(request_schema, body):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(request_schema).validate(body)


def test_request_model_accepts_a_valid_order_and_has_the_handlers_limits(request_schema):
    jsonschema.Draft4Validator(request_schema).validate(VALID_ORDER)
    item = request_schema["properties"]["items"]["items"]["properties"]
    assert item["unit_price"]["pattern"] == MONEY_PATTERN
    assert (item["quantity"]["minimum"], item["quantity"]["maximum"]) == (1, MAX_QUANTITY)
    assert request_schema["properties"]["items"]["maxItems"] == MAX_LINE_ITEMS


# --- IAM and outputs ---------------------------------------------------------------------------


def test_functions_may_write_their_logs_and_nothing_else(raw):
    """Task functions compute from their input: no grant beyond logs and X-Ray."""
    for prefix in FUNCTIONS:
        function = raw["Resources"][_function_id(raw, prefix)]["Properties"]
        role_id = function["Role"]["Fn::GetAtt"][0]
        actions = {
            a
            for lid, s in policy_statements(raw)
            if lid == role_id or _attached_to(raw, lid, role_id)
            for a in as_list(s["Action"])
        }
        assert actions <= {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
        }, (prefix, actions)


def test_the_machine_may_invoke_exactly_its_five_functions(raw, machine):
    role_id = machine[1]["RoleArn"]["Fn::GetAtt"][0]
    invoke = [
        s
        for lid, s in policy_statements(raw)
        if _attached_to(raw, lid, role_id) and "lambda:InvokeFunction" in as_list(s["Action"])
    ]
    targets = {json.dumps(r) for s in invoke for r in as_list(s["Resource"])}
    expected = set()
    for prefix in FUNCTIONS:
        arn = {"Fn::GetAtt": [_function_id(raw, prefix), "Arn"]}
        expected |= {json.dumps(arn), json.dumps({"Fn::Join": ["", [arn, ":*"]]})}
    assert targets == expected
    assert all(as_list(s["Action"]) == ["lambda:InvokeFunction"] for s in invoke)


def test_assemble_gets_its_threshold(raw):
    env = raw["Resources"][_function_id(raw, "AssembleFunction")]["Properties"]["Environment"]["Variables"]
    assert int(env[names.MAX_FRAUD_SCORE_ENV]) > 0


def test_outputs_name_the_entry_points(raw):
    outputs = raw["Outputs"]
    assert {names.API_URL_OUTPUT, names.ORDER_CHECK_URL_OUTPUT, names.STATE_MACHINE_ARN_OUTPUT} <= set(outputs)
    assert "orders/check" in json.dumps(outputs[names.ORDER_CHECK_URL_OUTPUT]["Value"])
