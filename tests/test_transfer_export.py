"""`taskcli export` through the CLI, and export → import round trips for every format,
on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import stat
from datetime import datetime
from pathlib import Path

import pytest

from tests.transfer_support import (
    add_planned_tasks,
    add_sample_tasks,
    fresh_database,
    listed,
    ok,
)

FILE_NAMES = {
    "json": "tasks.json",
    "jsonl": "tasks.jsonl",
    "csv": "tasks.csv",
    "taskwarrior": "taskwarrior.json",
    "todotxt": "todo.txt",
}


def local_date(timestamp: str | None) -> str | None:
    """The local calendar date of an RFC 3339 UTC timestamp (todo.txt keeps only that)."""
    if timestamp is None:
        return None
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).astimezone().date().isoformat()


def kept_by(fmt: str, task: dict) -> dict:
    """The fields of a listed task that ``fmt`` can carry through a round trip."""
    if fmt in ("json", "jsonl", "csv"):
        return task
    kept = {key: value for key, value in task.items() if key not in ("number", "description")}
    if fmt == "todotxt":  # no updated time, annotations, wait, depends, until; local dates
        for key in ("updated_at", "annotations", "wait", "depends", "until"):
            del kept[key]
        for key in ("due", "created_at", "completed_at", "scheduled"):
            kept[key] = local_date(task[key])
    return kept


# ---- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FILE_NAMES))
def test_round_trip_into_a_fresh_database(taskcli, user, backend, fmt, request, tmp_path):
    add_sample_tasks(taskcli)
    first = tmp_path / "first" / FILE_NAMES[fmt]
    first.parent.mkdir()
    ok(taskcli, "export", "--format", fmt, "-o", str(first))

    with fresh_database(backend, request, tmp_path) as elsewhere:
        imported = ok(taskcli, "import", str(first), env=elsewhere)  # format from the file
        assert imported.stdout == "created 4, updated 0, skipped 0\n"
        second = tmp_path / "second" / FILE_NAMES[fmt]
        second.parent.mkdir()
        ok(taskcli, "export", "--format", fmt, "-o", str(second), env=elsewhere)
        copied = listed(taskcli, env=elsewhere)

    assert second.read_bytes() == first.read_bytes()
    original = listed(taskcli)
    assert [kept_by(fmt, task) for task in copied] == [kept_by(fmt, task) for task in original]
    # What the format cannot hold is absent, not invented.
    if fmt == "todotxt":
        assert copied[1]["description"] is None
    if fmt == "taskwarrior":  # a new task takes our description from its own attribute
        assert [task["description"] for task in copied] == [t["description"] for t in original]
    if fmt == "todotxt":
        assert all(task["updated_at"] == task["created_at"] for task in copied)


@pytest.mark.parametrize("fmt", list(FILE_NAMES))
def test_planning_fields_round_trip_into_a_fresh_database(
    taskcli, user, backend, fmt, request, tmp_path
):
    """Export → import for a fresh user → export gives the same bytes, and the tasks the
    same planning fields (all of them in json, jsonl and csv)."""
    add_planned_tasks(taskcli)
    first = tmp_path / "first" / FILE_NAMES[fmt]
    first.parent.mkdir()
    ok(taskcli, "export", "--format", fmt, "-o", str(first))

    with fresh_database(backend, request, tmp_path) as elsewhere:
        imported = ok(taskcli, "import", str(first), env=elsewhere)
        templates = 2 if fmt == "taskwarrior" else 0  # the recurring tasks' templates
        assert imported.stdout == f"created 4, updated 0, skipped {templates}\n"
        second = tmp_path / "second" / FILE_NAMES[fmt]
        second.parent.mkdir()
        ok(taskcli, "export", "--format", fmt, "-o", str(second), env=elsewhere)
        copied = listed(taskcli, env=elsewhere)

    assert second.read_bytes() == first.read_bytes()
    original = listed(taskcli)
    assert [kept_by(fmt, task) for task in copied] == [kept_by(fmt, task) for task in original]
    venue, invitations, plants, boiler = original
    assert [note["text"] for note in venue["annotations"]] == ['they said "yes", then é 日本 🎉']
    assert [note["text"] for note in invitations["annotations"]] == ["cards, stamps, addresses"]
    assert invitations["depends"] == [venue["id"]] and invitations["wait"] is not None
    assert (plants["recur"], plants["until"], boiler["recur"]) == (
        "weekly", "2027-06-01T12:00:00Z", "10d",
    )  # fmt: skip


@pytest.mark.parametrize("fmt", list(FILE_NAMES))
def test_reimporting_an_unchanged_export_changes_nothing(taskcli, user, fmt, tmp_path):
    """Fields the format cannot hold (todo.txt: the description, times of day, the update
    time) are kept, not cleared or set to midnight."""
    add_sample_tasks(taskcli)
    before = taskcli.ok("export").stdout
    path = tmp_path / FILE_NAMES[fmt]
    ok(taskcli, "export", "--format", fmt, "-o", str(path))

    result = taskcli.ok("import", str(path))
    assert (result.stdout, result.stderr) == ("created 0, updated 4, skipped 0\n", "")
    assert taskcli.ok("export").stdout == before
    described = json.loads(before)[1]
    assert described["description"] == 'line one\nline two, with "quotes" é'
    assert not described["created_at"].endswith("T00:00:00Z")  # a real time of day, kept


@pytest.mark.parametrize("fmt", ["taskwarrior", "todotxt"])
def test_reimport_keeps_the_planning_fields_the_format_cannot_hold(taskcli, user, fmt, tmp_path):
    """todo.txt has no annotations, wait, depends or until, Taskwarrior no description:
    re-importing their export keeps them, and the tasks' series."""
    add_planned_tasks(taskcli)
    before = taskcli.ok("export").stdout
    path = tmp_path / FILE_NAMES[fmt]
    ok(taskcli, "export", "--format", fmt, "-o", str(path))
    assert taskcli.ok("import", str(path), "--json").json()["updated"] == 4
    assert taskcli.ok("export").stdout == before
    assert json.loads(before)[0]["description"] == "room for 40"


