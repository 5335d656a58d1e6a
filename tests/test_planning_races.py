"""Read-modify-write planning commands against a concurrent change on PostgreSQL: the
command waits for it and works on what it left, instead of writing over it."""

from __future__ import annotations

import json
import os
import threading
import time
from contextlib import closing

import psycopg2
import pytest

from tests.conftest import Result, run_process
from tests.support.databases import admin_url

HANG_GUARD = 120  # seconds; stops a hang, measures nothing
on_postgres = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


def _wait_for_a_lock_waiter(url: str) -> None:
    """Until some session of this database waits for a row lock."""
    query = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
             "AND wait_event_type = 'Lock'")  # fmt: skip
    deadline = time.monotonic() + HANG_GUARD
    with closing(psycopg2.connect(url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute(query)
                if cursor.fetchone()[0]:
                    return
                time.sleep(0.05)
    pytest.fail("the command never waited for the row lock")


def _run_during_uncommitted_change(change, *command: str) -> Result:
    """``change(cursor)`` on task 1 in another transaction (as another machine would),
    taskcli ``command`` started while it is uncommitted, then the change committed."""
    admin = admin_url(os.environ["TASKCLI_DATABASE_URL"])
    results: list[Result] = []
    with closing(psycopg2.connect(admin)) as other, other.cursor() as cursor:
        change(cursor)  # task 1's row is now locked
        worker = threading.Thread(target=lambda: results.append(run_process(*command)))
        worker.start()
        _wait_for_a_lock_waiter(admin)
        other.commit()
        worker.join(HANG_GUARD)
    assert results and results[0].exit_code == 0, results
    return results[0]


@on_postgres
def test_denotate_keeps_an_annotation_added_while_it_ran(taskcli, user):
    taskcli.ok("add", "call the bank")
    taskcli.ok("annotate", "1", "a")
    taskcli.ok("annotate", "1", "b")

    def append_c(cursor) -> None:
        cursor.execute("SELECT annotations FROM tasks WHERE number = 1 FOR UPDATE")
        notes = json.loads(cursor.fetchone()[0])
        notes.append({"entry": "2026-12-01T17:00:00Z", "text": "c"})
        cursor.execute("UPDATE tasks SET annotations = %s WHERE number = 1",
                       (json.dumps(notes, ensure_ascii=False),))  # fmt: skip

    _run_during_uncommitted_change(append_c, "denotate", "1", "2")
    texts = [note["text"] for note in taskcli.ok("show", "1", "--json").json()["annotations"]]
    assert texts == ["a", "c"]


@on_postgres
def test_a_dependency_change_keeps_tags_added_while_it_ran(taskcli, user):
    taskcli.ok("add", "report")
    taskcli.ok("add", "data")

    def tag_c(cursor) -> None:
        cursor.execute("UPDATE tasks SET tags = ARRAY['c'] WHERE number = 1")

    _run_during_uncommitted_change(tag_c, "update", "1", "--add-depends", "2", "--add-tag", "x")
    shown = taskcli.ok("show", "1", "--json").json()
    assert (shown["tags"], len(shown["depends"])) == (["c", "x"], 1)
