"""What a caller of any emulated front door (REST API, Function URL) receives: one type for all."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HttpResponse:
    """An HTTP answer: status, lower-case headers, the body's bytes; `invoked` is False when the
    front door refused the request before any function ran; `via` says where the request went,
    for a reader of the smoke output."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    invoked: bool = True
    via: str = ""

    @classmethod
    def of(
        cls,
        status: int,
        body: bytes | str,
        headers: dict[str, str] | None = None,
        *,
        invoked: bool = True,
        via: str = "",
    ) -> HttpResponse:
        """From text or bytes and headers in any case."""
        raw = body.encode() if isinstance(body, str) else body
        return cls(int(status), {k.lower(): str(v) for k, v in (headers or {}).items()}, raw, invoked, via)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON (ValueError if it is not JSON)."""
        return json.loads(self.body)
