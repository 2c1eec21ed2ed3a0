"""ApiSync: what makes the synchronous API pattern correct, beyond the snapshot."""

from __future__ import annotations

import json
from decimal import Decimal

import jsonschema
import pydantic
import pytest
from aws_cdk import App, Duration
from aws_cdk.assertions import Match, Template
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api_sync.quotes import MAX_LINE_ITEMS, QuoteRequest
from shared.commerce import MAX_QUANTITY, MONEY_PATTERN
from stacks.api_sync import ApiSyncStack
from tests.templates.helpers import api_method, only_model_schema, resources, validated_body_model

VALID_QUOTE = {
    "customer_id": "C-1001",
    "currency": "EUR",
    "country": "DE",
    "items": [{"sku": "BOOK-001", "quantity": 2, "unit_price": "12.50"}],
}


@pytest.fixture(scope="module")
def raw(templates) -> dict:
    return templates["ApiSync"]


@pytest.fixture(scope="module")
def template(raw) -> Template:
    return Template.from_json(raw)


def test_every_method_requires_iam_auth(raw):
    methods = resources(raw, "AWS::ApiGateway::Method")
    assert len(methods) == 2
    assert {m["Properties"]["AuthorizationType"] for m in methods.values()} == {"AWS_IAM"}


def test_routes_proxy_to_the_function(raw):
    (function_id,) = resources(raw, "AWS::Lambda::Function")
    for http_method, path in (("POST", "quotes"), ("GET", "health")):
        integration = api_method(raw, http_method, path)["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert function_id in json.dumps(integration["Uri"])


def test_post_quotes_body_is_validated_by_the_gateway(raw):
    validated_body_model(raw, api_method(raw, "POST", "quotes"))


@pytest.fixture(scope="module")
def request_schema(raw) -> dict:
    return only_model_schema(raw)


@pytest.mark.parametrize(
    "body",
    [
        {k: v for k, v in VALID_QUOTE.items() if k != "items"},
        {**VALID_QUOTE, "discount": "10"},
        {**VALID_QUOTE, "items": []},
        {**VALID_QUOTE, "items": [{"sku": "A", "quantity": "2", "unit_price": "1.00"}]},
        {**VALID_QUOTE, "items": [{"sku": "A", "quantity": 2}]},
        {**VALID_QUOTE, "customer_id": 1001},
    ],
    ids=["missing-items", "extra-field", "no-items", "quantity-as-string", "missing-price", "id-as-number"],
)
def test_request_model_rejects_malformed_bodies(request_schema, body):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(request_schema).validate(body)


def test_request_model_accepts_a_valid_quote(request_schema):
    jsonschema.Draft4Validator(request_schema).validate(VALID_QUOTE)


def test_request_model_has_the_handler_model_limits(request_schema):
    item = request_schema["properties"]["items"]["items"]["properties"]
    assert item["unit_price"]["pattern"] == MONEY_PATTERN
    assert (item["quantity"]["minimum"], item["quantity"]["maximum"]) == (1, MAX_QUANTITY)
    assert request_schema["properties"]["items"]["maxItems"] == MAX_LINE_ITEMS
    assert (item["sku"]["minLength"], item["sku"]["maxLength"]) == (1, 64)


def _handler_accepts(body: dict) -> bool:
    try:
        QuoteRequest.model_validate(body)
    except pydantic.ValidationError:
        return False
    return True


PRICES = [
    "12.50",
    "12.5",
    "7",
    "0.01",
    "9999999.99",
    "1e3",
    " 12.50 ",
    "012.50",
    "12.505",
    "10000000",
    "-1.00",
    "12.50\n",
    "\u0661.50",
    "",
]


def _gateway_and_handler(request_schema: dict, price: str) -> tuple[bool, bool]:
    body = {**VALID_QUOTE, "items": [{"sku": "A", "quantity": 1, "unit_price": price}]}
    return jsonschema.Draft4Validator(request_schema).is_valid(body), _handler_accepts(body)


def _only_the_handler_refuses(price: str) -> bool:
    # Zero matches the format but is not positive; and `$` in the gateway's (Java) and jsonschema's
    # (Python) regex also matches before one trailing newline. The handler refuses both with a 422.
    return price.endswith("\n") or Decimal(price.rstrip("\n")) == 0


@pytest.mark.parametrize("price", PRICES)
def test_request_model_and_handler_agree_on_prices(request_schema, price):
    gateway, handler = _gateway_and_handler(request_schema, price)
    assert handler == gateway or (gateway and _only_the_handler_refuses(price))


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(price=st.one_of(st.from_regex(MONEY_PATTERN), st.text(alphabet="0123456789.e+- \n", max_size=12)))
def test_request_model_and_handler_agree_on_any_price(request_schema, price):
    gateway, handler = _gateway_and_handler(request_schema, price)
    assert handler == gateway or (gateway and _only_the_handler_refuses(price))


def test_stage_is_throttled_traced_and_access_logged(template):
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp('"status"')},
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {
                            "HttpMethod": "*",
                            "ResourcePath": "/*",
                            "ThrottlingRateLimit": 50,
                            "ThrottlingBurstLimit": 100,
                            "LoggingLevel": "ERROR",
                            "DataTraceEnabled": False,
                        }
                    )
                ]
            ),
        },
    )


def test_gateway_errors_are_json(raw):
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]["ResponseTemplates"]["application/json"]
        for r in resources(raw, "AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY"}
    assert all('"error"' in body and '"message"' in body for body in responses.values())


def test_function_answers_well_inside_the_integration_limit(raw):
    (function,) = resources(raw, "AWS::Lambda::Function").values()
    assert function["Properties"]["Timeout"] <= 15


def test_function_timeout_at_the_integration_limit_is_refused():
    with pytest.raises(ValueError, match="29"):
        ApiSyncStack(App(), "TooSlow", function_timeout=Duration.seconds(29))


def test_only_api_gateway_may_invoke_the_function(raw):
    permissions = resources(raw, "AWS::Lambda::Permission").values()
    assert permissions
    for permission in permissions:
        assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
        assert "SourceArn" in permission["Properties"]


@pytest.mark.parametrize(
    ("metric", "statistic"),
    [("5XXError", "Sum"), ("Latency", None), ("Errors", "Sum"), ("Throttles", "Sum")],
)
def test_alarms_notify_the_alarm_topic(raw, metric, statistic):
    (topic_id,) = resources(raw, "AWS::SNS::Topic")
    alarms = [
        a["Properties"]
        for a in resources(raw, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == metric
    ]
    assert len(alarms) == 1, metric
    assert alarms[0]["AlarmActions"] == [{"Ref": topic_id}]
    if statistic:
        assert alarms[0]["Statistic"] == statistic
    else:
        assert alarms[0]["ExtendedStatistic"] == "p99"


def test_outputs_name_every_entry_point(raw):
    assert {"ApiUrl", "QuotesEndpoint", "FunctionName", "AlarmTopicArn"} <= set(raw["Outputs"])