def test_todotxt_reimport_changes_what_the_line_says_and_keeps_the_rest(taskcli, user, tmp_path):
    add_sample_tasks(taskcli)
    [before] = [task for task in listed(taskcli) if task["number"] == 2]
    path = tmp_path / "todo.txt"
    ok(taskcli, "export", "--format", "todotxt", "-o", str(path))
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("(A)", "(C)").replace("+home", "+garden")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    taskcli.ok("import", str(path))
    [after] = [task for task in listed(taskcli) if task["number"] == 2]
    assert (after["priority"], after["project"]) == ("low", "garden")
    for key in ("description", "due", "created_at", "title", "tags"):
        assert after[key] == before[key], key


def test_todotxt_export_of_titles_made_of_markup_imports_back(
    taskcli, user, backend, request, tmp_path
):
    titles = ["+SUM(1,2)", "@home @work", "x due:friday", "Call +44 20  7946 0958"]
    for title in titles:
        taskcli.ok("add", title, "--project", "p")
    path = tmp_path / "todo.txt"
    ok(taskcli, "export", "--format", "todotxt", "-o", str(path))
    with fresh_database(backend, request, tmp_path) as elsewhere:
        assert ok(taskcli, "import", str(path), env=elsewhere).stdout.startswith("created 4,")
        copied = listed(taskcli, env=elsewhere)
    assert [(task["title"], task["project"], task["tags"]) for task in copied] == [
        (title, "p", []) for title in titles
    ]


def test_round_trip_of_stdout_export_through_stdin(taskcli, user):
    add_sample_tasks(taskcli)
    exported = taskcli.ok("export").stdout
    before = listed(taskcli)
    result = taskcli.ok("import", "-", input=exported)
    assert (result.stdout, result.stderr) == ("created 0, updated 4, skipped 0\n", "")
    assert listed(taskcli) == before


