"""What re-importing a task the user already has changes: only what its format carries.

A field the format cannot hold (a description through todo.txt) keeps its stored value;
a time the format holds only as a local date (todo.txt's dates) keeps its stored time
of day while the date is the same; a creation or completion time the source does not
give stays. The update time is the file's when the format carries one, otherwise it
becomes the import's time only when another field changed: importing an unchanged
export changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from taskcli.core.dates import as_utc, local_date
from taskcli.core.formats import Carries
from taskcli.core.vocabulary import TASK_FIELDS

#: The columns an import writes, besides the id and the update time (the number is drawn
#: for a new task, never changed).
CONTENT_COLUMNS = tuple(name for name in TASK_FIELDS if name not in ("id", "number", "updated_at"))


class ByColumnName(Protocol):
    """Values looked up by column name: a dict, a stored row's mapping, a table's columns."""

    def __getitem__(self, name: str, /) -> Any: ...


def merge_into_stored(
    values: dict[str, Any], stored: ByColumnName, *, carries: Carries, now: datetime
) -> None:
    """Make ``values`` (a source record's row values, with ``unknown``: the times the
    source did not give) the row that updating ``stored`` should leave."""
    for column in CONTENT_COLUMNS:
        if column not in carries.fields or _same_period(column, values, stored):
            values[column] = stored[column]
        elif column in carries.as_dates and _same_local_date(values[column], stored[column]):
            values[column] = stored[column]
    unknown = values["unknown"]
    if "created_at" in unknown:
        values["created_at"] = stored["created_at"]
    if values["status"] != "completed":
        values["completed_at"] = None
    elif "completed_at" in unknown and stored["completed_at"] is not None:
        values["completed_at"] = stored["completed_at"]
    if "updated_at" not in carries.fields or "updated_at" in unknown:
        changed = any(_differs(values[name], stored[name]) for name in CONTENT_COLUMNS)
        values["updated_at"] = now if changed else stored["updated_at"]


def _same_period(column: str, values: dict[str, Any], stored: ByColumnName) -> bool:
    """A recurrence spelled another way (todo.txt writes ``weekly`` as ``rec:+1w``) is the
    same recurrence: the stored spelling stays."""
    if column != "recur" or values[column] is None or stored[column] is None:
        return False
    from taskcli.core.recurrence import parse_period

    try:
        return parse_period(values[column]) == parse_period(stored[column])
    except ValueError:
        return False


def _same_local_date(new: datetime | None, old: datetime | None) -> bool:
    return new is not None and old is not None and local_date(new) == local_date(old)


def _differs(new: Any, old: Any) -> bool:
    if isinstance(new, datetime) and isinstance(old, datetime):
        return as_utc(new) != as_utc(old)  # SQLite hands back naive UTC
    return bool(new != old)
