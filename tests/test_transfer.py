"""`taskcli import` through the CLI on SQLite and PostgreSQL: format detection, all or
nothing (rejections, interruption), idempotency, UUIDs other users hold too, --dry-run, bulk
size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.conftest import REPO, Result, run_process
from tests.tasks_support import register_second_user, set_columns, stored_tasks, user_id
from tests.transfer_support import (
    IMPORT_REPORT_KEYS,
    listed,
    ok,
    task_object,
    write_json,
)

TW_UUID = "6fd0ba3d-6d2b-4a5c-8a3c-1d0b9e3f5a11"
TW_TASK = {
    "id": 3, "description": "from taskwarrior", "entry": "20260102T030405Z",
    "modified": "20260103T000000Z", "priority": "H", "status": "pending", "uuid": TW_UUID,
    "urgency": 6.1,
}  # fmt: skip
OUR_TASK = {
    "id": "0b1f6c52-5b5e-4a0e-9d4e-3d2f1a6c7e01", "number": 7, "title": "from json",
    "priority": "high", "created_at": "2026-01-02T03:04:05Z", "tags": ["a"],
}  # fmt: skip
CONTENTS = {
    "json": json.dumps([OUR_TASK], indent=2),
    "jsonl": json.dumps(OUR_TASK) + "\n",
    "taskwarrior array": "[\n" + json.dumps(TW_TASK) + "\n]\n",
    "taskwarrior lines": json.dumps(TW_TASK) + "\n",
    "csv": "title,priority,created_at,tags\r\nfrom json,high,2026-01-02T03:04:05Z,a\r\n",
    "todotxt": "(A) 2026-01-02 from todo.txt +home @phone due:2026-12-01\n",
}


def expected_for(content: str) -> dict:
    """What the one imported task shows when the content was read as the right format."""
    if content.startswith("taskwarrior"):
        return {
            "id": TW_UUID, "title": "from taskwarrior", "priority": "high",
            "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-03T00:00:00Z",
        }  # fmt: skip
    if content == "todotxt":
        return {"title": "from todo.txt", "priority": "high", "project": "home", "tags": ["phone"]}
    return {"title": "from json", "priority": "high", "created_at": "2026-01-02T03:04:05Z",
            "tags": ["a"]}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("tasks.json", "json"),
        ("export", "json"),
        ("-", "json"),
        ("tasks.jsonl", "jsonl"),
        ("tasks.ndjson", "jsonl"),
        ("-", "jsonl"),
        ("tasks.json", "taskwarrior array"),
        ("-", "taskwarrior array"),
        ("tasks.json", "taskwarrior lines"),
        ("-", "taskwarrior lines"),
        ("tasks.csv", "csv"),
        ("tasks.dat", "csv"),
        ("-", "csv"),
        ("todo.txt", "todotxt"),
        ("done.txt", "todotxt"),
        ("-", "todotxt"),
    ],
)
def test_format_is_detected_from_name_and_content(taskcli, user, tmp_path, name, content):
    if name == "-":
        result = taskcli("import", "-", input=CONTENTS[content])
    else:
        (tmp_path / name).write_bytes(CONTENTS[content].encode())
        result = taskcli("import", str(tmp_path / name))
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "created 1, updated 0, skipped 0\n", "",
    )  # fmt: skip
    [task] = listed(taskcli)
    assert {key: task[key] for key in expected_for(content)} == expected_for(content)
    if content != "todotxt":
        assert task["due"] is None  # nothing else was made up


def test_format_option_overrides_detection(taskcli, user, tmp_path):
    path = tmp_path / "tasks.txt"  # .txt alone would mean todo.txt
    path.write_text(CONTENTS["json"])
    assert taskcli.ok("import", str(path), "--format", "json").stdout.startswith("created 1,")
    assert [task["title"] for task in listed(taskcli)] == ["from json"]


def test_unknown_format_option_is_rejected(taskcli, user, tmp_path):
    path = write_json(tmp_path / "tasks.json", [task_object("x")])
    result = taskcli("import", str(path), "--format", "xml")
    assert (result.exit_code, result.stdout) == (2, "")  # like export, and like bad options
    assert result.stderr.startswith("error: unknown format 'xml': use json, jsonl")
    assert listed(taskcli) == []


def test_import_from_a_pipe_detects_the_format(taskcli, user, tmp_path):
    """A FIFO (or a shell's <(…)) cannot seek: it is read ahead like stdin."""
    import threading

    fifo = tmp_path / "tasks-pipe"
    os.mkfifo(fifo)
    lines = "".join(json.dumps(task_object(f"piped {n}")) + "\n" for n in range(3))

    def feed():
        with open(fifo, "w", encoding="utf-8") as pipe:
            pipe.write(lines)

    writer = threading.Thread(target=feed)
    writer.start()
    result = taskcli("import", str(fifo))
    writer.join(timeout=30)
    assert (result.exit_code, result.stdout) == (0, "created 3, updated 0, skipped 0\n")
    assert [task["title"] for task in listed(taskcli)] == ["piped 0", "piped 1", "piped 2"]


@pytest.mark.parametrize("source", ["README.md", "taskcli/cli/transfer.py", "-"])
def test_content_that_is_no_format_is_refused_not_guessed(taskcli, user, source):
    if source == "-":
        readme = (REPO / "README.md").read_text(encoding="utf-8")
        result = taskcli("import", "-", input=readme)
    else:
        result = taskcli("import", str(REPO / source))
    where = "the input" if source == "-" else REPO / source
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr == (
        f"error: cannot tell the format of {where}: it is not recognisably one of json, jsonl, "
        "csv, taskwarrior or todotxt (hint: name the format with --format)\n"
    )
    assert listed(taskcli) == []


@pytest.mark.parametrize("name", ["tasks.jsonl", "todo.txt", "tasks.csv"])
def test_a_line_too_long_for_a_record_is_refused_and_nothing_imported(
    taskcli, user, tmp_path, name
):
    first = {"tasks.jsonl": '{"title": "a"}', "todo.txt": "a", "tasks.csv": "title\na"}[name]
    path = tmp_path / name
    path.write_text(first + "\n" + "z" * (2 << 20) + "\nb\n", encoding="utf-8")
    result = taskcli("import", str(path))
    line = first.count("\n") + 2
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr.endswith(
        f"first: line {line}: longer than 1 MiB, which no task record is "
        "(nothing after it was read)\n"
    )
    assert listed(taskcli) == []


PEAK_OF_CHILD = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "taskcli", *sys.argv[1:]], capture_output=True)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def import_peak_kib(path) -> tuple[int, int]:
    """(exit code, peak resident memory in KiB) of a `taskcli import` process of its own."""
    completed = subprocess.run(
        [sys.executable, "-c", PEAK_OF_CHILD, "import", str(path)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    code, peak = completed.stdout.split()
    return int(code), int(peak)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # reading is the same on both
def test_a_huge_line_is_refused_without_holding_it_in_memory(user, backend, tmp_path):
    small, huge = tmp_path / "small.jsonl", tmp_path / "huge.jsonl"
    small.write_text('{"title": "a"}\n', encoding="utf-8")
    huge.write_text('{"title": "a"}\n{"title": "' + "z" * (32 << 20) + '"}\n', encoding="utf-8")
    code, baseline = import_peak_kib(small)
    assert code == 0
    code, peak = import_peak_kib(huge)
    assert code == 5
    assert peak - baseline < 12 * 1024  # far below the 32 MiB line


def test_missing_file_is_one_line_exit_5(taskcli, user, tmp_path):
    result = taskcli("import", str(tmp_path / "nope.json"))
    assert (result.exit_code, result.stdout) == (5, "")
    assert (
        result.stderr == f"error: cannot read {tmp_path / 'nope.json'}: No such file or directory\n"
    )


def test_byte_order_mark_is_ignored(taskcli, user, tmp_path):
    path = tmp_path / "tasks.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CONTENTS["csv"].encode())
    taskcli.ok("import", str(path))
    taskcli.ok("import", "-", input="\ufeff" + CONTENTS["todotxt"])
    assert [task["title"] for task in listed(taskcli)] == ["from json", "from todo.txt"]


def import_from_stdin(path, env: dict) -> Result:
    """`taskcli import -` as a real process reading the bytes of ``path`` on stdin."""
    with path.open("rb") as stdin:
        completed = subprocess.run(
            [sys.executable, "-m", "taskcli", "import", "-"], stdin=stdin,
            capture_output=True, text=True, env={**os.environ, **env}, timeout=120,
        )  # fmt: skip
    return Result(completed.returncode, completed.stdout, completed.stderr)


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_input_that_is_not_utf8_is_one_line_exit_5(user, tmp_path, source):
    path = tmp_path / "todo.txt"
    path.write_bytes("Caf\u00e9 au lait +shop\n".encode("latin-1"))
    if source == "file":
        result = run_process("import", str(path))
    else:
        result = import_from_stdin(path, {"LC_ALL": "C"})
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr.startswith("error: the input is not UTF-8 text")
    assert result.stderr.count("\n") == 1
    assert stored_tasks() == []


def test_utf8_on_stdin_is_read_whatever_the_terminal_encoding(user, tmp_path):
    path = tmp_path / "todo.txt"
    path.write_text("(A) Café 日本 🎉 +maison\n", encoding="utf-8")
    result = import_from_stdin(path, {"PYTHONIOENCODING": "latin-1"})
    assert result.exit_code == 0, result.stderr
    assert [(t["title"], t["project"]) for t in stored_tasks()] == [("Café 日本 🎉", "maison")]


# ---- all or nothing -------------------------------------------------------------------------


GOOD = [f"good {n}" for n in range(1, 5)]
BAD_INPUTS = {
    # format: (text with two bad records after two good ones, their locations, words in errors)
    "json": (
        json.dumps(
            [
                {"title": GOOD[0]},
                {"title": GOOD[1]},
                {"title": "  "},
                {"title": "x", "status": "someday"},
                {"title": GOOD[2]},
                {"title": GOOD[3]},
            ]
        ),
        ["index 2", "index 3"],
        ["title", "status"],
    ),  # fmt: skip
    "jsonl": (
        "\n".join(
            json.dumps(obj)
            for obj in [
                {"title": GOOD[0]},
                {"title": GOOD[1]},
                {"title": "x", "due": "soon"},
                {"title": "x", "tags": ["two words"]},
                {"title": GOOD[2]},
                {"title": GOOD[3]},
            ]
        ),
        ["line 3", "line 4"],
        ["due", "tag"],
    ),  # fmt: skip
    "csv": (
        f"title,priority\n{GOOD[0]},low\n{GOOD[1]},high\nx,urgent\n,low\n{GOOD[2]},\n{GOOD[3]},\n",
        ["line 4", "line 5"],
        ["priority", "title"],
    ),
    "taskwarrior": (
        "[\n"
        + ",\n".join(
            json.dumps(obj)
            for obj in [
                {"description": GOOD[0], "entry": "20260101T000000Z"},
                {"description": GOOD[1], "status": "completed"},
                {"description": "x", "entry": "yesterday"},
                {"description": "x", "uuid": "not-a-uuid"},
                {"description": GOOD[2]},
                {"description": GOOD[3]},
            ]
        )
        + "\n]",
        ["index 2", "index 3"],
        ["entry", "uuid"],
    ),  # fmt: skip
    "todotxt": (
        f"{GOOD[0]}\n(B) {GOOD[1]}\nbad date due:2026-02-30\n+onlyproject @ctx\n"
        f"{GOOD[2]}\n{GOOD[3]}\n",
        ["line 3", "line 4"],
        ["due", "title"],
    ),
}


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of two, so good records are written before the bad ones are met."""
    from taskcli.core import transfer

    monkeypatch.setattr(transfer, "BATCH", 2)


@pytest.mark.parametrize("fmt", list(BAD_INPUTS))
def test_bad_records_in_the_middle_import_nothing(taskcli, user, tmp_path, small_batches, fmt):
    text, locations, words = BAD_INPUTS[fmt]
    taskcli.ok("add", "already here")
    before = stored_tasks()
    path = tmp_path / "input"
    path.write_text(text)
    result = taskcli("import", str(path), "--format", fmt)
    assert (result.exit_code, result.stdout) == (5, "")
    lines = result.stderr.splitlines()
    assert len(lines) == 3, result.stderr
    for line, location, word in zip(lines, locations, words, strict=False):
        assert line.startswith(f"rejected {location}: ")
        assert word in line
    assert lines[2].startswith(
        f"error: 2 record(s) rejected, nothing imported; first: {locations[0]}"
    )
    assert stored_tasks() == before
    assert taskcli.ok("add", "next").stdout == "2\n"  # no number was used up


def test_rejection_report_as_json(taskcli, user, tmp_path):
    text, locations, _ = BAD_INPUTS["json"]
    path = tmp_path / "tasks.json"
    path.write_text(text)
    result = taskcli("import", str(path), "--json")
    assert result.exit_code == 5
    report = result.json()
    assert list(report) == IMPORT_REPORT_KEYS
    assert (report["created"], report["updated"], report["skipped"]) == (0, 0, 0)
    assert [list(item) for item in report["rejected"]] == [["record", "error"]] * 2
    assert [item["record"] for item in report["rejected"]] == locations
    assert "status" in report["rejected"][1]["error"]
    assert result.error["code"] == "invalid_input"
    assert stored_tasks() == []


@pytest.mark.in_process("interrupts the import in the test's process")
def test_interrupted_import_leaves_nothing_and_exits_130(
    taskcli, user, tmp_path, small_batches, monkeypatch
):
    from taskcli.core import formats

    taskcli.ok("add", "already here")
    before = stored_tasks()
    path = write_json(tmp_path / "tasks.json", [task_object(f"t{n}") for n in range(10)])
    read_records = formats.read_records

    def interrupted_after_seven(stream, fmt):
        for count, item in enumerate(read_records(stream, fmt)):
            if count == 7:  # three batches of two are written by now
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(formats, "read_records", interrupted_after_seven)
    result = taskcli("import", str(path))
    assert (result.exit_code, result.stdout) == (130, "")
    assert stored_tasks() == before
    monkeypatch.setattr(formats, "read_records", read_records)
    assert taskcli.ok("add", "next").stdout == "2\n"
    assert taskcli.ok("import", str(path)).stdout == "created 10, updated 0, skipped 0\n"


# ---- idempotency and ownership --------------------------------------------------------------


def test_importing_twice_updates_instead_of_duplicating(taskcli, user, tmp_path, small_batches):
    objects = [task_object(f"task {n}", priority="low") for n in range(5)]
    path = write_json(tmp_path / "tasks.json", objects)
    assert taskcli.ok("import", str(path)).stdout == "created 5, updated 0, skipped 0\n"
    first = listed(taskcli)
    taskcli.ok("update", "2", "--title", "changed here")
    second = taskcli.ok("import", str(path), "--json").json()
    assert second == {"created": 0, "updated": 5, "skipped": 0, "rejected": []}
    again = listed(taskcli)
    # the file's values again, same ids, numbers and creation times; the file has no
    # updated_at, so the import is the last update
    assert [{**t, "updated_at": None} for t in again] == [{**t, "updated_at": None} for t in first]
    assert [task["id"] for task in first] == [obj["id"] for obj in objects]


def test_same_uuid_twice_in_one_file_is_rejected(taskcli, user, tmp_path):
    twin = task_object("one")
    path = write_json(tmp_path / "tasks.json", [twin, {**twin, "title": "two"}])
    result = taskcli("import", str(path))
    assert result.exit_code == 5
    assert result.stderr.splitlines()[0] == "rejected index 1: id: appears twice"
    assert stored_tasks() == []


def test_another_users_uuid_is_kept_and_their_task_never_touched(taskcli, user, tmp_path):
    taskcli.ok("add", "mine", "-P", "high", "-t", "private")
    exported = tmp_path / "tasks.json"
    taskcli.ok("export", "-o", str(exported))
    [owned_before] = stored_tasks()
    other = register_second_user(taskcli, tmp_path / "other-data")

    first = ok(taskcli, "import", str(exported), env=other)
    assert (first.stdout, first.stderr) == ("created 1, updated 0, skipped 0\n", "")
    [copy] = listed(taskcli, env=other)
    assert copy["id"] == str(owned_before["id"])
    assert (copy["number"], copy["title"], copy["tags"]) == (1, "mine", ["private"])
    # Importing the same file again updates that copy: nothing new.
    again = ok(taskcli, "import", str(exported), env=other)
    assert again.stdout == "created 0, updated 1, skipped 0\n"
    ok(taskcli, "update", copy["id"], "--title", "their copy", env=other)
    assert [task["title"] for task in listed(taskcli, env=other)] == ["their copy"]
    owned_after = [task for task in stored_tasks() if task["user_id"] == owned_before["user_id"]]
    assert owned_after == [owned_before]
    assert taskcli.ok("import", str(exported)).stdout == "created 0, updated 1, skipped 0\n"


# ---- dry run ---------------------------------------------------------------------------------


def test_dry_run_reports_counts_and_writes_nothing(taskcli, user, tmp_path):
    taskcli.ok("add", "existing")
    existing = taskcli.ok("export").json()[0]
    tw_deleted = {"description": "gone", "status": "deleted", "entry": "20260101T000000Z"}
    path = tmp_path / "tasks.json"
    objects = [{**existing, "title": "renamed"}, task_object("new 1"), task_object("new 2")]
    write_json(path, objects)
    before = stored_tasks()
    result = taskcli("import", str(path), "--dry-run")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == "dry run: would have created 2, updated 1, skipped 0\n"
    report = taskcli.ok("import", str(path), "--dry-run", "--json").json()
    assert report == {"created": 2, "updated": 1, "skipped": 0, "rejected": []}
    tw_path = tmp_path / "taskwarrior.json"
    tw_path.write_text(json.dumps([TW_TASK, tw_deleted]))
    tw_report = taskcli.ok("import", str(tw_path), "--dry-run", "--json").json()
    assert tw_report == {"created": 1, "updated": 0, "skipped": 1, "rejected": []}
    assert stored_tasks() == before
    assert taskcli.ok("add", "next").stdout == "2\n"


def test_a_dry_run_in_core_returns_its_report_and_leaves_the_connection_usable(
    taskcli, user, tmp_path
):
    """Through the library too (not only ``import_file``): the report comes back as the
    result, the transaction is rolled back, and the connection goes on working."""
    from taskcli.core import formats, transfer
    from tests.tasks_support import connection

    path = write_json(tmp_path / "tasks.json", [task_object("new 1"), task_object("new 2")])
    owner = user_id(taskcli)
    with connection() as conn:
        with path.open(encoding="utf-8") as stream:
            parsed = formats.read_records(stream, "json")
            report = transfer.import_records(conn, user_id=owner, parsed=parsed, dry_run=True)
        assert (report.created, report.updated, report.rejected) == (2, 0, [])
        assert stored_tasks() == []
        with path.open(encoding="utf-8") as stream:
            report = transfer.import_file(conn, user_id=owner, stream=stream, fmt="json")
        assert report.created == 2
    assert [task["title"] for task in stored_tasks()] == ["new 1", "new 2"]


def test_dry_run_still_rejects(taskcli, user, tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text(BAD_INPUTS["json"][0])
    result = taskcli("import", str(path), "--dry-run")
    assert (result.exit_code, result.stdout) == (5, "")
    assert stored_tasks() == []


# ---- numbering and size ----------------------------------------------------------------------


def test_numbers_continue_after_existing_tasks_across_batches(
    taskcli, user, tmp_path, small_batches
):
    taskcli.ok("add", "first")
    path = write_json(tmp_path / "tasks.json", [task_object(f"t{n}") for n in range(7)])
    taskcli.ok("import", str(path))
    assert [task["number"] for task in listed(taskcli)] == list(range(1, 9))
    assert [task["title"] for task in listed(taskcli)][1:] == [f"t{n}" for n in range(7)]
    assert taskcli.ok("add", "last").stdout == "9\n"


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_five_thousand_tasks_on_postgres(taskcli, user, backend, tmp_path):
    path = tmp_path / "tasks.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for n in range(5000):
            out.write(json.dumps({"id": str(uuid.uuid4()), "title": f"bulk {n}"}) + "\n")
    result = run_process("import", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == {"created": 5000, "updated": 0, "skipped": 0, "rejected": []}
    stored = stored_tasks()
    assert [task["number"] for task in stored] == list(range(1, 5001))
    assert [task["title"] for task in stored] == [f"bulk {n}" for n in range(5000)]
    assert taskcli.ok("add", "one more").stdout == "5001\n"


def test_reimport_keeps_creation_times_the_file_does_not_give(taskcli, user, tmp_path):
    from datetime import UTC, datetime

    path = write_json(tmp_path / "tasks.json", [task_object("no times here")])
    taskcli.ok("import", str(path))
    old = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    set_columns(1, user_id(taskcli), created_at=old)
    taskcli.ok("import", str(path))
    assert listed(taskcli)[0]["created_at"] == "2020-01-02T03:04:05Z"


def test_text_that_needs_escaping_is_imported_exactly(taskcli, user, tmp_path):
    """On PostgreSQL new tasks arrive through COPY, whose text format has escapes of its own."""
    odd = ["back\\slash \\N \\t", "tab\there", "new\nline\r\nreturn", '"quoted" {braced}', "é 🎉"]
    objects = [
        task_object(
            f"odd {index}",
            description=text,
            project=f"p\\{index}",
            tags=["\\N", 'a"b', "{x}", "c\\d", "NULL", "ü"][index:],
        )  # fmt: skip
        for index, text in enumerate(odd)
    ]
    source = tmp_path / "odd.json"
    source.write_text(json.dumps(objects), encoding="utf-8")
    taskcli.ok("import", str(source))
    stored = {task["id"]: task for task in listed(taskcli)}
    for obj in objects:
        task = stored[obj["id"]]
        assert (task["description"], task["project"]) == (obj["description"], obj["project"])
        assert task["tags"] == obj["tags"]


def test_reimport_changes_every_field(taskcli, user, tmp_path):
    """A second import of the same ids with other values replaces each field."""
    first = [
        task_object("before", description="old", project="p", tags=["a", "b"],
                    due="2030-01-01T00:00:00Z", priority="low"),
        task_object("plain"),
    ]  # fmt: skip
    changed = [
        {**first[0], "title": "after", "description": None, "project": None, "tags": ["ü"],
         "due": None, "priority": "high", "status": "completed",
         "completed_at": "2030-02-02T10:00:00Z", "updated_at": "2030-02-02T10:00:00Z"},
        {**first[1], "description": "now\tone", "tags": ["x\\y", 'q"'], "status": "in_progress",
         "due": "2031-03-04T05:06:07Z", "project": "new"},
    ]  # fmt: skip
    taskcli.ok("import", str(write_json(tmp_path / "first.json", first)))
    created = {task["id"]: task["created_at"] for task in listed(taskcli)}
    result = taskcli.ok("import", str(write_json(tmp_path / "second.json", changed)))
    assert result.stdout == "created 0, updated 2, skipped 0\n"
    stored = {task["id"]: task for task in listed(taskcli)}
    for obj in changed:
        task = stored[obj["id"]]
        for key in ("title", "description", "project", "tags", "due", "status"):
            assert task[key] == obj.get(key, task[key]), key
        assert task["created_at"] == created[obj["id"]]  # the file does not say: kept
    assert stored[changed[0]["id"]]["completed_at"] == "2030-02-02T10:00:00Z"
    assert stored[changed[1]["id"]]["priority"] == "medium"


# ---- times without an offset ----------------------------------------------------------------


@pytest.fixture
def berlin(monkeypatch):
    """A local zone with DST (CET +01:00 in winter, CEST +02:00 from 2026-03-29)."""
    import time

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


NAIVE_TIMES = {  # as the file gives it → what is stored (UTC)
    "2026-01-15T08:00:00": "2026-01-15T07:00:00Z",  # local winter time
    "2026-07-01T08:00": "2026-07-01T06:00:00Z",  # local summer time
    "2026-03-29": "2026-03-29T21:59:59Z",  # a bare date: the end of that (DST) day
    "2026-10-25": "2026-10-25T22:59:59Z",  # the day DST ends
    "2026-07-01T08:00:00Z": "2026-07-01T08:00:00Z",  # with an offset: that instant
}


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_naive_times_are_local_and_a_bare_date_is_the_end_of_that_day(
    taskcli, user, tmp_path, berlin, fmt
):
    objects = [task_object(f"due {text}", due=text) for text in NAIVE_TIMES]
    if fmt == "json":
        content = json.dumps(objects)
    elif fmt == "jsonl":
        content = "".join(json.dumps(obj) + "\n" for obj in objects)
    else:
        rows = (f"{obj['id']},{obj['title']},{obj['due']}\r\n" for obj in objects)
        content = "id,title,due\r\n" + "".join(rows)
    path = tmp_path / f"tasks.{fmt}"
    path.write_text(content, encoding="utf-8")
    taskcli.ok("import", str(path))
    assert {task["title"]: task["due"] for task in listed(taskcli)} == {
        f"due {text}": stored for text, stored in NAIVE_TIMES.items()
    }
