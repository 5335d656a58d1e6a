"""The ``json`` format: one JSON array of SPEC §10 task objects (our own export's shape).

Reading streams the array element by element (see :mod:`.json_stream`), so a large
export is never held in memory. Locations are ``index N`` (0-based).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from taskcli.core.formats.json_stream import JsonSyntaxError, iter_json_array, write_json_array
from taskcli.core.formats.records import (
    EVERY_FIELD,
    ParsedRecord,
    RecordError,
    record_from_json,
    task_to_json,
)

CARRIES = EVERY_FIELD


def read_json(stream: TextIO) -> Iterator[ParsedRecord]:
    """Each element of the array as a record or a rejection; a syntax error ends the input."""
    try:
        for index, element in iter_json_array(stream):
            location = f"index {index}"
            try:
                yield ParsedRecord(location, record=record_from_json(element))
            except RecordError as error:
                yield ParsedRecord(location, error=str(error))
    except JsonSyntaxError as error:
        yield ParsedRecord(error.location, error=error.message)


def write_json(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write the records as a JSON array, one task object per line."""
    return write_json_array((task_to_json(record) for record in records), out)
