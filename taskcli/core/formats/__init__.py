"""Import and export formats: text in a format ↔ neutral task records (no database).

A record is a plain dict with the keys of the SPEC §10 task object (see
:mod:`.records`). Readers yield :class:`ParsedRecord` items one at a time (a record,
a rejection with its location, or a skip); writers stream row by row and return the
count. One module per format: :mod:`.json_array`, :mod:`.json_lines`,
:mod:`.csv_format`, :mod:`.taskwarrior`, :mod:`.todotxt`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from taskcli.core.errors import InvalidInputError
from taskcli.core.formats import csv_format, json_array, json_lines, taskwarrior, todotxt
from taskcli.core.formats.csv_format import read_csv, write_csv
from taskcli.core.formats.detect import detect_format
from taskcli.core.formats.json_array import read_json, write_json
from taskcli.core.formats.json_lines import read_jsonl, write_jsonl
from taskcli.core.formats.json_stream import JsonArrayWriter, JsonLinesWriter, read_head
from taskcli.core.formats.records import Carries, ParsedRecord, Series, task_to_json
from taskcli.core.formats.taskwarrior import read_taskwarrior, write_taskwarrior
from taskcli.core.formats.todotxt import read_todotxt, write_todotxt

__all__ = [
    "FORMATS",
    "Carries",
    "ParsedRecord",
    "Series",
    "carried_fields",
    "detect_format",
    "read_head",
    "read_records",
    "task_to_json",
    "json_text_writer",
    "write_records",
]

FORMATS = ("json", "jsonl", "csv", "taskwarrior", "todotxt")

_READERS: dict[str, Callable[[TextIO], Iterator[ParsedRecord]]] = {
    "json": read_json,
    "jsonl": read_jsonl,
    "csv": read_csv,
    "taskwarrior": read_taskwarrior,
    "todotxt": read_todotxt,
}
_WRITERS: dict[str, Callable[[Iterable[dict[str, Any]], TextIO], int]] = {
    "json": write_json,
    "jsonl": write_jsonl,
    "csv": write_csv,
    "taskwarrior": write_taskwarrior,
    "todotxt": write_todotxt,
}

_CARRIES: dict[str, Carries] = {
    "json": json_array.CARRIES,
    "jsonl": json_lines.CARRIES,
    "csv": csv_format.CARRIES,
    "taskwarrior": taskwarrior.CARRIES,
    "todotxt": todotxt.CARRIES,
}


#: Formats made of one-line task objects: their text can come ready-made from the database.
JSON_TEXT_FORMATS = ("json", "jsonl")
_TEXT_WRITERS = {"json": JsonArrayWriter, "jsonl": JsonLinesWriter}
#: Formats whose text is JSON (a terminal gets its raw controls as ``\u`` escapes).
JSON_FORMATS = (*JSON_TEXT_FORMATS, "taskwarrior")


def read_records(stream: TextIO, fmt: str) -> Iterator[ParsedRecord]:
    """Parse ``stream`` lazily as ``fmt``; raises InvalidInputError for an unknown format."""
    return _READERS[_known(fmt)](stream)


def write_records(records: Iterable[dict[str, Any]], out: TextIO, fmt: str) -> int:
    """Write ``records`` to ``out`` as ``fmt``, one at a time; return how many were written."""
    return _WRITERS[_known(fmt)](records, out)


def carried_fields(fmt: str) -> Carries:
    """The task fields ``fmt`` holds: what re-importing its file may change."""
    return _CARRIES[_known(fmt)]


def json_text_writer(fmt: str, out: TextIO) -> JsonArrayWriter:
    """A writer of task objects already encoded as one-line JSON texts, for a format of
    ``JSON_TEXT_FORMATS``: ``add(text)`` each, then ``close()`` (returns the count)."""
    return _TEXT_WRITERS[fmt](out)


def _known(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidInputError(
            f"unknown format: {fmt!r}", hint=f"choose one of: {', '.join(FORMATS)}"
        )
    return fmt
