"""The ``taskwarrior`` format: Taskwarrior 2.x ``task export`` JSON.

Reading accepts a JSON array (pretty-printed or not; locations ``index N``) or one
object per line, with or without trailing commas (older exports; locations
``line N``). Mapping: ``uuid`` → id, ``description`` → title, ``entry`` → created_at,
``modified`` → updated_at, ``end`` → completed_at (completed tasks only), ``due``;
priority H/M/L → high/medium/low; status pending/waiting → pending, completed →
completed; deleted tasks and recurring templates (``status: recurring``; their
generated instances are ordinary pending tasks) are skipped; ``start`` on a task that
is not completed → in_progress; annotation texts become the description, one per line. Every other
attribute (urgency, id, mask, parent, recur, wait, scheduled, UDAs…) is ignored.

Writing gives an array in ``task export`` form. An in_progress task is written as
pending with ``start`` set to its created time (Taskwarrior has no in-progress
status; ``start`` is what ``task start`` sets). Our description becomes a single
annotation, dated with the task's updated time. The task number is not written:
Taskwarrior's ``id`` is its own working-set index.
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
    plain,
    shown,
    tag_list,
)

# What the mapping below reads: everything but our task number (Taskwarrior's ``id`` is its
# own working-set index). Named one by one: a new task field is carried once it is mapped,
# and until then re-importing a Taskwarrior file keeps its stored value.
CARRIES = Carries(
    frozenset(("id", "title", "description", "status", "priority", "due", "project", "tags",
               "created_at", "updated_at", "completed_at")),
)  # fmt: skip
_PRIORITIES = {"H": "high", "M": "medium", "L": "low"}
_LETTERS = {name: letter for letter, name in _PRIORITIES.items()}
_STATUSES = {
    "pending": "pending",
    "waiting": "pending",
    # A recurring template: its instances are the tasks (skipped until recurrence exists).
    "recurring": "recurring",
    "completed": "completed",
    "deleted": "deleted",
}
_SKIPPED_STATUSES = ("deleted", "recurring")
_COMPACT_TIME = re.compile(r"\d{8}T\d{6}Z")


def read_taskwarrior(stream: TextIO) -> Iterator[ParsedRecord]:
    """Each task as a record, a rejection or (deleted, recurring template) a skip."""
    head = read_head(stream)
    if head.text.lstrip(" \t\r\n\ufeff").startswith("["):
        try:
            for index, element in iter_json_array(stream, head):
                yield _parsed(f"index {index}", element)
        except JsonSyntaxError as error:
            yield ParsedRecord(error.location, error=error.message)
        return
    yield from line_records(HeadThenStream(head, stream), _parsed_line, first=head.line)


def _parsed_line(location: str, line: str) -> ParsedRecord | None:
    text = line.strip(" \t\r\n\ufeff").removesuffix(",")
    if text in ("", "[", "]"):
        return None
    try:
        element = json.loads(text)
    except json.JSONDecodeError as error:
        return ParsedRecord(location, error=f"not valid JSON: {error.msg}")
    except (ValueError, RecursionError) as error:
        return ParsedRecord(location, error=f"not valid JSON: {error}")
    return _parsed(location, element)


def _parsed(location: str, element: object) -> ParsedRecord:
    try:
        record = record_from_taskwarrior(element)
    except RecordError as error:
        return ParsedRecord(location, error=str(error))
    if record is None:
        return ParsedRecord(location, skipped=True)
    return ParsedRecord(location, record=record)


def record_from_taskwarrior(obj: object) -> dict[str, Any] | None:
    """The record for one exported task; None for a deleted one or a recurring template."""
    if not isinstance(obj, dict):
        raise RecordError(f"expected a task object, got {json_type(obj)}")
    status = _status(obj.get("status"))
    if status in _SKIPPED_STATUSES:
        return None
    started = _time(obj, "start") is not None
    record = new_record()
    record["id"] = parse_uuid(obj.get("uuid"), "uuid")
    record["title"] = parse_title(obj.get("description"), "description")
    record["status"] = "in_progress" if started and status != "completed" else status
    record["priority"] = _priority(obj.get("priority"))
    record["created_at"] = _time(obj, "entry")
    record["updated_at"] = _time(obj, "modified")
    record["due"] = _time(obj, "due")
    record["completed_at"] = _time(obj, "end") if status == "completed" else None
    record["project"] = optional_text(obj.get("project"), "project")
    record["tags"] = parse_tags(obj.get("tags"), "tags")
    record["description"] = _annotation_text(obj.get("annotations"))
    return record


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


def _annotation_text(value: object) -> str | None:
    """The annotations' texts, one per line, or None when there are none."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise RecordError("annotations: expected an array")
    texts = []
    for annotation in value:
        text = annotation.get("description") if isinstance(annotation, dict) else None
        if not isinstance(text, str):
            raise RecordError("annotations: each needs a description string")
        texts.append(text)
    return "\n".join(texts) if texts else None


def taskwarrior_object(record: dict[str, Any]) -> dict[str, Any]:
    """The ``task export`` object for a record (absent values are left out)."""
    status = plain(record["status"]) or "pending"
    created, updated = record["created_at"], record["updated_at"]
    obj: dict[str, Any] = {}
    if record["id"] is not None:
        obj["uuid"] = str(record["id"])
    obj["description"] = record["title"]
    obj["status"] = "completed" if status == "completed" else "pending"
    times = {
        "entry": created,
        "modified": updated,
        "start": (created or updated or utc_now()) if status == "in_progress" else None,
        "end": record["completed_at"] if status == "completed" else None,
        "due": record["due"],
    }
    obj.update({key: _format_time(value) for key, value in times.items() if value is not None})
    if record["priority"] is not None:
        obj["priority"] = _LETTERS[plain(record["priority"])]
    if record["project"] is not None:
        obj["project"] = record["project"]
    if record["tags"]:
        obj["tags"] = tag_list(record["tags"])
    if record["description"] is not None:
        stamp = updated or created or utc_now()
        obj["annotations"] = [{"entry": _format_time(stamp), "description": record["description"]}]
    return obj


def _format_time(value: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` (formatted by hand: strftime does not pad years before 1000)."""
    v = as_utc(value)
    return f"{v.year:04d}{v.month:02d}{v.day:02d}T{v.hour:02d}{v.minute:02d}{v.second:02d}Z"


def write_taskwarrior(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write the records as a ``task export`` JSON array, one task per line."""
    return write_json_array((taskwarrior_object(record) for record in records), out)
