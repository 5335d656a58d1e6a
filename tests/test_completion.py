"""Shell completion of task numbers, projects, tags and context names from the database,
through the real completion protocol in a subprocess (bash, zsh and fish)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
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


def test_the_lean_sql_reads_the_models_columns_as_they_store_them():
    """The completion's SQL and the session check name only tables and columns of the
    models (SQLite prepares each against the models' schema), and read them as the
    models store them: UUIDs as 32 hex digits, times as text on SQLite, tags as JSON on
    SQLite and an array on PostgreSQL, a context's filters as JSON text."""
    import sqlite3

    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql, sqlite

    from taskcli.core import authentication, completion, models

    engine = sa.create_engine("sqlite://")
    models.SQLModel.metadata.create_all(engine)
    schema = "\n".join(engine.raw_connection().iterdump())
    conn = sqlite3.connect(":memory:")
    conn.executescript(schema)
    dialect, someone = completion.Dialect(postgres=False), uuid.uuid4()
    queries = [
        lookup(dialect, user_id=someone, prefix=prefix)
        for lookup in (completion.task_numbers, completion.projects, completion.tags,
                       completion.context_names)
        for prefix in ("", "1")
    ]  # fmt: skip
    statements = [(query.sql, query.parameters) for query in queries if query is not None]
    statements.append((authentication.SQLITE_SESSION_QUERY, ("a" * 32, "b" * 32, "hash")))
    assert len(statements) == 9
    for sql, parameters in statements:
        conn.execute(f"EXPLAIN {sql}", parameters)  # fails on a name the models lack

    tables = models.SQLModel.metadata.tables
    expected = {
        ("users", "id"): ("CHAR(32)", "UUID"),
        ("sessions", "id"): ("CHAR(32)", "UUID"),
        ("sessions", "user_id"): ("CHAR(32)", "UUID"),
        ("sessions", "expires_at"): ("DATETIME", "TIMESTAMP WITH TIME ZONE"),
        ("sessions", "revoked_at"): ("DATETIME", "TIMESTAMP WITH TIME ZONE"),
        ("tasks", "user_id"): ("CHAR(32)", "UUID"),
        ("tasks", "tags"): ("JSON", f"VARCHAR({models.TAG_MAX})[]"),
        ("tasks", "updated_at"): ("DATETIME", "TIMESTAMP WITH TIME ZONE"),
        ("contexts", "user_id"): ("CHAR(32)", "UUID"),
        ("contexts", "filters"): ("TEXT", "TEXT"),
        ("meta", "value"): ("TEXT", "TEXT"),
    }
    for (table, column), types in expected.items():
        model_type = tables[table].c[column].type
        compiled = tuple(model_type.compile(d) for d in (sqlite.dialect(), postgresql.dialect()))
        assert compiled == types, (table, column)


# ---- the lean path answers what the product's own rows say ------------------------------

PROJECTS = ("alpha", "alphabet", "beta", "gamma", None)
TAGS = ("x", "xy", "y", "z1")


def _varied_tasks(owner: uuid.UUID, count: int, seed: int) -> None:
    """``count`` tasks of ``owner`` with projects, tags, statuses and change times drawn
    from a seeded generator (names in lower case: both databases sort them alike)."""
    import random

    from taskcli.core.models import TaskCreate
    from taskcli.core.tasks import create_task
    from tests.tasks_support import connection

    rng = random.Random(seed)
    statuses = ("pending", "pending", "in_progress", "completed")
    with connection() as conn:
        for index in range(count):
            data = TaskCreate(
                title=f"task {seed}-{index}", status=rng.choice(statuses),
                project=rng.choice(PROJECTS), tags=rng.sample(TAGS, rng.randint(0, 3)),
            )  # fmt: skip
            create_task(conn, user_id=owner, data=data)
    now = datetime.now(UTC)
    for number in rng.sample(range(1, count + 1), count // 2):
        set_columns(number, owner, updated_at=now - timedelta(minutes=rng.randint(1, 30)))


def _expected(owner: uuid.UUID) -> dict[str, list[tuple[str, str]]]:
    """What completion should offer ``owner``, worked out in Python from every stored row."""
    from collections import Counter

    from tests.tasks_support import stored_tasks

    rows = [row for row in stored_tasks() if row["user_id"] == owner]
    open_rows = [row for row in rows if row["status"] in ("pending", "in_progress")]

    def numbers(chosen: list[dict]) -> list[tuple[str, str]]:
        ordered = sorted(chosen, key=lambda r: (r["updated_at"], r["number"]), reverse=True)
        return [(str(row["number"]), row["title"]) for row in ordered]

    def by_open_count(names: list[str], open_names: list[str]) -> list[tuple[str, str]]:
        counts = Counter(open_names)
        ordered = sorted(set(names), key=lambda name: (-counts[name], name))
        return [(name, f"{counts[name]} open") for name in ordered]

    return {
        "open": numbers(open_rows),
        "completed": numbers([row for row in rows if row["status"] == "completed"]),
        "projects": by_open_count([r["project"] for r in rows if r["project"]],
                                  [r["project"] for r in open_rows if r["project"]]),
        "tags": by_open_count([tag for r in rows for tag in r["tags"]],
                              [tag for r in open_rows for tag in r["tags"]]),
    }  # fmt: skip


def _offered(line: str) -> list[tuple[str, str]]:
    answer = complete_with_help(line, "fish")
    return [tuple(item.split("\t", 1)) for item in answer.splitlines() if item]  # type: ignore[misc]


def _starting(choices: list[tuple[str, str]], prefix: str) -> list[tuple[str, str]]:
    return [choice for choice in choices if choice[0].startswith(prefix)][:50]


def test_the_lean_path_offers_what_the_stored_rows_say(taskcli, user, tmp_path):
    owner = user_id(taskcli)
    _varied_tasks(owner, 90, seed=7)
    other = register_second_user(taskcli, tmp_path / "other-data")
    _varied_tasks(user_id_of(taskcli, other), 20, seed=8)  # never offered to the first user
    taskcli.ok("context", "define", "work", "--project", "alpha", "-t", "x")
    taskcli.ok("context", "define", "late", "--overdue")
    expected = _expected(owner)
    assert len(expected["open"]) > 50 and expected["completed"]  # the limit is reached
    for prefix in ("", "1", "2", "8", "9"):
        assert _offered(f"taskcli done {prefix}") == _starting(expected["open"], prefix)
    for prefix in ("", "1"):
        assert _offered(f"taskcli reopen {prefix}") == _starting(expected["completed"], prefix)
    for prefix in ("", "a", "alpha", "b", "q"):
        assert _offered(f"taskcli list --project {prefix}") == _starting(
            expected["projects"], prefix
        )
    for prefix in ("", "x", "z"):
        assert _offered(f"taskcli list -t {prefix}") == _starting(expected["tags"], prefix)
    assert _offered("taskcli context use ") == [
        ("late", "overdue"),
        ("work", "project=alpha tags=x"),
    ]


def user_id_of(taskcli, env: dict) -> uuid.UUID:
    result = taskcli("whoami", "--json", env=env)
    assert result.exit_code == 0, result
    return uuid.UUID(result.json()["user_id"])


def test_an_expired_session_completes_nothing(taskcli, user):
    from tests.tasks_support import connection

    taskcli.ok("add", "mine")
    assert complete("taskcli done ") == ["1"]
    from taskcli.core.models import SQLModel

    sessions = SQLModel.metadata.tables["sessions"]
    with connection() as conn:
        conn.execute(sessions.update().values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    assert complete("taskcli done ") == []
    assert taskcli("list").exit_code == 3  # as any command: the session has ended


def test_a_completion_loads_no_sqlalchemy_pydantic_rich_or_keyring(taskcli, user):
    """The value completions cost what --help costs plus the query (SPEC §14), in every
    shell: zsh and fish do not load rich for the candidates' help either."""
    taskcli.ok("add", "mine", "--project", "p", "-t", "t")
    taskcli.ok("context", "define", "c", "--overdue")
    heavy = ["sqlalchemy", "pydantic", "rich", "keyring", "taskcli.core.db", "taskcli.core.logins"]
    lines = (("taskcli done ", 2, "1"), ("taskcli list --project ", 3, "p"),
             ("taskcli list -t ", 3, "t"), ("taskcli context use ", 3, "c"),
             ("taskcli li", 1, "list"), ("taskcli list --proj", 2, "--project"))  # fmt: skip
    bash = [({"COMP_WORDS": line, "COMP_CWORD": str(word), "_TASKCLI_COMPLETE": "complete_bash"},
             f"{offered}\n") for line, word, offered in lines]  # fmt: skip
    others = [
        ({"_TYPER_COMPLETE_ARGS": "taskcli done ", "_TASKCLI_COMPLETE": "complete_fish",
          "_TYPER_COMPLETE_FISH_ACTION": "get-args"}, "1\tmine\n"),
        ({"_TYPER_COMPLETE_ARGS": "taskcli list -t ", "_TASKCLI_COMPLETE": "complete_zsh"},
         """_arguments '*: :(("t":"1 open"))'\n"""),
    ]  # fmt: skip
    for variables, answer in bash + others:
        probe = [sys.executable, "-c", PROBE.format(heavy=heavy)]
        done = subprocess.run(probe, capture_output=True, text=True, env=os.environ | variables)
        assert (done.stdout, done.stderr) == (answer, ""), variables


def test_zsh_and_fish_show_a_title_as_written_not_as_markup(taskcli, user):
    taskcli.ok("add", "Fix [bold]the[/bold] [urgent] bug")
    assert complete_with_help("taskcli done ", "fish") == "1\tFix [bold]the[/bold] [urgent] bug\n"
    zsh = complete_with_help("taskcli done ", "zsh")
    assert zsh == """_arguments '*: :(("1":"Fix [bold]the[/bold] [urgent] bug"))'\n"""
    assert "Only tasks of this project" in complete_with_help("taskcli list --pro", "fish")


def test_the_global_options_complete_while_parsing_leaves_values_as_typed():
    assert complete("taskcli --ver") == ["--verbose", "--version"]
    assert complete("taskcli --version li") == ["list"]  # --version's callback does not run
    assert complete("taskcli list --sort ") != []  # a choice still completes from its type
    assert complete("taskcli list --limit x --so") == ["--sort"]  # a bad value is no error
