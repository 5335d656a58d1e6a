"""`taskcli edit REF`: the task as text in a real editor process (a Python script written
here that rewrites the file with regex edits, as sed would), saved back as one update."""

from __future__ import annotations

import json
import shlex
import stat
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import run_process
from tests.tasks_support import set_columns, user_id

EDITOR_SCRIPT = """\
import json, os, re, signal, subprocess, sys
plan = json.loads({plan!r})
path = sys.argv[-1]
with open(path, encoding="utf-8", newline="") as given:
    text = given.read()
with open(plan["seen"], "w", encoding="utf-8", newline="") as seen:
    json.dump({{"path": path, "mode": os.stat(path).st_mode & 0o777, "text": text}}, seen)
for command in plan["before"]:  # another taskcli changing the task meanwhile
    subprocess.run([sys.executable, "-m", "taskcli", *command], check=True, capture_output=True)
if plan["interrupt_parent"]:  # as Ctrl-C on the terminal reaches taskcli too
    os.kill(os.getppid(), signal.SIGINT)
for pattern, replacement in plan["edits"]:
    text = re.sub(pattern, replacement, text, flags=re.M)
with open(path, "w", encoding="utf-8", newline="") as edited:
    edited.write(text)
if plan["exit"] < 0:  # killed by that signal
    os.kill(os.getpid(), -plan["exit"])
sys.exit(plan["exit"])
"""


class Editor:
    """An editor command line (``python script``) and what the script saw."""

    def __init__(self, tmp_path: Path, edits, *, before=(), exit_code=0, interrupt=False):
        self.seen = tmp_path / f"seen-{len(list(tmp_path.glob('editor-*')))}.json"
        script = tmp_path / f"editor-{self.seen.stem}.py"
        plan = {"edits": list(edits), "before": [list(c) for c in before], "exit": exit_code,
                "seen": str(self.seen), "interrupt_parent": interrupt}  # fmt: skip
        script.write_text(EDITOR_SCRIPT.format(plan=json.dumps(plan)))
        self.command = shlex.join([sys.executable, str(script)])

    def saw(self) -> dict:
        return json.loads(self.seen.read_text())


def use_editor(monkeypatch, tmp_path, *edits, **options) -> Editor:
    editor = Editor(tmp_path, edits, **options)
    monkeypatch.setenv("EDITOR", editor.command)
    return editor


def edit_files(isolated: Path) -> list[Path]:
    directory = isolated / "data" / "edits"
    return sorted(directory.iterdir()) if directory.exists() else []


def shown(taskcli, ref: str = "1") -> dict:
    return taskcli.ok("show", ref, "--json").json()


def kept_path(stderr: str) -> Path:
    assert stderr.count("\n") == 1, stderr  # one line
    return Path(stderr.split("your text is kept in ")[1].rstrip(")\n"))


def test_every_field_is_changed_in_one_edit(taskcli, user, monkeypatch, tmp_path, local_zone):
    local_zone("Europe/Berlin")
    taskcli.ok("add", "first")
    taskcli.ok("add", "second")
    taskcli.ok("add", "Buy milk", "-d", "old text", "--project", "home", "-t", "shop",
               "--depends", "1")  # fmt: skip
    taskcli.ok("annotate", "3", "called, left a message")
    taskcli.ok("annotate", "3", "to be removed")
    use_editor(monkeypatch, tmp_path,
        (r"^title: .*", "title: Buy oat milk"), (r"^status: .*", "status: in_progress"),
        (r"^priority: .*", "priority: H"), (r"^due:.*", "due: 2026-12-24 10:00"),
        (r"^project: .*", "project: errands"), (r"^tags: .*", "tags: shop, dairy"),
        (r"^wait:.*", "wait: 2026-12-20 08:00"), (r"^scheduled:.*", "scheduled: 2026-12-22"),
        (r"^depends: .*", "depends: 2"), (r"^recur:.*", "recur: 1w"),
        (r"^until:.*", "until: 2027-06-30 12:00:00"),
        (r"^.* to be removed\n", ""), (r"^(--- description)", r"ask for a discount\n\1"),
        (r"^old text\n", "first line\n\n  indented third, with a tab\tand # a hash\n"),
    )  # fmt: skip
    result = taskcli("edit", "3")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "updated 3: Buy oat milk\n"
    task = shown(taskcli, "3")
    second = shown(taskcli, "2")["id"]
    assert {key: task[key] for key in ("title", "status", "priority", "project", "recur")} == {
        "title": "Buy oat milk", "status": "in_progress", "priority": "high",
        "project": "errands", "recur": "1w"}  # fmt: skip
    assert sorted(task["tags"]) == ["dairy", "shop"] and task["depends"] == [second]
    assert (task["due"], task["wait"], task["scheduled"], task["until"]) == (
        "2026-12-24T09:00:00Z",
        "2026-12-20T07:00:00Z",
        "2026-12-22T22:59:59Z",
        "2027-06-30T10:00:00Z",
    )  # local times (Berlin, UTC+1 in winter, +2 in summer) fmt: skip
    assert [note["text"] for note in task["annotations"]] == [
        "called, left a message", "ask for a discount"]  # fmt: skip
    assert task["description"] == "first line\n\n  indented third, with a tab\tand # a hash"
    assert edit_files(tmp_path) == []  # the text is removed after success


