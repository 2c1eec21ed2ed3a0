"""FanOut end to end: the deployed API function fans a batch out to real async child invocations.

Four async workers run children at the same time, as Lambda would. Expected reports are computed
here, line by line from the request, never by the pattern's own code.
"""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from fan_out import names
from localcloud import Deployment
from localcloud.events import api_gateway_rest
from tests.oracles import sales_report

CHUNK_SIZE = 100  # lambdas/fan_out/sales.py: lines per chunk


@pytest.fixture(scope="module")
def localcloud_options():
    return {"async_workers": 4}


@pytest.fixture(scope="module")
def stack(deploy, cloud_assembly) -> Deployment:
    return deploy(cloud_assembly.directory, "FanOut")


@pytest.fixture(autouse=True)
def fresh(stack):
    stack.cloud.async_invocations.clear()
    yield
    stack.cloud.runtime.faults.clear()
    failure_records(stack)
    stack.messages("ChunkDLQ")


def failure_records(stack: Deployment) -> list[dict]:
    return [m["body"] for m in stack.drain(stack.outputs[names.CHUNK_FAILURES_QUEUE_OUTPUT])]


def sales(count: int, *, seed: int = 0) -> list[dict]:
    skus = ("BOOK-1", "PEN-22", "MUG-3", "TEA-GREEN")
    return [
        {
            "sku": skus[(i + seed) % 4],
            "quantity": (i * 7 + seed) % 13 + 1,
            "unit_price": f"{(i * 37 + seed) % 2000 / 100 + 0.5:.2f}",
        }
        for i in range(count)
    ]


def call(stack: Deployment, method: str, path: str, body: object = None) -> tuple[int, dict]:
    event = api_gateway_rest(method, path, body)
    if path.startswith("/batches/"):
        event["resource"] = event["requestContext"]["resourcePath"] = "/batches/{batch_id}"
        event["pathParameters"] = {"batch_id": path.removeprefix("/batches/")}
    response, error = stack.invoke("ApiFunction", event)
    assert error is None, response
    return response["statusCode"], json.loads(response["body"])


