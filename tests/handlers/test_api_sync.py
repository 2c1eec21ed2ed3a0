"""ApiSync handler: realistic API Gateway REST proxy events, happy paths and bad input."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from api_sync import handler
from api_sync.quotes import QuoteRequest, price_quote
from tests.events import api_gateway_rest

VALID = {
    "customer_id": "C-1001",
    "currency": "EUR",
    "country": "DE",
    "items": [{"sku": "BOOK-001", "quantity": 2, "unit_price": "12.50"}],
}


def call(context, method: str, path: str, body: object = None, **kwargs) -> tuple[int, dict, dict]:
    response = handler.main(api_gateway_rest(method, path, body, **kwargs), context)
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    multi = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
    assert (headers.get("content-type") or multi.get("content-type", [None])[0]) == "application/json"
    return response["statusCode"], json.loads(response["body"]), {**{k: v[0] for k, v in multi.items()}, **headers}


def quote_with(**changes) -> dict:
    return {**VALID, **changes}


def item_with(**changes) -> dict:
    return {**VALID["items"][0], **changes}


# --- happy paths --------------------------------------------------------------------------


def test_health(context):
    status, body, _ = call(context, "GET", "/health")
    assert (status, body) == (200, {"status": "ok"})


def test_quote_is_priced_with_tax(context):
    status, body, headers = call(context, "POST", "/quotes", VALID)
    assert status == 201
    assert body["lines"] == [{"sku": "BOOK-001", "quantity": 2, "unit_price": "12.50", "line_total": "25.00"}]
    assert (body["subtotal"], body["tax_rate"], body["tax"], body["total"]) == ("25.00", "0.19", "4.75", "29.75")
    assert body["quote_id"].startswith("q-") and headers["location"] == f"/quotes/{body['quote_id']}"


def test_base64_encoded_body_is_accepted(context):
    status, body, _ = call(context, "POST", "/quotes", VALID, base64_body=True)
    assert (status, body["total"]) == (201, "29.75")


def test_each_quote_gets_its_own_id(context):
    first = call(context, "POST", "/quotes", VALID)[1]["quote_id"]
    second = call(context, "POST", "/quotes", VALID)[1]["quote_id"]
    assert first != second


# --- the work function ----------------------------------------------------------------------


def test_tax_is_rounded_half_up_to_the_cent():
    request = QuoteRequest.model_validate(quote_with(country="IE", items=[item_with(quantity=3, unit_price="0.50")]))
    quote = price_quote(request)
    # 1.50 x 23% = 0.345: half-up gives 0.35 (bankers' rounding would give 0.34).
    assert (quote.subtotal, quote.tax, quote.total) == (Decimal("1.50"), Decimal("0.35"), Decimal("1.85"))


def test_several_lines_are_summed_before_tax():
    items = [item_with(sku="A", quantity=3, unit_price="0.35"), item_with(sku="B", quantity=1, unit_price="19.99")]
    quote = price_quote(QuoteRequest.model_validate(quote_with(country="FR", items=items)))
    assert [line.line_total for line in quote.lines] == [Decimal("1.05"), Decimal("19.99")]
    assert (quote.subtotal, quote.tax, quote.total) == (Decimal("21.04"), Decimal("4.21"), Decimal("25.25"))


def test_quote_is_valid_for_fourteen_days():
    now = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    quote = price_quote(QuoteRequest.model_validate(VALID), now=now, quote_id="q-1")
    assert (quote.quote_id, quote.created_at, quote.valid_until) == ("q-1", now, datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc))


def test_zero_tax_country():
    quote = price_quote(QuoteRequest.model_validate(quote_with(country="US", currency="USD")))
    assert (quote.tax, quote.total) == (Decimal("0.00"), Decimal("25.00"))


# --- bad input: a clear 4xx, never a 500 ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in VALID.items() if k != "items"}, "items"),
        ({k: v for k, v in VALID.items() if k != "customer_id"}, "customer_id"),
        (quote_with(discount="10"), "discount"),
        (quote_with(items=[]), "items"),
        (quote_with(items=[item_with(quantity="2")]), "items[0].quantity"),
        (quote_with(items=[item_with(quantity=2.5)]), "items[0].quantity"),
        (quote_with(items=[item_with(quantity=0)]), "items[0].quantity"),
        (quote_with(items=[item_with(quantity=10_001)]), "items[0].quantity"),
        (quote_with(items=[item_with(unit_price=12.5)]), "items[0].unit_price"),
        (quote_with(items=[item_with(unit_price="12.505")]), "items[0].unit_price"),
        (quote_with(items=[item_with(unit_price="-1.00")]), "items[0].unit_price"),
        (quote_with(items=[item_with(unit_price="NaN")]), "items[0].unit_price"),
        (quote_with(items=[item_with(unit_price="twelve")]), "items[0].unit_price"),
        (quote_with(items=[item_with(sku="")]), "items[0].sku"),
        (quote_with(items=[{"sku": "A", "quantity": 1}]), "items[0].unit_price"),
        (quote_with(items=[item_with()] * 101), "items"),
        (quote_with(customer_id=1001), "customer_id"),
        (quote_with(currency="JPY"), "currency"),
        (quote_with(country="XX"), "country"),
        (["not", "an", "object"], "body"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_invalid_quote_is_rejected_with_the_field_named(context, body, field):
    status, response, _ = call(context, "POST", "/quotes", body)
    assert status == 422
    assert response["error"] == "VALIDATION_FAILED"
    assert field in [detail["field"] for detail in response["details"]], response
    assert all(detail["problem"] for detail in response["details"])


def test_missing_body_is_rejected(context):
    status, response, _ = call(context, "POST", "/quotes")
    assert (status, response["error"]) == (422, "VALIDATION_FAILED")


@pytest.mark.parametrize("raw", ['{"customer_id": "C-1",', "customer_id=C-1", "\u00ff\u00fe"])
def test_malformed_json_is_a_400(context, raw):
    status, response, _ = call(context, "POST", "/quotes", raw_body=raw)
    assert (status, response["error"]) == (400, "MALFORMED_JSON")
    assert "not valid JSON" in response["message"]


def test_oversized_body_is_a_413(context):
    padding = "x" * (handler.MAX_BODY_BYTES + 1)
    status, response, _ = call(context, "POST", "/quotes", quote_with(customer_id=padding))
    assert (status, response["error"]) == (413, "PAYLOAD_TOO_LARGE")
    assert str(handler.MAX_BODY_BYTES) in response["message"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("DELETE", "/quotes"), ("POST", "/health")])
def test_unknown_route_or_method_is_a_json_404(context, method, path):
    status, response, _ = call(context, method, path, VALID if method == "POST" else None)
    assert (status, response["error"]) == (404, "NOT_FOUND")
    assert method in response["message"] and path in response["message"]



def test_body_marked_base64_that_does_not_decode_is_a_400(context):
    event = api_gateway_rest("POST", "/quotes", raw_body="!!not base64!!")
    event["isBase64Encoded"] = True
    response = handler.main(event, context)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"] == "MALFORMED_BODY"


def test_problems_read_as_sentences(context):
    _, response, _ = call(context, "POST", "/quotes", quote_with(currency="JPY"))
    assert response["details"] == [{"field": "currency", "problem": "must be one of EUR, GBP, USD"}]
