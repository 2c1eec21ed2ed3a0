"""Asynchronous invocations run after the caller's call returns, on worker threads; functions
running at the same time each see only their own environment."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from localcloud import Deployment
from localcloud.events import api_gateway_rest
from tests.localcloud import rendezvous
from tests.localcloud.fixture_app import CHILD_SECONDS, PARENT_TIMEOUT_SECONDS

CHILDREN = 3


@pytest.fixture(scope="module")
def localcloud_options():
    return {"async_workers": CHILDREN}


@pytest.fixture(scope="module")
def stack(deploy, fixture_assembly) -> Deployment:
    return deploy(fixture_assembly, "ConcurrencyFixture")


@pytest.fixture(autouse=True)
def fresh(stack):
    stack.cloud.async_invocations.clear()
    rendezvous.reset(CHILDREN)
    yield
    stack.settle()


def test_a_parent_firing_slower_children_asynchronously_finishes_within_its_timeout(stack):
    # Run inline, three children of 0.5 s would take the 1 s parent past its timeout.
    assert CHILDREN * CHILD_SECONDS > PARENT_TIMEOUT_SECONDS
    payload, error = stack.invoke("Parent", {"items": [1, 2, 3], "child": {"seconds": CHILD_SECONDS}})
    assert (payload, error) == ({"fanned_out": 3}, None)
    invocations = stack.settle()
    assert sorted(c["item"] for c in rendezvous.calls) == [1, 2, 3]
    assert [(i.condition, i.attempts) for i in invocations] == [("Success", 1)] * 3


def test_children_run_at_the_same_time_with_several_workers(stack):
    # Each child waits at a barrier for all three: it only passes if they run concurrently.
    stack.invoke("Parent", {"items": [1, 2, 3], "child": {"meet": True}})
    invocations = stack.settle()
    assert [i.condition for i in invocations] == ["Success"] * 3
    assert sorted(c["item"] for c in rendezvous.calls) == [1, 2, 3]


def test_invocations_running_at_the_same_time_have_an_instance_each_and_a_finished_one_is_reused(stack):
    # Module state (a Powertools BatchProcessor, a cache) belongs to one execution environment,
    # which runs one invocation at a time: three at once are three instances, as in Lambda.
    stack.invoke("Parent", {"items": [1, 2, 3], "child": {"meet": True}})
    stack.settle()
    concurrent = {c["instance"] for c in rendezvous.calls}
    assert len(concurrent) == CHILDREN
    rendezvous.calls.clear()
    stack.invoke("Parent", {"items": [4], "child": {}})
    stack.settle()
    (again,) = rendezvous.calls
    assert again["instance"] in concurrent  # warm: no new instance while one is free


def test_children_that_cannot_meet_fail_so_the_barrier_proves_overlap(stack):
    # Four children meeting in threes: the fourth finds no partners and fails, showing that the
    # barrier is what the previous test's success depends on.
    rendezvous.reset(CHILDREN + 1, timeout=1)  # the three that do run wait this long for a fourth
    stack.invoke("Parent", {"items": [1, 2, 3], "child": {"meet": True}})
    invocations = stack.settle(timeout=rendezvous.BARRIER_TIMEOUT_SECONDS * 3)
    assert {i.condition for i in invocations} == {"RetriesExhausted"}


def test_functions_running_at_once_see_only_their_own_environment(stack):
    rendezvous.reset(2)
    before = dict(os.environ)
    with ThreadPoolExecutor(2) as pool:
        red, blue = pool.map(lambda prefix: stack.invoke(prefix, {"meet": True}), ["RedReader", "BlueReader"])
    assert red == ({"first": "red", "after_writes": "written-by-red", "leaks_seen": ["LEAKED_BY_RED"]}, None)
    assert blue == ({"first": "blue", "after_writes": "written-by-blue", "leaks_seen": ["LEAKED_BY_BLUE"]}, None)
    assert dict(os.environ) == before  # the test process's environment is untouched
    assert "COLOUR" not in os.environ


def test_a_librarys_per_invocation_class_state_is_each_invocations_own(stack):
    """Powertools' event handler keeps the request it is handling on a class (BaseRouter.current_event):
    one per process, which in Lambda is one execution environment. Two invocations at once here
    share a process; each must still read its own request."""
    rendezvous.reset(2)

    def call(caller: str) -> object:
        return stack.invoke("RestEcho", api_gateway_rest("POST", "/echo", {"caller": caller}))

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(call, ["first", "second"]))
    assert [json.loads(payload["body"]) for payload, _ in answers] == [{"seen": "first"}, {"seen": "second"}]


def test_a_functions_writes_do_not_reach_its_next_invocation_or_another_function(stack):
    stack.invoke("RedReader", {})
    assert stack.invoke("BlueReader", {}) == (
        {"first": "blue", "after_writes": "written-by-blue", "leaks_seen": ["LEAKED_BY_BLUE"]},
        None,
    )
    assert stack.invoke("RedReader", {})[0]["first"] == "red"


def test_a_step_functions_task_runs_with_its_functions_environment(stack):
    result = stack.cloud.start_sync_execution(stack.state_machine_arn("ReadInTask"), {})
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["first"] == "green"
