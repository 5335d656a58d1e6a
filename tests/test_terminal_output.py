"""Output for people on a real terminal: the pager, the table's layout, bounded memory."""

from __future__ import annotations

import json
import re

import pytest

from taskcli.cli import terminal
from tests.conftest import run_process
from tests.tasks_support import (
    PTY_ROWS,
    SGR,
    create_many,
    run_in_pty,
    run_in_pty_measured,
    user_id,
)

on_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def pager(tmp_path, monkeypatch):
    """A pager program that records what it was given (in ``pager.got``)."""
    script = tmp_path / "pager"
    script.write_text('#!/bin/sh\ncat > "$0.got"\n')
    script.chmod(0o755)
    monkeypatch.setenv("TASKCLI_PAGER", str(script))
    return script.with_name("pager.got")


def plain(text: str) -> str:
    return SGR.sub("", text)


# ---- the pager ------------------------------------------------------------------------------


def test_output_taller_than_the_terminal_goes_through_the_pager(taskcli, user, pager):
    create_many(user_id(taskcli), PTY_ROWS + 10)
    code, stdout, stderr = run_in_pty("list")
    assert (code, stderr) == (0, "")
    paged = plain(pager.read_text())
    assert all(f"bulk {n} " in paged for n in range(1, PTY_ROWS + 11))
    assert "bulk 1 " not in plain(stdout)


def test_output_that_fits_on_the_screen_is_not_paged(taskcli, user, pager):
    create_many(user_id(taskcli), PTY_ROWS - 10)
    code, stdout, stderr = run_in_pty("list")
    assert (code, stderr) == (0, "")
    assert not pager.exists()
    assert f"bulk {PTY_ROWS - 10} " in plain(stdout)


def test_piped_output_is_never_paged(taskcli, user, pager):
    create_many(user_id(taskcli), PTY_ROWS + 10)
    result = run_process("list", "--limit", "0")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == PTY_ROWS + 10
    assert not pager.exists()


@pytest.mark.parametrize("args", [["--no-pager", "list"], ["list", "--no-pager"]])
def test_no_pager_prints_directly(taskcli, user, pager, args):
    create_many(user_id(taskcli), PTY_ROWS + 10)
    code, stdout, stderr = run_in_pty(*args)
    assert (code, stderr) == (0, "")
    assert not pager.exists()
    assert f"bulk {PTY_ROWS + 10} " in plain(stdout)


def test_pager_is_taskcli_pager_then_pager_then_less(taskcli, user, pager, monkeypatch):
    create_many(user_id(taskcli), PTY_ROWS + 10)
    monkeypatch.setenv("PAGER", "/bin/false")
    run_in_pty("list")
    assert pager.exists()  # TASKCLI_PAGER wins
    pager.unlink()
    monkeypatch.setenv("PAGER", str(pager.with_name("pager")))
    monkeypatch.delenv("TASKCLI_PAGER")
    assert run_in_pty("list")[0] == 0
    assert pager.exists()  # then PAGER
    monkeypatch.delenv("PAGER")
    assert terminal.Terminal().pager_command() == ["less", "-FRX"]
    monkeypatch.setenv("PAGER", "")
    assert terminal.Terminal().pager_command() is None  # an empty PAGER means none, as for git


def test_quitting_the_pager_early_ends_the_list_quietly(taskcli, user):
    create_many(user_id(taskcli), 3_000)
    code, stdout, stderr = run_in_pty("list", "--limit", "0", env={"TASKCLI_PAGER": "head -3"})
    assert (code, stderr) == (0, "")
    assert "bulk 3000" not in stdout


def test_a_pager_that_cannot_start_leaves_the_output_on_the_terminal(taskcli, user):
    create_many(user_id(taskcli), PTY_ROWS + 10)
    code, stdout, stderr = run_in_pty("list", env={"TASKCLI_PAGER": "/nonexistent/pager"})
    assert code == 0
    assert "pager '/nonexistent/pager' not started" in stderr
    assert f"bulk {PTY_ROWS + 10} " in plain(stdout)


@on_sqlite
def test_a_full_list_on_a_terminal_does_not_hold_every_row(taskcli, user, tmp_path, monkeypatch):
    """Peak memory of `list --limit 0` into the pager at two sizes: flat, not 10 times."""
    monkeypatch.setenv("TASKCLI_PAGER", "sh -c 'cat > /dev/null'")
    peaks = []
    for count in (2_000, 20_000):
        source = tmp_path / f"{count}.jsonl"
        start = len(taskcli.ok("list", "--all", "--limit", "0", "--json").json())
        lines = (json.dumps({"title": f"task {start + n} of many"}) for n in range(count - start))
        source.write_text("\n".join(lines) + "\n")
        taskcli.ok("import", str(source))
        report = tmp_path / f"{count}.maxrss"
        code, _, stderr, peak = run_in_pty_measured("list", "--limit", "0", report=report)
        assert (code, stderr) == (0, "")
        peaks.append(peak)
    assert peaks[1] < peaks[0] * 1.25, peaks


# ---- the table's layout ---------------------------------------------------------------------

LONG_TITLE = "Write the quarterly report for the board with every number and the reasons"


@pytest.fixture
def table_tasks(taskcli, user):
    taskcli.ok("add", *LONG_TITLE.split(), "-P", "high", "--due", "tomorrow",
               "--project", "work", "-t", "office", "-t", "q4")  # fmt: skip
    taskcli.ok("add", "Buy milk", "--due", "2020-01-01", "-t", "shop")
    taskcli.ok("add", "Call Alice about the budget", "--due", "2030-06-01T17:00")
    taskcli.ok("add", "plain")


@pytest.mark.parametrize("columns", [40, 200])
def test_every_title_is_readable_and_other_columns_do_not_wrap(table_tasks, columns):
    code, stdout, stderr = run_in_pty("list", columns=columns, env={"NO_COLOR": "1"})
    assert (code, stderr) == (0, "")
    lines = [line.rstrip() for line in plain(stdout).splitlines() if line.strip()]
    assert all(len(line) <= columns for line in lines)
    joined = " ".join(" ".join(line.split()) for line in lines)
    for title in (LONG_TITLE, "Buy milk", "Call Alice about the budget", "plain"):
        assert title in joined or all(word in joined for word in title.split()), title
    # One line per task, and the long title wraps only where the terminal is narrow.
    assert len(lines) <= 1 + 4 + (3 if columns == 40 else 0), lines
    if columns == 200:
        assert any(LONG_TITLE in line for line in lines)


def test_the_title_gets_the_width_and_empty_columns_collapse(taskcli, user):
    taskcli.ok("add", *LONG_TITLE.split())
    code, stdout, _ = run_in_pty("list", columns=100, env={"NO_COLOR": "1"})
    lines = [line.rstrip() for line in plain(stdout).splitlines() if line.strip()]
    header, row = lines
    assert header.split() == ["#", "Status", "Pri", "Title"]  # no due, project or tags
    assert row.endswith(LONG_TITLE)


def test_due_shows_the_date_and_the_relative_time(taskcli, table_tasks):
    code, stdout, _ = run_in_pty("list", columns=200, env={"NO_COLOR": "1"})
    text = plain(stdout)
    assert re.search(r"\b2020-01-01 \(\d+ years ago\)", text)
    assert re.search(r"\b\d{4}-\d{2}-\d{2} \(tomorrow\)", text)
    assert re.search(r"\b2030-06-01 17:00 \(in \d+ years\)", text)
