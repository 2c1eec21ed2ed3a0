"""Lambda Function URLs: `AWS::Lambda::Url` from the template, and HTTP requests to it.

moto's CloudFormation has no `AWS::Lambda::Url`; `FunctionUrlModel` (registered by
`moto_patches`) creates moto's function URL config from the resource, so `Fn::GetAtt [X,
FunctionUrl]` in Outputs resolves. `request()` then plays the part of the URL's front end:

- AuthType `NONE` invokes the function. AuthType `AWS_IAM` refuses an unsigned request with 403
  `Forbidden` without invoking it; a request made with `signed_by=<principal ARN>` is taken as
  correctly SigV4-signed by that principal (no signature is computed or checked, and no IAM or
  resource policy is evaluated) and the principal appears in `requestContext.authorizer.iam`.
- The event is payload format 2.0 as Lambda builds it for a URL (`localcloud.events.function_url`,
  the builder handler tests use too): lower-cased headers, cookies, query parameters, the
  request context, and the body base64-encoded unless its content type is text.
- The response is translated as Function URLs do: a dict with `statusCode` gives the status,
  `headers`, `cookies` (as `set-cookie`) and `body` (base64-decoded when `isBase64Encoded`); any
  other JSON value is a 200 with `content-type: application/json` and that JSON as the body. A
  function error is a 502.
- A request that finds no free concurrency slot (localcloud.concurrency) is a 429
  `TooManyRequestsException` and the function does not run.

Not emulated: CORS preflight handling, response streaming (`InvokeMode: RESPONSE_STREAM`),
payload and header size limits.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from moto.core.common_models import CloudFormationModel

from localcloud.concurrency import TooManyRequestsException
from localcloud.events import function_url
from localcloud.responses import HttpResponse

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

INVOKED, REFUSED = "function URL -> its function", "function URL, refused before invoking"


class FunctionUrlModel(CloudFormationModel):
    """`AWS::Lambda::Url` for moto's CloudFormation: moto's own function URL config."""

    def __init__(self, config: Any) -> None:
        self.config = config

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Url"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("FunctionArn", "FunctionUrl")

    @property
    def physical_resource_id(self) -> str:
        return str(self.config.function.function_arn)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "FunctionArn":
            return str(self.config.function.function_arn)
        if attribute_name == "FunctionUrl":
            return str(self.config.url)
        raise NotImplementedError(attribute_name)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        from moto.awslambda.utils import get_backend

        props = cloudformation_json["Properties"]
        config = {k: props[k] for k in ("AuthType", "Cors", "InvokeMode") if k in props}
        backend = get_backend(account_id, region_name)
        url_config = backend.create_function_url_config(props["TargetFunctionArn"], config)
        url_config.url = url_config.url.rstrip("/") + "/"  # AWS's FunctionUrl ends with a slash; moto's does not
        return cls(url_config)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> Any:
        original_resource.config.update(cloudformation_json["Properties"])
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        from moto.awslambda.utils import get_backend

        get_backend(account_id, region_name).delete_function_url_config(
            cloudformation_json["Properties"]["TargetFunctionArn"]
        )


def translate_response(payload: Any) -> HttpResponse:
    """The function's result as the URL's HTTP response."""
    if isinstance(payload, dict) and "statusCode" in payload:
        headers = {k.lower(): str(v) for k, v in (payload.get("headers") or {}).items()}
        if payload.get("cookies"):
            headers["set-cookie"] = ", ".join(payload["cookies"])
        raw = payload.get("body") or ""
        body = (
            base64.b64decode(raw)
            if payload.get("isBase64Encoded")
            else (raw if isinstance(raw, str) else json.dumps(raw)).encode()
        )
        return HttpResponse(int(payload["statusCode"]), headers, body)
    return HttpResponse(200, {"content-type": "application/json"}, json.dumps(payload).encode())


def find_url_config(url: str, account: str) -> Any:
    """moto's function URL config that `url` (any path under it) belongs to."""
    from moto.awslambda.utils import get_backend

    domain = urlsplit(url).netloc  # <url-id>.lambda-url.<region>.on.aws
    region = domain.split(".")[2] if ".lambda-url." in domain else ""
    for function in get_backend(account, region).list_functions() if region else []:
        config = function.url_config
        if config is not None and urlsplit(config.url).netloc == domain:
            return config
    raise LookupError(f"no function URL at {domain}")


def request(
    cloud: LocalCloud,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | str | dict[str, Any] | list[Any] | None = None,
    signed_by: str | None = None,
) -> HttpResponse:
    """Send an HTTP request to a deployed function URL (`url` may carry a path and query)."""
    config = find_url_config(url, cloud.account)
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        if not any(key.lower() == "content-type" for key in headers):
            headers["content-type"] = "application/json"
    if isinstance(body, str):
        body = body.encode()
    if config.config.get("AuthType", "NONE") == "AWS_IAM" and signed_by is None:
        return HttpResponse(
            403,
            {"content-type": "application/json", "x-amzn-errortype": "AccessDeniedException"},
            b'{"Message":"Forbidden"}',
            invoked=False,
            via=REFUSED,
        )
    event = function_url(
        method, url, body or None, headers=headers, signed_by=signed_by, account=config.function.account_id
    )
    try:
        payload, errored = cloud.runtime.invoke(config.function, event)
    except TooManyRequestsException:  # no concurrency slot: the function did not run
        return HttpResponse(
            429,
            {"content-type": "application/json", "x-amzn-errortype": "TooManyRequestsException"},
            b'{"Message":"Rate Exceeded."}',
            invoked=False,
            via=REFUSED,
        )
    if errored:
        return HttpResponse(
            502,
            {"content-type": "application/json", "x-amzn-errortype": "InternalServerError"},
            b'{"Message":"Internal Server Error"}',
            via=INVOKED,
        )
    response = translate_response(json.loads(payload) if payload else None)
    response.via = INVOKED
    return response