def test_an_edit_file_is_private_and_shows_times_in_local_time(
    taskcli, user, monkeypatch, tmp_path, local_zone
):
    local_zone("America/New_York")
    taskcli.ok("add", "call", "--due", "2026-12-01T17:00:07Z", "-d", "two\nlines")
    editor = use_editor(monkeypatch, tmp_path)
    taskcli.ok("edit", "1")
    saw = editor.saw()
    assert saw["mode"] == 0o600
    assert Path(saw["path"]).parent == tmp_path / "data" / "edits"
    assert stat.S_IMODE(Path(saw["path"]).parent.stat().st_mode) == 0o700
    lines = saw["text"].splitlines()
    assert "title: call" in lines and "due: 2026-12-01 12:00:07" in lines
    assert saw["text"].endswith("--- description: every line below, as it is\ntwo\nlines\n")


def test_an_unchanged_text_changes_nothing(taskcli, user, monkeypatch, tmp_path, local_zone):
    """Every field set, times to the second, a multi-line description with CRLF and blank
    lines, annotations, a dependency on a deleted task: saved as it is, nothing drifts."""
    local_zone("Europe/London")  # 01:30 on 2026-10-25 happens twice there
    taskcli.ok("add", "gone")
    taskcli.ok("add", "everything", "-d", "a\r\nb\n\n  c  \n\n", "-P", "low", "--project",
               "p", "-t", "x", "-t", "y", "--due", "2026-10-25T01:30:05Z",
               "--wait", "2026-10-25T00:30:05Z", "--scheduled", "2026-10-24T23:59:59.9Z",
               "--depends", "1", "--recur", "monthly", "--until", "2027-01-31")  # fmt: skip
    taskcli.ok("annotate", "2", "note one")
    taskcli.ok("annotate", "2", "note two")
    taskcli.ok("delete", "1", "--yes")
    taskcli.ok("start", "2")
    before = taskcli.ok("export").stdout
    untouched = Editor(tmp_path, [])
    same_value = Editor(tmp_path, [(r"^priority: low", "priority: L")])
    for editor in (untouched, same_value):
        monkeypatch.setenv("EDITOR", editor.command)
        result = taskcli("edit", "2")
        assert (result.exit_code, result.stdout) == (0, "no changes to 2: everything\n")
        assert taskcli.ok("export").stdout == before
    assert "due: 2026-10-25 01:30:05" in untouched.saw()["text"]
    assert edit_files(tmp_path) == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ((r"^due:.*", "due: someday"), "line 10: due: invalid date 'someday'"),
        ((r"^title: .*", "title:"), "line 7: title: must not be blank"),
        ((r"^status: .*", "status: asleep"), "line 8: status: "),
        ((r"^recur:.*", "recur: fortnightly"), "line 16: recur: "),
        ((r"^tags:.*", "tags: ok \u0007bell"), "line 12: tags: "),
        ((r"^depends:.*", "depends: 1"), "cannot depend on itself"),
        ((r"^due:.*", "due:"), "recur: a recurring task needs a due date"),
        ((r"^(--- annotations)", r"colour: red\n\1"), "line 18: expected FIELD: VALUE"),
        ((r"^(--- description)", r"2026-13-01 10:00:00 note\n\1"), "line 19: annotation: "),
    ],
)
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_invalid_value_changes_nothing_and_keeps_the_text(
    taskcli, user, monkeypatch, tmp_path, edit, message
):
    taskcli.ok("add", "task", "--due", "tomorrow", "--recur", "weekly", "-d", "kept")
    before = taskcli.ok("export").stdout
    editor = use_editor(monkeypatch, tmp_path, edit)
    result = taskcli("edit", "1")
    assert result.exit_code == 5, result.stderr
    assert message in result.stderr and result.stdout == ""
    assert taskcli.ok("export").stdout == before
    kept = kept_path(result.stderr)
    assert edit_files(tmp_path) == [kept] and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert kept.read_text() != editor.saw()["text"]  # the edited text, not the original


