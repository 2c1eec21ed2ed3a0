"""AWS clients and Powertools pieces that cost nothing at import, for a quick cold start.

A module-level client is what Lambda recommends (made once per sandbox, reused by every warm
invocation), but making one loads botocore's endpoint and service models (20-200 ms each), and
boto3, X-Ray's AWS SDK patch, Powertools' idempotency and parameters utilities each import most of
botocore: all paid by every cold start, even one whose invocation never calls AWS (a request
rejected by validation, the webhook's HTTP path for DynamoDB). `client`, `table`,
`idempotency_config`, `idempotent` and `get_secret` keep the module-level shape and do that work on
first use instead, once:

    s3 = aws.client("s3")                         # no botocore work yet
    table = aws.table(os.environ[names.TABLE_ENV])
    s3.put_object(...)                            # the client is made here, and kept

Tracing: handlers make their Tracer with `auto_patch=False`, and the AWS SDK is patched (Powertools'
`Tracer.patch`, X-Ray subsegments for every AWS call) just before this module makes its first
client or reads a secret. It is the only library these handlers call out with; patching every
library X-Ray supports would import each one that happens to be installed.
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
def _trace_aws_calls() -> None:
    from aws_lambda_powertools import Tracer

    Tracer(auto_patch=False).patch(TRACED_LIBRARIES)  # does nothing when tracing is disabled


@functools.cache
def _session() -> Any:
    _trace_aws_calls()
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


def idempotency_config(**options: Any) -> Any:
    """Powertools' `IdempotencyConfig(**options)`, made on first use."""

    def make() -> Any:
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

        return IdempotencyConfig(**options)

    return Lazy(make)


def idempotent(
    *, data_keyword_argument: str, config: Any, table_name: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Powertools' `idempotent_function` with a DynamoDB persistence layer for `table_name`, built
    on the first call rather than at import (the layer makes its DynamoDB client when built).
    `config` is an `IdempotencyConfig`, or one from `idempotency_config`."""

    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.cache
        def built() -> Callable[..., Any]:
            from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function

            # A client of this module's session, which shares the models the function's other
            # clients have loaded (the layer would otherwise start a session of its own).
            store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=_session().client("dynamodb"))
            resolved = config.resolve() if isinstance(config, Lazy) else config
            made: Callable[..., Any] = idempotent_function(
                function, data_keyword_argument=data_keyword_argument, config=resolved, persistence_store=store
            )
            return made

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _MAKING:
                idempotent_function = built()
            return idempotent_function(*args, **kwargs)

        return wrapper

    return decorator


def get_secret(name: str, *, max_age: int) -> str | bytes:
    """Powertools' `parameters.get_secret` (cached for `max_age` seconds), the utility imported and
    the AWS SDK traced on first use."""
    with _MAKING:
        _trace_aws_calls()
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(name, max_age=max_age)
