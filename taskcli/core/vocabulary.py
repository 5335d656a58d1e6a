"""A task's fields, named once: :class:`TaskRecord`, and the lists derived from it.

The record's keys, in their order, are the SPEC §10 task object's keys, the columns a
command reads, the CSV header and the fields the import formats know; each field's type
says how it is written as JSON and read back. A new field is one line in the record plus
its column (the ``Task`` table and a migration) and, when a user gives it, its input rule
(``TaskBase``). Standard library only, so the formats and the CLI can use it cheaply.
"""

from __future__ import annotations

import types
import uuid
from datetime import datetime
from enum import StrEnum
from typing import TypedDict, Union, get_args, get_origin, get_type_hints

from taskcli.core.enums import TaskPriority, TaskStatus


class Annotation(TypedDict):
    """A note on a task: when it was made and its one line of text."""

    entry: datetime
    text: str


class TaskRecord(TypedDict):
    """A task as the core hands it around (a plain dict): ids as UUIDs, times aware UTC,
    status and priority one value of their enum (as stored: its text). A record read from
    a format file has the same keys, with None where its source says nothing (``[]`` for
    tags) and the id as its canonical text."""

    id: uuid.UUID
    number: int
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due: datetime | None
    project: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    annotations: list[Annotation]
    wait: datetime | None
    scheduled: datetime | None
    depends: list[uuid.UUID]
    recur: str | None
    until: datetime | None


class FieldKind(StrEnum):
    """How a field is written as JSON and read back (from its type in the record)."""

    uuid = "uuid"  # a canonical UUID string
    integer = "integer"
    text = "text"
    choice = "choice"  # one value of the field's enum
    tags = "tags"  # an array of strings
    timestamp = "timestamp"  # RFC 3339 UTC, whole seconds
    uuids = "uuids"  # an array of canonical UUID strings
    annotations = "annotations"  # an array of {"entry": timestamp, "text": text}


def values_of(enum: type[StrEnum]) -> tuple[str, ...]:
    """The values of an enum's members, in declaration order."""
    return tuple(member.value for member in enum)


def _without_none(hint: object) -> object:
    """``X`` for ``X | None``, else the hint itself."""
    if get_origin(hint) in (Union, types.UnionType):
        (single,) = (arg for arg in get_args(hint) if arg is not type(None))
        return single
    return hint


def _enum(hint: object) -> type[StrEnum] | None:
    hint = _without_none(hint)
    return hint if isinstance(hint, type) and issubclass(hint, StrEnum) else None


_SIMPLE_KINDS = (
    (uuid.UUID, FieldKind.uuid),
    (int, FieldKind.integer),
    (str, FieldKind.text),
    (datetime, FieldKind.timestamp),
)


def _kind(name: str, hint: object) -> FieldKind:
    if _enum(hint) is not None:
        return FieldKind.choice
    plain = _without_none(hint)
    if get_origin(plain) is list:
        lists = {str: FieldKind.tags, uuid.UUID: FieldKind.uuids, Annotation: FieldKind.annotations}
        (item,) = get_args(plain)
        if item in lists:
            return lists[item]
    for type_, kind in _SIMPLE_KINDS:
        if plain is type_:
            return kind
    raise TypeError(f"TaskRecord.{name}: no JSON form for {plain!r}; add a FieldKind for it")


_HINTS = get_type_hints(TaskRecord)
#: Every task field, in the order of the SPEC §10 task object: its keys, the CSV header.
TASK_FIELDS: tuple[str, ...] = tuple(_HINTS)
FIELD_KINDS: dict[str, FieldKind] = {name: _kind(name, hint) for name, hint in _HINTS.items()}
TIMESTAMP_FIELDS = tuple(name for name in TASK_FIELDS if FIELD_KINDS[name] is FieldKind.timestamp)
#: The allowed values of each choice field (``status``, ``priority``), from its enum.
CHOICES: dict[str, tuple[str, ...]] = {
    name: values_of(enum) for name, hint in _HINTS.items() if (enum := _enum(hint)) is not None
}
#: The enum of each choice field: a value it accepts beyond its own (``H`` for high) counts.
ENUMS: dict[str, type[StrEnum]] = {
    name: enum for name, hint in _HINTS.items() if (enum := _enum(hint)) is not None
}
#: The one field a source record must give; the system fills every other one.
REQUIRED_FIELDS = ("title",)
