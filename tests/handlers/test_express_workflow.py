"""ExpressWorkflow's task handlers, driven state by state as the workflow would."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from express_workflow import handler, names
from shared.errors import MalformedData
from tests.handlers.fuzz import any_text, assert_runtime_serialisable, fuzz_settings, json_values, mutated

ORDER = {
    "customer_id": "c-42",
    "currency": "EUR",
    "items": [
        {"sku": "A-1", "quantity": 3, "unit_price": "12.50"},
        {"sku": "B-2", "quantity": 1, "unit_price": "4.00"},
    ],
}


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv(names.MAX_FRAUD_SCORE_ENV, "50")


def run_workflow(request, context):
    """Validate -> Choice -> Parallel(Price, Stock, Fraud) -> Assemble, as the state machine passes data."""
    validation = handler.validate(request, context)
    if not validation["valid"]:
        return validation
    branch_input = {"order": validation["order"]}
    results = [
        handler.price(branch_input, context),
        handler.stock(branch_input, context),
        handler.fraud(branch_input, context),
    ]
    return handler.assemble({"order": validation["order"], "results": results}, context)


def test_a_valid_order_is_priced_stock_checked_scored_and_accepted(context):
    result = run_workflow(ORDER, context)
    assert result["decision"] == "ACCEPT" and result["reasons"] == []
    assert [line["line_total"] for line in result["lines"]] == ["37.50", "4.00"]
    assert result["subtotal"] == "41.50"
    assert result["fraud_score"] == 10  # 41.50 // 100 = 0, plus 5 per line
    assert json.loads(json.dumps(result)) == result  # state data must be JSON


def test_short_stock_sends_the_order_to_review(context):
    order = {**ORDER, "items": [{"sku": "B-2", "quantity": 6, "unit_price": "4.00"}]}
    result = run_workflow(order, context)
    assert (result["decision"], result["reasons"]) == ("REVIEW", ["OUT_OF_STOCK"])
    assert result["short"] == [{"sku": "B-2", "requested": 6, "available": 5}]


def test_a_risky_order_is_flagged(context):
    order = {**ORDER, "items": [{"sku": "A-1", "quantity": 50, "unit_price": "999.00"}]}
    assert run_workflow(order, context)["reasons"] == ["FRAUD_RISK"]


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({k: v for k, v in ORDER.items() if k != "customer_id"}, "customer_id"),
        ({**ORDER, "currency": "JPY"}, "currency"),
        ({**ORDER, "items": []}, "items"),
        ({**ORDER, "items": [{"sku": "A-1", "quantity": 0, "unit_price": "1.00"}]}, "items[0].quantity"),
        ({**ORDER, "items": [{"sku": "A-1", "quantity": 1, "unit_price": 1.5}]}, "items[0].unit_price"),
        ({**ORDER, "items": [{"sku": "A-1", "quantity": "2", "unit_price": "1.00"}]}, "items[0].quantity"),
        ({**ORDER, "admin": True}, "admin"),
    ],
)
def test_bad_input_is_a_rejection_in_the_api_error_shape(context, request_body, field):
    result = run_workflow(request_body, context)
    assert result["valid"] is False
    rejection = result["rejection"]  # the run's output (the Rejected state's OutputPath)
    assert rejection["outcome"] == names.REJECTED_OUTCOME
    assert rejection["error"] == "VALIDATION_FAILED" and rejection["message"]
    assert field in [d["field"] for d in rejection["details"]]
    assert set(rejection) == {"outcome", "error", "message", "details"}
    assert all(
        set(d) == {"field", "problem"} and all(isinstance(v, str) for v in d.values()) for d in rejection["details"]
    )


@pytest.mark.parametrize("request_body", [None, "not an object", [ORDER], 42])
def test_a_body_that_is_not_an_object_fails_validation(context, request_body):
    result = handler.validate(request_body, context)
    assert result["valid"] is False and result["rejection"]["details"][0]["field"] == "body"


def test_too_many_problems_are_capped_so_the_rejection_stays_small(context):
    order = {**ORDER, "items": [{"sku": "", "quantity": 0, "unit_price": "0"}] * 50}
    result = handler.validate(order, context)
    assert len(result["rejection"]["details"]) == 20


@pytest.mark.parametrize("event", [{}, {"order": "x"}, None])
def test_branch_steps_reject_a_malformed_state(context, event):
    with pytest.raises(MalformedData):
        handler.price(event, context)


def test_assemble_rejects_missing_branch_results(context):
    with pytest.raises(MalformedData, match="results"):
        handler.assemble({"order": ORDER, "results": [{}]}, context)


PRICING = {"lines": [{"sku": "A-1", "quantity": 3, "line_total": "37.50"}], "subtotal": "37.50"}
STOCK = {"in_stock": True, "short": []}


@pytest.mark.parametrize(
    ("entry", "event", "field"),
    [
        ("price", {"order": {}}, "order.customer_id"),
        ("stock", {"order": {**ORDER, "items": "A-1"}}, "order.items"),
        ("assemble", {"order": ORDER, "results": [{}, {}, {}]}, "results.0.lines"),
        ("assemble", {"order": ORDER, "results": [PRICING, STOCK, {"score": "high"}]}, "results.2.score"),
    ],
    ids=["order-without-fields", "items-not-a-list", "results-without-fields", "score-not-a-number"],
)
def test_a_malformed_state_input_is_malformed_data_naming_the_field(context, entry, event, field):
    # A state input of the right outline but the wrong content is a bug in the workflow: a
    # permanent MalformedData saying which field, never a KeyError from deep in the work.
    with pytest.raises(MalformedData, match=field.replace(".", r"\.")):
        getattr(handler, entry)(event, context)


# --- property: no order makes a task fail, and every task's answer can leave the function ---------


@fuzz_settings
@given(
    request=st.one_of(
        mutated(ORDER),
        mutated(ORDER),
        json_values(),
        st.builds(lambda text: {**ORDER, "customer_id": text}, any_text(min_size=1, max_size=64)),
    )
)
def test_no_order_makes_a_task_fail_or_answer_what_the_runtime_cannot_send(context, request):
    # Whatever API Gateway's model lets through reaches Validate as parsed JSON: strings of any code
    # point a JSON escape can spell, lone surrogates included. A task's answer the Lambda runtime
    # cannot send fails the run (a 502, and the executions-failed alarm) for a client's input.
    validation = handler.validate(request, context)
    assert_runtime_serialisable(validation)
    if not validation["valid"]:
        assert validation["rejection"]["outcome"] == names.REJECTED_OUTCOME
        return
    branch_input = {"order": validation["order"]}
    results = [
        handler.price(branch_input, context),
        handler.stock(branch_input, context),
        handler.fraud(branch_input, context),
    ]
    for result in results:
        assert_runtime_serialisable(result)
    assert_runtime_serialisable(handler.assemble({"order": validation["order"], "results": results}, context))
