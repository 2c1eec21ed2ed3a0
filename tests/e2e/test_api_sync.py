"""ApiSync end to end: the synthesized template deployed into moto, driven with proxy events."""

from __future__ import annotations

import json

import pytest

from api_sync import names
from localcloud import Deployment
from localcloud.events import api_gateway_rest

QUOTE = {
    "customer_id": "C-1001",
    "currency": "GBP",
    "country": "GB",
    "items": [{"sku": "MUG-01", "quantity": 3, "unit_price": "7.99"}],
}


@pytest.fixture(scope="module")
def stack(deploy, cloud_assembly) -> Deployment:
    return deploy(cloud_assembly.directory, "ApiSync")


def test_outputs_name_the_entry_points(stack):
    assert stack.outputs[names.QUOTES_ENDPOINT_OUTPUT].endswith("/quotes")
    assert stack.outputs[names.FUNCTION_NAME_OUTPUT] == stack.function_name("QuotesFunction")


def test_function_is_deployed_with_the_templates_settings(stack):
    configuration = stack.client("lambda").get_function(FunctionName=stack.function_name("QuotesFunction"))[
        "Configuration"
    ]
    assert configuration["Handler"] == "api_sync.handler.main"
    assert configuration["Timeout"] == 10
    assert configuration["MemorySize"] == 512
    assert configuration["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "api_sync"


def test_health(stack):
    response, error = stack.invoke("QuotesFunction", api_gateway_rest("GET", "/health"))
    assert error is None
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"status": "ok"})


def test_quote_happy_path(stack):
    response, error = stack.invoke("QuotesFunction", api_gateway_rest("POST", "/quotes", QUOTE))
    body = json.loads(response["body"])
    assert (error, response["statusCode"]) == (None, 201)
    assert (body["subtotal"], body["tax"], body["total"]) == ("23.97", "4.79", "28.76")


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        (api_gateway_rest("POST", "/quotes", raw_body="{not json"), 400, "MALFORMED_JSON"),
        (api_gateway_rest("POST", "/quotes", {**QUOTE, "items": "three mugs"}), 422, "VALIDATION_FAILED"),
        (api_gateway_rest("POST", "/quotes", {**QUOTE, "customer_id": "x" * 70_000}), 413, "PAYLOAD_TOO_LARGE"),
        (api_gateway_rest("PUT", "/quotes", QUOTE), 404, "NOT_FOUND"),
    ],
    ids=["malformed-json", "wrong-type", "oversized", "unknown-method"],
)
def test_bad_input_is_a_clear_4xx_from_the_deployed_function(stack, event, status, code):
    response, error = stack.invoke("QuotesFunction", event)
    assert error is None, "bad input must not crash the function"
    assert (response["statusCode"], json.loads(response["body"])["error"]) == (status, code)


def test_deployed_code_is_the_asset_not_the_working_tree(stack, monkeypatch):
    """The e2e run imports the handler from the deployed zip, even if the repo copy is loaded."""
    import api_sync.handler as repo_copy

    monkeypatch.setattr(repo_copy, "MAX_BODY_BYTES", 1)
    response, _ = stack.invoke("QuotesFunction", api_gateway_rest("POST", "/quotes", QUOTE))
    assert response["statusCode"] == 201


def test_a_throttled_invoke_through_the_api_is_a_500_without_running_the_function(stack):
    """Lambda refusing the invoke (429) reaches the client as API Gateway's 500, not as the 429 and
    not as an exception; the caller retries, as for any 5xx."""
    url = stack.outputs[names.QUOTES_ENDPOINT_OUTPUT]
    caller = "arn:aws:iam::123456789012:user/quotes-client"
    fault = stack.inject_failure("QuotesFunction", throttle=True)
    throttled = stack.request("POST", url, body=QUOTE, signed_by=caller)
    assert (throttled.status, throttled.json(), throttled.invoked) == (
        500,
        {"message": "Internal server error"},
        False,
    )
    assert fault.injected == 1
    retried = stack.request("POST", url, body=QUOTE, signed_by=caller)
    assert (retried.status, retried.json()["total"]) == (201, "28.76")
