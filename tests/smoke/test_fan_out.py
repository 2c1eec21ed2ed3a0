"""FanOut: a batch POSTed to the API is split into chunks run by asynchronous child invocations;
the caller polls the batch until the last child has fanned in. A chunk that fails on every
attempt fails the batch, naming it."""

from __future__ import annotations

from fan_out import names

STACK = "FanOut"
LOCALCLOUD_OPTIONS = {"async_workers": 2}
DEADLINE = 180
# A failing child is retried twice by Lambda (about 1 and 2 minutes apart) before its failure
# record reaches the ChunkFailed function: up to ~5 minutes in AWS.
FAILED_DEADLINE = 480
# 150 lines: two chunks of at most 100 (lambdas/fan_out/sales.py CHUNK_SIZE).
ITEMS = [{"sku": "BOOK-1", "quantity": 2, "unit_price": "3.50"}] * 120 + [
    {"sku": "MUG-3", "quantity": 1, "unit_price": "8.00"}
] * 30


def batches_url(target) -> str:
    return target.outputs[names.BATCHES_ENDPOINT_OUTPUT].rstrip("/") + "/batches"


def submit(target, items: list[dict]) -> str:
    response = target.post(batches_url(target), {"currency": "EUR", "items": items})
    assert (response.status, response.json()["chunks_total"]) == (202, 2), response.text
    return response.json()["status_url"]


def finished(target, status_url: str) -> dict | None:
    response = target.get(status_url)
    assert response.status == 200, response.text
    return response.json() if response.json()["status"] in ("complete", "failed") else None


def test_a_batch_is_fanned_out_and_fanned_in_to_one_report(target):
    status_url = submit(target, ITEMS)
    batch = target.wait_until(lambda: finished(target, status_url), deadline=DEADLINE, describe="the batch to finish")
    assert (batch["status"], batch["chunks_done"], batch["item_count"]) == ("complete", 2, 150), batch
    # books: 120 lines x 2 x 3.50 = 840.00; kitchen: 30 x 8.00 = 240.00
    assert batch["result"]["categories"]["books"] == {"lines": 120, "units": 240, "revenue": "840.00"}
    assert batch["result"]["total"] == {"lines": 150, "units": 270, "revenue": "1080.00"}


def test_a_chunk_failing_on_every_attempt_fails_the_batch_with_its_error(target):
    items = [
        *ITEMS[:130],
        {"sku": "TOY-9", "quantity": 1, "unit_price": "1.00"},
        *ITEMS[130:149],
    ]  # chunk 1: no category for TOY
    status_url = submit(target, items)
    batch = target.wait_until(
        lambda: finished(target, status_url), deadline=FAILED_DEADLINE, describe="the batch to finish"
    )
    assert (batch["status"], batch["failed_chunk"]) == ("failed", 1), batch
    assert "TOY-9" in batch["error"] and "result" not in batch


def test_a_body_failing_the_request_model_is_a_400(target):
    response = target.post(batches_url(target), {"currency": "EUR", "items": []})
    assert (response.status, response.json()["error"]) == (400, "BAD_REQUEST_BODY")
