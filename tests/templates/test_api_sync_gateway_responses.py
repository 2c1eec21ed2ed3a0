"""ApiSync's gateway responses (errors API Gateway produces itself) render as the project's JSON errors.

Each ResponseTemplates["application/json"] of the synthesized AWS::ApiGateway::GatewayResponse
resources is rendered the way API Gateway does (simple `$context` substitution, no VTL) with a
realistic `$context.error`, and must be JSON `{"error": <code>, "message": <text>}`.
"""

from __future__ import annotations

import json

import pytest

from localcloud.vtl import error_context, render_gateway_response

# Realistic $context.error values, as API Gateway reports them.
ERRORS = {
    "DEFAULT_4XX": error_context("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"),
    "DEFAULT_5XX": error_context("INTEGRATION_TIMEOUT", "Endpoint request timed out"),
    "BAD_REQUEST_BODY": error_context(
        "BAD_REQUEST_BODY",
        "Invalid request body",
        validation_error='[object has missing required properties (["country","currency"])]',
    ),
}
EXPECTED_CODE = {
    "DEFAULT_4XX": "MISSING_AUTHENTICATION_TOKEN",
    "DEFAULT_5XX": "INTEGRATION_TIMEOUT",
    "BAD_REQUEST_BODY": "BAD_REQUEST_BODY",
}


def _gateway_responses(template: dict) -> dict[str, dict]:
    return {
        resource["Properties"]["ResponseType"]: resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ApiGateway::GatewayResponse"
    }


def test_api_sync_has_a_json_template_for_each_error_kind(templates):
    responses = _gateway_responses(templates["ApiSync"])
    assert set(responses) == set(ERRORS)
    assert all("application/json" in props["ResponseTemplates"] for props in responses.values())


@pytest.mark.parametrize("response_type", sorted(ERRORS))
def test_gateway_response_is_json_in_the_project_error_shape(templates, response_type):
    body = _gateway_responses(templates["ApiSync"])[response_type]["ResponseTemplates"]["application/json"]
    rendered = render_gateway_response(body, context={"error": ERRORS[response_type]})
    error = json.loads(rendered.body)
    assert set(error) == {"error", "message"}
    assert error["error"] == EXPECTED_CODE[response_type]
    assert error["message"] and '""' not in error["message"]
