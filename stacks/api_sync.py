"""Pattern 1, ApiSync: a synchronous API for work that finishes well inside 29 seconds.

    client --SigV4--> API Gateway (REST, IAM auth, request model) --proxy--> Lambda --> response

API Gateway rejects unsigned calls and malformed bodies before anything runs; the function
validates the rest (values, limits) and answers within its timeout, which stays well under the
29-second integration timeout so a slow call fails as a clear 5xx instead of a gateway timeout.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from constructs import Construct

from .shared import PatternFunction, PatternRestApi
from .shared.api import API_GATEWAY_INTEGRATION_LIMIT, line_items_schema
from .shared.code import pattern_names
from .shared.pattern import ID_IN_ITS_OWN_STACK, PatternConstruct, split_stack_props

PATTERN = "api_sync"


# The shape of POST /quotes, checked by API Gateway: fields, types, lengths, counts and the money
# format, the same as the handler's pydantic model (tests/templates/test_api_sync.py holds them to
# it). Rules about known values (currencies, countries) live in the handler alone, which names the
# field and the values it knows.
QUOTE_REQUEST_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="QuoteRequest",
    type=apigw.JsonSchemaType.OBJECT,
    required=["customer_id", "currency", "country", "items"],
    additional_properties=False,
    properties={
        "customer_id": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=64),
        "currency": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING),
        "country": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING),
        "items": line_items_schema(max_items=100),
    },
)


class ApiSync(PatternConstruct):
    """REST API -> Lambda proxy: `POST /quotes` prices line items, `GET /health` answers.

    Attributes: `api`, `function`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function_timeout: Duration = Duration.seconds(10),
        memory_size: int = 512,
        throttling_rate_limit: float = 50,
        throttling_burst_limit: int = 100,
        latency_alarm_threshold_ms: float = 2000,
        **common: Any,
    ) -> None:
        super().__init__(scope, id, **common)
        self.names = pattern_names(self, PATTERN)
        if function_timeout.to_seconds() >= API_GATEWAY_INTEGRATION_LIMIT.to_seconds():
            raise ValueError("function_timeout must be under API Gateway's 29 s integration timeout")

        # Client -> API Gateway: signed requests only, throttled, logged, traced.
        self.api = PatternRestApi(
            self,
            "Api",
            description="ApiSync quotes API",
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
            latency_alarm_threshold_ms=latency_alarm_threshold_ms,
        )

        # API Gateway -> Lambda: one function serves every route (Powertools event handler).
        self.function = PatternFunction(
            self,
            "QuotesFunction",
            pattern=PATTERN,
            description="Prices quotes for the ApiSync REST API",
            timeout=function_timeout,
            memory_size=memory_size,
        )
        self.function.invoked_synchronously_by("API Gateway")
        integration = apigw.LambdaIntegration(self.function, allow_test_invoke=False)

        # Routes: bodies are checked against the request model before the function runs.
        quote_model = self.api.json_model("QuoteRequest", QUOTE_REQUEST_SCHEMA)
        self.api.root.add_resource("quotes").add_method(
            "POST",
            integration,
            request_validator=self.api.request_validator,
            request_models={"application/json": quote_model},
        )
        self.api.root.add_resource("health").add_method(
            "GET", integration, request_validator=self.api.request_validator
        )


class ApiSyncStack(Stack):
    """ApiSync in a stack of its own, with the outputs that tests, scripts and `make smoke` read."""

    def __init__(self, scope: Construct, id: str, **props: Any) -> None:
        stack_props, pattern_props = split_stack_props(props)
        super().__init__(
            scope, id, **{"description": "ApiSync: API Gateway -> Lambda, request-response", **stack_props}
        )
        self.pattern = ApiSync(self, ID_IN_ITS_OWN_STACK, **pattern_props)
        names = self.pattern.names
        CfnOutput(self, names.QUOTES_ENDPOINT_OUTPUT, value=self.pattern.api.url_for_path("/quotes"))
        CfnOutput(self, names.FUNCTION_NAME_OUTPUT, value=self.pattern.function.function_name)
