"""FanOut handlers: parent API, child and chunk-failed handler, against moto DynamoDB.

The parent's async invokes are captured (the end-to-end tests run them for real); each captured
payload is then given to the child exactly as Lambda would deliver it, in any order and as often
as a test needs to imitate retries and races.
"""

from __future__ import annotations

import importlib
import json
import sys

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from hypothesis import given
from pydantic import ValidationError

from fan_out import batches, names
from fan_out.sales import ChunkRejected
from localcloud.events import api_gateway_rest, sqs
from tests.handlers.fuzz import any_text, assert_client_safe, fuzz_settings, odd_strings, request_bodies
from tests.oracles import sales_report

CHILD = "fan-out-child"


def line(sku: str, quantity: int, unit_price: str) -> dict:
    return {"sku": sku, "quantity": quantity, "unit_price": unit_price}


def sales(count: int) -> list[dict]:
    """`count` lines cycling over three categories, with quantities 1..7 and prices 1.25..3.25."""
    skus = ("BOOK-1", "PEN-2", "MUG-3")
    return [line(skus[i % 3], i % 7 + 1, f"{1 + (i % 3):d}.25") for i in range(count)]


class FakeLambda:
    """Records each Invoke the parent makes; can be told to fail one."""

    def __init__(self) -> None:
        self.payloads: list[dict] = []
        self.fail_at: int | None = None

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict:
        assert (FunctionName, InvocationType) == (CHILD, "Event")
        if self.fail_at is not None and len(self.payloads) == self.fail_at:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke")
        self.payloads.append(json.loads(Payload))
        return {"StatusCode": 202}


@pytest.fixture
def table(empty_aws, monkeypatch):
    batches_table = empty_aws.table("batches", "pk")
    monkeypatch.setenv(names.BATCHES_TABLE_ENV, "batches")
    monkeypatch.setenv(names.CHILD_FUNCTION_ENV, CHILD)
    monkeypatch.setenv(names.BATCH_TTL_SECONDS_ENV, "86400")
    yield batches_table


def fresh(module: str):
    sys.modules.pop(module, None)
    return importlib.import_module(module)


@pytest.fixture
def invoked(monkeypatch) -> FakeLambda:
    return FakeLambda()


@pytest.fixture
def api(table, invoked, monkeypatch):
    module = fresh("fan_out.api")
    monkeypatch.setattr(module, "lambda_client", invoked)
    return module


@pytest.fixture
def child(table):
    return fresh("fan_out.child")


@pytest.fixture
def chunk_failed(table):
    return fresh("fan_out.chunk_failed")


