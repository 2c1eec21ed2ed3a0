"""AWS clients and Powertools pieces that cost nothing at import, for a quick cold start.

A module-level client is what Lambda recommends (made once per sandbox, reused by every warm
invocation), but making one loads botocore's endpoint and service models: 20-200 ms each, paid by
every cold start even when the invocation never calls AWS (a request rejected by validation, the
webhook's HTTP path for DynamoDB). `client`, `resource_table` and `idempotent` keep the
module-level shape and make the real object on first use instead, once:

    s3 = aws.client("s3")                         # no botocore work yet
    table = aws.table(os.environ[names.TABLE_ENV])
    s3.put_object(...)                            # the client is made here, and kept

`TRACED_LIBRARIES` is what the Tracer patches: the AWS SDK is the only library these handlers call
out with, and patching every library X-Ray supports imports each one that happens to be installed.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

TRACED_LIBRARIES = ("botocore",)

# A boto3 session is not thread-safe, and one process may run a function's module in several
# threads (the local cloud does, beside other code using boto3's default session): this module's
# clients come from a session of its own, made one at a time.
_MAKING = threading.RLock()


@functools.cache
def _session() -> Any:
    import boto3

    return boto3.session.Session()


class Lazy:
    """Stands for what `make()` returns, made on the first attribute access and then kept."""

    __slots__ = ("_make", "_made")

    def __init__(self, make: Callable[[], Any]) -> None:
        object.__setattr__(self, "_make", make)
        object.__setattr__(self, "_made", None)

    def resolve(self) -> Any:
        made = object.__getattribute__(self, "_made")
        if made is None:
            with _MAKING:
                made = object.__getattribute__(self, "_made")
                if made is None:
                    made = object.__getattribute__(self, "_make")()
                    object.__setattr__(self, "_made", made)
        return made

    def __getattr__(self, name: str) -> Any:
        return getattr(self.resolve(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.resolve(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self.resolve(), name)

    def __repr__(self) -> str:
        made = object.__getattribute__(self, "_made")
        return f"Lazy({made!r})" if made is not None else "Lazy(not made yet)"


def client(service: str) -> Any:
    """A boto3 client for `service`, made on first use."""

    def make() -> Any:
        return _session().client(service)

    return Lazy(make)


def table(name: str) -> Any:
    """A boto3 DynamoDB Table resource for `name`, made on first use."""

    def make() -> Any:
        return _session().resource("dynamodb").Table(name)

    return Lazy(make)


def idempotent(*, data_keyword_argument: str, config: Any, table_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Powertools' `idempotent_function` with a DynamoDB persistence layer for `table_name`, built
    on the first call rather than at import (the layer makes its DynamoDB client when built)."""

    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.cache
        def built() -> Callable[..., Any]:
            from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function

            # A client of this module's session, which shares the models the function's other
            # clients have loaded (the layer would otherwise start a session of its own).
            store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=_session().client("dynamodb"))
            return idempotent_function(function, data_keyword_argument=data_keyword_argument, config=config, persistence_store=store)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _MAKING:
                idempotent_function = built()
            return idempotent_function(*args, **kwargs)

        return wrapper

    return decorator
