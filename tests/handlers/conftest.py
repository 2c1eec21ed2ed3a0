from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from moto import mock_aws
from moto.core.base_backend import BackendDict

from tests.events import LambdaContext

# Handlers read these in AWS; here they keep Powertools quiet and boto3 away from real endpoints.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture(scope="module")
def _module_moto() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def empty_aws(_module_moto: None) -> None:
    """An empty moto account for one test.

    One moto mock serves a whole module: starting one patches botocore and requests, and inside it
    boto3's default session starts afresh, so a mock per test also paid for a session and new
    clients (about 50 ms a test). Each test still starts with no resources at all: the data of
    every moto backend is reset before it.
    """
    BackendDict.reset()
