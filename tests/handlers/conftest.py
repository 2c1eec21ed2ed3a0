from __future__ import annotations

import os

import pytest

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