def test_an_invalid_value_on_both_databases(taskcli, user, monkeypatch, tmp_path):
    taskcli.ok("add", "task", "-t", "a")
    before = taskcli.ok("export").stdout
    use_editor(monkeypatch, tmp_path, (r"^title: .*", "title: renamed"), (r"^due:.*", "due: x"))
    result = taskcli("edit", "1", "--json")
    assert result.exit_code == 5 and result.error["code"] == "invalid_input"
    assert "your text is kept in" in result.error["hint"]
    assert taskcli.ok("export").stdout == before


def test_a_missing_dependency_is_not_found_and_keeps_the_text(taskcli, user, monkeypatch, tmp_path):
    taskcli.ok("add", "task")
    before = taskcli.ok("export").stdout
    use_editor(monkeypatch, tmp_path, (r"^depends:.*", "depends: 99"))
    result = taskcli("edit", "1")
    assert result.exit_code == 4 and "no task 99" in result.stderr
    assert kept_path(result.stderr).exists()
    assert taskcli.ok("export").stdout == before


@pytest.mark.parametrize(
    ("exit_code", "how"), [(3, "exited with status 3"), (-9, "was killed by signal 9")]
)
def test_an_editor_that_fails_changes_nothing(taskcli, user, monkeypatch, tmp_path, exit_code, how):
    taskcli.ok("add", "task")
    before = taskcli.ok("export").stdout
    use_editor(monkeypatch, tmp_path, (r"^title: .*", "title: changed"), exit_code=exit_code)
    result = taskcli("edit", "1")
    assert result.exit_code == 1
    assert result.stderr == f"error: the editor {how}: nothing changed\n"
    assert taskcli.ok("export").stdout == before
    assert edit_files(tmp_path) == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_missing_editor_is_exit_5_before_anything(taskcli, user, monkeypatch, tmp_path):
    taskcli.ok("add", "task")
    monkeypatch.setenv("VISUAL", "no-such-editor --wait")
    result = taskcli("edit", "1")
    assert result.exit_code == 5
    assert "editor 'no-such-editor' (VISUAL) not found" in result.stderr
    monkeypatch.setenv("VISUAL", "'unclosed")
    assert taskcli("edit", "1").exit_code == 5
    assert edit_files(tmp_path) == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_editor_is_the_first_of_the_chain_that_is_set(taskcli, user, monkeypatch, tmp_path):
    taskcli.ok("add", "task")

    def renaming(to: str) -> str:
        return Editor(tmp_path, [(r"^title: .*", f"title: {to}")]).command

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("vi", "nano"):
        script = bin_dir / program
        script.write_text(f'#!/bin/sh\nexec {renaming(program)} "$@"\n')
        script.chmod(0o700)
    monkeypatch.setenv("PATH", str(bin_dir))
    for name in ("EDITOR", "VISUAL", "TASKCLI_EDITOR"):
        monkeypatch.setenv(name, renaming(name))
    steps = [
        ("TASKCLI_EDITOR", lambda: monkeypatch.setenv("TASKCLI_EDITOR", "")),  # empty: unset
        ("VISUAL", lambda: monkeypatch.delenv("VISUAL")),
        ("EDITOR", lambda: monkeypatch.delenv("EDITOR")),
        ("nano", lambda: (bin_dir / "nano").unlink()),
        ("vi", lambda: None),
    ]
    for title, next_step in steps:
        assert taskcli.ok("edit", "1").stdout == f"updated 1: {title}\n"
        next_step()


def test_a_change_made_meanwhile_is_not_overwritten(taskcli, user, monkeypatch, tmp_path):
    """Rule: the edit applies only to the task as it was read; another process changing it
    while the editor is open makes the edit exit 5, text kept."""
    taskcli.ok("add", "task")
    use_editor(monkeypatch, tmp_path, (r"^priority: .*", "priority: high"),
               before=[["update", "1", "--title", "changed elsewhere"]])  # fmt: skip
    result = taskcli("edit", "1")
    assert result.exit_code == 5
    assert "task 1 was changed elsewhere while you edited it" in result.stderr
    task = shown(taskcli)
    assert (task["title"], task["priority"]) == ("changed elsewhere", "medium")
    assert "priority: high" in kept_path(result.stderr).read_text()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_ctrl_c_while_the_editor_runs_is_the_editors(taskcli, user, tmp_path):
    taskcli.ok("add", "task")
    editor = Editor(tmp_path, [(r"^title: .*", "title: saved")], interrupt=True)
    result = run_process("edit", "1", env={"EDITOR": editor.command})
    assert result.exit_code == 0, result.stderr
    assert shown(taskcli)["title"] == "saved"


