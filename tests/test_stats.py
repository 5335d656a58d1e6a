"""`taskcli stats` on both databases: its counts and weeks against a computation over the
export, local ISO weeks (DST included), the user's own rows only, and its three outputs
(SPEC §14)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.tasks_support import (
    SGR,
    connection,
    create_many,
    register_second_user,
    run_in_pty,
    set_columns,
    tasks_table,
    user_id,
)

pytestmark = pytest.mark.both_ways  # taskcli in-process and through the local server

on_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
COUNT_KEYS = ["total", "by_status", "open", "open_by_priority", "open_by_project",
              "overdue", "waiting", "blocked"]  # fmt: skip
DAY = timedelta(days=1)


def iso_label(moment: datetime | date) -> str:
    """The ISO week of a moment in local time (or of a calendar day)."""
    day = moment.astimezone().date() if isinstance(moment, datetime) else moment
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def last_labels(count: int) -> list[str]:
    """The labels of the last ``count`` local ISO weeks, this one last."""
    today = datetime.now(UTC)
    return [iso_label(today - timedelta(weeks=back)) for back in reversed(range(count))]


def stats(taskcli, *args: str, env: dict | None = None) -> dict:
    result = taskcli("stats", *args, "--json", env=env)
    assert result.exit_code == 0, result.stderr
    return result.json()


def when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def expected_stats(tasks: list[dict], weeks: int) -> dict:
    """What stats must say about these task objects (from `taskcli export`), computed
    here task by task."""
    now = datetime.now(UTC)
    status_of = {task["id"]: task["status"] for task in tasks}
    open_tasks = [task for task in tasks if task["status"] != "completed"]
    projects = Counter(task["project"] for task in open_tasks)
    created = Counter(iso_label(when(task["created_at"])) for task in tasks)
    completed = Counter(iso_label(when(task["completed_at"])) for task in tasks
                        if task["completed_at"])  # fmt: skip

    def blocked(task: dict) -> bool:
        return any(status_of.get(dep, "completed") != "completed" for dep in task["depends"])

    counts = {
        "total": len(tasks),
        "by_status": {status: sum(task["status"] == status for task in tasks)
                      for status in ("pending", "in_progress", "completed")},
        "open": len(open_tasks),
        "open_by_priority": {priority: sum(task["priority"] == priority for task in open_tasks)
                             for priority in ("high", "medium", "low")},
        "open_by_project": [{"name": name, "open": projects[name]}
                            for name in sorted(projects, key=lambda n: (n is None, n or ""))],
        "overdue": sum(task["due"] is not None and when(task["due"]) < now
                       for task in open_tasks),
        "waiting": sum(task["wait"] is not None and when(task["wait"]) > now
                       for task in open_tasks),
        "blocked": sum(blocked(task) for task in open_tasks),
    }  # fmt: skip
    labels = last_labels(weeks)
    per_week = [{"week": label, "created": created[label], "completed": completed[label]}
                for label in labels]  # fmt: skip
    return {"counts": counts, "weeks": per_week}


def randomise(owner: uuid.UUID, count: int, rng: random.Random) -> None:
    """``count`` tasks of every kind: statuses, priorities, projects, due dates and waits
    past and future, dependencies, and created/completed times spread over half a year
    (some before the weeks counted), written to the database directly."""
    create_many(owner, count)
    table = tasks_table()
    now = datetime.now(UTC).replace(microsecond=0)

    def days(low: float, high: float) -> datetime:
        return now + timedelta(days=rng.uniform(low, high))

    with connection() as conn:
        ids = list(conn.execute(sa.select(table.c.id).where(table.c.user_id == owner)).scalars())
        for task_id in ids:
            status = rng.choice(["pending", "pending", "in_progress", "completed"])
            created_at = days(-180, 0)
            completed_at = None
            if status == "completed":
                completed_at = created_at + (now - created_at) * rng.random()
            others = [other for other in ids if other != task_id]
            values = {
                "status": status,
                "priority": rng.choice(["low", "medium", "high"]),
                "project": rng.choice([None, None, "home", "work", "garden", "ünïcode"]),
                "due": rng.choice([None, days(-30, -1), days(1, 30)]),
                "wait": rng.choice([None, None, days(-30, -1), days(1, 30)]),
                "depends": rng.sample(others, rng.choice([0, 0, 0, 1, 2])),
                "created_at": created_at,
                "completed_at": completed_at,
            }
            mine = table.c.user_id == owner
            conn.execute(table.update().where(mine, table.c.id == task_id).values(**values))


@pytest.mark.parametrize(
    ("seed", "zone", "weeks"),
    [(1, "America/New_York", None), (2, "Asia/Kathmandu", 30), (3, "UTC", 1)],
)
def test_the_numbers_are_those_of_the_exported_tasks(taskcli, user, local_zone, seed, zone,
                                                     weeks):  # fmt: skip
    local_zone(zone)
    randomise(user_id(taskcli), 60, random.Random(seed))
    exported = taskcli.ok("export").json()
    args = ("--weeks", str(weeks)) if weeks else ()
    assert stats(taskcli, *args) == expected_stats(exported, weeks or 12)


def test_no_tasks_is_all_zeros_with_every_key(taskcli, user):
    zero = {"pending": 0, "in_progress": 0, "completed": 0}
    assert stats(taskcli) == {
        "counts": {
            "total": 0, "by_status": zero, "open": 0,
            "open_by_priority": {"high": 0, "medium": 0, "low": 0},
            "open_by_project": [], "overdue": 0, "waiting": 0, "blocked": 0,
        },
        "weeks": [{"week": label, "created": 0, "completed": 0} for label in last_labels(12)],
    }  # fmt: skip


def test_the_json_keys_are_fixed_and_weeks_are_consecutive_iso_weeks(taskcli, user):
    taskcli.ok("add", "a", "--project", "home")
    document = stats(taskcli, "--weeks", "520")  # the most: ten years, with W53s
    assert list(document) == ["counts", "weeks"]
    assert list(document["counts"]) == COUNT_KEYS
    assert [list(week) for week in document["weeks"]] == [["week", "created", "completed"]] * 520
    labels = [week["week"] for week in document["weeks"]]
    mondays = [date.fromisocalendar(int(label[:4]), int(label[6:]), 1) for label in labels]
    assert [later - earlier for earlier, later in pairwise(mondays)] == [7 * DAY] * 519
    assert any(label.endswith("-W53") for label in labels)
    assert labels[-1] == iso_label(datetime.now(UTC))
    assert document["weeks"][-1] == {"week": labels[-1], "created": 1, "completed": 0}


def monday_created(taskcli, moments: list[datetime]) -> None:
    owner = user_id(taskcli)
    create_many(owner, len(moments))
    for number, moment in enumerate(moments, 1):
        set_columns(number, owner, created_at=moment.astimezone(UTC))  # stored as UTC


def test_weeks_begin_on_monday_at_local_midnight(taskcli, user, local_zone):
    local_zone("Asia/Tokyo")
    tokyo = ZoneInfo("Asia/Tokyo")
    today = datetime.now(tokyo).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), time(), tzinfo=tokyo)
    # Sunday 23:30 and Monday 00:30 in Tokyo: both on Sunday in UTC
    monday_created(taskcli, [monday - timedelta(minutes=30), monday + timedelta(minutes=30)])
    assert [week["created"] for week in stats(taskcli, "--weeks", "3")["weeks"]] == [0, 1, 1]
    local_zone("UTC")
    created = {week["week"]: week["created"] for week in stats(taskcli, "--weeks", "4")["weeks"]}
    assert created[iso_label(monday.date() - DAY)] == 2
    assert created[iso_label(monday.date())] == 0


def latest_offset_change(zone: ZoneInfo) -> date:
    """The day of ``zone``'s latest change of UTC offset (a DST change) before today."""
    day = datetime.now(zone).date()
    for _ in range(800):
        noon, before = (datetime.combine(d, time(12), tzinfo=zone) for d in (day, day - DAY))
        if noon.utcoffset() != before.utcoffset():
            return day
        day -= DAY
    raise AssertionError("no offset change in two years")


