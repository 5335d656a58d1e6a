"""Shell completion of task numbers, projects, tags and context names from the database,
through the real completion protocol in a subprocess (bash, zsh and fish)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_process
from tests.support.accounts import create_logged_in_user
from tests.tasks_support import create_many, register_second_user, set_columns, user_id


def complete(line: str, *, env: dict | None = None) -> list[str]:
    """What bash offers for ``line`` (the word being completed is its last, maybe empty)."""
    words = line.split() + ([""] if line.endswith(" ") else [])
    variables = {"COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1),
                 "_TASKCLI_COMPLETE": "complete_bash", **(env or {})}  # fmt: skip
    result = run_process(env=variables)
    assert (result.exit_code, result.stderr) == (0, ""), result
    return result.stdout.split()


def complete_with_help(line: str, shell: str) -> str:
    """zsh's or fish's answer for ``line``: candidates with their help texts."""
    variables = {"_TYPER_COMPLETE_ARGS": line, "_TASKCLI_COMPLETE": f"complete_{shell}",
                 "_TYPER_COMPLETE_FISH_ACTION": "get-args"}  # fmt: skip
    result = run_process(env=variables)
    assert (result.exit_code, result.stderr) == (0, ""), result
    return result.stdout


def add(taskcli, *titles: str, options: tuple[str, ...] = ()) -> None:
    for title in titles:
        taskcli.ok("add", title, *options)


@pytest.fixture
def three_tasks(taskcli, user) -> None:
    """Tasks 1-3; task 2 changed last, task 3 completed."""
    add(taskcli, "Buy milk", "Write: the report", "Call mom")
    taskcli.ok("done", "3")
    owner = user_id(taskcli)
    for number, minutes in ((1, 2), (2, 1), (3, 0)):
        set_columns(number, owner, updated_at=datetime.now(UTC) - timedelta(minutes=minutes))


def test_task_numbers_are_the_open_tasks_most_recently_changed_first(taskcli, three_tasks):
    for command in ("show", "update", "done", "start", "stop", "delete", "annotate", "denotate"):
        assert complete(f"taskcli {command} ") == ["2", "1"], command
    assert complete("taskcli update 1 --add-depends ") == ["2", "1"]
    assert complete("taskcli add x --depends ") == ["2", "1"]
    assert complete("taskcli reopen ") == ["3"]  # what reopen can reopen: completed tasks


def test_zsh_and_fish_show_each_number_with_its_title(three_tasks):
    zsh = complete_with_help("taskcli done ", "zsh")
    assert zsh == """_arguments '*: :(("2":"Write\\\\: the report"\n"1":"Buy milk"))'\n"""
    assert complete_with_help("taskcli done ", "fish") == "2\tWrite: the report\n1\tBuy milk\n"


def test_numbers_match_the_typed_prefix_at_most_fifty(taskcli, user):
    create_many(user_id(taskcli), 120)
    assert complete("taskcli show 11") == ["119", "118", "117", "116", "115", "114", "113",
                                           "112", "111", "110", "11"]  # fmt: skip
    offered = complete("taskcli show ")
    assert offered == [str(number) for number in range(120, 70, -1)]
    assert complete("taskcli show 3f2a") == []  # a UUID prefix is not completed


def test_projects_and_tags_most_open_tasks_first_matching_the_prefix_exactly(taskcli, user):
    add(taskcli, "a", "b", options=("--project", "Work", "-t", "shop", "-t", "Errand"))
    add(taskcli, "c", options=("--project", "work-home", "-t", "shop"))
    add(taskcli, "d", options=("--project", "home", "-t", "errand"))
    taskcli.ok("done", "1", "2")
    assert complete("taskcli list --project ") == ["home", "work-home", "Work"]
    assert complete("taskcli add x --project w") == ["work-home"]
    assert complete("taskcli update 1 --project W") == ["Work"]
    assert complete("taskcli list -t ") == ["errand", "shop", "Errand"]  # ties by name
    assert complete("taskcli list --tag e") == ["errand"]
    assert complete("taskcli update 1 --add-tag E") == ["Errand"]
    assert complete("taskcli update 1 --remove-tag s") == ["shop"]
    assert "Work\t0 open" in complete_with_help("taskcli next --project W", "fish")


def test_context_names_with_their_filters(taskcli, user):
    taskcli.ok("context", "define", "work", "--project", "Work", "-t", "a", "-t", "b")
    taskcli.ok("context", "define", "late", "--overdue")
    assert complete("taskcli context use ") == ["late", "work"]
    assert complete("taskcli context delete w") == ["work"]
    fish = complete_with_help("taskcli context use ", "fish")
    assert fish == "late\toverdue\nwork\tproject=Work tags=a,b\n"


def test_another_users_tasks_projects_tags_and_contexts_are_never_offered(taskcli, user, tmp_path):
    taskcli.ok("add", "mine", "--project", "ours", "-t", "shared")
    other = register_second_user(taskcli, tmp_path / "other-data")
    theirs = ("add", "theirs", "--project", "secret", "-t", "hidden", "-t", "shared")
    for args in (theirs, theirs, ("context", "define", "spy", "--overdue")):
        assert taskcli(*args, env=other).exit_code == 0
    assert complete_with_help("taskcli done ", "fish") == "1\tmine\n"
    assert complete("taskcli list --project ") == ["ours"]
    assert complete_with_help("taskcli list -t ", "fish") == "shared\t1 open\n"
    assert complete("taskcli context use ") == []
    assert complete("taskcli done ", env=other) == ["2", "1"]
    assert complete("taskcli context use ", env=other) == ["spy"]


def test_not_logged_in_or_session_ended_completes_nothing_quietly(taskcli, backend, tmp_path):
    assert complete("taskcli done ") == []
    if backend.startswith("sqlite"):  # completion makes no database of its own
        assert not Path(backend.removeprefix("sqlite:///")).exists()
    create_logged_in_user()
    taskcli.ok("add", "mine")
    assert complete("taskcli done ") == ["1"]
    stored = json.loads((tmp_path / "data" / "tokens.json").read_text())["tokens"]
    taskcli.ok("logout")
    assert complete("taskcli done ", env={"TASKCLI_TOKEN": next(iter(stored.values()))}) == []


def test_an_unreachable_database_completes_nothing_quietly(tmp_path):
    closed = "postgresql://nobody@127.0.0.1:1/taskcli"
    env = {"TASKCLI_DATABASE_URL": closed, "TASKCLI_TOKEN": "not-a-token"}
    assert complete("taskcli done ", env=env) == []
    assert complete("taskcli list --project ", env=env) == []


def test_a_token_for_a_missing_sqlite_file_completes_nothing_and_creates_no_file(tmp_path):
    missing = tmp_path / "elsewhere" / "tasks.db"
    env = {"TASKCLI_DATABASE_URL": f"sqlite:///{missing}", "TASKCLI_TOKEN": "a.b.c"}
    assert complete("taskcli done ", env=env) == []
    assert not missing.parent.exists()


def test_the_global_options_on_the_line_choose_the_database(taskcli, user, backend, monkeypatch):
    taskcli.ok("add", "mine")
    monkeypatch.delenv("TASKCLI_DATABASE_URL")
    assert complete(f"taskcli --database-url {backend} done ") == ["1"]
    env = {"TASKCLI_DATABASE_URL": backend}
    assert complete("taskcli --profile nosuchprofile done ", env=env) == []


PROBE = """
import sys
try:
    from taskcli.cli.app import main
    main()
