"""The neutral task record shared by every format, and its JSON object form (SPEC §10).

A record is a plain dict with exactly the keys of :data:`TASK_FIELDS`, the fields of
:class:`~taskcli.core.vocabulary.TaskRecord`; each field's kind there says how it is
written as JSON and read back. Readers fill
the keys their source cannot know with None (``tags`` with ``[]``); ``status`` and
``priority`` stay None when the source has none, so the importer applies the defaults.
Readers reject what is structurally wrong for the format (bad UUID, unparseable
timestamp, unknown status); the data-model limits (title length…) are the models' job.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from taskcli.core.dates import format_utc, parse_timestamp
from taskcli.core.vocabulary import (
    CHOICES,
    ENUMS,
    FIELD_KINDS,
    REQUIRED_FIELDS,
    TASK_FIELDS,
    FieldKind,
)

#: No task record comes near this many characters; it bounds what one line of a line
#: format can pull into memory (a 1 GB line is refused after reading 1 MiB of it).
MAX_RECORD_CHARS = 1 << 20


@dataclass(frozen=True, slots=True)
class Carries:
    """The task fields a format holds, so that a re-import changes only those; of
    ``as_dates``, only the local calendar date (a stored time on that date is kept)."""

    fields: frozenset[str]
    as_dates: frozenset[str] = frozenset()


#: The fields that hold a list (none is ``[]``, never None).
LIST_FIELDS = tuple(
    name for name in TASK_FIELDS
    if FIELD_KINDS[name] in (FieldKind.tags, FieldKind.uuids, FieldKind.annotations)
)  # fmt: skip
#: What a format made of SPEC §10 task objects (or their columns) holds: everything.
EVERY_FIELD = Carries(frozenset(TASK_FIELDS))


class RecordError(ValueError):
    """A source record is structurally wrong for its format."""


class RecordTooLong(RecordError):
    """A line longer than MAX_RECORD_CHARS: the input is not read past it."""

    def __init__(self, location: str) -> None:
        super().__init__("longer than 1 MiB, which no task record is (nothing after it was read)")
        self.location = location


@dataclass(frozen=True, slots=True)
class Series:
    """Where a recurring record stands in its series, when its source says (Taskwarrior):
    the series id, the occurrence's index and the due time of occurrence 0 (the hidden
    series columns; see :mod:`taskcli.core.recurrence`)."""

    id: str
    index: int
    anchor: datetime | None


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """One record read from a source: a record, a rejection (error) or a skip; a
    recurring record may come with its place in its series."""

    location: str
    record: dict[str, Any] | None = None
    error: str | None = None
    skipped: bool = False
    series: Series | None = None


def new_record() -> dict[str, Any]:
    """A record with every field unknown."""
    record: dict[str, Any] = dict.fromkeys(TASK_FIELDS)
    for name in LIST_FIELDS:
        record[name] = []
    return record


def plain(value: Any) -> Any:
    """The stored value of an enum member (the models may hand out enums), else the value."""
    return value.value if isinstance(value, Enum) else value


def task_to_json(record: Mapping[str, Any]) -> dict[str, Any]:
    """The SPEC §10 task object: keys in contract order, RFC 3339 UTC timestamps or null."""
    return {name: write(record[name]) for name, write in zip(TASK_FIELDS, _WRITERS, strict=True)}


def _uuid_text(value: object) -> str | None:
    return None if value is None else str(value)


def _same(value: Any) -> Any:
    return value


def tag_list(tags: Iterable[str] | None) -> list[str]:
    """Tags as a list: a set (the data model's type) gets a stable order, a list keeps its own."""
    if tags is None:
        return []
    return sorted(tags) if isinstance(tags, set | frozenset) else list(tags)


def uuid_list(ids: Iterable[object] | None) -> list[str]:
    """Task ids as canonical UUID strings."""
    return [str(value) for value in ids or []]


def annotation_list(items: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Annotations as JSON objects: ``{"entry": RFC 3339, "text": …}``, oldest first."""
    return [{"entry": format_utc(item["entry"]), "text": item["text"]} for item in items or []]


def record_from_json(obj: object) -> dict[str, Any]:
    """The record for a SPEC §10 task object; unknown keys are ignored, missing ones unknown."""
    if not isinstance(obj, dict):
        raise RecordError(f"expected a task object, got {json_type(obj)}")
    record = new_record()
    for name in _READ_ORDER:
        record[name] = _FROM_JSON[FIELD_KINDS[name]](obj.get(name), name)
    return record


def shown(value: object) -> str:
    """A value quoted for an error message, cut short so a huge cell stays one line."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:56]}…{text[-3:]}"


def json_type(value: object) -> str:
    """How JSON calls the type of a decoded value, for error messages."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def parse_uuid(value: object, field: str) -> str | None:
    """A UUID in canonical form (lower case, hyphenated), or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{field}: expected a UUID string, got {json_type(value)}")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise RecordError(f"{field}: not a UUID: {shown(value)}") from None


def parse_number(value: object, field: str = "number") -> int | None:
    """An integer (a task number) given as one or as a string of digits, or None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdecimal() and len(value) < 20:
        return int(value)
    raise RecordError(f"{field}: not an integer: {shown(value)}")


def parse_title(value: object, field: str) -> str:
    """The title every record must have (its limits are checked by the models)."""
    if value is None:
        raise RecordError(f"{field} is missing")
    if not isinstance(value, str):
        raise RecordError(f"{field}: expected a string, got {json_type(value)}")
    return value


def parse_text(value: object, field: str) -> str | None:
    """A string or None; a field the system cannot fill (the title) must be given."""
    return parse_title(value, field) if field in REQUIRED_FIELDS else optional_text(value, field)


def optional_text(value: object, field: str) -> str | None:
    """A string or None."""
    if value is None or isinstance(value, str):
        return value
    raise RecordError(f"{field}: expected a string, got {json_type(value)}")


def parse_choice(value: object, field: str) -> str | None:
    """One of the field's choices (case-insensitive), or None."""
    choices = CHOICES[field]
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # an alias of the enum's: H, m, l for priority
            return ENUMS[field](value).value
    raise RecordError(f"{field}: expected one of {', '.join(choices)}, got {shown(value)}")


def parse_tags(value: object, field: str) -> list[str]:
    """A list of tag strings, duplicates dropped, order kept; None is no tags."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise RecordError(f"{field}: expected an array of strings")
    return list(dict.fromkeys(value))


def parse_uuids(value: object, field: str) -> list[str]:
    """A list of UUID strings (canonical, each once, order kept); None is none."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{field}: expected an array of UUID strings, got {json_type(value)}")
    ids = []
    for item in value:
        parsed = parse_uuid(item, field)
        if parsed is None:
            raise RecordError(f"{field}: expected an array of UUID strings, got null in it")
        ids.append(parsed)
    return list(dict.fromkeys(ids))


def parse_annotations(value: object, field: str) -> list[dict[str, Any]]:
    """A list of ``{"entry": timestamp, "text": str}`` (entry times as aware UTC)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{field}: expected an array of annotations, got {json_type(value)}")
    items = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise RecordError(f"{field}: each annotation is an object with entry and text")
        entry = parse_time(item.get("entry"), f"{field}.entry")
        if entry is None:
            raise RecordError(f"{field}: an annotation has no entry time")
        items.append({"entry": entry, "text": item["text"]})
    return items


def parse_time(value: object, field: str) -> datetime | None:
    """An ISO 8601 timestamp as aware UTC (no offset: local time; a bare date: the end of
    that day, as for WHEN), or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{field}: expected a timestamp string, got {json_type(value)}")
    try:
        return parse_timestamp(value)
    except (ValueError, OverflowError):
        raise RecordError(f"{field}: not a timestamp: {shown(value)}") from None


_TO_JSON: dict[FieldKind, Callable[[Any], Any]] = {
    FieldKind.uuid: _uuid_text,
    FieldKind.integer: _same,
    FieldKind.text: _same,
    FieldKind.choice: plain,
    FieldKind.tags: tag_list,
    FieldKind.timestamp: format_utc,
    FieldKind.uuids: uuid_list,
    FieldKind.annotations: annotation_list,
}
_WRITERS = [_TO_JSON[FIELD_KINDS[name]] for name in TASK_FIELDS]
_FROM_JSON: dict[FieldKind, Callable[[object, str], Any]] = {
    FieldKind.uuid: parse_uuid,
    FieldKind.integer: parse_number,
    FieldKind.text: parse_text,
    FieldKind.choice: parse_choice,
    FieldKind.tags: parse_tags,
    FieldKind.timestamp: parse_time,
    FieldKind.uuids: parse_uuids,
    FieldKind.annotations: parse_annotations,
}
# Which fault of a record with several is reported is part of what import shows: the
# timestamps are read last, as they always were.
_READ_ORDER = sorted(TASK_FIELDS, key=lambda name: FIELD_KINDS[name] is FieldKind.timestamp)


class LineStream(Protocol):
    """What reading by lines needs: a text stream, or the rest of one after its head."""

    def readline(self, size: int = -1, /) -> str: ...


def numbered_lines(stream: LineStream, first: int = 1) -> Iterator[tuple[int, str]]:
    """The lines of a text stream numbered from ``first``, a leading BOM removed. A line
    longer than MAX_RECORD_CHARS raises RecordTooLong once that much of it is read."""
    number = first
    while line := stream.readline(MAX_RECORD_CHARS + 2):  # room for a CRLF
        if len(line) > MAX_RECORD_CHARS and len(line.rstrip("\r\n")) > MAX_RECORD_CHARS:
            raise RecordTooLong(f"line {number}")
        yield number, line.removeprefix("\ufeff") if number == 1 else line
        number += 1


def line_records(
    stream: LineStream, parse: Callable[[str, str], ParsedRecord | None], *, first: int = 1
) -> Iterator[ParsedRecord]:
    """``parse(location, line)`` of each non-blank line (None skips it); a line too long
    for a record ends the input with its rejection."""
    try:
        for number, line in numbered_lines(stream, first):
            if line.strip() and (parsed := parse(f"line {number}", line)) is not None:
                yield parsed
    except RecordTooLong as error:
        yield ParsedRecord(error.location, error=str(error))
