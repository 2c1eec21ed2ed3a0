from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.base_backend import BackendDict
from moto.core.model_instances import reset_model_data

from localcloud.events import LambdaContext

# Handlers read these in AWS; here they keep Powertools quiet and boto3 away from real endpoints.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


class Account:
    """A moto account for handler tests, and the boto3 clients to set it up with.

    A client is made once per module and shared by its tests: do not register event hooks or a
    Stubber on one (make your own with `boto3.client`); `monkeypatch` on it is undone per test.
    """

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}
        self._dynamodb: Any = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service)
        return self._clients[service]

    def table(self, name: str, key: str) -> Any:
        """A new on-demand table keyed by the string attribute `key`, as the stacks make them."""
        if self._dynamodb is None:
            self._dynamodb = boto3.resource("dynamodb")
        self._dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        return self._dynamodb.Table(name)


@pytest.fixture(scope="module")
def _module_moto() -> Iterator[Account]:
    with mock_aws():
        yield Account()


@pytest.fixture
def empty_aws(_module_moto: Account) -> Iterator[Account]:
    """An empty moto account for one test.

    One moto mock serves a whole module, from its first test that asks for this fixture to the
    module's end: starting one patches botocore and requests, and inside it boto3's default
    session starts afresh, so a mock per test also paid for a session and new clients (about 50 ms
    a test). Every moto backend's data is reset after each test, so the next test, whether or not
    it asks for this fixture, starts with no resources at all.
    """
    yield _module_moto
    BackendDict.reset()
    reset_model_data()