def call(api, context, method: str, path: str, body: object = None, **kwargs) -> tuple[int, dict, dict]:
    event = api_gateway_rest(method, path, body, **kwargs)
    if path.startswith("/batches/"):
        event["resource"] = event["requestContext"]["resourcePath"] = "/batches/{batch_id}"
        event["pathParameters"] = {"batch_id": path.removeprefix("/batches/")}
    response = api.main(event, context)
    headers = {k.lower(): v[0] for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers.update({k.lower(): v for k, v in (response.get("headers") or {}).items()})
    assert headers.get("content-type") == "application/json"
    return response["statusCode"], json.loads(response["body"]), headers


def submit(api, context, items: list[dict]) -> str:
    status, body, _ = call(api, context, "POST", "/batches", {"currency": "EUR", "items": items})
    assert status == 202, body
    return body["batch_id"]


def stored(table, batch_id: str) -> dict:
    return table.get_item(Key=batches.batch_key(batch_id), ConsistentRead=True)["Item"]


def invocation_record(payload: dict, error_type: str, message: str, *, attempts: int = 3) -> str:
    """What Lambda sends to the on-failure destination after the child's last attempt."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-11-22T12:03:00.000Z",
            "requestContext": {
                "requestId": "e4b46cbf-b738-4f2a-9e5e-0c2b7b8ab29c",
                "functionArn": f"arn:aws:lambda:eu-west-1:123456789012:function:{CHILD}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": attempts,
            },
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []},
        }
    )


# --- parent: fan out ----------------------------------------------------------------------


def test_batch_is_split_into_chunks_each_invoked_asynchronously(api, table, invoked, context):
    items = sales(250)
    status, body, headers = call(api, context, "POST", "/batches", {"currency": "EUR", "items": items})
    assert status == 202
    batch_id = body["batch_id"]
    url = f"https://abcdef1234.execute-api.eu-west-1.amazonaws.com/v1/batches/{batch_id}"
    assert body == {"batch_id": batch_id, "status": "running", "chunks_total": 3, "status_url": url}
    assert (headers["location"], headers["retry-after"]) == (url, "2")
    assert [(p["batch_id"], p["chunk"], len(p["lines"])) for p in invoked.payloads] == [
        (batch_id, 0, 100),
        (batch_id, 1, 100),
        (batch_id, 2, 50),
    ]
    assert [line for p in invoked.payloads for line in p["lines"]] == items
    batch = stored(table, batch_id)
    assert (batch["status"], batch["chunks_total"], batch["chunks_done"], batch["item_count"]) == ("running", 3, 0, 250)


def test_invoke_request_is_a_valid_async_invoke(table, context, monkeypatch):
    """The parent's Invoke call checked against the Lambda API's model (botocore Stubber)."""
    module = fresh("fan_out.api")
    client = boto3.client("lambda")
    monkeypatch.setattr(module, "lambda_client", client)
    with Stubber(client) as stub:
        stub.add_response(
            "invoke", {"StatusCode": 202}, {"FunctionName": CHILD, "InvocationType": "Event", "Payload": ANY}
        )
        status, _, _ = call(module, context, "POST", "/batches", {"currency": "EUR", "items": sales(3)})
        stub.assert_no_pending_responses()
    assert status == 202


def test_largest_possible_chunk_stays_well_under_the_async_payload_limit(api):
    widest = {"sku": "ABCDEFGHIJKL-" + "9" * 24, "quantity": 10_000, "unit_price": "9999999.99"}
    lines = [api.SaleLine.model_validate(widest)] * api.CHUNK_SIZE
    payload = api.chunk_payload(batches.new_batch_id(), 99_999, "EUR", lines)
    assert len(payload) < 256 * 1024 / 4
    with pytest.raises(ValueError, match="lower CHUNK_SIZE"):
        api.chunk_payload(batches.new_batch_id(), 0, "EUR", lines * 10)


def test_failed_invoke_fails_the_batch_naming_the_chunk(api, table, invoked, context):
    invoked.fail_at = 1
    status, body, _ = call(api, context, "POST", "/batches", {"currency": "EUR", "items": sales(150)})
    assert (status, body["error"]) == (503, "FAN_OUT_FAILED")
    (item,) = [i for i in table.scan()["Items"] if i["pk"].count("#") == 1]
    assert (item["status"], item["failed_chunk"]) == ("failed", 1)
    assert "TooManyRequestsException" in item["error"]


# --- child and fan-in: the whole batch, exactly once ----------------------------------------


def test_chunks_in_any_order_complete_the_batch_with_checkable_totals(api, child, table, invoked, context):
    items = sales(250)
    batch_id = submit(api, context, items)
    outcomes = [child.main(payload, context) for payload in reversed(invoked.payloads)]
    assert [o["aggregated"] for o in outcomes] == [False, False, True]
    status, body, headers = call(api, context, "GET", f"/batches/{batch_id}")
    assert (status, body["status"], body["chunks_done"], body["chunks_total"]) == (200, "complete", 3, 3)
    assert body["result"] == sales_report(items)
    assert "retry-after" not in headers


def test_progress_shows_chunks_done_of_total(api, child, invoked, context):
    batch_id = submit(api, context, sales(250))
    child.main(invoked.payloads[1], context)
    status, body, headers = call(api, context, "GET", f"/batches/{batch_id}")
    assert (status, body["status"], body["chunks_done"], body["chunks_total"], headers["retry-after"]) == (
        200,
        "running",
        1,
        3,
        "2",
    )
    assert "result" not in body


def test_retried_child_does_not_count_its_chunk_twice(api, child, table, invoked, context):
    batch_id = submit(api, context, sales(150))
    first, second = invoked.payloads
    assert child.main(first, context)["recorded"] == "recorded"
    assert child.main(first, context)["recorded"] == "already recorded"
    assert stored(table, batch_id)["chunks_done"] == 1
    child.main(second, context)
    batch = stored(table, batch_id)
    assert (batch["status"], batch["chunks_done"], batch["result"]["total"]["lines"]) == ("complete", 2, 150)


def test_two_last_chunks_finishing_together_aggregate_once(api, child, table, invoked, context, monkeypatch):
    batch_id = submit(api, context, sales(150))
    merges = []
    real_merge = child.merge
    monkeypatch.setattr(child, "merge", lambda summaries: merges.append(1) or real_merge(summaries))
    # Both children record their chunk before either looks at the batch...
    for payload in invoked.payloads:
        summary = child.summarize_chunk(child.ChunkEvent.model_validate(payload).lines).model_dump(mode="json")
        assert (
            batches.record_chunk(table, batch_id, payload["chunk"], summary, expires_at=0, now=0)
            is batches.Recorded.NOW
        )
    # ...then both read the batch (running, 2 of 2 done) before either claims the fan-in.
    snapshot = batches.get(table, batch_id)
    assert (snapshot["status"], snapshot["chunks_done"]) == ("running", 2)
    assert child.fan_in(batch_id, context) is True
    monkeypatch.setattr(batches, "get", lambda *_: snapshot)  # the second child's stale read
    assert child.fan_in(batch_id, context) is False
    assert merges == [1]
    assert stored(table, batch_id)["result"]["total"]["lines"] == 150


def test_child_retried_after_the_batch_completed_changes_nothing(api, child, table, invoked, context):
    batch_id = submit(api, context, sales(150))
    for payload in invoked.payloads:
        child.main(payload, context)
    done = stored(table, batch_id)
    assert child.main(invoked.payloads[-1], context) == {
        "batch_id": batch_id,
        "chunk": 1,
        "recorded": "already recorded",
        "aggregated": False,
    }
    assert stored(table, batch_id) == done


def test_child_that_died_after_recording_the_last_chunk_fans_in_on_retry(
    api, child, table, invoked, context, monkeypatch
):
    batch_id = submit(api, context, sales(150))
    child.main(invoked.payloads[0], context)
    monkeypatch.setattr(child, "fan_in", lambda *args: (_ for _ in ()).throw(TimeoutError("Task timed out")))
    with pytest.raises(TimeoutError):
        child.main(invoked.payloads[1], context)
    assert (stored(table, batch_id)["status"], stored(table, batch_id)["chunks_done"]) == ("running", 2)
    monkeypatch.undo()
    assert child.main(invoked.payloads[1], context)["aggregated"] is True
    assert stored(table, batch_id)["status"] == "complete"


def test_transient_error_while_aggregating_releases_the_claim_for_a_retry(
    api, child, table, invoked, context, monkeypatch
):
    batch_id = submit(api, context, sales(150))
    child.main(invoked.payloads[0], context)
    real_merge = child.merge

    def throttled(summaries):
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "BatchGetItem"
        )

    monkeypatch.setattr(child, "merge", throttled)
    with pytest.raises(ClientError):
        child.main(invoked.payloads[1], context)
    assert stored(table, batch_id)["status"] == "running"
    monkeypatch.setattr(child, "merge", real_merge)
    assert child.main(invoked.payloads[1], context)["aggregated"] is True


def test_aggregation_claim_of_a_dead_run_is_taken_over_after_it_expires(api, child, table, invoked, context):
    batch_id = submit(api, context, sales(150))
    for payload in invoked.payloads[:1]:
        child.main(payload, context)
    summary = child.summarize_chunk(child.ChunkEvent.model_validate(invoked.payloads[1]).lines).model_dump(mode="json")
    batches.record_chunk(table, batch_id, 1, summary, expires_at=0, now=0)
    assert batches.claim_aggregation(table, batch_id, "live-run", now=1e9, until=4e9)
    assert child.fan_in(batch_id, context) is False  # a live claim is respected
    table.update_item(
        Key=batches.batch_key(batch_id),
        UpdateExpression="SET aggregation_until = :past",
        ExpressionAttributeValues={":past": 1},
    )
    assert child.fan_in(batch_id, context) is True
    with pytest.raises(batches.AggregationLost):
        batches.complete(table, batch_id, "live-run", {}, now=0)
    assert stored(table, batch_id)["result"]["total"]["lines"] == 150


# --- permanent chunk failure -> on-failure destination -> batch failed ----------------------


def test_permanently_failing_chunk_marks_the_batch_failed_naming_it(api, child, chunk_failed, table, invoked, context):
    items = sales(150)
    items[120] = line("SOFA-9", 1, "499.00")  # in chunk 1: no category for SOFA
    batch_id = submit(api, context, items)
    with pytest.raises(ChunkRejected, match="no category for SKU 'SOFA-9'"):
        child.main(invoked.payloads[1], context)
    child.main(invoked.payloads[0], context)
    # After Lambda's retries, the invocation record reaches the queue the handler consumes.
    record = invocation_record(invoked.payloads[1], "ChunkRejected", "no category for SKU 'SOFA-9'")
    assert chunk_failed.main(sqs(record), context) == {"batchItemFailures": []}
    status, body, headers = call(api, context, "GET", f"/batches/{batch_id}")
    assert (status, body["status"], body["failed_chunk"], body["chunks_done"]) == (200, "failed", 1, 1)
    assert (
        body["error"]
        == "chunk 1 failed (RetriesExhausted after 3 attempts): ChunkRejected: no category for SKU 'SOFA-9'"
    )
    assert "result" not in body and "retry-after" not in headers


def test_chunk_failure_record_is_idempotent_and_keeps_the_first_failure(api, chunk_failed, table, invoked, context):
    batch_id = submit(api, context, sales(250))
    first = invocation_record(invoked.payloads[2], "ChunkRejected", "first")
    second = invocation_record(invoked.payloads[0], "TimeoutError", "second")
    chunk_failed.main(sqs(first, first), context)
    chunk_failed.main(sqs(second), context)
    batch = stored(table, batch_id)
    assert (batch["status"], batch["failed_chunk"]) == ("failed", 2)
    assert batch["error"].endswith("ChunkRejected: first")


def test_chunks_of_a_failed_batch_are_dropped_and_never_aggregated(api, child, chunk_failed, table, invoked, context):
    batch_id = submit(api, context, sales(150))
    chunk_failed.main(sqs(invocation_record(invoked.payloads[0], "ChunkRejected", "bad")), context)
    outcome = child.main(invoked.payloads[1], context)
    assert (outcome["recorded"], outcome["aggregated"]) == ("batch not running", False)
    batch = stored(table, batch_id)
    assert (batch["status"], batch["chunks_done"]) == ("failed", 0) and "result" not in batch


def test_failure_record_of_a_completed_batch_changes_nothing(api, child, chunk_failed, table, invoked, context):
    batch_id = submit(api, context, sales(50))
    child.main(invoked.payloads[0], context)
    done = stored(table, batch_id)
    chunk_failed.main(sqs(invocation_record(invoked.payloads[0], "TimeoutError", "late")), context)
    assert stored(table, batch_id) == done


@pytest.mark.parametrize(
    "body", ["{not json", json.dumps({"requestContext": {}, "requestPayload": {"chunk": 0}}), json.dumps([1])]
)
def test_message_that_is_not_a_chunk_invocation_record_is_reported_failed(api, chunk_failed, invoked, context, body):
    batch_id = submit(api, context, sales(10))
    good = invocation_record(invoked.payloads[0], "ChunkRejected", "bad")
    event = sqs(body, good)
    response = chunk_failed.main(event, context)
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [event["Records"][0]["messageId"]]
    assert batches.get(chunk_failed.table, batch_id)["status"] == "failed"


def test_a_batch_whose_every_message_fails_is_reported_not_raised(chunk_failed, context):
    # Raising would be an invocation error, paging through ChunkFailedFunctionErrors for what the
    # queue's DLQ (and its alarm) already handles.
    event = sqs("{not json", json.dumps([1]))
    response = chunk_failed.main(event, context)
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [r["messageId"] for r in event["Records"]]


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"batch_id": "b-" + "0" * 32, "chunk": 0, "currency": "EUR", "lines": []},
        {"batch_id": "../etc", "chunk": 0, "currency": "EUR", "lines": [line("BOOK-1", 1, "1.00")]},
        {"batch_id": "b-" + "0" * 32, "chunk": "0", "currency": "EUR", "lines": [line("BOOK-1", 1, "1.00")]},
        {"batch_id": "b-" + "0" * 32, "chunk": 0, "currency": "EUR", "lines": [line("BOOK-1", 1, 1.0)]},
    ],
)
def test_child_event_that_is_not_a_chunk_raises_for_retry_and_destination(child, context, event):
    with pytest.raises(ValidationError):
        child.main(event, context)


# --- parent: bad input --------------------------------------------------------------------


def assert_nothing_started(table, invoked) -> None:
    assert table.scan()["Items"] == [] and invoked.payloads == []


def test_malformed_json_is_400(api, table, invoked, context):
    status, body, _ = call(api, context, "POST", "/batches", raw_body='{"items": [')
    assert (status, body["error"]) == (400, "MALFORMED_JSON")
    assert_nothing_started(table, invoked)


def test_oversized_body_is_413(api, table, invoked, context):
    status, body, _ = call(
        api, context, "POST", "/batches", {"currency": "EUR", "items": sales(1), "pad": "x" * 300_000}
    )
    assert (status, body["error"]) == (413, "PAYLOAD_TOO_LARGE")
    assert_nothing_started(table, invoked)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "EUR"}, "items"),
        ({"items": sales(1)}, "currency"),
        ({"currency": "EUR", "items": []}, "items"),
        ({"currency": "EUR", "items": sales(2001)}, "items"),
        ({"currency": "EUR", "items": "BOOK-1"}, "items"),
        ({"currency": "EUR", "items": [line("BOOK-1", "2", "1.00")]}, "items[0].quantity"),
        ({"currency": "EUR", "items": [line("BOOK-1", 0, "1.00")]}, "items[0].quantity"),
        ({"currency": "EUR", "items": [line("BOOK-1", 2, 1.0)]}, "items[0].unit_price"),
        ({"currency": "EUR", "items": [line("book 1", 2, "1.00")]}, "items[0].sku"),
        ({"currency": "EUR", "items": [{**line("BOOK-1", 2, "1.00"), "note": "x"}]}, "items[0].note"),
    ],
)
def test_invalid_batch_is_422_naming_the_field(api, table, invoked, context, body, field):
    status, reply, _ = call(api, context, "POST", "/batches", body)
    assert (status, reply["error"]) == (422, "VALIDATION_FAILED")
    assert field in [detail["field"] for detail in reply["details"]]
    assert_nothing_started(table, invoked)


def test_array_body_is_422(api, table, invoked, context):
    status, reply, _ = call(api, context, "POST", "/batches", [{"currency": "EUR", "items": sales(1)}])
    assert (status, reply["error"]) == (422, "VALIDATION_FAILED")
    assert_nothing_started(table, invoked)


@pytest.mark.parametrize("batch_id", ["b-" + "0" * 32, "b-nope", "j-" + "0" * 32])
def test_unknown_or_malformed_batch_id_is_404(api, context, batch_id):
    status, body, _ = call(api, context, "GET", f"/batches/{batch_id}")
    assert (status, body["error"]) == (404, "NOT_FOUND")


# --- property: no client input makes the batch API answer 5xx --------------------------------


@fuzz_settings
@given(body=request_bodies(valid={"currency": "EUR", "items": sales(3)}))
def test_no_body_makes_the_batch_api_fail(api, context, body):
    # Valid bodies fan out to the recording fake; a 503 would mean the fan-out itself failed.
    assert_client_safe(api.main(body.apply_to(api_gateway_rest("POST", "/batches")), context))


@fuzz_settings
@given(batch_id=any_text(max_size=80) | odd_strings)
def test_no_batch_id_makes_the_status_api_fail(api, context, batch_id):
    event = api_gateway_rest("GET", f"/batches/{batch_id}")
    event["resource"] = event["requestContext"]["resourcePath"] = "/batches/{batch_id}"
    event["pathParameters"] = {"batch_id": batch_id}
    response = api.main(event, context)
    assert_client_safe(response)
    assert response["statusCode"] == 404
