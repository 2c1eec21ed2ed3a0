"""ApiSync: a quote priced while the caller waits, through the IAM-authorized REST API."""

from __future__ import annotations

from api_sync import names

STACK = "ApiSync"
QUOTE = {
    "customer_id": "C-smoke",
    "currency": "GBP",
    "country": "GB",
    "items": [{"sku": "MUG-01", "quantity": 3, "unit_price": "7.99"}],
}


def test_a_signed_quote_is_priced(target):
    response = target.post(target.outputs[names.QUOTES_ENDPOINT_OUTPUT], QUOTE)
    # 3 x 7.99 = 23.97, UK VAT 20 % = 4.79
    assert response.status == 201, response.text
    assert (response.json()["subtotal"], response.json()["tax"], response.json()["total"]) == ("23.97", "4.79", "28.76")


def test_an_unsigned_call_is_refused_at_the_gateway(target):
    response = target.post(target.outputs[names.QUOTES_ENDPOINT_OUTPUT], QUOTE, signed=False)
    assert (response.status, response.json()["error"]) == (403, "MISSING_AUTHENTICATION_TOKEN")


def test_a_body_failing_the_request_model_is_a_400(target):
    response = target.post(target.outputs[names.QUOTES_ENDPOINT_OUTPUT], {"items": "three mugs"})
    assert (response.status, response.json()["error"]) == (400, "BAD_REQUEST_BODY")
