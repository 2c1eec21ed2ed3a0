"""ApiSync in a real account: signed calls succeed, unsigned ones are refused at the gateway."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from api_sync import names

pytestmark = pytest.mark.aws("ApiSync")

QUOTE = {"customer_id": "smoke", "currency": "EUR", "country": "DE", "items": [{"sku": "S-1", "quantity": 1, "unit_price": "10.00"}]}


def call(url: str, body: object | None, *, sign: bool) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = AWSRequest(method="POST" if data else "GET", url=url, data=data, headers={"Content-Type": "application/json"})
    if sign:
        session = boto3.session.Session()
        SigV4Auth(session.get_credentials(), "execute-api", session.region_name).add_auth(request)
    prepared = urllib.request.Request(url, data=data, headers=dict(request.headers), method=request.method)
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def endpoint(stack_outputs) -> str:
    return stack_outputs("ApiSync")[names.QUOTES_ENDPOINT_OUTPUT]


def test_signed_quote_is_priced(endpoint):
    status, body = call(endpoint, QUOTE, sign=True)
    assert (status, body["total"]) == (201, "11.90")


def test_unsigned_call_is_refused_by_the_gateway(endpoint):
    status, body = call(endpoint, QUOTE, sign=False)
    assert status == 403
    assert "error" in body


def test_body_failing_the_request_model_is_a_json_400(endpoint):
    status, body = call(endpoint, {"items": "none"}, sign=True)
    assert (status, body["error"]) == (400, "BAD_REQUEST_BODY")
