"""shared/aws.py: clients, tables and idempotency stores made on first use, once, and reused."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

from localcloud.events import LambdaContext
from shared import aws


class Thing:
    def __init__(self) -> None:
        self.value = 1

    def double(self) -> int:
        return self.value * 2


def counted() -> tuple[list[Thing], aws.Lazy]:
    made: list[Thing] = []
    return made, aws.Lazy(lambda: made.append(Thing()) or made[-1])


def test_lazy_makes_nothing_until_used_then_once():
    made, thing = counted()
    assert made == [] and "not made yet" in repr(thing)
    assert thing.double() == 2
    assert thing.value == 1
    assert len(made) == 1 and thing.resolve() is made[0]


def test_lazy_forwards_attribute_writes_and_deletes_to_what_it_made():
    made, thing = counted()
    thing.value = 21
    assert made[0].value == 21 and thing.double() == 42
    del thing.value
    assert not hasattr(made[0], "value")


def test_lazy_makes_once_when_threads_race_for_it():
    made: list[object] = []
    start = threading.Barrier(8)

    def make() -> object:
        time.sleep(0.05)  # a slow client, so the racing threads all arrive before it exists
        made.append(object())
        return made[-1]

    thing = aws.Lazy(make)
    seen: list[object] = []

    def use() -> None:
        start.wait()
        seen.append(thing.resolve())

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and seen == made * 8


def test_lazy_retries_a_make_that_failed():
    attempts: list[int] = []

    def make() -> Thing:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("no endpoint yet")
        return Thing()

    thing = aws.Lazy(make)
    with pytest.raises(ConnectionError):
        thing.double()
    assert thing.double() == 2 and len(attempts) == 2


@pytest.fixture
def tables(empty_aws):
    """The tables these tests use, by name: `items`, and `idempotency` for the idempotency store."""
    return {"items": empty_aws.table("items", "pk"), "idempotency": empty_aws.table("idempotency", "id")}


def test_client_and_table_talk_to_aws_once_made(tables):
    table = aws.table("items")
    table.put_item(Item={"pk": "a", "n": 1})
    assert table.get_item(Key={"pk": "a"})["Item"]["n"] == 1
    assert table.name == "items" and table.resolve() is table.resolve()
    client = aws.client("dynamodb")
    assert client.describe_table(TableName="items")["Table"]["TableName"] == "items"
    assert client.meta.service_model.service_name == "dynamodb"


def test_client_is_not_made_at_import_or_declaration(monkeypatch):
    monkeypatch.setattr(
        boto3.session.Session, "client", lambda *a, **k: pytest.fail("a client was made before first use")
    )
    monkeypatch.setattr(
        boto3.session.Session, "resource", lambda *a, **k: pytest.fail("a resource was made before first use")
    )
    aws.client("s3")
    aws.table("anything")


def test_idempotent_runs_once_per_key_and_builds_its_store_on_first_call(tables, monkeypatch):
    config = IdempotencyConfig(event_key_jmespath="id")
    runs: list[str] = []
    built: list[str] = []
    real_client = boto3.session.Session.client

    def counting_client(session, service, *args, **kwargs):
        built.append(service)
        return real_client(session, service, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", counting_client)

    @aws.idempotent(data_keyword_argument="item", config=config, table_name="idempotency")
    def work(item: dict) -> dict:
        runs.append(item["id"])
        return {"done": item["id"]}

    assert built == [], "the persistence layer was built before the first call"
    config.register_lambda_context(LambdaContext())
    assert work(item={"id": "x"}) == {"done": "x"}
    assert work(item={"id": "x"}) == {"done": "x"}
    assert work(item={"id": "y"}) == {"done": "y"}
    assert runs == ["x", "y"] and built == ["dynamodb"]
    assert tables["idempotency"].scan()["Count"] == 2
    assert work.__name__ == "work"


@pytest.fixture
def patches(monkeypatch):
    """Every Tracer.patch call, from a fresh start (no client made, nothing patched yet)."""
    from aws_lambda_powertools import Tracer

    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(Tracer, "patch", lambda self, modules=None: calls.append(tuple(modules or ())))
    aws._trace_aws_calls.cache_clear()
    aws._session.cache_clear()
    yield calls
    aws._trace_aws_calls.cache_clear()
    aws._session.cache_clear()


def test_the_aws_sdk_is_traced_before_the_first_client_is_made(tables, patches):
    table = aws.table("items")
    assert patches == []
    table.put_item(Item={"pk": "a"})
    assert aws.client("s3").meta.service_model.service_name == "s3"  # a second client: patched once only
    assert patches == [aws.TRACED_LIBRARIES] == [("botocore",)]


def test_get_secret_reads_through_powertools_traced(tables, patches, monkeypatch):
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    # A provider an earlier test made (with its client, in its region) would answer otherwise.
    monkeypatch.delitem(DEFAULT_PROVIDERS, "secrets", raising=False)
    boto3.client("secretsmanager").create_secret(Name="shared-aws-test", SecretString="s3cr3t")
    assert aws.get_secret("shared-aws-test", max_age=5) == "s3cr3t"
    assert patches == [("botocore",)]


def test_each_test_starts_with_an_empty_account(empty_aws):
    # The tests above made tables in this module's moto mock; empty_aws resets it after each test.
    assert empty_aws.client("dynamodb").list_tables()["TableNames"] == []