def test_clearing_values_and_removing_lines(taskcli, user, monkeypatch, tmp_path):
    taskcli.ok("add", "gone")
    taskcli.ok("add", "kept")
    taskcli.ok("add", "full", "-d", "text", "--project", "p", "-t", "x", "--due", "tomorrow",
               "--wait", "+1d", "--scheduled", "+2d", "--until", "+9d", "--depends", "1",
               "--depends", "2")  # fmt: skip
    taskcli.ok("annotate", "3", "a note")
    taskcli.ok("delete", "1", "--yes")
    gone = [dep for dep in shown(taskcli, "3")["depends"] if dep != shown(taskcli, "2")["id"]]
    editor = use_editor(monkeypatch, tmp_path,
        *[(rf"^{name}:.*", f"{name}:") for name in
          ("project", "tags", "due", "wait", "scheduled", "until")],
        (r"^depends: .*", "depends: 2"), (r"^\d{4}-.* a note\n", ""), (r"^text\n", "\n"),
    )  # fmt: skip
    taskcli.ok("edit", "3")
    assert f"depends: {gone[0]} 2" in editor.saw()["text"]  # a deleted task: its UUID
    task = shown(taskcli, "3")
    cleared = ("project", "due", "wait", "scheduled", "until", "description")
    assert [task[key] for key in cleared] == [None] * len(cleared)
    assert (task["tags"], task["annotations"]) == ([], [])
    assert task["depends"] == [shown(taskcli, "2")["id"]]


def test_the_edit_text_round_trips_through_the_parser():
    from datetime import UTC, datetime

    from taskcli.core import edit_text

    record = {"id": "00000000-0000-4000-8000-000000000001", "number": 4, "title": "t",
              "description": "x\n--- description\n# not a comment", "status": "pending",
              "priority": "medium", "due": None, "project": None, "tags": ["a"], "wait": None,
              "scheduled": None, "depends": [], "recur": None, "until": None,
              "annotations": [{"entry": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                               "text": "--- annotations in a note"}]}  # fmt: skip
    text = edit_text.render(record, {})
    parts = edit_text.sections(text)
    assert parts.description == record["description"] + "\n"
    assert [line for _, line in parts.annotations][0].endswith(" --- annotations in a note")
    assert edit_text.changes_from(text, text, record).is_empty()
    edited = text.replace("# not a comment", "# changed")
    changes = edit_text.changes_from(text, edited, record)
    assert changes.fields == {"description": "x\n--- description\n# changed"}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_annotation_keeps_its_time_when_its_text_changes(
    taskcli, user, monkeypatch, tmp_path, local_zone
):
    local_zone("Europe/London")
    taskcli.ok("add", "task")
    entry = "2026-10-25T01:30:05Z"  # 01:30:05 local, an hour that the DST change repeats
    note = {"entry": datetime.fromisoformat(entry), "text": "first version"}
    set_columns(1, user_id(taskcli), annotations=[note])
    use_editor(monkeypatch, tmp_path, (r"first version$", "second version"),
               (r"^(--- description)", r"2020-01-01T10:00:00Z an old note\n\1"))  # fmt: skip
    taskcli.ok("edit", "1")
    assert shown(taskcli)["annotations"] == [
        {"entry": "2020-01-01T10:00:00Z", "text": "an old note"},  # sorted by time
        {"entry": entry, "text": "second version"},
    ]


def test_an_edit_is_one_undo_step(taskcli, user, monkeypatch, tmp_path):
    taskcli.ok("add", "task", "-t", "a", "-P", "low")
    before = taskcli.ok("export").stdout
    use_editor(monkeypatch, tmp_path, (r"^title: .*", "title: renamed"),
               (r"^priority: .*", "priority: high"), (r"^tags: .*", "tags: b c"))  # fmt: skip
    taskcli.ok("edit", "1")
    assert (shown(taskcli)["title"], shown(taskcli)["priority"]) == ("renamed", "high")
    entry = taskcli.ok("undo", "--yes", "--json").json()
    assert (entry["command"], entry["count"]) == ("edit", 1)
    assert taskcli.ok("export").stdout == before
