"""The embedded SQLite database held by another process, or on a full disk: one line
saying what and where (exit 6), and no half-written change."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_process
from tests.test_outages import HANG_GUARD, write_big_jsonl

on_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # hold the lock until the test closes our stdin
"""


def titles(taskcli) -> list[str]:
    return [task["title"] for task in taskcli.ok("list", "--all", "--json", "-n", "0").json()]


@on_sqlite
def test_a_file_locked_by_another_process_is_one_line_naming_it(taskcli, user, backend):
    path = backend.removeprefix("sqlite:///")
    taskcli.ok("add", "before the lock")
    taskcli.ok("config", "set", "connect_timeout", "1")
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == "locked\n"
        for args in (["add", "while locked"], ["done", "1"]):
            result = taskcli(*args)
            assert (result.exit_code, result.stdout) == (6, ""), result.stderr
            assert result.stderr == (
                f"error: SQLite database {path} is locked by another process (waited 3 s)"
                " (hint: try again when the other program is done; connect_timeout sets the"
                " wait)\n"
            )
    finally:
        holder.communicate("", timeout=HANG_GUARD)
    assert titles(taskcli) == ["before the lock"]
    taskcli.ok("add", "after the lock")


@pytest.fixture
def small_disk(tmp_path):
    """A real file system of 1 MiB (a tmpfs, which needs root to mount)."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mountpoint)],
        capture_output=True, text=True,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (needs root): {mounted.stderr.strip()}")
    yield mountpoint
    subprocess.run(["umount", "--lazy", str(mountpoint)], check=True)


def fill(directory: Path) -> Path:
    """Take every free byte of the file system holding directory."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        while os.write(descriptor, b"\0" * 4096):
            pass
    except OSError as error:
        assert error.errno == errno.ENOSPC, error
    finally:
        os.close(descriptor)
    return filler


def test_a_full_disk_is_one_line_naming_the_database(taskcli, small_disk, tmp_path, monkeypatch):
    path = small_disk / "tasks.db"
    monkeypatch.setenv("TASKCLI_DATABASE_URL", f"sqlite:///{path}")
    taskcli.ok("register", "--email", "a@example.com", "--password-stdin", input="pw-12345678")
    taskcli.ok("add", "before the disk filled up")
    source = tmp_path / "many.jsonl"
    write_big_jsonl(source, 20_000)  # several MiB in the database: more than the disk holds
    full = (
        f"error: cannot write SQLite database {path}: the disk is full"
        " (hint: free some space on that disk)\n"
    )
    # While another connection keeps the WAL open, the import fills the disk mid-way;
    # once it is gone, the next command already fails to open the database.
    reader = sqlite3.connect(path)
    reader.execute("SELECT count(*) FROM tasks").fetchone()
    filler = fill(small_disk)
    results = [run_process("import", str(source), timeout=HANG_GUARD)]
    reader.close()
    results.append(run_process("import", str(source), timeout=HANG_GUARD))
    for result in results:
        assert (result.exit_code, result.stdout, result.stderr) == (6, "", full)
    os.unlink(filler)
    assert titles(taskcli) == ["before the disk filled up"]
