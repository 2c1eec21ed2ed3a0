"""A deployed stack's REST API, run locally as API Gateway would run it (moto runs none of it).

`LocalRestApi(deployment).request("POST", url, body)` (or `deployment.request(...)` with the API's
URL) answers the way the stack's API would, as an `HttpResponse`:

1. the route: the deployed template's `AWS::ApiGateway::Resource` tree and `Method`s (the URL's
   first path segment is the stage); no method there -> 403 MISSING_AUTHENTICATION_TOKEN, as API
   Gateway answers an unknown route;
2. IAM authorization: a method with `AuthorizationType: AWS_IAM` refuses an unsigned request
   with 403 MISSING_AUTHENTICATION_TOKEN; one made with `signed_by=<principal ARN>` is taken as
   correctly SigV4-signed by it (no signature is computed or checked, no IAM policy evaluated);
3. the request validator: a body that is not JSON or fails the method's request model (JSON
   Schema draft 4, the template's `AWS::ApiGateway::Model`) -> 400 BAD_REQUEST_BODY;
4. the integration: `AWS_PROXY` invokes the function with a REST proxy event (path parameters
   filled in from the route) and translates its answer (a function error is a 502, an invoke
   Lambda throttles a 500 without running it); `AWS` to Step Functions'
   StartSyncExecution renders the method's request template (`vtl.py`), runs the
   Express machine in the LocalCloud and renders the integration response its status selects.

Gateway responses (2, 3) are the template's own `AWS::ApiGateway::GatewayResponse` bodies
(DEFAULT_4XX when the type has none), rendered as API Gateway does. Not emulated: throttling,
payload limits, path/query parameter validation, other integration types.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jsonschema
from botocore.exceptions import ClientError

from localcloud.events import api_gateway_rest
from localcloud.responses import HttpResponse
from localcloud.vtl import error_context, render, render_gateway_response

if TYPE_CHECKING:
    from localcloud.deployment import Deployment

GATEWAY_ERRORS = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "BAD_REQUEST_BODY": (400, "Invalid request body"),
}


@dataclass
class Route:
    path: str  # the resource path, with {parameters}
    method: dict[str, Any]  # the AWS::ApiGateway::Method's Properties
    pattern: re.Pattern[str]


class LocalRestApi:
    """The REST API of one deployed stack (the stack has exactly one)."""

    def __init__(self, stack: Deployment) -> None:
        self.stack = stack
        resources = stack.template["Resources"]
        (self.api_id,) = [lid for lid, r in resources.items() if r["Type"] == "AWS::ApiGateway::RestApi"]
        paths = {self.api_id: ""}  # the root resource (Fn::GetAtt [api, RootResourceId]) -> ""

        def path_of(reference: dict[str, Any]) -> str:
            if "Fn::GetAtt" in reference:  # RootResourceId
                return ""
            lid = reference["Ref"]
            if lid not in paths:
                props = resources[lid]["Properties"]
                paths[lid] = f"{path_of(props['ParentId'])}/{props['PathPart']}"
            return paths[lid]

        self.routes: list[Route] = []
        for r in resources.values():
            if r["Type"] == "AWS::ApiGateway::Method" and r["Properties"]["HttpMethod"] != "OPTIONS":
                path = path_of(r["Properties"]["ResourceId"]) or "/"
                pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")
                self.routes.append(Route(path, r["Properties"], pattern))
        self.gateway_responses = {
            r["Properties"]["ResponseType"]: r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::ApiGateway::GatewayResponse"
        }

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        signed_by: str | None = None,
    ) -> HttpResponse:
        """`body`: text, bytes, or a value sent as JSON."""
        path = "/" + urlsplit(url).path.strip("/").partition("/")[2]  # drop the stage
        for route in self.routes:
            if route.method["HttpMethod"] == method and (match := route.pattern.match(path)):
                break
        else:
            return self._gateway_error("MISSING_AUTHENTICATION_TOKEN", f"{method} {path}: no such route")
        if route.method.get("AuthorizationType") == "AWS_IAM" and signed_by is None:
            return self._gateway_error(
                "MISSING_AUTHENTICATION_TOKEN", f"{method} {route.path}: IAM auth, request unsigned"
            )
        text = (
            body.decode()
            if isinstance(body, bytes)
            else body
            if isinstance(body, str) or body is None
            else json.dumps(body)
        )
        if (refused := self._validate(route, text)) is not None:
            return refused
        integration = route.method["Integration"]
        if integration["Type"] == "AWS_PROXY":
            return self._proxy(route, method, path, match.groupdict(), text, headers or {})
        if "StartSyncExecution" in json.dumps(integration["Uri"]):
            return self._start_sync_execution(route, text or "{}")
        raise NotImplementedError(
            f"{route.path}: integration {integration['Type']} {integration['Uri']} is not emulated"
        )

    # --- the steps ---------------------------------------------------------------------------

    def _gateway_error(self, response_type: str, why: str) -> HttpResponse:
        status, message = GATEWAY_ERRORS[response_type]
        props = self.gateway_responses.get(response_type) or self.gateway_responses.get("DEFAULT_4XX") or {}
        template = props.get("ResponseTemplates", {}).get(
            "application/json", '{"message": $context.error.messageString}'
        )
        rendered = render_gateway_response(template, context={"error": error_context(response_type, message)})
        return HttpResponse.of(
            int(props.get("StatusCode", status)), rendered.body, invoked=False, via=f"API Gateway ({why})"
        )

    def _validate(self, route: Route, text: str | None) -> HttpResponse | None:
        validator = route.method.get("RequestValidatorId")
        model = route.method.get("RequestModels", {}).get("application/json")
        if not validator or not model:
            return None
        if not self.stack.template["Resources"][validator["Ref"]]["Properties"].get("ValidateRequestBody"):
            return None
        schema = self.stack.template["Resources"][model["Ref"]]["Properties"]["Schema"]
        try:
            jsonschema.Draft4Validator(schema).validate(json.loads(text or ""))
        except (ValueError, jsonschema.ValidationError) as error:
            return self._gateway_error("BAD_REQUEST_BODY", f"request model: {str(error).splitlines()[0]}")
        return None

    def _proxy(
        self,
        route: Route,
        method: str,
        path: str,
        parameters: dict[str, str],
        text: str | None,
        headers: dict[str, str],
    ) -> HttpResponse:
        event = api_gateway_rest(method, path, raw_body=text)
        event["resource"] = event["requestContext"]["resourcePath"] = route.path
        event["pathParameters"] = parameters or None
        event["headers"] = {**(event.get("headers") or {}), **headers}
        function = self._function_of(route.method["Integration"]["Uri"])
        via = f"Lambda proxy -> {self.stack.function_name(function)}"
        try:
            response, error = self.stack.invoke(function, event)
        except ClientError as refused:  # Lambda refused the Invoke (a 429 throttle): the function never ran
            if refused.response["Error"]["Code"] != "TooManyRequestsException":
                raise
            # "If the Lambda API rejects the invocation request, API Gateway returns a 500" (Lambda
            # developer guide, "Handling Lambda errors with an API Gateway API"): not a 429.
            return HttpResponse.of(500, '{"message": "Internal server error"}', invoked=False, via=f"{via}: throttled")
        if error:  # API Gateway answers a failed proxy integration with 502
            return HttpResponse.of(502, '{"message": "Internal server error"}', via=via)
        merged = dict(response.get("headers") or {})
        merged |= {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
        return HttpResponse.of(response["statusCode"], response.get("body") or "", merged, via=via)

    def _function_of(self, uri: Any) -> str:
        """The logical id of the function in an AWS_PROXY integration's Uri (Fn::Join with GetAtt Arn)."""
        found = re.findall(r'"Fn::GetAtt": \["([^"]+)", "Arn"\]', json.dumps(uri))
        (function,) = [lid for lid in found if self.stack.template["Resources"][lid]["Type"] == "AWS::Lambda::Function"]
        return str(function)

    def _start_sync_execution(self, route: Route, text: str) -> HttpResponse:
        integration = route.method["Integration"]
        request_id = f"local-{uuid.uuid4()}"
        context = {"requestId": request_id, "resourcePath": route.path}
        start = render(
            self.stack.resolve(integration["RequestTemplates"]["application/json"]), body=text, context=context
        ).json()
        via = f"StartSyncExecution -> {start['stateMachineArn'].rsplit(':', 1)[-1]}"
        try:
            run = self.stack.cloud.start_sync_execution(
                start["stateMachineArn"], name=start["name"], input_text=start["input"]
            )
            status, wire = "200", json.dumps(run, default=lambda value: value.timestamp())  # dates in epoch seconds
        except ClientError as error:  # Step Functions refused the start: the 4xx/5xx integration response
            status, wire = (
                str(error.response["ResponseMetadata"].get("HTTPStatusCode", 400)),
                json.dumps({"__type": error.response["Error"]["Code"]}),
            )
        responses = integration["IntegrationResponses"]
        (chosen,) = (
            [r for r in responses if r["StatusCode"] == "200"]
            if status == "200"
            else [r for r in responses if re.fullmatch(r.get("SelectionPattern", "(?!)"), status)]
        )
        rendered = render(chosen["ResponseTemplates"]["application/json"], body=wire, context=context)
        return HttpResponse.of(rendered.status or int(chosen["StatusCode"]), rendered.body, via=via)
