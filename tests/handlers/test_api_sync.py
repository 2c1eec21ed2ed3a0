"""ApiSync handler: realistic API Gateway REST proxy events, happy paths and bad input."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api_sync import handler
from api_sync.quotes import QuoteRequest, price_quote
from localcloud.events import LambdaContext, api_gateway_rest
from tests.handlers.fuzz import any_text, assert_client_safe, fuzz_settings, request_bodies

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
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    quote = price_quote(QuoteRequest.model_validate(VALID), now=now, quote_id="q-1")
    assert (quote.quote_id, quote.created_at, quote.valid_until) == (
        "q-1",
        now,
        datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
    )


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


@pytest.mark.parametrize(
    "raw",
    [
        '{"customer_id": "C-1",',
        "customer_id=C-1",
        "\u00ff\u00fe",
        '{"customer_id": "\\ud800"}',
        '{"\\udfff": 1}',
        '["a\\ud83d"]',
    ],
    ids=["unterminated", "form", "bom", "lone-surrogate-value", "lone-surrogate-key", "half-a-pair"],
)
def test_malformed_json_is_a_400(context, raw):
    status, response, _ = call(context, "POST", "/quotes", raw_body=raw)
    assert (status, response["error"]) == (400, "MALFORMED_JSON")
    assert "not valid JSON" in response["message"]


def test_a_surrogate_pair_escape_is_one_character_and_fine(context):
    status, response, _ = call(context, "POST", "/quotes", raw_body=json.dumps(quote_with(customer_id="C-\U0001f600")))
    assert status == 201, response
    assert response["customer_id"] == "C-\U0001f600"


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


# --- regressions: inputs of a few hundred bytes that used to be a 500 ----------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"customer_id": ' + "9" * 5000 + "}", "more than 64 digits"),  # ValueError: int over 4,300 digits
        ('{"items": [{"quantity": ' + "9" * 65 + "}]}", "more than 64 digits"),
        ("[" * 5000 + "]" * 5000, "nested deeper than 32 levels"),  # RecursionError in json.loads
        ('{"a":' * 33 + "1" + "}" * 33, "nested deeper than 32 levels"),
        ('{"customer_id": NaN}', "NaN is not a JSON value"),
    ],
    ids=["huge-int", "huge-quantity", "deep-array", "deep-object", "nan-literal"],
)
def test_json_a_parser_chokes_on_is_a_400(context, raw, reason):
    status, response, _ = call(context, "POST", "/quotes", raw_body=raw)
    assert (status, response["error"]) == (400, "MALFORMED_JSON")
    assert reason in response["message"]


@pytest.mark.parametrize("raw", ['[{"customer_id": "C-1"}]', '"a string"', "42", "null", "true"])
def test_a_body_that_is_not_a_json_object_is_a_422(context, raw):
    # Powertools would unwrap `[{...}]` to its first element and validate that.
    status, response, _ = call(context, "POST", "/quotes", raw_body=raw)
    assert (status, response["error"]) == (422, "VALIDATION_FAILED")
    assert "JSON object" in response["message"]


def test_nesting_up_to_the_limit_reaches_validation(context):
    status, response, _ = call(context, "POST", "/quotes", raw_body='{"customer_id":' + "[" * 31 + "]" * 31 + "}")
    assert (status, response["error"]) == (422, "VALIDATION_FAILED")


def test_brackets_inside_strings_do_not_count_as_nesting(context):
    customer_id = "[{" * 30 + '\\"[['
    status, response, _ = call(context, "POST", "/quotes", quote_with(customer_id=customer_id))
    assert (status, response.get("customer_id")) == (201, customer_id), response


def test_price_with_a_huge_exponent_is_a_422(context):
    # Decimal("1e999999") parsed, then quantize() raised decimal.InvalidOperation, which pydantic
    # does not turn into a validation error.
    status, response, _ = call(context, "POST", "/quotes", quote_with(items=[item_with(unit_price="1e999999")]))
    assert (status, response["details"][0]["field"]) == (422, "items[0].unit_price")


def test_base64_body_that_is_not_utf8_is_a_400(context):
    # Powertools' decoded_body raised UnicodeDecodeError.
    event = api_gateway_rest("POST", "/quotes", raw_body=base64.b64encode(b"\xff\xfe{}").decode())
    event["isBase64Encoded"] = True
    response = handler.main(event, context)
    assert (response["statusCode"], json.loads(response["body"])["error"]) == (400, "MALFORMED_BODY")


@pytest.mark.parametrize("raw", ["", "\u20ac", '{"customer_id": "C-1"}'])
@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=x"])
def test_multipart_body_is_a_415(context, content_type, raw):
    # Powertools raised ValueError for a missing boundary and UnicodeEncodeError for non-latin-1 text.
    event = api_gateway_rest("POST", "/quotes", raw_body=raw)
    event["headers"]["Content-Type"] = content_type
    response = handler.main(event, context)
    assert response["statusCode"] == 415
    assert json.loads(response["body"])["error"] == "UNSUPPORTED_MEDIA_TYPE"


# --- one error shape, whatever layer answers ---------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_unsupported_content_type_is_a_415_in_the_error_shape(context, content_type):
    event = api_gateway_rest("POST", "/quotes", VALID)
    event["headers"]["Content-Type"] = content_type
    response = handler.main(event, context)
    assert response["statusCode"] == 415
    assert json.loads(response["body"]) == {
        "error": "UNSUPPORTED_MEDIA_TYPE",
        "message": f"The request body must be application/json, not {content_type}.",
    }


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", " application/json ;charset=UTF-8"]
)
def test_json_content_type_with_parameters_is_accepted(context, content_type):
    event = api_gateway_rest("POST", "/quotes", VALID)
    event["headers"]["Content-Type"] = content_type
    assert handler.main(event, context)["statusCode"] == 201


def test_router_level_errors_use_the_error_shape():
    # The handler's pre-check answers most 415s; this is the router's own path for any API.
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.event_handler.exceptions import BadRequestError

    from shared.http import install_json_errors

    app = APIGatewayRestResolver(enable_validation=True)
    install_json_errors(app)

    @app.post("/things")
    def things(body: dict) -> dict:
        raise BadRequestError("no things today")

    @app.get("/teapot")
    def teapot() -> dict:
        raise BadRequestError("never")

    event = api_gateway_rest("POST", "/things", raw_body="a=1")
    event["headers"]["Content-Type"] = "text/csv"
    unsupported = app.resolve(event, LambdaContext())
    assert unsupported["statusCode"] == 415
    assert json.loads(unsupported["body"]) == {
        "error": "UNSUPPORTED_MEDIA_TYPE",
        "message": "The request body must be application/json, not text/csv.",
    }
    bad = app.resolve(api_gateway_rest("POST", "/things", {"a": 1}), LambdaContext())
    assert (bad["statusCode"], json.loads(bad["body"])) == (400, {"error": "BAD_REQUEST", "message": "no things today"})


# --- money: the documented format only -----------------------------------------------------------


@pytest.mark.parametrize(
    "price",
    [
        "1e3",
        "1E3",
        " 12.50 ",
        "12.50 ",
        "+12.50",
        "012.50",
        "12.",
        ".50",
        "1_000.00",
        "10000000",
        "12.50\n",
        "\u0661\u0662.50",
        "0",
        "0.00",
    ],
)
def test_price_outside_the_documented_format_is_rejected(context, price):
    status, response, _ = call(context, "POST", "/quotes", quote_with(items=[item_with(unit_price=price)]))
    assert status == 422, response
    assert [detail["field"] for detail in response["details"]] == ["items[0].unit_price"]


@pytest.mark.parametrize(
    ("price", "echoed"),
    [("12.50", "12.50"), ("12.5", "12.5"), ("9999999.99", "9999999.99"), ("0.01", "0.01"), ("7", "7")],
)
def test_price_in_the_documented_format_is_echoed_as_sent(context, price, echoed):
    status, response, _ = call(context, "POST", "/quotes", quote_with(items=[item_with(unit_price=price, quantity=1)]))
    assert status == 201, response
    assert response["lines"][0]["unit_price"] == echoed


# --- property: no client input makes the API answer 5xx ----------------------------------------


@fuzz_settings
@given(body=request_bodies(valid=VALID))
def test_no_body_makes_the_api_fail(context, body):
    assert_client_safe(handler.main(body.apply_to(api_gateway_rest("POST", "/quotes")), context))


@fuzz_settings
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.one_of(
        st.sampled_from(["/quotes", "/health", "/", "/quotes/1"]), any_text(max_size=50).map(lambda p: "/" + p)
    ),
    body=request_bodies(valid=VALID),
)
def test_no_method_path_or_body_makes_the_api_fail(context, method, path, body):
    assert_client_safe(handler.main(body.apply_to(api_gateway_rest(method, path)), context))
