"""The ``taskwarrior`` format: Taskwarrior 2.x ``task export`` JSON.

Reading accepts a JSON array (pretty-printed or not; locations ``index N``) or one
object per line, with or without trailing commas (older exports; locations
``line N``). Mapping: ``uuid`` → id, ``description`` → title, ``entry`` → created_at,
``modified`` → updated_at, ``end`` → completed_at (completed tasks only), ``due``,
``wait``, ``scheduled``, ``until``; priority H/M/L → high/medium/low; status
pending/waiting → pending, completed → completed; deleted tasks are skipped; ``start``
on a task that is not completed → in_progress; ``annotations`` (entry and description)
→ annotations; ``depends`` (an array of uuids, or older Taskwarrior's comma-separated
text) → depends; ``recur`` → the taskcli period it equals (a period without one, such as
hours, rejects the task). A recurring template and its instances become one recurring
task (see :mod:`.taskwarrior_series`). Every other attribute (urgency, id, mask,
UDAs…) is ignored. Taskwarrior has no description besides its annotations: ours travels
as the attribute ``taskcli_description``, which Taskwarrior keeps through its import and
export like any attribute it does not know; a new task takes it, a re-import keeps the
stored description (a Taskwarrior file of other origin has none to give).

Writing gives an array in ``task export`` form. An in_progress task is written as
pending with ``start`` set to its created time (Taskwarrior has no in-progress
status; ``start`` is what ``task start`` sets). A waiting task is pending with its
``wait`` (as Taskwarrior 2.6 writes it); an open recurring task is written with a
template. The task number is not written: Taskwarrior's ``id`` is its own working-set
index.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from taskcli.core.dates import as_utc, parse_timestamp, utc_now
from taskcli.core.formats.json_stream import (
    HeadThenStream,
    JsonSyntaxError,
    iter_json_array,
    read_head,
    write_json_array,
)
from taskcli.core.formats.records import (
    Carries,
    ParsedRecord,
    RecordError,
    json_type,
    line_records,
    new_record,
    optional_text,
    parse_tags,
    parse_title,
    parse_uuid,
    parse_uuids,
    plain,
    shown,
    tag_list,
    uuid_list,
)
from taskcli.core.formats.taskwarrior_series import (
    Role,
    grouped_series,
    period_for_taskwarrior,
    period_from_taskwarrior,
    with_template,
)

# What the mapping below reads: everything but our task number (Taskwarrior's ``id`` is its
# own working-set index) and our description (only taskcli's own files have it: a new task
# takes it, a re-import of a Taskwarrior file keeps the stored one). Named one by one: a
# new task field is carried once it is mapped, and until then re-importing a Taskwarrior
# file keeps its stored value.
CARRIES = Carries(
    frozenset(("id", "title", "status", "priority", "due", "project", "tags", "created_at",
               "updated_at", "completed_at", "annotations", "wait", "scheduled", "depends",
               "recur", "until")),
)  # fmt: skip
# Our description, as an attribute Taskwarrior does not know (and so keeps).
DESCRIPTION = "taskcli_description"
_PRIORITIES = {"H": "high", "M": "medium", "L": "low"}
_LETTERS = {name: letter for letter, name in _PRIORITIES.items()}
_STATUSES = {
    "pending": "pending",
    "waiting": "pending",
    "recurring": "pending",  # a template: the recurring task when no instance is open
    "completed": "completed",
    "deleted": "deleted",
}
_COMPACT_TIME = re.compile(r"\d{8}T\d{6}Z")
_PLAIN_TIMES = ("due", "wait", "scheduled", "until")


def read_taskwarrior(stream: TextIO) -> Iterator[ParsedRecord]:
    """Each task as a record, a rejection or (deleted, a series' template or its later
    instances) a skip."""
    return grouped_series(_read_each(stream))


def _read_each(stream: TextIO) -> Iterator[tuple[ParsedRecord, Role]]:
    """Each task read alone, with its role in a series (noted by location as it is read)."""
    roles: dict[str, Role] = {}
    head = read_head(stream)
    if head.text.lstrip(" \t\r\n\ufeff").startswith("["):
        try:
            for index, element in iter_json_array(stream, head):
                parsed = _parsed(f"index {index}", element, roles)
                yield parsed, roles.pop(parsed.location, _NO_ROLE)
        except JsonSyntaxError as error:
            yield ParsedRecord(error.location, error=error.message), _NO_ROLE
        return

    def parse_line(location: str, line: str) -> ParsedRecord | None:
        return _parsed_line(location, line, roles)

    for parsed in line_records(HeadThenStream(head, stream), parse_line, first=head.line):
        yield parsed, roles.pop(parsed.location, _NO_ROLE)


def _parsed_line(location: str, line: str, roles: dict[str, Role]) -> ParsedRecord | None:
    text = line.strip(" \t\r\n\ufeff").removesuffix(",")
    if text in ("", "[", "]"):
        return None
    try:
        element = json.loads(text)
    except json.JSONDecodeError as error:
        return ParsedRecord(location, error=f"not valid JSON: {error.msg}")
    except (ValueError, RecursionError) as error:
        return ParsedRecord(location, error=f"not valid JSON: {error}")
    return _parsed(location, element, roles)


def _parsed(location: str, element: object, roles: dict[str, Role]) -> ParsedRecord:
    try:
        record = record_from_taskwarrior(element)
        if record is not None and (role := _role(element)) != _NO_ROLE:  # type: ignore[arg-type]
            roles[location] = role
    except RecordError as error:
        return ParsedRecord(location, error=str(error))
    if record is None:
        return ParsedRecord(location, skipped=True)
    return ParsedRecord(location, record=record)


def record_from_taskwarrior(obj: object) -> dict[str, Any] | None:
    """The record for one exported task (a template as a task of its own); None for a
    deleted one."""
    if not isinstance(obj, dict):
        raise RecordError(f"expected a task object, got {json_type(obj)}")
    status = _status(obj.get("status"))
    if status == "deleted":
        return None
    started = _time(obj, "start") is not None
    record = new_record()
    record["id"] = parse_uuid(obj.get("uuid"), "uuid")
    record["title"] = parse_title(obj.get("description"), "description")
    record["status"] = "in_progress" if started and status != "completed" else status
    record["priority"] = _priority(obj.get("priority"))
    record["created_at"] = _time(obj, "entry")
    record["updated_at"] = _time(obj, "modified")
    record["completed_at"] = _time(obj, "end") if status == "completed" else None
    record["project"] = optional_text(obj.get("project"), "project")
    record["tags"] = parse_tags(obj.get("tags"), "tags")
    record["annotations"] = _annotations(obj.get("annotations"))
    record["description"] = optional_text(obj.get(DESCRIPTION), DESCRIPTION)
    record["depends"] = _depends(obj.get("depends"))
    record["recur"] = period_from_taskwarrior(obj.get("recur"))
    record.update({key: _time(obj, key) for key in _PLAIN_TIMES})
    return record


def _role(obj: dict[str, Any]) -> Role:
    """A template (status recurring), an instance (its parent and index) or neither."""
    if obj.get("status") == "recurring":
        return Role(template=True)
    parent = parse_uuid(obj.get("parent"), "parent")
    if parent is None:
        return _NO_ROLE
    index = obj.get("imask", 0)  # Taskwarrior may write it as 1.000000
    whole = isinstance(index, int) or (isinstance(index, float) and index.is_integer())
    if isinstance(index, bool) or not whole:
        raise RecordError(f"imask: expected an instance index, got {shown(index)}")
    if not 0 <= index < 1 << 31:
        raise RecordError(f"imask: out of range: {shown(index)}")
    return Role(parent=parent, index=int(index))


_NO_ROLE = Role()


def _status(value: object) -> str | None:
    """Our status for a Taskwarrior one (None when absent); raises for an unknown one."""
    if value is None:
        return None
    if isinstance(value, str) and value in _STATUSES:
        return _STATUSES[value]
    raise RecordError(f"status: unknown Taskwarrior status {shown(value)}")


def _priority(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.upper() in _PRIORITIES:
        return _PRIORITIES[value.upper()]
    raise RecordError(f"priority: expected H, M or L, got {shown(value)}")


def _time(obj: dict[str, Any], key: str) -> datetime | None:
    """A Taskwarrior date (``20261120T080000Z``; ISO 8601 also accepted) as aware UTC."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{key}: expected a date string, got {json_type(value)}")
    try:
        if _COMPACT_TIME.fullmatch(value):  # slicing: several times faster than strptime
            date = int(value[0:4]), int(value[4:6]), int(value[6:8])
            time = int(value[9:11]), int(value[11:13]), int(value[13:15])
            return datetime(*date, *time, tzinfo=UTC)
        return parse_timestamp(value)
    except (ValueError, OverflowError):
        raise RecordError(f"{key}: not a Taskwarrior date: {shown(value)}") from None