def test_csv_export_guards_formulas_and_import_restores_them(
    taskcli, user, backend, request, tmp_path
):
    formulas = ['=HYPERLINK("https://evil.example","click")', "=1+1", "+SUM(1,2)", "-2", "@x"]
    for value in formulas:
        word = value.replace(",", ";")  # a project or tag has no commas
        taskcli.ok("add", f"--description={value}", f"--project={word}", f"--tag={word}",
                   "--", value)  # fmt: skip
    path = tmp_path / "tasks.csv"
    ok(taskcli, "export", "--format", "csv", "-o", str(path))
    with path.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    for row in rows:
        cells = [row[field] for field in ("title", "description", "project", "tags")]
        assert all(cell.startswith("'") for cell in cells), cells
    with fresh_database(backend, request, tmp_path) as elsewhere:
        ok(taskcli, "import", str(path), env=elsewhere)
        copied = listed(taskcli, env=elsewhere)
    assert copied == listed(taskcli)
    assert [task["title"] for task in copied] == formulas


# ---- export to a file -----------------------------------------------------------------------


def test_export_to_a_file_writes_it_and_says_so_on_stderr(taskcli, user, tmp_path):
    add_sample_tasks(taskcli)
    target = tmp_path / "out" / "tasks.jsonl"
    target.parent.mkdir()
    result = taskcli("export", "--format", "jsonl", "-o", str(target))
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == f"exported 4 task(s) to {target}\n"
    lines = target.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["title"] for line in lines] == [t["title"] for t in listed(taskcli)]
    assert sorted(path.name for path in target.parent.iterdir()) == ["tasks.jsonl"]


def test_export_to_a_file_with_json_prints_a_summary(taskcli, user, tmp_path):
    taskcli.ok("add", "one")
    target = tmp_path / "tasks.csv"
    result = taskcli("export", "--format", "csv", "-o", str(target), "--json")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.json() == {"exported": 1, "output": str(target)}
    assert target.read_text().splitlines()[1].split(",")[2] == "one"


def test_export_replaces_an_existing_file(taskcli, user, tmp_path):
    taskcli.ok("add", "only")
    target = tmp_path / "tasks.json"
    target.write_text("old content\n")
    taskcli.ok("export", "-o", str(target))
    assert [task["title"] for task in json.loads(target.read_text())] == ["only"]


@pytest.mark.parametrize("planted_at", ["target", "old temporary name"])
def test_export_never_writes_through_a_planted_symlink(taskcli, user, tmp_path, planted_at):
    """Another user who can write to the directory plants a symlink to the victim's file
    at a name the export uses; the victim's file stays as it was."""
    taskcli.ok("add", "exported")
    victim = tmp_path / "victim" / "precious.txt"
    victim.parent.mkdir()
    victim.write_text("the victim's own data\n")
    target = tmp_path / "shared" / "tasks.json"
    target.parent.mkdir()
    planted = target if planted_at == "target" else target.with_name(".tasks.json.partial")
    planted.symlink_to(victim)
    taskcli.ok("export", "-o", str(target))
    assert victim.read_text() == "the victim's own data\n"
    assert not target.is_symlink()
    assert [task["title"] for task in json.loads(target.read_text())] == ["exported"]


def _umasked(mode: int) -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return mode & ~umask


def test_export_keeps_the_mode_of_an_existing_target_of_ours(taskcli, user, tmp_path):
    taskcli.ok("add", "exported")
    kept, new, foreign = tmp_path / "kept.json", tmp_path / "new.json", tmp_path / "foreign.json"
    kept.write_text("old\n")
    kept.chmod(0o640)
    foreign.write_text("planted\n")
    foreign.chmod(0o666)
    os.chown(foreign, 54321, 54321)  # someone else's file: its mode is not copied
    for path in (kept, new, foreign):
        taskcli.ok("export", "-o", str(path))
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert stat.S_IMODE(new.stat().st_mode) == _umasked(0o666)
    assert stat.S_IMODE(foreign.stat().st_mode) == _umasked(0o666)
    assert foreign.stat().st_uid == os.geteuid()


def test_export_to_dash_is_stdout(taskcli, user, tmp_path, monkeypatch):
    taskcli.ok("add", "exported")
    monkeypatch.chdir(tmp_path)
    result = taskcli.ok("export", "-o", "-", "--format", "jsonl")
    assert [json.loads(line)["title"] for line in result.stdout.splitlines()] == ["exported"]
    assert list(tmp_path.iterdir()) == [tmp_path / "data"]