def test_a_week_before_a_dst_change_begins_at_its_own_local_midnight(taskcli, user,
                                                                     local_zone):  # fmt: skip
    """The Monday of the week of the latest DST change still had the offset before it,
    unlike today: a boundary drawn with today's offset would be an hour off."""
    local_zone("America/New_York")
    zone = ZoneInfo("America/New_York")
    changed = latest_offset_change(zone)
    monday = datetime.combine(changed - timedelta(days=changed.weekday()), time(), tzinfo=zone)
    assert monday.utcoffset() != datetime.now(zone).utcoffset()
    monday_created(taskcli, [monday - timedelta(minutes=30), monday + timedelta(minutes=30)])
    created = {week["week"]: week["created"] for week in stats(taskcli, "--weeks", "60")["weeks"]}
    assert (created[iso_label(monday.date() - DAY)], created[iso_label(monday.date())]) == (1, 1)


def test_only_the_users_own_tasks_count(taskcli, user, tmp_path):
    """On PostgreSQL as the application role, under row-level security."""
    other = register_second_user(taskcli, tmp_path / "other")
    for title in ("theirs", "also theirs"):
        assert taskcli("add", title, "--project", "secret", env=other).exit_code == 0
    taskcli.ok("add", "mine")
    theirs = taskcli("show", "1", "--json", env=other).json()["id"]
    set_columns(1, user_id(taskcli), depends=[uuid.UUID(theirs)])  # open, but not ours
    counts = stats(taskcli)["counts"]
    assert (counts["total"], counts["blocked"]) == (1, 0)
    assert counts["open_by_project"] == [{"name": None, "open": 1}]
    assert stats(taskcli, env=other)["counts"]["open_by_project"] == [{"name": "secret", "open": 2}]