def _annotations(value: object) -> list[dict[str, Any]]:
    """Taskwarrior's annotations (``entry``, ``description``) as ours, oldest first."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError("annotations: expected an array")
    notes = []
    for annotation in value:
        text = annotation.get("description") if isinstance(annotation, dict) else None
        if not isinstance(text, str):
            raise RecordError("annotations: each needs a description string")
        entry = _time(annotation, "entry")
        if entry is None:
            raise RecordError("annotations: each needs an entry date")
        notes.append({"entry": entry, "text": text})
    return sorted(notes, key=lambda note: note["entry"])


def _depends(value: object) -> list[str]:
    """Taskwarrior 2.6's array of uuids, or the comma-separated text older ones write."""
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    return parse_uuids(value, "depends")


def taskwarrior_object(record: dict[str, Any]) -> dict[str, Any]:
    """The ``task export`` object for a record (absent values are left out)."""
    status = plain(record["status"]) or "pending"
    created, updated = record["created_at"], record["updated_at"]
    obj: dict[str, Any] = {}
    if record["id"] is not None:
        obj["uuid"] = str(record["id"])
    obj["description"] = record["title"]
    if record["description"] is not None:
        obj[DESCRIPTION] = record["description"]
    obj["status"] = "completed" if status == "completed" else "pending"
    times = {
        "entry": created,
        "modified": updated,
        "start": (created or updated or utc_now()) if status == "in_progress" else None,
        "end": record["completed_at"] if status == "completed" else None,
        **{key: record[key] for key in _PLAIN_TIMES},
    }
    obj.update({key: _format_time(value) for key, value in times.items() if value is not None})
    if record["priority"] is not None:
        obj["priority"] = _LETTERS[plain(record["priority"])]
    if record["project"] is not None:
        obj["project"] = record["project"]
    if record["tags"]:
        obj["tags"] = tag_list(record["tags"])
    if record["recur"] is not None:
        obj["recur"] = period_for_taskwarrior(record["recur"])
    if record["depends"]:
        obj["depends"] = uuid_list(record["depends"])
    if record["annotations"]:
        obj["annotations"] = [
            {"entry": _format_time(note["entry"]), "description": note["text"]}
            for note in record["annotations"]
        ]
    return obj


def _format_time(value: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` (formatted by hand: strftime does not pad years before 1000)."""
    v = as_utc(value)
    return f"{v.year:04d}{v.month:02d}{v.day:02d}T{v.hour:02d}{v.minute:02d}{v.second:02d}Z"


def write_taskwarrior(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write the records as a ``task export`` JSON array, one task per line (an open
    recurring task with its template); return how many records were written."""
    count = 0

    def objects() -> Iterator[dict[str, Any]]:
        nonlocal count
        for record in records:
            count += 1
            yield from with_template(taskwarrior_object(record))

    write_json_array(objects(), out)
    return count