@pytest.mark.parametrize("where", ["missing directory", "under a file"])
def test_export_to_an_unwritable_place_is_one_line_exit_5(taskcli, user, tmp_path, where):
    taskcli.ok("add", "task")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    target = (tmp_path / "nowhere" if where == "missing directory" else blocker) / "tasks.json"
    before = sorted(tmp_path.rglob("*"))
    result = taskcli("export", "-o", str(target))
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr.startswith(f"error: cannot write {target}: ")
    assert result.stderr.count("\n") == 1
    assert sorted(tmp_path.rglob("*")) == before


# A stream left open would be closed later by the garbage collector, after the connection.
def disk_full_after_two(formats, monkeypatch, fmt: str) -> None:
    """Make the writer of ``fmt`` fail like a full disk at the third task."""

    def full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if fmt in formats.JSON_TEXT_FORMATS:
        real_writer = formats.json_text_writer

        def failing_writer(fmt, out):
            writer = real_writer(fmt, out)
            real_add = writer.add
            writer.add = lambda text: full() if writer.count == 2 else real_add(text)
            return writer

        monkeypatch.setattr(formats, "json_text_writer", failing_writer)
        return
    real_write = formats.write_records

    def failing_write(records, out, fmt):
        def two_then_full():
            for count, record in enumerate(records):
                if count == 2:
                    full()
                yield record

        return real_write(two_then_full(), out, fmt)

    monkeypatch.setattr(formats, "write_records", failing_write)


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.in_process("fills the disk in the test's process")
def test_export_failing_midway_leaves_the_old_file_and_no_partial(
    taskcli, user, tmp_path, monkeypatch, fmt
):
    from taskcli.core import formats

    for title in ("one", "two", "three"):
        taskcli.ok("add", title)
    target = tmp_path / "out" / "tasks.data"
    target.parent.mkdir()
    target.write_text("previous export\n")
    disk_full_after_two(formats, monkeypatch, fmt)
    result = taskcli("export", "--format", fmt, "-o", str(target))
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr == f"error: cannot write {target}: No space left on device\n"
    assert target.read_text() == "previous export\n"
    assert [path.name for path in target.parent.iterdir()] == ["tasks.data"]
    assert taskcli.ok("list", "--jsonl").stdout.count("\n") == 3  # the connection still works


# ---- what is exported -----------------------------------------------------------------------


def test_export_includes_completed_tasks_by_default(taskcli, user):
    taskcli.ok("add", "open")
    taskcli.ok("add", "closed")
    taskcli.ok("done", "2")
    assert [t["number"] for t in taskcli.ok("list", "--json").json()] == [1]
    exported = taskcli.ok("export").json()
    assert [(t["title"], t["status"]) for t in exported] == [
        ("open", "pending"),
        ("closed", "completed"),
    ]
    assert exported[1]["completed_at"] is not None


@pytest.fixture
def varied(taskcli, user):
    taskcli.ok("add", "Buy milk", "-P", "low", "--project", "home", "-t", "errand")
    taskcli.ok("add", "Write report", "-P", "high", "--project", "work", "-t", "office")
    taskcli.ok("add", "Call Alice about MILK", "-t", "errand", "--due", "2020-01-01T10:00Z")
    taskcli.ok("add", "File taxes", "-P", "high", "--project", "home")
    taskcli.ok("done", "4")
    taskcli.ok("start", "2")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], [1, 2, 3, 4]),
        (["--status", "completed"], [4]),
        (["--status", "in_progress", "--status", "pending"], [1, 2, 3]),
        (["-P", "high"], [2, 4]),
        (["--project", "home"], [1, 4]),
        (["-t", "errand"], [1, 3]),
        (["--search", "milk"], [1, 3]),
        (["--overdue"], [3]),
        (["--project", "home", "-P", "high"], [4]),
        (["--sort", "priority"], [2, 4, 3, 1]),
        (["--project", "nowhere"], []),
    ],
)
def test_export_filters_narrow_it(taskcli, varied, args, expected):
    exported = taskcli.ok("export", *args).json()
    assert [task["number"] for task in exported] == expected


