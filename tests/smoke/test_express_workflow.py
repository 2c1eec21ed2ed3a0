"""ExpressWorkflow: POST /orders/check runs the Express state machine synchronously through API
Gateway's StartSyncExecution integration; validation failures are a 400."""

from __future__ import annotations

from express_workflow import names

STACK = "ExpressWorkflow"
ORDER = {
    "customer_id": "C-smoke",
    "currency": "EUR",
    "items": [
        {"sku": "A-1", "quantity": 3, "unit_price": "12.50"},
        {"sku": "B-2", "quantity": 1, "unit_price": "4.00"},
    ],
}


def test_a_valid_order_is_checked_and_accepted(target):
    response = target.post(target.outputs[names.ORDER_CHECK_URL_OUTPUT], ORDER)
    assert response.status == 200, response.text
    # 3 x 12.50 + 4.00; both SKUs in stock, a small order: accepted
    assert (response.json()["decision"], response.json()["subtotal"], response.json()["reasons"]) == (
        "ACCEPT",
        "41.50",
        [],
    )


def test_an_order_failing_validation_in_the_workflow_is_a_400(target):
    response = target.post(target.outputs[names.ORDER_CHECK_URL_OUTPUT], {**ORDER, "currency": "JPY"})
    assert (response.status, response.json()["error"]) == (400, "VALIDATION_FAILED"), response.text
    assert [detail["field"] for detail in response.json()["details"]] == ["currency"]


def test_a_body_failing_the_request_model_is_refused_at_the_gateway(target):
    response = target.post(target.outputs[names.ORDER_CHECK_URL_OUTPUT], {"items": []})
    assert (response.status, response.json()["error"]) == (400, "BAD_REQUEST_BODY")