except SystemExit:
    pass
sys.stderr.write(" ".join(m for m in {heavy!r} if m in sys.modules))
"""


def test_a_completion_loads_no_model_orm_or_migration_module(taskcli, user):
    taskcli.ok("add", "mine", "--project", "p")
    heavy = ["sqlmodel", "taskcli.core.models", "sqlalchemy.orm", "alembic", "passlib", "rich"]
    for line, word, offered in (("taskcli done ", 2, "1"), ("taskcli list --project ", 3, "p")):
        env = {**os.environ, "COMP_WORDS": line, "COMP_CWORD": str(word),
               "_TASKCLI_COMPLETE": "complete_bash"}  # fmt: skip
        probe = [sys.executable, "-c", PROBE.format(heavy=heavy)]
        done = subprocess.run(probe, capture_output=True, text=True, env=env)
        assert (done.stdout, done.stderr) == (f"{offered}\n", "")


def test_the_lean_tables_are_columns_of_the_models():
    from sqlalchemy.dialects import postgresql, sqlite

    from taskcli.core import lean_tables, models

    for lean in (lean_tables.meta, lean_tables.users, lean_tables.sessions,
                 lean_tables.tasks, lean_tables.contexts):  # fmt: skip
        table = models.SQLModel.metadata.tables[lean.name]
        for column in lean.c:
            model_type = table.c[column.name].type
            for dialect in (sqlite.dialect(), postgresql.dialect()):
                lean_sql = column.type.compile(dialect).split("(")[0]
                assert lean_sql == model_type.compile(dialect).split("(")[0], column
    assert lean_tables.TAG_MAX == models.TAG_MAX
