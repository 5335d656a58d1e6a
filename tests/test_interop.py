"""Interoperability with the real tools: Taskwarrior (`task`) and the todo.txt CLI
(`todo-txt`, Debian's name for todo.sh), each run with a private configuration in tmp.

Taskwarrior → taskcli: every mapped field; taskcli → Taskwarrior: `task import` of our
export. todo.txt CLI → taskcli, and the todo.txt CLI working on taskcli's export.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from taskcli.core.recurrence import next_occurrence_id
from tests.servers import missing_dependency
from tests.transfer_support import add_planned_tasks, add_sample_tasks, listed

PRIORITIES = {"H": "high", "M": "medium", "L": "low"}
LETTERS = {name: letter for letter, name in PRIORITIES.items()}
NEW_YORK = "America/New_York"


def run_tool(command: list[str], env: dict) -> str:
    completed = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **env}, timeout=60
    )
    assert completed.returncode == 0, (command, completed.stdout, completed.stderr)
    return completed.stdout


class Taskwarrior:
    """`task` with its own empty taskrc and data directory; dates in UTC."""

    def __init__(self, home: Path) -> None:
        if shutil.which("task") is None:
            missing_dependency("Taskwarrior (`task`, Debian package taskwarrior) is not installed")
        home.mkdir(parents=True)
        (home / "taskrc").write_text("")
        self.env = {"TASKRC": str(home / "taskrc"), "TASKDATA": str(home / "data"), "TZ": "UTC"}

    def __call__(self, *args: str) -> str:
        settings = ["rc.confirmation=no", "rc.verbose=nothing", "rc.hooks=off"]
        return run_tool(["task", *settings, *args], self.env)

    def export(self, array: bool = True) -> str:
        return self(f"rc.json.array={'on' if array else 'off'}", "export")

    def tasks(self) -> dict[str, dict]:
        return {task["uuid"]: task for task in json.loads(self.export())}


class TodoTxt:
    """The todo.txt CLI with a config file (`-d`) pointing at its own directory."""

    def __init__(self, home: Path) -> None:
        if shutil.which("todo-txt") is None:
            missing_dependency(
                "the todo.txt CLI (`todo-txt`, Debian package todotxt-cli) is missing"
            )
        self.dir = home / "todo"
        self.dir.mkdir(parents=True)
        self.config = home / "config"
        self.config.write_text(
            f'export TODO_DIR="{self.dir}"\n'
            'export TODO_FILE="$TODO_DIR/todo.txt"\n'
            'export DONE_FILE="$TODO_DIR/done.txt"\n'
            'export REPORT_FILE="$TODO_DIR/report.txt"\n'
        )

    def __call__(self, *args: str) -> str:  # -f: no prompts, -p: no colours
        return run_tool(["todo-txt", "-d", str(self.config), "-f", "-p", *args], {"TZ": NEW_YORK})

    def line(self, name: str, text: str) -> str:
        [found] = [line for line in (self.dir / name).read_text().splitlines() if text in line]
        return found


def rfc3339(taskwarrior_time: str | None) -> str | None:
    """`20261201T000000Z` → `2026-12-01T00:00:00Z`."""
    if taskwarrior_time is None:
        return None
    parsed = datetime.strptime(taskwarrior_time, "%Y%m%dT%H%M%SZ")
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def compact(timestamp: str | None) -> str | None:
    """`2026-12-01T00:00:00Z` → `20261201T000000Z`."""
    return None if timestamp is None else re.sub(r"[-:]", "", timestamp)


# ---- Taskwarrior → taskcli ------------------------------------------------------------------


def make_taskwarrior_tasks(task: Taskwarrior) -> None:
    task("add", "Pay rent", "project:home", "priority:H", "due:2026-12-01", "+bills", "+monthly",
         "entry:2026-01-05T10:00:00Z")  # fmt: skip
    task("+LATEST", "annotate", "first note")
    task("+LATEST", "annotate", "second note é 日本 🎉")
    task("add", "Write é 日本 🎉 report", "project:work.q4", "priority:M")
    task("add", "Low thing", "priority:L", "+someday", "scheduled:2026-11-20T08:00:00Z")
    task("+LATEST", "modify", "depends:1")  # on Pay rent
    task("add", "Started one")
    task("+LATEST", "start")
    task("add", "Done one", "+x", "entry:2026-01-02T03:04:05Z")
    task("+LATEST", "done", "end:2026-03-04T05:06:07Z")
    task("add", "Waiting one", "wait:2099-01-01")
    task("add", "Deleted one")
    task("+LATEST", "delete")


def mapped(obj: dict) -> dict:
    """What taskcli should show for one exported Taskwarrior task (SPEC §7)."""
    done = obj["status"] == "completed"
    annotations = [
        {"entry": rfc3339(note["entry"]), "text": note["description"]}
        for note in obj.get("annotations", [])
    ]
    return {
        "id": obj["uuid"],
        "title": obj["description"],
        "description": None,  # Taskwarrior has none
        "status": "completed" if done else "in_progress" if "start" in obj else "pending",
        "priority": PRIORITIES.get(obj.get("priority"), "medium"),
        "due": rfc3339(obj.get("due")),
        "project": obj.get("project"),
        "tags": sorted(obj.get("tags", [])),
        "created_at": rfc3339(obj["entry"]),
        "updated_at": rfc3339(obj["modified"]),
        "completed_at": rfc3339(obj["end"]) if done else None,
        "annotations": annotations,
        "wait": rfc3339(obj.get("wait")),
        "scheduled": rfc3339(obj.get("scheduled")),
        "depends": obj.get("depends", []),
        "recur": obj.get("recur"),
        "until": rfc3339(obj.get("until")),
    }


@pytest.mark.parametrize("array", [True, False], ids=["json-array", "object-per-line"])
def test_taskwarrior_export_imports_every_mapped_field(taskcli, user, tmp_path, array):
    task = Taskwarrior(tmp_path / "tw")
    make_taskwarrior_tasks(task)
    exported = task.export(array)
    assert exported.lstrip().startswith("[") == array
    path = tmp_path / "tasks.json"
    path.write_text(exported, encoding="utf-8")

    result = taskcli("import", str(path))
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "created 6, updated 0, skipped 1\n", "",
    )  # fmt: skip
    objects = [json.loads(line.rstrip(",")) for line in exported.splitlines() if "{" in line]
    expected = {obj["uuid"]: mapped(obj) for obj in objects if obj["status"] != "deleted"}
    shown = {t["id"]: {**{k: v for k, v in t.items() if k != "number"}, "tags": sorted(t["tags"])}
             for t in listed(taskcli)}  # fmt: skip
    assert shown == expected
    by_title = {t["title"]: t for t in shown.values()}
    assert "Deleted one" not in by_title
    rent = by_title["Pay rent"]
    assert (rent["priority"], rent["project"], rent["tags"]) == (
        "high",
        "home",
        ["bills", "monthly"],
    )
    assert (rent["due"], rent["created_at"]) == ("2026-12-01T00:00:00Z", "2026-01-05T10:00:00Z")
    assert [note["text"] for note in rent["annotations"]] == ["first note", "second note é 日本 🎉"]
    assert by_title["Write é 日本 🎉 report"]["project"] == "work.q4"
    low = by_title["Low thing"]
    assert (low["priority"], low["depends"]) == ("low", [rent["id"]])
    assert low["scheduled"] == "2026-11-20T08:00:00Z"
    assert by_title["Started one"]["status"] == "in_progress"
    waiting = by_title["Waiting one"]
    assert (waiting["status"], waiting["wait"]) == ("pending", "2099-01-01T00:00:00Z")
    assert taskcli.ok("list", "--waiting", "--json").json()[0]["title"] == "Waiting one"
    done = by_title["Done one"]
    assert (done["status"], done["created_at"], done["completed_at"]) == (
        "completed", "2026-01-02T03:04:05Z", "2026-03-04T05:06:07Z",
    )  # fmt: skip
    again = taskcli("import", str(path), "--json")
    assert again.json() == {"created": 0, "updated": 6, "skipped": 1, "rejected": []}


def test_taskwarrior_series_imports_as_one_recurring_task(taskcli, user, tmp_path):
    """A template due three weeks ago has instances 0-3 (and one ahead); 0 is done in
    Taskwarrior. taskcli gets the done one and instance 1 as the recurring task, in the
    template's series: completing it makes the id that follows it, due when Taskwarrior's is."""
    task = Taskwarrior(tmp_path / "tw")
    start = (datetime.now(UTC) - timedelta(weeks=3)).strftime("%Y-%m-%dT08:00:00Z")
    task("add", "Water the plants", "recur:weekly", f"due:{start}", "until:2099-01-01", "+home")
    instances = sorted(
        (o for o in task.tasks().values() if "parent" in o), key=lambda o: o["imask"]
    )
    assert [o["imask"] for o in instances[:4]] == [0, 1, 2, 3]
    task(instances[0]["uuid"], "done")
    [template] = [o for o in task.tasks().values() if o["status"] == "recurring"]
    path = tmp_path / "tasks.json"
    path.write_text(task.export(), encoding="utf-8")

    result = taskcli("import", str(path), "--json")
    assert (result.exit_code, result.json()["created"]) == (0, 2), result.stderr
    done, kept = listed(taskcli)
    assert (done["id"], done["status"]) == (instances[0]["uuid"], "completed")
    assert (kept["id"], kept["status"], kept["tags"]) == (instances[1]["uuid"], "pending", ["home"])
    assert (kept["recur"], kept["until"], kept["due"]) == (
        "weekly", "2099-01-01T00:00:00Z", rfc3339(instances[1]["due"]),
    )  # fmt: skip
    again = taskcli("import", str(path), "--json").json()
    assert (again["created"], again["updated"]) == (0, 2)  # the ids are kept

    taskcli.ok("done", str(kept["number"]))
    [following] = [t for t in listed(taskcli) if t["status"] == "pending"]
    assert following["id"] == str(next_occurrence_id(uuid.UUID(kept["id"])))
    assert following["due"] == rfc3339(instances[2]["due"])


def test_taskwarrior_export_piped_to_stdin(taskcli, user, tmp_path):
    task = Taskwarrior(tmp_path / "tw")
    make_taskwarrior_tasks(task)
    result = taskcli("import", "-", input=task.export(array=False))
    assert (result.exit_code, result.stdout) == (0, "created 6, updated 0, skipped 1\n")


# Real text with format characters (Unicode Cf): ZWJ emoji, a variation selector, RTL and
# LTR marks, a soft hyphen, a zero-width space.
REAL_TEXT = [
    "👩\u200d💻 review the PR", "family 👨\u200d👩\u200d👧\u200d👦 dinner",
    "🏳\ufe0f\u200d🌈 parade", "\u200fשלום\u200e call", "Silben\u00adtrennung", "zero\u200bwidth",
]  # fmt: skip


def test_taskwarrior_tasks_with_format_characters_import(taskcli, user, tmp_path):
    task = Taskwarrior(tmp_path / "tw")
    for title in REAL_TEXT:
        task("add", title, "+👩\u200d💻")
    result = taskcli("import", "-", "--format", "taskwarrior", input=task.export())
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    imported = listed(taskcli)
    assert [t["title"] for t in imported] == REAL_TEXT
    assert all(t["tags"] == ["👩\u200d💻"] for t in imported)


# ---- taskcli → Taskwarrior ------------------------------------------------------------------


def test_taskcli_export_imports_into_taskwarrior(taskcli, user, tmp_path):
    add_sample_tasks(taskcli)
    ours = listed(taskcli)
    path = tmp_path / "for-taskwarrior.json"
    taskcli.ok("export", "--format", "taskwarrior", "-o", str(path))
    task = Taskwarrior(tmp_path / "tw")
    task("import", str(path))
    theirs = task.tasks()
    assert sorted(theirs) == sorted(t["id"] for t in ours)
    for mine in ours:
        obj = theirs[mine["id"]]
        assert obj["description"] == mine["title"]
        assert obj["status"] == ("completed" if mine["status"] == "completed" else "pending")
        assert ("start" in obj) == (mine["status"] == "in_progress")
        assert obj["priority"] == LETTERS[mine["priority"]]
        assert (obj.get("project"), sorted(obj.get("tags", []))) == (mine["project"], mine["tags"])
        assert (obj["entry"], obj["modified"]) == (
            compact(mine["created_at"]), compact(mine["updated_at"]),
        )  # fmt: skip
        assert (obj.get("due"), obj.get("end")) == (
            compact(mine["due"]),
            compact(mine["completed_at"]),
        )
        assert "annotations" not in obj  # the description has no Taskwarrior field
    # And back again: Taskwarrior's own export of those tasks imports as the same tasks.
    path.write_text(task.export())
    assert taskcli.ok("import", str(path)).stdout == "created 0, updated 4, skipped 0\n"
    assert listed(taskcli) == ours


def test_taskcli_planning_fields_import_into_taskwarrior(taskcli, user, tmp_path):
    """Annotations, depends, wait, scheduled, recur and until as Taskwarrior shows them;
    a recurring task as instance 0 of a template; and Taskwarrior's export imports back
    as the same tasks."""
    add_planned_tasks(taskcli)
    ours = listed(taskcli)
    venue, invitations, plants, boiler = ours
    path = tmp_path / "for-taskwarrior.json"
    taskcli.ok("export", "--format", "taskwarrior", "-o", str(path))
    task = Taskwarrior(tmp_path / "tw")
    task("import", str(path))
    theirs = task.tasks()
    for mine in (venue, invitations):
        notes = [(n["entry"], n["description"]) for n in theirs[mine["id"]]["annotations"]]
        assert notes == [(compact(n["entry"]), n["text"]) for n in mine["annotations"]]
    sent = theirs[invitations["id"]]
    assert (sent["depends"], sent["wait"], sent["scheduled"], sent["status"]) == (
        [venue["id"]], compact(invitations["wait"]), compact(invitations["scheduled"]), "pending",
    )  # fmt: skip
    assert task("_get", f"{sent['id']}.depends") == venue["id"] + "\n"
    # our description travels as an attribute Taskwarrior keeps through import and export
    assert theirs[venue["id"]]["taskcli_description"] == venue["description"] == "room for 40"
    for mine in (plants, boiler):
        instance = theirs[mine["id"]]
        template = theirs[instance["parent"]]
        assert (instance["status"], instance["imask"], template["status"]) == (
            "pending", 0, "recurring",
        )  # fmt: skip
        assert (template["recur"], template.get("until")) == (mine["recur"], compact(mine["until"]))
        assert instance["due"] == template["due"] == compact(mine["due"])
    info = task(str(theirs[plants["id"]]["id"]), "info")
    assert re.search(r"Recurrence\s+weekly", info) and re.search(r"Until\s+2027-06-01", info)

    path.write_text(task.export())
    back = taskcli.ok("import", str(path), "--json").json()
    assert (back["created"], back["updated"]) == (0, 4)
    assert listed(taskcli) == ours


# ---- todo.txt CLI → taskcli ------------------------------------------------------------------


@pytest.fixture
def new_york(monkeypatch):
    """todo.txt dates are local dates: run taskcli and the todo.txt CLI in one known zone."""
    monkeypatch.setenv("TZ", NEW_YORK)
    time.tzset()
    yield ZoneInfo(NEW_YORK)
    monkeypatch.undo()
    time.tzset()


def local_midnight(text: str, zone: ZoneInfo, end_of_day: bool = False) -> str:
    day = date.fromisoformat(text)
    moment = datetime(day.year, day.month, day.day, tzinfo=zone)
    if end_of_day:
        moment = moment.replace(hour=23, minute=59, second=59)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dates(line: str) -> list[str]:
    return re.findall(r"\b\d{4}-\d{2}-\d{2}\b", line)


def make_todotxt_tasks(todo: TodoTxt) -> None:
    todo("-t", "add", "(A) Call the plumber +house @phone due:2026-12-01")
    todo("-t", "add", "Buy milk +shop +errands @store @car")
    todo("add", "(C) Read book")
    todo("-t", "add", "Write é 日本 🎉 report +work")
    todo("pri", "4", "B")
    todo("add", "(D) Someday thing rec:1w t:2026-01-01 due:2026-01-08 @later")
    todo("-a", "do", "3")  # done, still in todo.txt ...
    todo("archive")  # ... then moved to done.txt
    todo("-a", "do", "2")  # done, left in todo.txt


def test_todotxt_cli_files_import_with_mapping(taskcli, user, tmp_path, new_york):
    todo = TodoTxt(tmp_path / "todo.txt-cli")
    make_todotxt_tasks(todo)
    first = taskcli("import", str(todo.dir / "todo.txt"))
    assert (first.exit_code, first.stdout, first.stderr) == (
        0, "created 4, updated 0, skipped 0\n", "",
    )  # fmt: skip
    second = taskcli.ok("import", str(todo.dir / "done.txt"))
    assert second.stdout == "created 1, updated 0, skipped 0\n"

    tasks = {t["title"]: t for t in listed(taskcli)}
    assert sorted(tasks) == sorted(
        ["Call the plumber", "Buy milk", "Read book", "Write é 日本 🎉 report", "Someday thing"]
    )
    plumber = tasks["Call the plumber"]
    [created] = dates(todo.line("todo.txt", "plumber"))[:1]
    assert plumber == {
        **plumber, "status": "pending", "priority": "high", "project": "house", "tags": ["phone"],
        "due": local_midnight("2026-12-01", new_york, end_of_day=True),
        "created_at": local_midnight(created, new_york), "completed_at": None,
    }  # fmt: skip
    milk = tasks["Buy milk"]
    completed, created = dates(todo.line("todo.txt", "Buy milk"))
    assert (milk["status"], milk["project"], sorted(milk["tags"])) == (
        "completed", "shop", ["car", "errands", "store"],
    )  # fmt: skip
    assert milk["completed_at"] == local_midnight(completed, new_york)
    assert milk["created_at"] == local_midnight(created, new_york)
    [completed] = dates(todo.line("done.txt", "Read book"))
    book = tasks["Read book"]
    assert (book["status"], book["completed_at"]) == (
        "completed",
        local_midnight(completed, new_york),
    )
    # No creation date on the line: not "now", which would be after the completion.
    assert book["created_at"] == book["updated_at"] == book["completed_at"]
    assert milk["updated_at"] == milk["completed_at"]  # completing is the last change known
    report = tasks["Write é 日本 🎉 report"]
    assert (report["priority"], report["project"]) == ("medium", "work")
    someday = tasks["Someday thing"]
    assert (someday["priority"], someday["tags"], someday["recur"]) == ("low", ["later"], "weekly")
    assert someday["due"] == local_midnight("2026-01-08", new_york, end_of_day=True)
    assert someday["scheduled"] == local_midnight("2026-01-01", new_york)


@pytest.mark.parametrize("name", ["todo.txt", "done.txt"])
def test_todotxt_cli_files_are_recognised_by_content(taskcli, user, tmp_path, new_york, name):
    todo = TodoTxt(tmp_path / "todo.txt-cli")
    make_todotxt_tasks(todo)
    result = taskcli("import", "-", "--dry-run", input=(todo.dir / name).read_text())
    created = {"todo.txt": 4, "done.txt": 1}[name]
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, f"dry run: would have created {created}, updated 0, skipped 0\n", "",
    )  # fmt: skip


def test_todotxt_cli_works_on_taskcli_export(taskcli, user, tmp_path, new_york):
    """Export to todo.txt, let the todo.txt CLI list and complete a task, import it back."""
    taskcli.ok("add", "Call the plumber", "-P", "high", "--project", "house", "-t", "phone",
               "--due", "2026-12-01", "--scheduled", "2026-11-25", "--recur", "weekly")  # fmt: skip
    taskcli.ok("add", "Water plants é", "-P", "low")
    todo = TodoTxt(tmp_path / "todo.txt-cli")
    taskcli.ok("export", "--format", "todotxt", "-o", str(todo.dir / "todo.txt"))
    listing = todo("ls")
    assert "(A) " in listing
    assert "Call the plumber +house @phone due:2026-12-01 t:2026-11-25 rec:+1w" in listing
    assert "(C) " in listing and "Water plants é" in listing
    assert "TODO: 2 of 2 tasks shown" in listing
    todo("-a", "do", "2")
    result = taskcli.ok("import", str(todo.dir / "todo.txt"))
    assert result.stdout == "created 0, updated 2, skipped 0\n"
    tasks = listed(taskcli)
    assert [(t["number"], t["title"], t["status"]) for t in tasks] == [
        (1, "Call the plumber", "pending"),
        (2, "Water plants é", "completed"),
    ]
    [completed] = dates(todo.line("todo.txt", "Water plants"))[:1]
    assert tasks[1]["completed_at"] == local_midnight(completed, new_york)
    assert tasks[0]["due"] == local_midnight("2026-12-01", new_york, end_of_day=True)
    assert (tasks[0]["recur"], tasks[0]["scheduled"][:10]) == ("weekly", "2026-11-26")