def test_piped_output_is_one_tab_separated_line_a_count(taskcli, user):
    taskcli.ok("add", "a", "-P", "high", "--project", "home", "--due", "2020-01-01")
    taskcli.ok("add", "b", "--wait", "2099-01-01")
    taskcli.ok("add", "c", "--depends", "1")
    taskcli.ok("add", "d")
    taskcli.ok("start", "4")
    taskcli.ok("add", "e", "--project", "home")
    taskcli.ok("done", "5")
    [earlier, this_week] = last_labels(2)
    assert taskcli.ok("stats", "--weeks", "2").stdout.splitlines() == [
        "total\t5",
        "status\tpending\t3", "status\tin_progress\t1", "status\tcompleted\t1",
        "open\t4",
        "priority\thigh\t1", "priority\tmedium\t3", "priority\tlow\t0",
        "project\thome\t1", "project\t\t3",
        "overdue\t1", "waiting\t1", "blocked\t1",
        f"week\t{earlier}\t0\t0", f"week\t{this_week}\t5\t1",
    ]  # fmt: skip


@pytest.mark.parametrize("columns", [40, 200])
def test_the_chart_fits_the_terminal_and_labels_every_week(taskcli, user, columns):
    owner = user_id(taskcli)
    create_many(owner, 24)
    now = datetime.now(UTC)
    for number in range(1, 25):  # two a week, this week and the eleven before
        moment = now - timedelta(weeks=(number - 1) // 2)
        set_columns(number, owner, created_at=moment, status="completed", completed_at=moment)
    code, stdout, stderr = run_in_pty("stats", columns=columns, env={"NO_COLOR": "1"})
    assert (code, stderr) == (0, "")
    lines = SGR.sub("", stdout).splitlines()
    assert all(len(line.rstrip()) <= columns for line in lines), lines
    weeks = {line.split()[0]: line for line in lines if line[:4].isdigit()}
    assert list(weeks) == last_labels(12)
    # every week: a bar and the number of tasks created, the same for those completed
    for line in weeks.values():
        parts = line.split()
        assert parts[2::2] == ["2", "2"], line
        assert (set(parts[1]), set(parts[3])) == ({"█"}, {"▒"}), line
    assert any(line.split()[:2] == ["tasks", "24"] for line in lines)
    coloured = run_in_pty("stats", columns=columns)
    assert (coloured[0], coloured[2]) == (0, "")


@on_sqlite
@pytest.mark.parametrize("value", ["0", "521", "-1", "many"])
def test_a_bad_week_count_is_a_usage_error(taskcli, user, value):
    result = taskcli("stats", "--weeks", value)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "--weeks" in result.stderr