@pytest.mark.parametrize("fmt", ["csv", "todotxt", "jsonl"])
def test_export_filters_apply_to_every_format(taskcli, varied, fmt):
    text = taskcli.ok("export", "--format", fmt, "--project", "work").stdout
    if fmt == "csv":
        assert [row["title"] for row in csv.DictReader(io.StringIO(text))] == ["Write report"]
    elif fmt == "jsonl":
        assert [json.loads(line)["title"] for line in text.splitlines()] == ["Write report"]
    else:
        assert text.startswith("(A) ") and "Write report +work @office" in text
        assert text.count("\n") == 1


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("json", "[]\n"), ("taskwarrior", "[]\n"), ("jsonl", ""), ("todotxt", "")],
)
def test_export_with_no_tasks(taskcli, user, fmt, expected):
    result = taskcli("export", "--format", fmt)
    assert (result.exit_code, result.stdout, result.stderr) == (0, expected, "")
    if fmt in ("json", "taskwarrior"):
        assert json.loads(result.stdout) == []


def test_export_csv_with_no_tasks_is_the_header(taskcli, user):
    result = taskcli.ok("export", "--format", "csv")
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["id", "number", "title", "description", "status", "priority", "due", "project",
         "tags", "created_at", "updated_at", "completed_at", "annotations", "wait",
         "scheduled", "depends", "recur", "until"],
    ]  # fmt: skip


def test_export_unknown_format_is_a_usage_error(taskcli, user, tmp_path):
    target = tmp_path / "x.out"
    result = taskcli("export", "--format", "xml", "-o", str(target), "--json")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.error["code"] == "usage"
    assert "xml" in result.error["message"]
    assert not target.exists()


def test_export_needs_a_login(taskcli, backend, tmp_path):
    target = tmp_path / "x.json"
    result = taskcli("export", "-o", str(target))
    assert (result.exit_code, result.stdout) == (3, "")
    assert not Path(target).exists()


# ---- JSON text built by the database ---------------------------------------------------------

ODD_TEXTS = [
    'quote " and back\\slash',
    "tab\tnew\nline\rreturn\x08\x0c",
    "controls \x01\x1f and DEL \x7f",
    "é ü 漢字 🎉 \u2028\u2029 \ufeff",
    "</script> / {} [] : , '",
    "".join(map(chr, range(1, 32))),
    "",
]


def python_json_texts() -> list[str]:
    """Every task of the logged-in user as ``json.dumps(task_to_json(...))`` writes it."""
    from taskcli.core.formats import task_to_json
    from taskcli.core.listing import TaskFilter, list_tasks
    from tests.tasks_support import connection

    with connection() as conn:
        owner = connection_owner(conn)
        records = list_tasks(conn, user_id=owner, flt=TaskFilter(include_completed=True, limit=0))
    return [json.dumps(task_to_json(record), ensure_ascii=False) for record in records]


def connection_owner(conn):
    from taskcli.core.models import User

    return conn.execute(User.__table__.select()).one().id


def test_database_json_text_is_the_python_json_text(taskcli, user):
    """Export's JSON comes from the database; byte for byte what Python would write."""
    from datetime import UTC

    from tests.tasks_support import set_columns, user_id

    owner = user_id(taskcli)
    add_sample_tasks(taskcli)
    moments = [
        datetime(0o5, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 2, 29, 0, 0, 0, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ]
    for index, text in enumerate(ODD_TEXTS):
        taskcli.ok("add", f"odd {index}")
        number = 5 + index
        tags = [text.replace(" ", "_"), "ascii", "ü"] if index % 2 else [f"t{index}", "x\\y"]
        set_columns(
            number, owner, title=text, description=text, project=text, tags=tags,
            due=moments[index % 4], created_at=moments[(index + 1) % 4],
            completed_at=None if index % 3 else moments[(index + 2) % 4],
        )  # fmt: skip
    expected = python_json_texts()
    assert len(expected) == 4 + len(ODD_TEXTS)
    lines = ok(taskcli, "export", "--format", "jsonl").stdout
    assert lines.split("\n") == [*expected, ""]  # (str.splitlines would split at U+2028)
    array = ok(taskcli, "export", "--format", "json").stdout
    assert array == "[\n" + ",\n".join(expected) + "\n]\n"
    assert json.loads(array) == [json.loads(line) for line in expected]
