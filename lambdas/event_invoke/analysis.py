"""The work of the upload analyzer: facts about one text object.

Plain Python with no AWS calls: replace `analyze` with your own work. Raise `Rejected` for input
that will never succeed (so it is not retried); let anything else raise so Lambda retries it.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import asdict, dataclass


class Rejected(ValueError):
    """Permanent: retrying cannot help (unsupported, oversized or vanished input)."""


@dataclass(frozen=True)
class Analysis:
    size_bytes: int
    sha256: str
    content_type: str
    lines: int
    words: int
    characters: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def check_size(size_bytes: int, max_bytes: int) -> None:
    if size_bytes > max_bytes:
        raise Rejected(f"object is {size_bytes} bytes; the limit is {max_bytes}")


def analyze(key: str, body: bytes, *, max_bytes: int) -> Analysis:
    """Size, checksum, content type and line/word/character counts of a UTF-8 text object."""
    check_size(len(body), max_bytes)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Rejected(f"not UTF-8 text (byte {error.start} is 0x{body[error.start]:02x})") from None
    if "\x00" in text:
        raise Rejected("binary content (contains NUL bytes)")
    content_type = mimetypes.guess_type(key)[0] or "text/plain"
    return Analysis(
        size_bytes=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        content_type=content_type,
        lines=len(text.splitlines()),
        words=len(text.split()),
        characters=len(text),
    )
