"""The work of the job: split a CSV into byte ranges, aggregate each range, merge the results.

Plain Python with no AWS calls. A chunk owns every line that *starts* inside its byte range
[start, end), so chunks never split or share a row and no chunk needs the others to begin.
Per group-by key and numeric column: count, sum, min, max, as exact decimals (strings in JSON).
"""

from __future__ import annotations

import codecs
import csv
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.errors import MalformedData

MAX_ROW_BYTES = 64 * 1024


def parse_header(first_bytes: bytes, group_by: str) -> tuple[list[str], int]:
    """(column names, byte length of the header line). Rejects an empty file or a bad header.

    `first_bytes` start at the file's first byte: a UTF-8 byte order mark there (what spreadsheet
    tools write for "CSV UTF-8") is not part of the first column's name; its 3 bytes still count
    in the offset where the data starts."""
    line, newline, _ = first_bytes.partition(b"\n")
    if not line.removeprefix(codecs.BOM_UTF8).strip():
        raise MalformedData("the dataset is empty: no header row")
    if not newline:
        raise MalformedData(f"the header row is over {MAX_ROW_BYTES} bytes or the dataset has no data rows")
    try:
        columns = next(csv.reader([line.decode("utf-8-sig").rstrip("\r")]))  # -sig: a leading BOM only
    except UnicodeDecodeError:
        raise MalformedData("the header row is not UTF-8") from None
    columns = [c.strip() for c in columns]
    if any(not c for c in columns) or len(set(columns)) != len(columns):
        raise MalformedData(f"the header row has empty or duplicate column names: {columns}")
    if group_by not in columns:
        raise MalformedData(f"the header has no column {group_by!r}; columns: {columns}")
    if len(columns) < 2:
        raise MalformedData("the header names no numeric column besides the group-by column")
    return columns, len(line) + 1


def byte_ranges(data_start: int, size: int, chunk_bytes: int) -> list[tuple[int, int]]:
    if size <= data_start:
        raise MalformedData("the dataset is empty: a header and no rows")
    return [(start, min(start + chunk_bytes, size)) for start in range(data_start, size, chunk_bytes)]


def owned_lines(window: bytes, window_start: int, start: int, end: int, size: int) -> list[tuple[int, str]]:
    """The (byte offset, text) of each line starting in [start, end), from a window read at window_start."""
    offset = 0
    if start > window_start:
        # The window begins one byte early: skip to the first line that starts at or after `start`.
        newline = window.find(b"\n")
        offset = newline + 1 if newline >= 0 else len(window)
    lines = []
    while window_start + offset < end and offset < len(window):
        newline = window.find(b"\n", offset)
        if newline < 0 and window_start + len(window) < size:
            raise MalformedData(f"row at byte {window_start + offset} is longer than {MAX_ROW_BYTES} bytes")
        stop = newline if newline >= 0 else len(window)
        raw = window[offset:stop]
        try:
            lines.append((window_start + offset, raw.decode("utf-8").rstrip("\r")))
        except UnicodeDecodeError:
            raise MalformedData(f"row at byte {window_start + offset} is not UTF-8") from None
        offset = stop + 1
    return lines


def aggregate_rows(
    lines: list[tuple[int, str]], columns: list[str], group_by: str
) -> dict[str, dict[str, dict[str, str | int]]]:
    key_index = columns.index(group_by)
    numeric = [(i, c) for i, c in enumerate(columns) if c != group_by]
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for offset, text in lines:
        if not text.strip():
            continue
        fields = next(csv.reader([text]))
        if len(fields) != len(columns):
            raise MalformedData(
                f"row at byte {offset} has {len(fields)} fields, the header has {len(columns)}: {text[:200]!r}"
            )
        stats = groups.setdefault(fields[key_index], {})
        for index, column in numeric:
            try:
                value = Decimal(fields[index].strip())
                if not value.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                raise MalformedData(
                    f"row at byte {offset}: column {column!r} is not a number: {fields[index][:50]!r}"
                ) from None
            s = stats.setdefault(column, {"count": 0, "sum": Decimal(0), "min": value, "max": value})
            s["count"] += 1
            s["sum"] += value
            s["min"], s["max"] = min(s["min"], value), max(s["max"], value)
    return _to_json(groups)


def merge_results(results: list[dict[str, dict[str, dict[str, Any]]]]) -> dict[str, dict[str, dict[str, str | int]]]:
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for result in results:
        for key, columns in result.items():
            for column, s in columns.items():
                count, total, low, high = s["count"], Decimal(s["sum"]), Decimal(s["min"]), Decimal(s["max"])
                m = merged.setdefault(key, {}).setdefault(
                    column, {"count": 0, "sum": Decimal(0), "min": low, "max": high}
                )
                m["count"] += count
                m["sum"] += total
                m["min"], m["max"] = min(m["min"], low), max(m["max"], high)
    return _to_json(merged)


def _to_json(groups: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, str | int]]]:
    return {
        key: {
            column: {"count": s["count"], "sum": str(s["sum"]), "min": str(s["min"]), "max": str(s["max"])}
            for column, s in columns.items()
        }
        for key, columns in sorted(groups.items())
    }
