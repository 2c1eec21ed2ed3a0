"""PatternRestApi: an API Gateway REST API with the project's defaults.

- IAM authorization on every method: callers sign requests with SigV4. A reference that people
  copy should not ship an open endpoint; swap in a Cognito or Lambda authorizer where end users
  call the API directly.
- A name unique to the stack copy (`<stack name>-<id>`, so its metrics are its own), a
  regional endpoint, stage throttling, X-Ray tracing, JSON access logs to a stack-owned log
  group, error-level execution logs and per-method metrics. Logging needs the region's API
  Gateway CloudWatch role, which the AccountSetup stack owns, not the API's stack.
- A request validator that methods use for bodies and parameters.
- JSON bodies for the errors API Gateway itself returns (403, 404, 413, 429, 5xx), so a
  client always gets `{"error": ..., "message": ...}`.
- Alarms on 5xx responses and on p99 latency, and a row on the stack's dashboard (requests,
  4xx, 5xx, latency).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Aws, CfnOutput, Duration, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from constructs import Construct

from . import dashboard, settings
from .monitoring import DEFAULT_PERIOD, alarm
from .pattern import overrides_for, path_in_stack
from .props import consolidate_props

ACCESS_LOG_FIELDS = apigw.AccessLogFormat.json_with_standard_fields(
    caller=True,
    http_method=True,
    ip=True,
    protocol=True,
    request_time=True,
    resource_path=True,
    response_length=True,
    status=True,
    user=True,
)


# A price: plain decimal digits with at most two decimals, below 10,000,000 (lambdas/shared/commerce.py
# MONEY_PATTERN; the template tests hold the two to each other).
MONEY_PATTERN = r"^(0|[1-9][0-9]{0,6})(\.[0-9]{1,2})?$"
MAX_QUANTITY = 10_000
# API Gateway waits at most this long for an integration by default (a Regional or private REST API
# can raise its integration timeout through a quota increase, which may lower the account's throttle
# quota; these stacks keep the default); a function or workflow behind a REST API must finish well
# inside it, or the client sees a gateway timeout while the work runs on.
API_GATEWAY_INTEGRATION_LIMIT = Duration.seconds(29)


def line_items_schema(*, max_items: int, sku: apigw.JsonSchema | None = None) -> apigw.JsonSchema:
    """A request model's `items`: 1..max_items `{sku, quantity, unit_price}` line items, as
    lambdas/shared/commerce.py's LineItem takes them (`sku` a non-empty string unless given)."""
    return apigw.JsonSchema(
        type=apigw.JsonSchemaType.ARRAY,
        min_items=1,
        max_items=max_items,
        items=apigw.JsonSchema(
            type=apigw.JsonSchemaType.OBJECT,
            required=["sku", "quantity", "unit_price"],
            additional_properties=False,
            properties={
                "sku": sku or apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=64),
                "quantity": apigw.JsonSchema(type=apigw.JsonSchemaType.INTEGER, minimum=1, maximum=MAX_QUANTITY),
                "unit_price": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, pattern=MONEY_PATTERN),
            },
        ),
    )


