"""Helpers for the task tests: direct database access, a second user, a pseudo-terminal.

The tests drive taskcli through its CLI; these helpers only reach into the database to
arrange what the CLI cannot (chosen UUIDs, old timestamps, many tasks) and to check what
was stored.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa

from taskcli.core.vocabulary import TASK_FIELDS
from tests.support.accounts import create_logged_in_user, new_email
from tests.support.databases import admin_url

TASK_KEYS = list(TASK_FIELDS)  # the SPEC §10 contract itself is pinned in test_vocabulary.py
UTC_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SGR = re.compile(r"\x1b\[([0-9;]*)m")
PTY_ROWS = 50  # the height of the terminal run_in_pty gives
HANG_GUARD = 300  # seconds; stops a hang, measures nothing


@contextmanager
def connection():
    """A connection to the database the current environment selects, past row-level
    security (as the server's superuser on PostgreSQL)."""
    from taskcli.core.config import resolve_settings
    from taskcli.core.db import Database

    url = admin_url(resolve_settings().database_url)
    with Database(resolve_settings(database_url_option=url)).connect() as conn:
        yield conn


def tasks_table():
    from taskcli.core.models import Task

    return Task.__table__


def stored_tasks() -> list[dict]:
    """Every task row of every user, by user and number."""
    table = tasks_table()
    with connection() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.user_id, table.c.number))
        return [dict(row._mapping) for row in rows]


def set_columns(number: int, user_id: uuid.UUID, /, **values) -> None:
    """Overwrite columns of one task (chosen ids, old timestamps) behind the CLI's back."""
    table = tasks_table()
    with connection() as conn:
        done = conn.execute(
            table.update()
            .where(table.c.user_id == user_id, table.c.number == number)
            .values(**values)
        )
        assert done.rowcount == 1


def create_many(user_id: uuid.UUID, count: int, title: str = "bulk") -> None:
    """``count`` tasks through the core library (one statement each, no CLI start-up)."""
    from taskcli.core.models import TaskCreate
    from taskcli.core.tasks import create_task

    with connection() as conn:
        for index in range(count):
            create_task(conn, user_id=user_id, data=TaskCreate(title=f"{title} {index + 1}"))


def user_id(taskcli) -> uuid.UUID:
    return uuid.UUID(taskcli.ok("whoami", "--json").json()["user_id"])


def register_second_user(taskcli, data_dir) -> dict:
    """Register another user whose token lives in ``data_dir``; returns the env to act as them."""
    env = {"TASKCLI_DATA_DIR": str(data_dir)}
    create_logged_in_user(new_email("other"), env=env)
    return env


# Loads taskcli, reports that it is ready, then waits for the barrier file: processes started
# together reach the database together instead of one start-up apart.
_AT_THE_BARRIER = """
import os, sys, time
import psycopg2, sqlalchemy
import taskcli.cli.app, taskcli.core.accounts, taskcli.core.db, taskcli.core.tasks
barrier = sys.argv[1]
open(f"{barrier}.ready-{os.getpid()}", "w").close()
while not os.path.exists(barrier):
    time.sleep(0.001)
sys.argv = ["taskcli", *sys.argv[2:]]
taskcli.cli.app.main()
"""


def run_together(commands: list[list[str]], barrier) -> list[subprocess.CompletedProcess]:
    """A real `taskcli` process for each of ``commands``, all released at the same moment
    (``barrier``: a path that does not exist yet)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _AT_THE_BARRIER, str(barrier), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for args in commands
    ]
    while len(list(barrier.parent.glob(f"{barrier.name}.ready-*"))) < len(commands):
        if any(process.poll() is not None for process in processes):
            break  # one failed to start: its output says why
        time.sleep(0.01)
    barrier.touch()
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=HANG_GUARD)
        results.append(
            subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        )
    return results


def parse_utc(text: str) -> datetime:
    assert UTC_TIMESTAMP.match(text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def colour_codes(text: str) -> set[int]:
    """SGR parameters that set a foreground or background colour (not bold, dim…)."""
    codes = set()
    for params in SGR.findall(text):
        for part in params.split(";"):
            if part and (30 <= int(part) <= 49 or 90 <= int(part) <= 107):
                codes.add(int(part))
    return codes


def run_in_pty(
    *args: str, env: dict | None = None, input: str | None = None, columns: int = 160,
    stderr_on_terminal: bool = False,
) -> tuple[int, str, str]:  # fmt: skip
    """``python -m taskcli ARGS`` with stdin/stdout on a pseudo-terminal, stderr piped
    (or, with ``stderr_on_terminal``, on the terminal too: it is then part of stdout).

    ``input`` is typed ahead on the terminal (echoed into the returned stdout).
    """
    return _run_on_pty(["-m", "taskcli", *args], env=env, input=input, columns=columns,
                       stderr_on_terminal=stderr_on_terminal)  # fmt: skip


# Forks taskcli from a small process and reports its peak memory: a child forked from the
# test process itself would inherit the test process's high-water mark on Linux.
_MEASURING_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_in_pty_measured(*args: str, report, columns: int = 160) -> tuple[int, str, str, int]:
    """:func:`run_in_pty`, and taskcli's peak resident memory (``ru_maxrss``, KiB)."""
    launcher = ["-c", _MEASURING_LAUNCHER, str(report), "-m", "taskcli", *args]
    code, stdout, stderr = _run_on_pty(launcher, env=None, input=None, columns=columns)
    return code, stdout, stderr, int(report.read_text())


def _run_on_pty(
    python_args: list[str], *, env, input, columns, stderr_on_terminal: bool = False
) -> tuple[int, str, str]:
    import fcntl
    import pty
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", PTY_ROWS, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, *python_args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal if stderr_on_terminal else subprocess.PIPE,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), **(env or {})},
    )
    os.close(terminal)
    if input:
        os.write(controller, input.encode())
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO once the child has closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stderr = "" if stderr_on_terminal else process.stderr.read().decode()
    code = process.wait(timeout=120)
    reader.join(timeout=30)
    os.close(controller)
    return code, b"".join(chunks).decode().replace("\r\n", "\n"), stderr


def _count_score(count: int) -> float:
    return {0: 0.0, 1: 0.8, 2: 0.9}.get(count, 1.0)


def expected_urgency(task: dict, now: datetime, *, blocking: bool, blocked: bool) -> float:
    """The formula of taskcli.core.urgency (and the README) with its default coefficients,
    computed here from a task object."""

    def when(key: str) -> datetime | None:
        text = task[key]
        return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))

    due, scheduled, created = when("due"), when("scheduled"), when("created_at")
    value = {"high": 6.0, "medium": 3.9, "low": 1.8}[task["priority"]]
    if due is not None:
        overdue = (now - due).total_seconds() / 86400
        value += 12.0 * (1.0 if overdue >= 7 else 0.2 if overdue < -14
                         else (overdue + 14) * 0.8 / 21 + 0.2)  # fmt: skip
    value += 4.0 * (task["status"] == "in_progress")
    value += 8.0 * blocking - 5.0 * blocked
    value += 5.0 * (scheduled is not None and scheduled <= now)
    value += 2.0 * min((now - created).total_seconds() / 86400 / 365, 1.0)
    value += _count_score(len(task["tags"])) + 1.0 * (task["project"] is not None)
    return value + _count_score(len(task["annotations"]))
