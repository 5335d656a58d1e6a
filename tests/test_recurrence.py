"""Recurrence: the dates of a series for every period (month ends, weekends, DST in the
process's time zone), and the next occurrence that `done` makes, with its fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taskcli.core.recurrence import canonical_period, due_of, parse_period
from tests.tasks_support import parse_utc, stored_tasks
from tests.transfer_support import listed

# Zones whose DST changes fall on different days: America/New_York on 2026-03-08 and
# 2026-11-01, Europe/Berlin on 2026-03-29 and 2026-10-25.
DST_ZONES = ["America/New_York", "Europe/Berlin"]

# period, anchor (local wall clock), the next occurrences in a row (local wall clock)
SERIES = [
    ("daily", "2026-03-06 09:00", ["2026-03-07 09:00", "2026-03-08 09:00", "2026-03-09 09:00"]),
    ("daily", "2026-03-28 23:30", ["2026-03-29 23:30", "2026-03-30 23:30"]),
    ("daily", "2026-10-31 08:15", ["2026-11-01 08:15", "2026-11-02 08:15"]),
    # Thursday → Friday → (weekend skipped) Monday → Tuesday
    ("weekdays", "2026-03-05 07:45", ["2026-03-06 07:45", "2026-03-09 07:45", "2026-03-10 07:45"]),
    ("weekdays", "2026-10-23 18:00", ["2026-10-26 18:00", "2026-10-27 18:00"]),
    # a series anchored on a Saturday goes on on Monday
    ("weekdays", "2026-03-07 12:00", ["2026-03-09 12:00", "2026-03-10 12:00"]),
    ("weekly", "2026-10-20 18:00", ["2026-10-27 18:00", "2026-11-03 18:00", "2026-11-10 18:00"]),
    (
        "weekly",
        "2026-03-03 06:30",
        ["2026-03-10 06:30", "2026-03-17 06:30", "2026-03-24 06:30", "2026-03-31 06:30"],
    ),  # fmt: skip
    ("biweekly", "2026-10-19 09:00", ["2026-11-02 09:00", "2026-11-16 09:00"]),
    ("biweekly", "2026-03-01 09:00", ["2026-03-15 09:00", "2026-03-29 09:00", "2026-04-12 09:00"]),
    # the month end clamps and the series keeps its day
    (
        "monthly",
        "2027-01-31 10:00",
        ["2027-02-28 10:00", "2027-03-31 10:00", "2027-04-30 10:00", "2027-05-31 10:00"],
    ),  # fmt: skip
    ("monthly", "2028-01-31 10:00", ["2028-02-29 10:00", "2028-03-31 10:00"]),
    ("monthly", "2026-02-28 21:00", ["2026-03-28 21:00", "2026-04-28 21:00"]),
    ("monthly", "2026-09-30 08:00", ["2026-10-30 08:00", "2026-11-30 08:00", "2026-12-30 08:00"]),
    (
        "quarterly",
        "2026-11-30 12:00",
        ["2027-02-28 12:00", "2027-05-30 12:00", "2027-08-30 12:00", "2027-11-30 12:00"],
    ),  # fmt: skip
    ("quarterly", "2026-01-31 09:00", ["2026-04-30 09:00", "2026-07-31 09:00", "2026-10-31 09:00"]),
    (
        "yearly",
        "2028-02-29 08:00",
        ["2029-02-28 08:00", "2030-02-28 08:00", "2031-02-28 08:00", "2032-02-29 08:00"],
    ),  # fmt: skip
    ("yearly", "2026-03-08 09:00", ["2027-03-08 09:00", "2028-03-08 09:00"]),
    ("3d", "2026-03-06 07:15", ["2026-03-09 07:15", "2026-03-12 07:15"]),
    ("10d", "2026-10-20 22:00", ["2026-10-30 22:00", "2026-11-09 22:00"]),
    ("1d", "2026-10-24 12:00", ["2026-10-25 12:00", "2026-10-26 12:00"]),
    ("2w", "2026-10-21 09:30", ["2026-11-04 09:30", "2026-11-18 09:30"]),
    ("1w", "2026-03-27 09:30", ["2026-04-03 09:30", "2026-04-10 09:30"]),
    (
        "2m",
        "2026-12-31 17:00",
        ["2027-02-28 17:00", "2027-04-30 17:00", "2027-06-30 17:00", "2027-08-31 17:00"],
    ),  # fmt: skip
    ("5m", "2026-10-31 09:00", ["2027-03-31 09:00", "2027-08-31 09:00", "2028-01-31 09:00"]),
    ("1y", "2028-02-29 09:00", ["2029-02-28 09:00", "2030-02-28 09:00"]),
    ("2y", "2026-11-01 09:00", ["2028-11-01 09:00", "2030-11-01 09:00"]),
]


def local_utc(text: str) -> datetime:
    """A local wall-clock time (the process's zone) as aware UTC."""
    return datetime.fromisoformat(text).astimezone(UTC)


def wall_clock(value: datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("zone", DST_ZONES)
@pytest.mark.parametrize(("period", "anchor", "expected"), SERIES)
def test_occurrences_in_a_row(local_zone, zone, period, anchor, expected):
    local_zone(zone)
    parsed = parse_period(period)
    start = local_utc(anchor)
    previous, dues = start, []
    for index in range(1, len(expected) + 1):
        previous = due_of(parsed, anchor=start, index=index, previous=previous)
        assert previous.tzinfo is not None and previous.utcoffset().total_seconds() == 0
        dues.append(wall_clock(previous))
    assert dues == expected


@pytest.mark.parametrize("zone", DST_ZONES)
def test_a_dst_change_moves_the_utc_time_not_the_clock(local_zone, zone):
    local_zone(zone)
    anchor = local_utc("2026-03-01 09:00")
    after = due_of(parse_period("monthly"), anchor=anchor, index=1, previous=anchor)
    assert wall_clock(after) == "2026-04-01 09:00"
    assert (after - anchor).total_seconds() == 31 * 86400 - 3600  # the lost spring hour


@pytest.mark.parametrize(
    ("zone", "anchor", "skipped_day", "day_after"),
    [
        ("America/New_York", "2026-03-07 02:30", "2026-03-08", "2026-03-09"),
        ("Europe/Berlin", "2026-03-28 02:30", "2026-03-29", "2026-03-30"),
    ],
)
def test_a_clock_time_that_dst_skips_comes_back_the_day_after(
    local_zone, zone, anchor, skipped_day, day_after
):
    """02:30 does not exist on the spring change: that day's occurrence is at a neighbouring
    hour (either reading is fine, as for WHEN), the next one at 02:30 again."""
    local_zone(zone)
    start, daily = local_utc(anchor), parse_period("daily")
    on_the_day = due_of(daily, anchor=start, index=1, previous=start)
    after = due_of(daily, anchor=start, index=2, previous=on_the_day)
    assert wall_clock(on_the_day) in {f"{skipped_day} 01:30", f"{skipped_day} 03:30"}
    assert wall_clock(after) == f"{day_after} 02:30"


@pytest.mark.parametrize(
    ("text", "stored"),
    [("Weekly", "weekly"), (" 2W ", "2w"), ("WEEKDAYS", "weekdays"), ("12m", "12m")],
)
def test_periods_are_stored_in_one_spelling(text, stored):
    assert canonical_period(text) == stored


@pytest.mark.parametrize("period", ["fortnightly", "0d", "-1w", "", " ", "1.5d", "d", "10000d"])
def test_a_period_that_is_not_one_is_refused(period):
    with pytest.raises(ValueError, match="not a period"):
        parse_period(period)


@pytest.mark.parametrize("period", ["fortnightly", "0d", "-1w", ""])
def test_cli_refuses_a_bad_period_and_creates_nothing(taskcli, user, period):
    result = taskcli("add", "Water the plants", "--due", "tomorrow", "--recur", period)
    assert result.exit_code == 5, result.stderr
    assert result.stdout == ""
    assert "not a period" in result.stderr and "Traceback" not in result.stderr
    taskcli.ok("add", "Stays as it is", "--due", "tomorrow")
    result = taskcli("update", "1", "--recur", period)
    assert result.exit_code == 5, result.stderr
    assert [task["recur"] for task in stored_tasks()] == [None]


# ---- done makes the next occurrence ------------------------------------------------------

DUE = "2030-06-03T09:00:00Z"  # a Monday in summer: a week later is exactly 7 × 24 hours
WEEK = timedelta(days=7)
COPIED = ["title", "description", "priority", "project", "tags", "annotations", "depends",
          "recur", "until"]  # fmt: skip


def test_a_recurring_task_needs_a_due_date(taskcli, user):
    result = taskcli("add", "Pay the rent", "--recur", "monthly")
    assert result.exit_code == 5
    assert "needs a due date" in result.stderr and result.stdout == ""
    assert stored_tasks() == []


def test_done_creates_the_next_occurrence_with_the_same_fields(taskcli, user):
    taskcli.ok("add", "Buy a watering can")
    taskcli.ok(
        "add", "Water the plants", "-d", "the ferns too", "-P", "high", "--project", "home",
        "-t", "garden", "-t", "chores", "--due", DUE, "--wait", "2030-06-01T09:00:00Z",
        "--scheduled", "2030-06-02T08:00:00Z", "--recur", "weekly",
        "--until", "2031-01-01T00:00:00Z", "--depends", "1",
    )  # fmt: skip
    taskcli.ok("annotate", "2", "rain water is best")
    result = taskcli.ok("done", "2")
    lines = result.stdout.splitlines()
    assert lines[0] == "completed 2: Water the plants"
    assert lines[1].startswith("next 3: Water the plants (due ")
    _, completed, following = listed(taskcli)
    assert completed["status"] == "completed"
    assert {key: following[key] for key in COPIED} == {key: completed[key] for key in COPIED}
    assert following["number"] == 3 and following["id"] != completed["id"]
    assert following["status"] == "pending" and following["completed_at"] is None
    for key in ("due", "wait", "scheduled"):
        assert parse_utc(following[key]) - parse_utc(completed[key]) == WEEK, key


def test_no_occurrence_after_until(taskcli, user):
    taskcli.ok("add", "Stretch", "--due", DUE, "--recur", "weekly",
               "--until", "2030-06-10T09:00:00Z")  # fmt: skip
    assert "next 2: Stretch" in taskcli.ok("done", "1").stdout  # due exactly at until
    result = taskcli.ok("done", "2")
    assert result.stdout == "completed 2: Stretch\n"
    assert [task["number"] for task in listed(taskcli)] == [1, 2]


def test_no_recur_stops_the_series(taskcli, user):
    taskcli.ok("add", "Stretch", "--due", DUE, "--recur", "daily")
    taskcli.ok("update", "1", "--no-recur")
    assert taskcli.ok("done", "1").stdout == "completed 1: Stretch\n"
    [task] = listed(taskcli)
    assert task["recur"] is None and task["status"] == "completed"


def test_a_recurring_task_keeps_its_due_date(taskcli, user):
    taskcli.ok("add", "Stretch", "--due", DUE, "--recur", "daily")
    taskcli.ok("add", "Read", "--due", DUE)
    before = listed(taskcli)
    for args in (["update", "1", "--no-due"], ["update", "2", "--no-due", "--recur", "daily"]):
        result = taskcli(*args)
        assert result.exit_code == 5, (args, result.stderr)
        assert "needs a due date" in result.stderr
    assert listed(taskcli) == before
    taskcli.ok("update", "1", "--no-due", "--no-recur")  # both at once is fine
    assert listed(taskcli)[0]["due"] is None


def test_completing_through_update_also_makes_the_next_occurrence(taskcli, user):
    taskcli.ok("add", "Stretch", "--due", DUE, "--recur", "weekly")
    for _ in range(2):  # the second time finds the occurrence the first made
        assert taskcli.ok("update", "1", "--status", "completed").stdout == "updated 1: Stretch\n"
        completed, following = listed(taskcli)
        assert completed["status"] == "completed" and following["status"] == "pending"
        assert parse_utc(following["due"]) - parse_utc(completed["due"]) == WEEK
