"""A function's reserved concurrency: its own slots, neither taken from nor given to the others;
and deploying a reservation into an account that cannot give it fails as CloudFormation does."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from localcloud import Deployment
from tests.localcloud import rendezvous
from tests.localcloud.fixture_app import RESERVED

LIMIT = 101  # the smallest account that can reserve one unit (Lambda keeps 100 unreserved)


@pytest.fixture(scope="module")
def localcloud_options():
    return {"concurrency_limit": LIMIT, "async_workers": 2}


@pytest.fixture(scope="module")
def stack(deploy, fixture_assembly) -> Deployment:
    return deploy(fixture_assembly, "ReservedFixture")


@pytest.fixture(autouse=True)
def fresh(stack):
    rendezvous.reset(1)
    yield
    stack.settle()


def test_beyond_its_reservation_a_function_is_throttled_while_the_unreserved_pool_is_free(stack):
    with stack.hold_invocations("Capped") as held:
        stack.invoke_async("Capped", {"rawPath": "/dict"})
        held.wait_for(RESERVED)
        with pytest.raises(ClientError) as raised:
            stack.invoke("Capped", {"rawPath": "/dict"})
        error = raised.value.response
        assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Reason"]) == (
            429,
            "TooManyRequestsException",
            "ReservedFunctionConcurrentInvocationLimitExceeded",
        )
        response = stack.request("GET", stack.outputs["CappedUrl"] + "dict")
        assert (response.status, response.invoked) == (429, False)
        assert stack.invoke("Unreserved", {"value": 1}) == ({"value": 2}, None)
        assert stack.cloud.concurrency.unreserved_limit() == LIMIT - RESERVED
    stack.settle()
    assert stack.invoke("Capped", {"rawPath": "/dict"}) == ({"hello": "world"}, None)


def test_put_function_concurrency_is_refused_beyond_what_the_account_can_give(stack):
    lambda_ = stack.client("lambda")
    with pytest.raises(ClientError) as raised:
        lambda_.put_function_concurrency(FunctionName=stack.function_name("Unreserved"), ReservedConcurrentExecutions=1)
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "below its minimum value of [100]" in raised.value.response["Error"]["Message"]


def test_a_slot_goes_back_to_the_pool_it_came_from_when_the_reservation_changes_meanwhile(stack):
    lambda_ = stack.client("lambda")
    capped = stack.function_name("Capped")
    try:
        with stack.hold_invocations("Capped") as held:
            stack.invoke_async("Capped", {"rawPath": "/dict"})
            held.wait_for(1)  # running on a reserved slot
            lambda_.delete_function_concurrency(FunctionName=capped)
        stack.settle()
        concurrency = stack.cloud.concurrency
        assert (concurrency.unreserved_in_flight, concurrency.in_flight[capped]) == (0, 0)
    finally:
        lambda_.put_function_concurrency(FunctionName=capped, ReservedConcurrentExecutions=RESERVED)
