"""Lambda Function URLs from `AWS::Lambda::Url`: payload format 2.0 in, the response translated
out, and the auth type honoured."""

from __future__ import annotations

import base64

import pytest

from localcloud import Deployment
from tests.localcloud import rendezvous

PRINCIPAL = "arn:aws:iam::123456789012:role/caller"


@pytest.fixture(scope="module")
def stack(deploy, fixture_assembly) -> Deployment:
    return deploy(fixture_assembly, "UrlFixture")


@pytest.fixture(autouse=True)
def fresh():
    rendezvous.reset(1)


def test_the_output_is_the_deployed_url(stack):
    url = stack.outputs["PublicUrl"]
    assert url.startswith("https://") and ".lambda-url.us-east-1.on.aws" in url
    assert url == stack.function_url("PublicHttpFunctionUrl")
    config = stack.client("lambda").get_function_url_config(FunctionName=stack.function_name("PublicHttp"))
    assert (config["FunctionUrl"], config["AuthType"]) == (url, "NONE")
    assert (
        stack.client("lambda").get_function_url_config(FunctionName=stack.function_name("PrivateHttp"))["AuthType"]
        == "AWS_IAM"
    )


def test_a_request_arrives_as_a_payload_format_2_event(stack):
    url = stack.outputs["PublicUrl"].rstrip("/")
    response = stack.request(
        "POST",
        f"{url}/orders/7?expand=lines&tag=a&tag=b",
        headers={"Content-Type": "application/json", "X-Trace": "t-1", "Cookie": "s=1; t=2"},
        body={"n": 1},
    )
    assert response.status == 200
    event = response.json()
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert (event["rawPath"], event["rawQueryString"]) == ("/orders/7", "expand=lines&tag=a&tag=b")
    assert event["queryStringParameters"] == {"expand": "lines", "tag": "a,b"}
    assert event["headers"]["x-trace"] == "t-1" and event["headers"]["content-type"] == "application/json"
    assert all(key == key.lower() for key in event["headers"])
    assert event["cookies"] == ["s=1", "t=2"]
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"]) == ("POST", "/orders/7")
    assert http["sourceIp"] and http["userAgent"]
    assert event["requestContext"]["requestId"] and isinstance(event["requestContext"]["timeEpoch"], int)
    assert event["requestContext"]["domainName"] == url.removeprefix("https://")
    assert (event["body"], event["isBase64Encoded"]) == ('{"n": 1}', False)


def test_a_binary_body_is_base64_encoded(stack):
    raw = b"\x89PNG\r\n\x1a\n\x00binary"
    event = stack.request(
        "PUT", stack.outputs["PublicUrl"] + "upload", headers={"content-type": "image/png"}, body=raw
    ).json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_the_functions_response_becomes_the_http_response(stack):
    url = stack.outputs["PublicUrl"].rstrip("/")
    echo = stack.request("GET", f"{url}/echo")
    assert (echo.headers["content-type"], echo.headers["x-probe"], echo.headers["set-cookie"]) == (
        "application/json",
        "echo",
        "a=1",
    )
    binary = stack.request("GET", f"{url}/binary")
    assert (binary.status, binary.headers["content-type"], binary.body) == (201, "image/png", b"\x89PNG\r\n")


@pytest.mark.parametrize(("path", "body"), [("/value", ["any", "json", 1]), ("/dict", {"hello": "world"})])
def test_any_other_json_value_is_a_200_with_that_json(stack, path, body):
    response = stack.request("GET", stack.outputs["PublicUrl"].rstrip("/") + path)
    assert (response.status, response.headers["content-type"], response.json()) == (200, "application/json", body)


def test_a_function_error_is_a_502(stack):
    assert stack.request("GET", stack.outputs["PublicUrl"].rstrip("/") + "/fail").status == 502


def test_aws_iam_refuses_an_unsigned_request_without_invoking(stack):
    response = stack.request("GET", stack.outputs["PrivateUrl"] + "echo")
    assert (response.status, response.json()) == (403, {"Message": "Forbidden"})
    assert rendezvous.calls == []


def test_aws_iam_invokes_a_signed_request_with_the_caller_in_the_event(stack):
    response = stack.request("GET", stack.outputs["PrivateUrl"] + "echo", signed_by=PRINCIPAL)
    assert response.status == 200
    iam = response.json()["requestContext"]["authorizer"]["iam"]
    assert (iam["userArn"], iam["accountId"]) == (PRINCIPAL, "123456789012")
    assert rendezvous.calls == [{"function": stack.function_name("PrivateHttp"), "path": "/echo"}]


def test_auth_type_none_invokes_without_a_signature(stack):
    stack.request("GET", stack.outputs["PublicUrl"] + "echo")
    assert rendezvous.calls == [{"function": stack.function_name("PublicHttp"), "path": "/echo"}]


def test_a_url_that_is_not_deployed_is_refused(stack):
    with pytest.raises(LookupError):
        stack.request("GET", "https://nosuchurl.lambda-url.us-east-1.on.aws/")
