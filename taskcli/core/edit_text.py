"""``taskcli edit``: a task as text a person edits, and the edited text back as changes.

The text (the README shows it whole) is comment lines, one ``field: value`` line per
field, the annotations one a line after a ``--- annotations`` line, and after a
``--- description`` line the description, to the end, exactly as it is.

Only what the person changed is parsed: a field whose text is still as it was rendered
keeps its stored value exactly (no drift through local time), and a changed field whose
new value is the stored one is no change either. What comes out is a
:class:`~taskcli.core.tasks.TaskChanges` for :func:`~taskcli.core.tasks.update_task`,
which validates and applies it as any update.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from taskcli.core.dates import as_utc, format_utc, parse_when, utc_now
from taskcli.core.errors import InvalidInputError
from taskcli.core.models import AnnotationInput, TagList, TaskUpdate, column_values, validated
from taskcli.core.refs import parse_ref
from taskcli.core.tasks import TaskChanges

FIELDS = ("title", "status", "priority", "due", "project", "tags", "wait", "scheduled",
          "depends", "recur", "until")  # fmt: skip
WHEN_FIELDS = frozenset({"due", "wait", "scheduled", "until"})
CLEARABLE = frozenset({"project", "recur", *WHEN_FIELDS})  # an empty value clears these
ANNOTATIONS_MARK = "--- annotations"
DESCRIPTION_MARK = "--- description"
ANNOTATIONS_LINE = (
    f"{ANNOTATIONS_MARK}: one a line, TIME TEXT; delete a line to remove one, "
    "add a line to add one (without a time: now)"
)
DESCRIPTION_LINE = f"{DESCRIPTION_MARK}: every line below, as it is"
# An annotation line's time: as rendered (local), with T, or with an offset or Z.
STAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2}[ Tt]\d{2}:\d{2}:\d{2}(?:[Zz]|[+-]\d{2}:\d{2})?)(?:[ \t]+(.*))?",
    re.ASCII,
)
WORD_SEPARATORS = re.compile(r"[\s,]+")
HEADER = """\
# taskcli edit: task {number} ({id}). Save and quit to apply the changes (all or none);
# leave the file unchanged to change nothing. An empty value clears a field.
# Times are local ({zone}); any WHEN works: tomorrow, +3d, 2026-12-01 17:00, ...
# status: pending, in_progress, completed   priority: low, medium, high
# tags: separated by spaces   depends: task numbers separated by spaces
# recur: daily, weekdays, weekly, biweekly, monthly, quarterly, yearly, Nd, Nw, Nm, Ny
"""


def local_text(value: datetime) -> str:
    """A stored time as local ``YYYY-MM-DD HH:MM:SS`` (RFC 3339 UTC beyond the platform's
    local-time range, near years 1 and 9999); WHEN reads either back."""
    try:
        local = as_utc(value).astimezone()
    except (OverflowError, ValueError, OSError):
        return format_utc(value) or ""
    return "%04d-%02d-%02d %02d:%02d:%02d" % (  # noqa: UP031 - years before 1000 padded
        local.year, local.month, local.day, local.hour, local.minute, local.second,
    )  # fmt: skip


def render(record: Mapping[str, Any], numbers: Mapping[uuid.UUID, int]) -> str:
    """The task as text; ``numbers`` are those of its dependencies (a deleted dependency,
    which has none, is shown by its UUID)."""
    zone = datetime.now().astimezone().tzname() or "local"
    lines = HEADER.format(number=record["number"], id=record["id"], zone=zone).splitlines()
    for name, value in _field_texts(record, numbers).items():
        lines.append(f"{name}: {value}" if value else f"{name}:")
    lines.append(ANNOTATIONS_LINE)
    lines += [f"{local_text(note['entry'])} {note['text']}" for note in record["annotations"]]
    lines.append(DESCRIPTION_LINE)
    text = "\n".join(lines) + "\n"
    return text + record["description"] + "\n" if record["description"] else text


def _field_texts(record: Mapping[str, Any], numbers: Mapping[uuid.UUID, int]) -> dict[str, str]:
    texts = {}
    for name in FIELDS:
        value = record[name]
        if name == "tags":
            texts[name] = " ".join(value)
        elif name == "depends":
            texts[name] = " ".join(str(numbers.get(dep, dep)) for dep in value)
        elif name in WHEN_FIELDS:
            texts[name] = "" if value is None else local_text(value)
        else:
            texts[name] = value or ""
    return texts


@dataclass
class Sections:
    """The parts of a task's text: each field's line number and value, the annotation
    lines (not blank) with their numbers, and the description's raw text."""

    fields: dict[str, tuple[int, str]]
    annotations: list[tuple[int, str]]
    description: str


