"""What `add` and `update` accept: the data-model rules (exit 5 naming the field, nothing
written), choices (exit 2), title words, and WHEN expressions for --due."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from taskcli.core.dates import as_utc
from tests.conftest import run_process
from tests.tasks_support import stored_tasks

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["add", ""], "title"),
        (["add", "   ", " "], "title"),
        (["add", "x" * 256], "title"),
        (["add", "tab\there"], "title"),
        (["add", "two\nlines"], "title"),
        (["add", "t", "-d", "x" * 2001], "description"),
        (["add", "t", "--project", "two words"], "project"),
        (["add", "t", "--project", "p" * 101], "project"),
        (["add", "t", "--project", " "], "project"),
        (["add", "t", "-t", "a,b"], "tag"),
        (["add", "t", "-t", "a b"], "tag"),
        (["add", "t", "-t", "ok", "-t", "g" * 51], "tag"),
        (["add", "t", "-t", ""], "tag"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_add_rejects_invalid_fields(taskcli, user, args, field):
    result = taskcli(*args)
    assert result.exit_code == 5, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and field in result.stderr
    assert "Traceback" not in result.stderr
    assert stored_tasks() == []
    assert taskcli.ok("add", "valid").stdout == "1\n"  # no number was used up


@pytest.mark.parametrize(
    "args",
    [
        ["add", "t", "-P", "urgent"],
        ["add", "t", "--priority", "HIGHEST"],
        ["update", "1", "--status", "finished"],
        ["update", "1", "-P", "0"],
        ["list", "--status", "open"],
        ["list", "-P", "top"],
        ["list", "--limit", "-1"],
        ["add"],
    ],
)
def test_bad_choices_are_usage_errors(taskcli, user, args):
    taskcli.ok("add", "existing")
    before = stored_tasks()
    result = taskcli(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert stored_tasks() == before


def test_limits_are_inclusive(taskcli, user):
    task = taskcli.ok(
        "add", "x" * 255, "-d", "d" * 2000, "--project", "p" * 100, "-t", "g" * 50, "--json"
    ).json()
    assert len(task["title"]) == 255 and len(task["description"]) == 2000
    assert (task["project"], task["tags"]) == ("p" * 100, ["g" * 50])


def test_choices_are_case_insensitive(taskcli, user):
    task = taskcli.ok("add", "t", "-P", "HIGH", "--json").json()
    assert task["priority"] == "high"


def test_title_words_are_joined_and_trimmed(taskcli, user):
    task = taskcli.ok("add", "  buy", "oat", "milk  ", "--json").json()
    assert task["title"] == "buy oat milk"
    assert stored_tasks()[0]["title"] == "buy oat milk"


def test_duplicate_tags_are_kept_once(taskcli, user):
    task = taskcli.ok("add", "t", "-t", "a", "-t", "b", "-t", "a", "--json").json()
    assert task["tags"] == ["a", "b"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--title", " "], "title"),
        (["--title", "y" * 256], "title"),
        (["-d", "x" * 2001], "description"),
        (["--project", "a b"], "project"),
        (["--add-tag", "a,b"], "tag"),
        (["--add-tag", "t" * 51], "tag"),
        (["--due", "someday"], "someday"),
    ],
)
def test_update_rejects_invalid_fields(taskcli, user, args, field):
    taskcli.ok("add", "original", "--project", "home", "-t", "x")
    before = stored_tasks()
    result = taskcli("update", "1", *args)
    assert result.exit_code == 5
    assert result.stdout == "" and field in result.stderr
    assert stored_tasks() == before


# ---- WHEN -----------------------------------------------------------------------------------


def end_of_day_utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone).astimezone(UTC)


def stored_due() -> datetime:
    [row] = stored_tasks()
    return as_utc(row["due"])


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-12-01", "2026-12-01T22:59:59Z"),  # CET, UTC+1
        ("2026-07-01", "2026-07-01T21:59:59Z"),  # CEST, UTC+2
        ("2026-12-01T17:00", "2026-12-01T16:00:00Z"),
        ("2026-12-01T17:00+05:00", "2026-12-01T12:00:00Z"),
    ],
)
def test_due_date_is_local_end_of_day_stored_in_utc(user, when, expected):
    result = run_process("add", "t", "--due", when, "--json", env={"TZ": "Europe/Berlin"})
    assert result.exit_code == 0, result.stderr
    assert result.json()["due"] == expected
    assert stored_due() == datetime.fromisoformat(expected.replace("Z", "+00:00"))


@pytest.mark.parametrize(("when", "days"), [("tomorrow", 1), ("+3d", 3), ("today", 0)])
def test_due_relative_words(user, when, days):
    # the local date is read before and after, so a run across midnight still passes
    first = datetime.now(BERLIN).date()
    result = run_process("add", "t", "--due", when, "--json", env={"TZ": "Europe/Berlin"})
    last = datetime.now(BERLIN).date()
    assert result.exit_code == 0, result.stderr
    candidates = {end_of_day_utc(day + timedelta(days=days), BERLIN) for day in (first, last)}
    assert stored_due() in candidates
    assert result.json()["due"] == stored_due().strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("when", ["someday", "2026-02-30", "+3x", "32/12/2026", ""])
def test_invalid_due_is_rejected(taskcli, user, when):
    result = taskcli("add", "t", "--due", when)
    assert result.exit_code == 5
    assert result.stdout == "" and "date" in result.stderr
    assert stored_tasks() == []