class PatternRestApi(apigw.RestApi):
    """A REST API with IAM auth, throttling, tracing, access logs, JSON errors and alarms."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        description: str,
        stage_name: str = "v1",
        throttling_rate_limit: float = 50,
        throttling_burst_limit: int = 100,
        latency_alarm_threshold_ms: float = 3000,
        **kwargs: Any,
    ) -> None:
        access_logs = logs.LogGroup(
            scope,
            f"{id}AccessLogs",
            retention=settings.log_retention(scope),
            removal_policy=settings.removal_policy(scope),
        )
        defaults: dict[str, Any] = dict(
            description=description,
            # API Gateway's metrics are per API *name* (dimension ApiName): a name of its own per
            # stack copy, or the alarms and dashboard would add up every API called "Api".
            rest_api_name="-".join([Aws.STACK_NAME, *path_in_stack(scope), id]),
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Execution and access logging need the region's API Gateway account setting to name
            # a CloudWatch role. That setting is one per account and region, shared by every API
            # there, so no API stack owns it: the AccountSetup stack does (stacks/account_setup.py).
            cloud_watch_role=False,
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                tracing_enabled=True,
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=ACCESS_LOG_FIELDS,
            ),
        )
        # The caller's keyword arguments, then the pattern's api_props (pattern.py), win over the defaults.
        super().__init__(scope, id, **consolidate_props(defaults, {**kwargs, **overrides_for(scope, "api")}))
        self.request_validator = self.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        self._json_gateway_errors()
        self._acknowledge_deliberate_choices()
        self.alarms = [
            alarm(
                scope,
                f"{id}ServerErrors",
                metric=self.metric_server_error(period=DEFAULT_PERIOD, statistic="Sum"),
                threshold=1,
                description=f"{id} returned at least one 5xx response in 5 minutes",
            ),
            alarm(
                scope,
                f"{id}Latency",
                metric=self.metric_latency(period=DEFAULT_PERIOD, statistic="p99"),
                threshold=latency_alarm_threshold_ms,
                description=f"{id} p99 latency above {latency_alarm_threshold_ms:g} ms",
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=3,
            ),
        ]
        dashboard.show_rest_api(self)
        # Replace RestApi's own output (named with a hash) by one a smoke test can find by name.
        self.node.try_remove_child("Endpoint")
        CfnOutput(scope, f"{id}Url", value=self.url, description="Base URL of the API (IAM auth: sign with SigV4)")

    def json_model(self, id: str, schema: apigw.JsonSchema) -> apigw.Model:
        """A request model API Gateway validates bodies against before invoking anything."""
        return self.add_model(id, content_type="application/json", schema=schema)

    def add_collection(
        self, path: str, integration: apigw.Integration, *, create_model: apigw.Model, id_parameter: str
    ) -> apigw.Resource:
        """`POST /<path>` (body checked against `create_model`) and `GET /<path>/{<id_parameter>}`,
        both to `integration`: the shape of a job or batch API that answers 202 and a status URL."""
        collection = self.root.add_resource(path)
        collection.add_method(
            "POST",
            integration,
            request_validator=self.request_validator,
            request_models={"application/json": create_model},
        )
        collection.add_resource(f"{{{id_parameter}}}").add_method(
            "GET",
            integration,
            request_validator=self.request_validator,
            request_parameters={f"method.request.path.{id_parameter}": True},
        )
        return collection

    def _json_gateway_errors(self) -> None:
        """Errors produced by API Gateway itself come back as JSON, like the handler's errors.

        Gateway response templates get plain `$context` substitution, no VTL, so nothing can be
        escaped: `$context.error.messageString` is the message already quoted as a JSON string,
        and `validationErrorString` (unescaped double quotes) stays out of the body, which would
        otherwise not parse. The request model's error then reads "Invalid request body".
        """
        template = '{"error": "$context.error.responseType", "message": $context.error.messageString}'
        bad_body = '{"error": "BAD_REQUEST_BODY", "message": $context.error.messageString}'
        for response_type, body in (
            (apigw.ResponseType.DEFAULT_4_XX, template),
            (apigw.ResponseType.DEFAULT_5_XX, template),
            (apigw.ResponseType.BAD_REQUEST_BODY, bad_body),
        ):
            self.add_gateway_response(
                f"{response_type.response_type}Json",
                type=response_type,
                templates={"application/json": body},
            )

    def _acknowledge_deliberate_choices(self) -> None:
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-COG4",
                reason="Methods use IAM authorization (SigV4), chosen for service-to-service callers; "
                "a Cognito user pool authorizer fits only APIs called by end users.",
            ),
        )
        Validations.of(self.deployment_stage).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-APIG3",
                reason="Every method requires SigV4-signed IAM credentials and the stage is throttled; "
                "a WAF web ACL adds a fixed monthly cost per sandbox copy. Attach one in production.",
            ),
        )
