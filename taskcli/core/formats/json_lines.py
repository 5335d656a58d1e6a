"""The ``jsonl`` format: one SPEC §10 task object per line; blank lines are ignored."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from taskcli.core.formats.json_stream import write_json_lines_texts
from taskcli.core.formats.records import (
    EVERY_FIELD,
    ParsedRecord,
    line_records,
    record_from_json,
    task_to_json,
)

CARRIES = EVERY_FIELD


def read_jsonl(stream: TextIO) -> Iterator[ParsedRecord]:
    """Each non-blank line as a record or a rejection at ``line N``; a line too long
    for a record ends the input."""
    return line_records(stream, _parsed)


def _parsed(location: str, line: str) -> ParsedRecord:
    try:
        obj = json.loads(line.rstrip("\r\n"))
        return ParsedRecord(location, record=record_from_json(obj))
    except json.JSONDecodeError as error:
        return ParsedRecord(location, error=f"not valid JSON: {error.msg} at column {error.colno}")
    except RecursionError:
        return ParsedRecord(location, error="not valid JSON: nested too deeply")
    except ValueError as error:  # RecordError, or a number too long to convert
        return ParsedRecord(location, error=str(error))


def write_jsonl(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write one compact task object per line."""
    texts = (json.dumps(task_to_json(record), ensure_ascii=False) for record in records)
    return write_json_lines_texts(texts, out)
