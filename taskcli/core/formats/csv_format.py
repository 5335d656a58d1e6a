"""The ``csv`` format: a header row of task-object field names, then one task per row.

Columns may come in any order and any may be missing except ``title``; unknown
columns are ignored. An empty (or blank) cell is null, so CSV cannot tell an empty
description from none. Tags are joined by spaces; commas are accepted between tags
on reading, since a tag can contain neither. Timestamps are written as RFC 3339
UTC; on reading, one without an offset is local time (a bare date: the end of that day). A quoted
cell may span lines; a record's location is the line it starts on. Rows end in CRLF
(RFC 4180); open files with ``newline=""``, as the csv module asks, so line breaks
inside cells survive.

A cell that a spreadsheet would evaluate as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or CR) is written with a leading ``'`` (OWASP's guard), and reading removes
it. A value that itself starts with quotes before such a character gets one more quote,
so every string reads back exactly as it was written.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from taskcli.core.formats.records import (
    EVERY_FIELD,
    ParsedRecord,
    RecordError,
    RecordTooLong,
    numbered_lines,
    record_from_json,
    task_to_json,
)
from taskcli.core.vocabulary import TASK_FIELDS

_TAG_SEPARATORS = re.compile(r"[\s,]+")
# Quotes (none or more) before a character that makes a spreadsheet evaluate the cell.
_FORMULA_START = re.compile("'*[=+\\-@\t\r]")


def guard_cell(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet could take it for a formula."""
    return "'" + text if _FORMULA_START.match(text) else text


def unguard_cell(text: str) -> str:
    """The value :func:`guard_cell` was given."""
    return text[1:] if text.startswith("'") and _FORMULA_START.match(text, 1) else text


def read_csv(stream: TextIO) -> Iterator[ParsedRecord]:
    """Each data row as a record or a rejection at ``line N``; a bad header or a line too
    long for a record ends the input."""
    reader = csv.reader(line for _, line in numbered_lines(stream))
    columns: dict[str, int] | None = None
    width = 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except RecordTooLong as error:
            yield ParsedRecord(error.location, error=str(error))
            return
        except csv.Error as error:
            yield ParsedRecord(f"line {start}", error=f"not valid CSV: {error}")
            continue
        if not any(cell.strip() for cell in row):
            continue
        if columns is None:
            columns, width = _header_columns(row), len(row)
            if "title" not in columns:
                yield ParsedRecord(f"line {start}", error="the CSV header has no 'title' column")
                return
            continue
        yield _parse_row(f"line {start}", row, columns, width)


# Cells holding a list of words, joined by spaces; annotations are a cell of JSON text.
_LIST_CELLS = ("tags", "depends")


def _header_columns(header: list[str]) -> dict[str, int]:
    """Field name → column index for the known fields (the first column of a name wins)."""
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        field = name.strip().lower()
        if field in TASK_FIELDS:
            columns.setdefault(field, index)
    return columns


def _parse_row(location: str, row: list[str], columns: dict[str, int], width: int) -> ParsedRecord:
    if len(row) != width:
        return ParsedRecord(
            location, error=f"expected {width} cells as in the header, found {len(row)}"
        )
    values: dict[str, Any] = {}
    for field, index in columns.items():
        cell = unguard_cell(row[index])
        if field in _LIST_CELLS:
            values[field] = [item for item in _TAG_SEPARATORS.split(cell) if item]
        elif field == "annotations" and cell.strip():
            try:
                values[field] = json.loads(cell)
            except ValueError:
                return ParsedRecord(location, error="annotations: not a JSON array")
        elif cell.strip():
            values[field] = cell
    try:
        return ParsedRecord(location, record=record_from_json(values))
    except RecordError as error:
        return ParsedRecord(location, error=str(error))


CARRIES = EVERY_FIELD


def write_csv(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write the header and one row per record; null is an empty cell, formulas guarded."""
    # The default "\r\n" terminator also makes the writer quote a lone "\r" in a cell.
    writer = csv.writer(out)
    writer.writerow(TASK_FIELDS)
    count = 0
    for record in records:
        obj = task_to_json(record)
        for name in _LIST_CELLS:
            obj[name] = " ".join(obj[name])
        notes = obj["annotations"]
        obj["annotations"] = json.dumps(notes, ensure_ascii=False) if notes else None
        writer.writerow(
            "" if obj[field] is None else guard_cell(str(obj[field])) for field in TASK_FIELDS
        )
        count += 1
    return count