def submit(stack: Deployment, items: list[dict]) -> str:
    status, body = call(stack, "POST", "/batches", {"currency": "EUR", "items": items})
    assert status == 202, body
    assert body["chunks_total"] == -(-len(items) // CHUNK_SIZE)
    return body["batch_id"]


def status(stack: Deployment, batch_id: str) -> dict:
    code, body = call(stack, "GET", f"/batches/{batch_id}")
    assert code == 200, body
    return body


def children(stack: Deployment) -> list:
    child = stack.function_name("ChildFunction")
    return [i for i in stack.cloud.async_invocations if i.function_name == child]


def max_retries(stack: Deployment) -> int:
    (config,) = stack.resources_of_type("AWS::Lambda::EventInvokeConfig").values()
    return config["Properties"]["MaximumRetryAttempts"]


def test_a_batch_of_hundreds_of_items_completes_with_the_exact_aggregate(stack):
    items = sales(1234)
    batch_id = submit(stack, items)
    stack.settle()
    view = status(stack, batch_id)
    assert (view["status"], view["chunks_done"], view["chunks_total"], view["item_count"]) == ("complete", 13, 13, 1234)
    assert view["result"] == sales_report(items)
    runs = children(stack)
    assert sorted(i.event["chunk"] for i in runs) == list(range(13))
    assert {(i.condition, i.attempts) for i in runs} == {("Success", 1)}
    assert sum(i.response["aggregated"] for i in runs) == 1, "exactly one child fanned in"


def test_a_child_retried_after_recording_its_chunk_does_not_count_it_twice(stack):
    items = sales(700, seed=3)
    fault = stack.inject_failure(
        "ChildFunction",
        times=1,
        after_handler=True,
        error_type="Sandbox.Timedout",
        when=lambda event: event.get("chunk") == 4,
    )
    batch_id = submit(stack, items)
    stack.settle()
    assert fault.injected == 1
    (retried,) = [i for i in children(stack) if i.event["chunk"] == 4]
    assert (retried.attempts, retried.condition) == (2, "Success")
    assert retried.response["recorded"] == "already recorded", (
        "the first attempt's work was kept, the retry wrote nothing"
    )
    view = status(stack, batch_id)
    assert (view["status"], view["chunks_done"]) == ("complete", 7)
    assert view["result"] == sales_report(items)


@pytest.fixture
def claims_meet(monkeypatch):
    """The fan-in claim (batches.claim_aggregation) waits until two children are at it at once.

    A child claims only after reading its batch as running with every chunk counted, so when two
    meet here both have decided to aggregate: the interleaving in which only the conditional claim
    can stop a second fan-in. DynamoDB applies each conditional write atomically; LocalCloud
    serialises moto's writes the same way, so which claim goes first is the only thing left open.
    """
    from moto.dynamodb.models import DynamoDBBackend

    barrier = threading.Barrier(2, timeout=10)
    attempts: list[str] = []
    original = DynamoDBBackend.update_item

    def update_item(self, table_name, key, update_expression, *args, **kwargs):
        if "aggregation_until = :until" in update_expression:  # only the claim sets its deadline
            attempts.append(table_name)
            barrier.wait()
        return original(self, table_name, key, update_expression, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", update_item)
    return attempts


def test_two_children_finishing_the_last_chunk_at_once_aggregate_once(stack, claims_meet):
    # Hold the last chunk back: it fails before its handler on every attempt, so the batch waits
    # with all other chunks counted (its failure record is discarded, not handed to ChunkFailed).
    items = sales(450, seed=5)
    attempts = max_retries(stack) + 1
    stack.inject_failure("ChildFunction", times=attempts, when=lambda event: event.get("chunk") == 4)
    batch_id = submit(stack, items)
    stack.settle()
    (held,) = [i for i in children(stack) if i.event["chunk"] == 4]
    assert held.condition == "RetriesExhausted"
    assert (status(stack, batch_id)["status"], status(stack, batch_id)["chunks_done"]) == ("running", 4)
    assert [r["requestPayload"]["chunk"] for r in failure_records(stack)] == [4]

    # The last chunk delivered twice at once (Lambda's at-least-once delivery): both run, both
    # see every chunk counted, both try to claim the fan-in at the same moment.
    stack.cloud.async_invocations.clear()
    stack.invoke_async("ChildFunction", held.event)
    stack.invoke_async("ChildFunction", held.event)
    stack.settle()
    runs = children(stack)
    assert [(i.condition, i.attempts) for i in runs] == [("Success", 1), ("Success", 1)]
    assert len(claims_meet) == 2, "both children tried to claim the fan-in"
    assert Counter(i.response["aggregated"] for i in runs) == Counter({True: 1, False: 1})
    assert Counter(i.response["recorded"] for i in runs) == Counter({"recorded": 1, "already recorded": 1})
    view = status(stack, batch_id)
    assert (view["status"], view["chunks_done"]) == ("complete", 5)
    assert view["result"] == sales_report(items)


def test_a_permanently_failing_chunk_fails_the_batch_naming_it(stack):
    items = sales(520, seed=1)
    items[333]["sku"] = "TOY-9"  # a valid SKU with no category: chunk 3 is rejected on every attempt
    batch_id = submit(stack, items)
    stack.settle()
    (failed,) = [i for i in children(stack) if i.condition != "Success"]
    assert (failed.event["chunk"], failed.condition, failed.attempts) == (3, "RetriesExhausted", max_retries(stack) + 1)
    assert status(stack, batch_id)["status"] == "running", "not failed until the failure record is handled"

    (batch,) = stack.drain_sqs("ChunkFailedFunction")
    assert not batch.errored and batch.failed_ids == []
    view = status(stack, batch_id)
    assert (view["status"], view["failed_chunk"]) == ("failed", 3)
    assert "ChunkRejected" in view["error"] and "TOY-9" in view["error"] and "RetriesExhausted" in view["error"]
    assert "result" not in view
    assert stack.messages("ChunkFailuresDLQ") == []