def sections(text: str) -> Sections:
    """Split the text into its parts (InvalidInputError names the line that is wrong)."""
    lines = text.split("\n")
    notes_at = _mark(lines, ANNOTATIONS_MARK, 0)
    description_at = _mark(lines, DESCRIPTION_MARK, notes_at + 1)
    notes = enumerate(lines[notes_at + 1 : description_at], notes_at + 2)
    return Sections(
        fields=_field_lines(lines[:notes_at]),
        annotations=[(number, line.strip()) for number, line in notes if line.strip()],
        description="\n".join(lines[description_at + 1 :]),
    )


def _mark(lines: list[str], mark: str, start: int) -> int:
    for index in range(start, len(lines)):
        if lines[index].strip().startswith(mark):
            return index
    raise InvalidInputError(f"the line {mark!r} is missing")


def _field_lines(lines: list[str]) -> dict[str, tuple[int, str]]:
    """Each field's line number and value text; comments and blank lines skipped."""
    fields: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, colon, value = stripped.partition(":")
        name = name.strip().lower()
        if not colon or name not in FIELDS:
            raise InvalidInputError(
                f"line {number}: expected FIELD: VALUE, FIELD one of {', '.join(FIELDS)}"
            )
        if name in fields:
            raise InvalidInputError(f"line {number}: {name} is given twice")
        fields[name] = (number, value.strip())
    for name in FIELDS:
        if name not in fields:
            raise InvalidInputError(f"the line of {name} is missing (an empty value clears it)")
    return fields


def changes_from(original: str, edited: str, record: Mapping[str, Any]) -> TaskChanges:
    """What the person changed in ``original`` (rendered from ``record``), checked line
    by line; the changes apply only while the stored task is still ``record``."""
    before, after = sections(original), sections(edited)
    changes = TaskChanges(if_unchanged=dict(record))
    for name in FIELDS:
        number, text = after.fields[name]
        old_text = before.fields[name][1]
        if text != old_text:
            with _on_line(number, name):
                _add_field(changes, name, text, old_text, record)
    if [line for _, line in after.annotations] != [line for _, line in before.annotations]:
        notes = _annotations(after.annotations, record["annotations"])
        if notes != record["annotations"]:
            changes.fields["annotations"] = notes
    if after.description != before.description:
        text = after.description.removesuffix("\n")
        description = text if text.strip() else None
        validated(TaskUpdate, {"description": description})
        if description != record["description"]:
            changes.fields["description"] = description
    return changes


def _add_field(
    changes: TaskChanges, name: str, text: str, old_text: str, record: Mapping[str, Any]
) -> None:
    if name == "tags":
        tags = validated(TagList, {"tags": _words(text)}).tags
        changes.add_tags = [tag for tag in tags if tag not in record["tags"]]
        changes.remove_tags = [tag for tag in record["tags"] if tag not in tags]
    elif name == "depends":
        old_words, words = _words(old_text), _words(text)
        for word in words:
            parse_ref(word)
        changes.add_depends = [word for word in words if word not in old_words]
        changes.remove_depends = [word for word in old_words if word not in words]
    else:
        value: Any = text or (None if name in CLEARABLE else text)
        if name in WHEN_FIELDS and value is not None:
            value = parse_when(value)
        if name == "status":
            value = value.lower()
        checked = column_values(validated(TaskUpdate, {name: value}))[name]
        if checked != record[name]:
            changes.fields[name] = value


def _annotations(
    lines: list[tuple[int, str]], stored: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The annotation lines as annotations, oldest first. A line's time as it was rendered
    is its stored entry; another time is read as WHEN; a line without one is new (now)."""
    entries = {local_text(note["entry"]): note["entry"] for note in stored}
    now = utc_now()
    notes = []
    for number, line in lines:
        with _on_line(number, "annotation"):
            match = STAMP.fullmatch(line)
            entry, text = (now, line) if match is None else (None, match[2] or "")
            if match is not None:
                entry = entries.get(match[1]) or parse_when(match[1])
            checked = validated(AnnotationInput, {"text": text}).text
        notes.append({"entry": entry, "text": checked})
    return sorted(notes, key=lambda note: note["entry"])


def _words(text: str) -> list[str]:
    return [word for word in WORD_SEPARATORS.split(text) if word]


@contextmanager
def _on_line(number: int, label: str) -> Iterator[None]:
    """An invalid value names its line and field (once: validation may name it too)."""
    try:
        yield
    except InvalidInputError as error:
        message = error.message
        for own_name in (f"{label}: ", "text: ", "tags: "):
            message = message.removeprefix(own_name)
        raise InvalidInputError(f"line {number}: {label}: {message}", hint=error.hint) from None
