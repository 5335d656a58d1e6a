"""Helpers for the import/export tests: task files to import, listing, a second database.

Files are written as a user would have them (UTF-8, the format's own line endings);
the tests then drive `taskcli import` / `taskcli export` and read the results back
through `taskcli list --json` or the database.
"""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, Taskcli

IMPORT_REPORT_KEYS = ["created", "updated", "skipped", "rejected"]


def ok(taskcli, *args: str, env: dict | None = None, input: str | None = None):
    """Run taskcli (optionally as another user / database) and insist on exit 0."""
    result = taskcli(*args, env=env, input=input)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


def listed(taskcli, env: dict | None = None) -> list[dict]:
    """Every task of the current user, completed included, by number."""
    return ok(taskcli, "list", "--all", "--limit", "0", "--json", env=env).json()


def task_object(title: str, **fields) -> dict:
    """A SPEC §10 task object to import (our own json format), with a fresh UUID."""
    return {"id": str(uuid.uuid4()), "title": title, **fields}


def write_json(path: Path, objects: list[dict]) -> Path:
    path.write_text(json.dumps(objects, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def add_sample_tasks(taskcli) -> None:
    """Four tasks using every field: plain, full (non-ASCII, quotes, a multi-line
    description), in progress, completed."""
    taskcli.ok("add", "Plain task")
    taskcli.ok(
        "add", 'Ünïcode 日本 🎉, "quoted"', "-d", 'line one\nline two, with "quotes" é',
        "-P", "high", "--due", "2026-12-01T17:30:00Z", "--project", "home",
        "-t", "alpha", "-t", "β",
    )  # fmt: skip
    taskcli.ok("add", "Started", "-P", "low", "-t", "now")
    taskcli.ok("start", "3")
    taskcli.ok("add", "Finished", "--project", "work", "--due", "2027-01-15")
    taskcli.ok("done", "4")


def add_planned_tasks(taskcli) -> None:
    """Four tasks using every planning field (SPEC §13): annotations with quotes, commas
    and non-ASCII text, a dependency, wait, scheduled, and two recurring tasks (last).
    (One annotation per task: Taskwarrior moves a second one made in the same second.)"""
    taskcli.ok("add", "Book the venue", "--due", "2026-12-01T09:00:00Z", "-d", "room for 40")
    taskcli.ok("annotate", "1", 'they said "yes", then é 日本 🎉')
    taskcli.ok("add", "Send invitations", "--depends", "1", "--wait", "2026-11-20T08:00:00Z",
               "--scheduled", "2026-11-25T08:00:00Z", "-P", "high")  # fmt: skip
    taskcli.ok("annotate", "2", "cards, stamps, addresses")
    taskcli.ok("add", "Water the plants", "--due", "2026-12-02T17:00:00Z", "--recur", "weekly",
               "--until", "2027-06-01T12:00:00Z", "--project", "home")  # fmt: skip
    taskcli.ok("add", "Check the boiler", "--due", "2026-12-03T08:00:00Z", "--recur", "10d")


def register(taskcli, env: dict) -> str:
    """Register (and log in) a new user in the environment ``env``; returns the email."""
    email = f"other-{uuid.uuid4().hex[:8]}@example.com"
    ok(taskcli, "register", "--email", email, "--password-stdin", input=PASSWORD + "\n", env=env)
    return email


@contextmanager
def fresh_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path):
    """Another, empty database of the same kind as ``backend`` (migrated) with its own data
    directory and a registered user: the env that selects it."""
    if backend.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'elsewhere' / 'tasks.db'}"
        drop = None
    else:
        server = request.getfixturevalue("pg_server")
        name = f"taskcli_{uuid.uuid4().hex[:12]}"
        url = server.create_database(name)
        drop = name
    env = {"TASKCLI_DATABASE_URL": url, "TASKCLI_DATA_DIR": str(tmp_path / "elsewhere-data")}
    try:
        taskcli = Taskcli()
        ok(taskcli, "db", "migrate", env=env)
        register(taskcli, env)
        yield env
    finally:
        if drop:
            server.drop_database(drop)
