"""Taskwarrior's recurrence in taskcli's terms: its periods, and its series of tasks.

Taskwarrior keeps a recurring task as a template (``status: recurring``) and generates
its instances (``parent`` = the template's uuid, ``imask`` = the instance's index, from
0). taskcli keeps one task per series at a time, so reading makes one recurring task of
a template and its instances: the open instance with the lowest index (Taskwarrior
generates ahead; the later ones are skipped), carrying the template's ``recur`` and
``until`` and placed in the series (the template's uuid, the index, the template's due
as the anchor), so that completing it in taskcli makes the id the next index has. A
template with no open instance in the file is the recurring task itself. Completed
instances stay completed tasks. Templates and open instances are held until the input
ends (a file of ordinary tasks still streams).

Writing does the reverse for an open recurring task: a template (its uuid derived from
the task's, so a second export names the same one) and the task as its instance 0.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from taskcli.core.formats.records import ParsedRecord, RecordError, Series, shown
from taskcli.core.recurrence import MAX_COUNT, canonical_period

# Taskwarrior's names of a whole period (no count), as taskcli's periods.
_NAMED = {
    "daily": "daily", "day": "daily", "weekdays": "weekdays", "weekly": "weekly",
    "week": "weekly", "biweekly": "biweekly", "fortnight": "biweekly", "monthly": "monthly",
    "month": "monthly", "bimonthly": "2m", "quarterly": "quarterly", "quarter": "quarterly",
    "semiannual": "6m", "yearly": "yearly", "year": "yearly", "annual": "yearly",
    "biannual": "2y", "biyearly": "2y",
}  # fmt: skip
# Taskwarrior's units after a count (``3wks``, ``2mos``), as (taskcli unit, multiplier).
_UNITS = {
    **dict.fromkeys(("d", "day", "days"), ("d", 1)),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), ("w", 1)),
    **dict.fromkeys(("m", "mo", "mos", "mth", "mths", "mnths", "month", "months"), ("m", 1)),
    **dict.fromkeys(("q", "qtr", "qtrs", "qrtr", "qrtrs", "quarter", "quarters"), ("m", 3)),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), ("y", 1)),
}
_COUNTED = re.compile(r"(\d+)\s*([a-z]+)", re.ASCII)
_ISO = re.compile(r"p(\d+)([dwmy])", re.ASCII)
# Template ids of our exports: uuid5 of the task's id in this namespace.
_TEMPLATE_NAMESPACE = uuid.UUID("3c2b8f0e-7a41-5f7d-9b6e-1d0a4c9e2f53")


def period_from_taskwarrior(value: object) -> str | None:
    """taskcli's period for a Taskwarrior ``recur`` value; RecordError when it has none
    (hours, minutes, seconds…)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"recur: expected a period string, got {shown(value)}")
    text = value.strip().lower()
    if text in _NAMED:
        return _NAMED[text]
    match = _COUNTED.fullmatch(text) or _ISO.fullmatch(text)
    if match is not None and match.group(2) in _UNITS:
        unit, times = _UNITS[match.group(2)]
        try:
            return canonical_period(f"{int(match.group(1)) * times}{unit}")
        except ValueError:
            pass
    raise RecordError(f"recur: Taskwarrior period {shown(value)} has no taskcli equivalent")


def period_for_taskwarrior(period: str) -> str:
    """Our period as Taskwarrior writes it: the same text, but years as months where we
    can read that many back (to Taskwarrior a counted year is 365 days; ``Nm`` is
    calendar months to both)."""
    match = re.fullmatch(r"(\d+)y", period)
    months = int(match.group(1)) * 12 if match else 0
    return f"{months}m" if 0 < months <= MAX_COUNT else period


def template_id(task_id: str) -> str:
    """The uuid of the template an exported recurring task is instance 0 of."""
    return str(uuid.uuid5(_TEMPLATE_NAMESPACE, task_id))


def with_template(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """A ``task export`` object, and for an open recurring task first its template with
    ``obj`` as its instance 0 (``task import`` would otherwise make the task itself a
    template and generate instances of it under new uuids)."""
    if "recur" not in obj or obj["status"] == "completed" or "uuid" not in obj:
        return [obj]
    template = {key: value for key, value in obj.items() if key != "start"}
    template.update(uuid=template_id(obj["uuid"]), status="recurring", mask="-")
    return [template, {**obj, "parent": template["uuid"], "imask": 0}]


@dataclass(frozen=True, slots=True)
class Role:
    """What a Taskwarrior task is in a series: a template, an instance or neither."""

    template: bool = False
    parent: str | None = None
    index: int = 0


@dataclass
class _Held:
    template: ParsedRecord | None = None
    instance: ParsedRecord | None = None
    index: int = 0


def grouped_series(items: Iterable[tuple[ParsedRecord, Role]]) -> Iterator[ParsedRecord]:
    """The parsed records with each series made one recurring task (see the module)."""
    held: dict[str, _Held] = {}
    for parsed, role in items:
        if parsed.record is None or not (role.template or role.parent):
            yield parsed
        elif role.template:
            series = held.setdefault(parsed.record["id"], _Held())
            if parsed.record["id"] is None or series.template is not None:
                yield parsed  # no instance can name it, or the importer rejects it twice
            else:
                series.template = parsed
        elif parsed.record["status"] == "completed":
            yield parsed
        else:
            series = held.setdefault(role.parent, _Held())  # type: ignore[arg-type]
            if series.instance is None or role.index < series.index:
                if series.instance is not None:
                    yield replace(series.instance, record=None, skipped=True)
                series.instance, series.index = parsed, role.index
            else:
                yield replace(parsed, record=None, skipped=True)
    for template_uuid, series in held.items():
        if series.template or series.instance:
            yield from _one_task(template_uuid, series)


def _one_task(template_uuid: str, series: _Held) -> Iterator[ParsedRecord]:
    if series.instance is None:
        assert series.template is not None, "held: a template or an instance"
        yield series.template
        return
    if series.template is None:
        yield series.instance  # its template is not in the file: an ordinary task
        return
    template, instance = series.template.record, series.instance.record
    assert template is not None and instance is not None, "held: parsed records"
    yield replace(series.template, record=None, skipped=True)
    carried: dict[str, Any] = {**instance, "recur": template["recur"], "until": template["until"]}
    place = Series(id=template_uuid, index=series.index, anchor=template["due"])
    yield replace(series.instance, record=carried, series=place)
