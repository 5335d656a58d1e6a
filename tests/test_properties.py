"""Property tests: whatever a user types or imports, taskcli answers with a documented exit
code and, on failure, one clean line on stderr and an unchanged database.

Hypothesis drives the CLI in-process (the `taskcli` fixture) on SQLite, and a few
properties again on PostgreSQL with fewer examples. Runs are derandomized so the suite
is repeatable; the database of a test persists across its examples, so every example
compares the state before and after itself.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from taskcli.cli.options import MAX_COUNT
from taskcli.core.dates import parse_when
from taskcli.core.enums import TaskSort
from tests.conftest import PASSWORD
from tests.support.databases import admin_url
from tests.tasks_support import expected_urgency, register_second_user

DOCUMENTED_EXIT_CODES = {0, 2, 3, 4, 5, 6, 7}
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the repository
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PG_SETTINGS = settings(SETTINGS, max_examples=15)
on_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
on_postgres = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

# Anything a shell can pass as an argument: no NUL, no lone surrogates.
ARG_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
arg_text = st.text(ARG_CHARS, max_size=40)
# Text in import files: JSON and CSV can hold NUL; PostgreSQL text cannot (see
# test_import_of_nul_and_surrogates_is_refused_cleanly), so these leave it out too.
FILE_CHARS = ARG_CHARS
WORD_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc"))


# ---- helpers --------------------------------------------------------------------------------


def check_clean(result, *, as_json: bool = False, rejected_lines: bool = False) -> None:
    """A documented exit code, no traceback; a failure is one line on stderr (import may
    list its rejected records first, one per line)."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.exit_code in DOCUMENTED_EXIT_CODES, (result.exit_code, result.stderr)
    if result.exit_code == 0:
        return
    assert result.stderr.endswith("\n"), result.stderr
    lines = result.stderr.splitlines()
    if rejected_lines and not as_json:
        assert all(line.startswith("rejected ") for line in lines[:-1]), result.stderr
    else:
        assert len(lines) == 1, result.stderr
    if as_json:
        error = json.loads(lines[-1])["error"]
        assert set(error) == {"code", "message", "hint"}
        assert isinstance(error["message"], str) and error["message"]
    else:
        assert lines[-1].startswith("error: "), result.stderr


def all_tasks(taskcli) -> list[dict]:
    return taskcli.ok("list", "--all", "--json", "--limit", "0").json()


def row_counts() -> dict[str, int]:
    """Rows per table in the database the environment selects (users, sessions, tasks)."""
    from taskcli.core.config import resolve_settings
    from taskcli.core.db import Database

    url = admin_url(resolve_settings().database_url)
    with Database(resolve_settings(database_url_option=url)).connect() as conn:
        return {
            name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in ("users", "sessions", "tasks")
        }


# ---- add: titles, descriptions, projects, tags ----------------------------------------------

titles = st.one_of(arg_text, st.text(ARG_CHARS, min_size=250, max_size=260))
descriptions = st.one_of(arg_text, st.text(ARG_CHARS, min_size=1995, max_size=2005))
projects = st.one_of(arg_text, st.from_regex(r"[A-Za-z0-9._-]{1,101}", fullmatch=True))
tag_lists = st.lists(st.one_of(arg_text, st.text(WORD_CHARS, min_size=1, max_size=51)), max_size=4)


def _controls(text: str, *, multiline: bool = False) -> bool:
    """Whether ``text`` holds a C0/C1 control character (tab, LF and CRLF allowed if
    ``multiline``), which every text field refuses (SPEC §16)."""
    if multiline:
        text = text.replace("\r\n", "").replace("\n", "").replace("\t", "")
    return any(unicodedata.category(c) == "Cc" for c in text)


def _valid_word(value: str, limit: int, *, tag: bool = False) -> bool:
    word = value.strip()
    forbidden = any(c.isspace() for c in word) or (tag and "," in word) or _controls(word)
    return 0 < len(word) <= limit and not forbidden


def _assert_add(taskcli, args: list[str]) -> tuple[object, dict | None]:
    before = all_tasks(taskcli)
    result = taskcli("add", "--json", *args)
    check_clean(result, as_json=True)
    after = all_tasks(taskcli)
    if result.exit_code:
        assert after == before
        return result, None
    task = result.json()
    assert after == [*before, task]
    return result, task


def _add_property(taskcli, title, description, project, tags) -> None:
    args = [f"--description={description}", f"--project={project}"]
    args += [f"--tag={tag}" for tag in tags]
    result, task = _assert_add(taskcli, [*args, "--", title])
    stripped = title.strip()
    must_fail = (
        not stripped
        or len(stripped) > 255
        or _controls(stripped)
        or "\u2028" in stripped
        or "\u2029" in stripped
        or len(description) > 2000
        or _controls(description, multiline=True)
        or not _valid_word(project, 100)
        or not all(_valid_word(tag, 50, tag=True) for tag in tags)
    )
    if must_fail:
        assert result.exit_code == 5, result.stderr
        return
    assert task is not None, result.stderr
    assert task["title"] == stripped
    assert task["description"] in (description or None, description.strip() or None)
    assert task["project"] == (project.strip() or None)
    assert task["tags"] == list(dict.fromkeys(tag.strip() for tag in tags))


@on_sqlite
@SETTINGS
@given(title=titles, description=descriptions, project=projects, tags=tag_lists)
@example(title="  padded  ", description="", project="work", tags=["a", "a", "b"])
def test_add_any_fields(taskcli, user, title, description, project, tags):
    _add_property(taskcli, title, description, project, tags)


@on_postgres
@PG_SETTINGS
@given(title=titles, description=descriptions, project=projects, tags=tag_lists)
def test_add_any_fields_on_postgres(taskcli, user, title, description, project, tags):
    _add_property(taskcli, title, description, project, tags)


@on_sqlite
@SETTINGS
@given(title=arg_text)
def test_title_words_as_plain_arguments(taskcli, user, title):
    """Without `--`, a title word that looks like an option is a usage error, never a crash."""
    before = all_tasks(taskcli)
    result = taskcli("add", title)
    check_clean(result)
    if result.exit_code:
        assert all_tasks(taskcli) == before


# ---- WHEN expressions ------------------------------------------------------------------------

offsets = st.builds(
    "{}{}{}".format,
    st.sampled_from("+-"),
    st.one_of(st.integers(0, 400), st.integers(0, 10**30)),
    st.sampled_from("dwmyhx"),
)
iso_dates = st.builds(
    "{:04d}-{:02d}-{:02d}".format, st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32)
)
iso_offsets = st.builds(
    "{}{:02d}:{:02d}".format, st.sampled_from("+-"), st.integers(0, 99), st.integers(0, 99)
)
iso_times = st.builds(
    "{}T{:02d}:{:02d}{}".format,
    iso_dates,
    st.integers(0, 25),
    st.integers(0, 61),
    st.sampled_from(["", "Z", ":59", ":00.5"]) | iso_offsets,
)
fixed_zones = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
aware_datetimes = st.datetimes(timezones=fixed_zones).map(datetime.isoformat)
when_texts = st.one_of(
    arg_text,
    st.sampled_from(["today", "Tomorrow", " yesterday ", "eod", "now", "mon", "FRIDAY", "sun"]),
    offsets,
    iso_dates,
    iso_times,
    aware_datetimes,
)


@on_sqlite
@SETTINGS
@given(when=when_texts)
@example(when="9999-12-31T23:59:59-14:00")
@example(when="0001-01-01T00:00:00+14:00")
@example(when="+99999999999999999999d")
def test_due_and_due_before_accept_or_refuse_any_when(taskcli, user, when):
    result, task = _assert_add(taskcli, [f"--due={when}", "--", "due task"])
    if task is not None:
        assert task["due"].endswith("Z")
        if when.strip().lower() != "now":  # the others cannot move between two calls
            assert parse_when(when) == datetime.fromisoformat(task["due"].replace("Z", "+00:00"))
    before = all_tasks(taskcli)
    listed = taskcli("list", "--json", "--all", "--limit", "0", f"--due-before={when}")
    check_clean(listed, as_json=True)
    assert all_tasks(taskcli) == before
    if when:  # `--due-before ""` is read as no filter at all
        assert (listed.exit_code == 0) == (result.exit_code == 0), (listed.stderr, result.stderr)


def _due_before_model(taskcli, dues: list[datetime], bound: datetime) -> None:
    for due in dues:
        taskcli.ok("add", f"--due={due.isoformat()}", "--", "dated")
    everything = all_tasks(taskcli)
    listed = taskcli.ok(
        "list", "--json", "--all", "--limit", "0", f"--due-before={bound.isoformat()}"
    ).json()
    expected = [
        task["number"]
        for task in everything
        if task["due"] and datetime.fromisoformat(task["due"].replace("Z", "+00:00")) <= bound
    ]
    assert [task["number"] for task in listed] == expected


moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=fixed_zones
).map(lambda moment: moment.replace(microsecond=0))


@on_sqlite
@SETTINGS
@given(dues=st.lists(moments, max_size=3), bound=moments)
def test_due_before_returns_exactly_the_tasks_due_by_then(taskcli, user, dues, bound):
    _due_before_model(taskcli, dues, bound)


@on_postgres
@PG_SETTINGS
@given(dues=st.lists(moments, max_size=3), bound=moments)
def test_due_before_returns_exactly_the_tasks_due_by_then_on_postgres(taskcli, user, dues, bound):
    _due_before_model(taskcli, dues, bound)


# ---- list: paging, sorting, filters ---------------------------------------------------------


@pytest.fixture
def twelve_tasks(taskcli, user):
    for index in range(1, 13):
        taskcli.ok(
            "add",
            f"task {index}",
            "-P",
            ["low", "medium", "high"][index % 3],
            f"--due=2030-01-{index:02d}" if index % 2 else "--project=p",
        )
    taskcli.ok("done", "3", "7")
    return all_tasks(taskcli)


page_numbers = st.one_of(
    st.integers(-3, 20),
    st.integers(0, 2**63 - 1),
    arg_text,
    st.sampled_from(["1e3", "0x10", "１", " 4 "]),
)


@on_sqlite
@SETTINGS
@given(limit=page_numbers, offset=page_numbers)
def test_limit_and_offset(taskcli, twelve_tasks, limit, offset):
    result = taskcli("list", "--all", "--json", f"--limit={limit}", f"--offset={offset}")
    check_clean(result, as_json=True)
    try:
        limit_value, offset_value = int(str(limit)), int(str(offset))
    except ValueError:
        assert result.exit_code == 2, result.stderr
        return
    if not (0 <= limit_value <= MAX_COUNT and 0 <= offset_value <= MAX_COUNT):
        assert result.exit_code == 2, result.stderr
        return
    plain = all(re.fullmatch(r"\s*\d+\s*", str(value), re.ASCII) for value in (limit, offset))
    if not plain and result.exit_code == 2:  # "１" or "1_0": Python reads them, taskcli need not
        return
    assert result.exit_code == 0, result.stderr
    end = offset_value + limit_value if limit_value else None
    assert result.json() == twelve_tasks[offset_value:end]


@on_sqlite
@pytest.mark.parametrize("option", ["--limit", "--offset"])
def test_limit_and_offset_beyond_64_bits(taskcli, twelve_tasks, option):
    result = taskcli("list", "--json", option, str(2**64))
    check_clean(result, as_json=True)
    assert result.exit_code == 2


@on_postgres
@pytest.mark.parametrize("option", ["--limit", "--offset"])
def test_limit_and_offset_beyond_64_bits_on_postgres(taskcli, user, option):
    result = taskcli("list", option, str(2**64))
    check_clean(result)


SORTS = [sort.value for sort in TaskSort]  # _sort_key below says what each one means
PRIORITY_RANK = {"high": 0, "medium": 1, "low": 2}


def _sort_key(sort: str):
    def key(task):
        if sort == "due":
            return (task["due"] is None, task["due"] or "")
        if sort == "priority":
            return PRIORITY_RANK[task["priority"]]
        if sort == "urgency":  # most urgent first, then by number (these have no dependencies)
            now = datetime.now(UTC)
            urgency = expected_urgency(task, now, blocking=False, blocked=False)
            return (-round(urgency, 3), task["number"])
        return {
            "number": task["number"],
            "created": task["created_at"],
            "updated": task["updated_at"],
        }[sort]

    return key


@on_sqlite
@SETTINGS
@given(
    sort=st.one_of(st.sampled_from(SORTS), st.sampled_from(SORTS).map(str.upper), arg_text),
    reverse=st.booleans(),
)
def test_sort_values(taskcli, twelve_tasks, sort, reverse):
    args = ["list", "--all", "--json", "--limit", "0", f"--sort={sort}"]
    result = taskcli(*args, *(["--reverse"] if reverse else []))
    check_clean(result, as_json=True)
    if sort not in SORTS and (sort.lower() not in SORTS or result.exit_code):
        assert result.exit_code in (2, 5), result.stderr  # NUMBER may be read as number
        return
    assert result.exit_code == 0, result.stderr
    sort = sort.lower()
    listed = result.json()
    assert sorted(task["number"] for task in listed) == [t["number"] for t in twelve_tasks]
    keys = [_sort_key(sort)(task) for task in listed]
    if sort == "due":  # no due date sorts last, whichever the direction
        dated = [key for key in keys if not key[0]]
        assert keys[: len(dated)] == dated
        keys = dated
    assert keys == sorted(keys, reverse=reverse)


search_chars = st.sampled_from(list("aAbB%_/\\'\"éÉ ß*?[]"))
search_texts = st.text(search_chars, min_size=1, max_size=6)


def _filter_model(taskcli, words, needle, tag, project) -> None:
    for index, word in enumerate(words):
        taskcli.ok(
            "add",
            f"--tag=t{index % 3}",
            f"--project=p{index % 2}",
            "--description",
            word,
            "--",
            f"title {word}",
        )
    everything = all_tasks(taskcli)
    before = everything
    result = taskcli(
        "list",
        "--all",
        "--json",
        "--limit",
        "0",
        f"--search={needle}",
        f"--tag={tag}",
        f"--project={project}",
    )
    check_clean(result, as_json=True)
    assert all_tasks(taskcli) == before
    if result.exit_code:
        assert result.exit_code in (2, 5)
        return
    listed = {task["number"] for task in result.json()}
    scoped = [t for t in everything if tag in t["tags"] and t["project"] == project]

    def texts(task):
        return [task["title"], task["description"] or ""]

    exact = {t["number"] for t in scoped if any(needle in text for text in texts(t))}
    folded = {
        t["number"]
        for t in scoped
        if any(
            needle.lower() in text.lower() or needle.casefold() in text.casefold()
            for text in texts(t)
        )
    }
    assert exact <= listed <= folded, (needle, tag, project)


filter_examples = {
    "words": st.lists(search_texts, max_size=3),
    "needle": search_texts,
    "tag": st.sampled_from(["t0", "t1", "t%", "t_"]),
    "project": st.sampled_from(["p0", "p1", "p_"]),
}


@on_sqlite
@SETTINGS
@given(**filter_examples)
def test_search_tag_and_project_filters(taskcli, user, words, needle, tag, project):
    _filter_model(taskcli, words, needle, tag, project)


@on_postgres
@PG_SETTINGS
@given(**filter_examples)
def test_search_tag_and_project_filters_on_postgres(taskcli, user, words, needle, tag, project):
    _filter_model(taskcli, words, needle, tag, project)


@on_sqlite
@SETTINGS
@given(tag=arg_text, project=arg_text, search=arg_text)
def test_list_filters_accept_any_text(taskcli, twelve_tasks, tag, project, search):
    result = taskcli("list", "--json", f"--tag={tag}", f"--project={project}", f"--search={search}")
    check_clean(result, as_json=True)
    assert all_tasks(taskcli) == twelve_tasks


# ---- task references -------------------------------------------------------------------------

ACTIONS = {
    "show": ["show"],
    "start": ["start"],
    "done": ["done"],
    "reopen": ["reopen"],
    "delete": ["delete", "--yes"],
    "update": ["update", "--title=renamed"],
}
hex_refs = st.text(st.sampled_from("0123456789abcdefABCDEF-"), max_size=40)
number_refs = st.one_of(st.integers(-2, 30), st.integers()).map(str)


# A reference is drawn as a shape, made concrete against the tasks of the example: the
# strategy must not depend on database state, which differs between runs.
prefix_shapes = st.tuples(
    st.sampled_from(["own", "foreign"]),
    st.integers(0, 99),
    st.integers(0, 36),
    st.sampled_from(["as is", "upper", "padded", "no dashes"]),
)
reference_shapes = st.one_of(number_refs, hex_refs, arg_text, prefix_shapes)


def concrete_reference(shape, owned: list[dict], foreign: list[dict]) -> str:
    """Numbers, UUIDs and prefixes of this user's tasks or another user's, or any text."""
    if isinstance(shape, str):
        return shape
    whose, index, length, style = shape
    pool = foreign if whose == "foreign" else owned
    full = pool[index % len(pool)]["id"]
    text = (full.replace("-", "") if style == "no dashes" else full)[:length]
    return {"upper": text.upper(), "padded": f" {text} "}.get(style, text)


def _model(ref: str, owned: list[dict]) -> str:
    """What the reference should do: 'ok' (one task), 'missing', 'ambiguous' or 'invalid'.

    Digits alone are a number; from 6 digits on, a prefix too when no task has the number
    (with a leading zero, or above 2**31 - 1, a prefix only).
    """
    value = ref.strip().lower()
    digits = value.replace("-", "")
    is_prefix = 6 <= len(digits) <= 32 and all(c in "0123456789abcdef" for c in digits)
    by_prefix = [t for t in owned if t["id"].replace("-", "").startswith(digits)]
    is_number = value.isascii() and value.isdigit() and not (is_prefix and value[0] == "0")
    if is_number and 1 <= int(value) < 2**31:
        hits = [t for t in owned if t["number"] == int(value)]
        if not hits and is_prefix:
            hits = by_prefix
    elif is_prefix:
        hits = by_prefix
    else:
        return "invalid"
    return {0: "missing", 1: "ok"}.get(len(hits), "ambiguous")


EXPECTED_EXIT = {"ok": 0, "missing": 4, "ambiguous": 5, "invalid": (2, 5)}


def _references_property(taskcli, foreign_env, action, shapes) -> None:
    """Each example works on a new account with five tasks, so examples replay exactly."""
    email = f"refs-{uuid.uuid4().hex[:8]}@example.com"
    taskcli.ok("register", "--email", email, "--password-stdin", input=PASSWORD + "\n")
    for index in range(5):
        taskcli.ok("add", f"ref target {index}")
    taskcli.ok("done", "2")
    taskcli.ok("start", "3")
    owned = all_tasks(taskcli)
    foreign = taskcli("list", "--all", "--json", "--limit", "0", env=foreign_env).json()
    refs = [concrete_reference(shape, owned, foreign) for shape in shapes]
    if action in ("show", "update"):
        refs = refs[:1]
    result = taskcli(*ACTIONS[action], "--json", "--", *refs)
    check_clean(result, as_json=True)
    after = all_tasks(taskcli)
    assert taskcli("list", "--all", "--json", "--limit", "0", env=foreign_env).json() == foreign
    outcomes = [_model(ref, owned) for ref in refs]
    # Every reference is parsed before any is looked up; then the first failing one speaks.
    first = "invalid" if "invalid" in outcomes else next((o for o in outcomes if o != "ok"), "ok")
    expected = EXPECTED_EXIT[first]
    allowed = expected if isinstance(expected, tuple) else (expected,)
    assert result.exit_code in allowed, (refs, outcomes, result.stderr)
    if result.exit_code:
        assert after == owned
        return
    named = {t["id"] for t in owned for ref in refs if _model(ref, [t]) == "ok"}
    if action == "delete":
        assert [t for t in owned if t["id"] not in named] == after
    elif action == "show":
        assert after == owned and result.json()["id"] in named
    else:
        changed = {t["id"]: t for t in after if t["id"] in named}
        assert len(changed) == len(named)
        if action == "update":
            assert all(t["title"] == "renamed" for t in changed.values())
        else:
            status = {"start": "in_progress", "done": "completed", "reopen": "pending"}[action]
            assert all(t["status"] == status for t in changed.values())
        untouched = [t for t in after if t["id"] not in named]
        assert untouched == [t for t in owned if t["id"] not in named]


@pytest.fixture
def foreign_env(taskcli, user, tmp_path):
    env = register_second_user(taskcli, tmp_path / "other-data")
    for index in range(3):
        assert taskcli("add", f"not yours {index}", env=env).exit_code == 0
    return env


actions = st.sampled_from(sorted(ACTIONS))
shape_lists = st.lists(reference_shapes, min_size=1, max_size=3)


@on_sqlite
@SETTINGS
@given(action=actions, shapes=shape_lists)
def test_task_references(taskcli, foreign_env, action, shapes):
    _references_property(taskcli, foreign_env, action, shapes)


@on_postgres
@PG_SETTINGS
@given(action=actions, shapes=shape_lists)
def test_task_references_on_postgres(taskcli, foreign_env, action, shapes):
    _references_property(taskcli, foreign_env, action, shapes)


# ---- accounts ----------------------------------------------------------------------------------

PASSWORD_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\n\r")
passwords = st.one_of(
    st.text(PASSWORD_CHARS, max_size=20),
    st.text(PASSWORD_CHARS, min_size=1020, max_size=1030),
)
emails = st.one_of(st.emails(), arg_text, st.emails().map(lambda e: f"  {e.upper()} "))


@on_sqlite
@SETTINGS
@given(email=emails, password=passwords)
@example(email="a@b.c", password="x" * 1024)
@example(email="a@b.c", password="x" * 1025)
def test_register_and_login_with_any_email_and_password(taskcli, backend, email, password):
    counts = row_counts()
    result = taskcli("register", f"--email={email}", "--password-stdin", input=password + "\n")
    check_clean(result)
    if not 8 <= len(password) <= 1024:
        assert result.exit_code == 5, result.stderr
    if result.exit_code:
        assert row_counts() == counts
        return
    normalized = email.strip().lower()
    assert taskcli.ok("whoami", "--json").json()["email"] == normalized
    taskcli.ok("logout")
    login = taskcli("login", f"--email={email}", "--password-stdin", input=password + "\n")
    assert login.exit_code == 0, login.stderr
    sessions = row_counts()
    wrong = taskcli("login", f"--email={email}", "--password-stdin", input=password + "!\n")
    check_clean(wrong)
    assert wrong.exit_code == 3
    assert row_counts() == sessions


@on_sqlite
@SETTINGS
@given(email=emails, password=passwords)
def test_login_failures_all_read_the_same(taskcli, user, email, password):
    """An unknown email, a malformed one or a wrong password: one message, exit 3."""
    if email.strip().lower() == user and password == PASSWORD:
        return
    reference = taskcli("login", f"--email={user}", "--password-stdin", input="wrong pass\n")
    assert reference.exit_code == 3
    counts = row_counts()
    result = taskcli("login", f"--email={email}", "--password-stdin", input=password + "\n")
    check_clean(result)
    assert row_counts() == counts
    if password:
        assert result.exit_code == 3
        assert result.stderr == reference.stderr
    else:
        assert result.exit_code == 5


# ---- configuration -------------------------------------------------------------------------

CONFIG_KEYS = ["database_url", "session_days", "connect_timeout", "default_profile"]
config_values = st.one_of(
    arg_text,
    st.integers(-5, 4000).map(str),
    st.builds("sqlite:///{}".format, arg_text),
    st.builds("postgresql://{}:{}@{}/{}".format, arg_text, arg_text, arg_text, arg_text),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,70}", fullmatch=True),
).filter(  # those are test_config_value_with_astral_non_printable_character_round_trips
    lambda value: not any(ord(c) > 0xFFFF and not c.isprintable() for c in value)
)
profile_names = st.one_of(
    st.none(), st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True), arg_text
)


def _config_bytes(isolated) -> bytes | None:
    path = isolated / "config" / "config.toml"
    return path.read_bytes() if path.exists() else None


@SETTINGS
@given(
    key=st.one_of(st.sampled_from(CONFIG_KEYS), arg_text),
    value=config_values,
    profile=profile_names,
)
def test_config_set_any_key_and_value(taskcli, isolated, key, value, profile):
    scope = [] if profile is None else [f"--profile={profile}"]
    before = _config_bytes(isolated)
    active = profile or tomllib.loads((before or b"").decode()).get("default_profile", "default")
    result = taskcli("config", "set", *scope, "--json", "--", key, value)
    check_clean(result, as_json=True)
    if key not in CONFIG_KEYS:
        assert result.exit_code in (2, 5)
    if result.exit_code:
        assert _config_bytes(isolated) == before
        return
    path = isolated / "config" / "config.toml"
    assert path.stat().st_mode & 0o777 == 0o600
    stored = tomllib.loads(path.read_text(encoding="utf-8"))
    where = stored if key == "default_profile" else stored["profiles"][active]
    expected = value.strip()
    assert str(where[key]) == (
        str(int(expected)) if key.endswith(("days", "timeout")) else expected
    )
    shown = taskcli("config", "get", *scope, "--json", key)
    assert shown.exit_code == 0, shown.stderr
    if key == "database_url":
        from taskcli.core.urls import redact_url

        assert shown.json()["value"] == redact_url(expected)
    listed = taskcli("config", "list", "--json")
    check_clean(listed)


def test_config_value_with_astral_non_printable_character_round_trips(taskcli, isolated):
    url = "sqlite:////tmp/a\U000f0000b.db"
    taskcli.ok("config", "set", "database_url", url)
    assert taskcli.ok("config", "get", "database_url").stdout == url + "\n"


@on_sqlite
@pytest.mark.parametrize("value", ["-v", "--verbose", "--profile=x", "--database-url=x"])
def test_option_value_that_looks_like_a_global_option(taskcli, user, value):
    result = taskcli("add", "--json", "note", "-d", value)
    assert result.exit_code == 0, result.stderr
    assert result.json()["description"] == value


# ---- import -------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(FILE_CHARS, max_size=12),
)
rfc3339 = st.datetimes(min_value=datetime(1, 1, 2), timezones=st.just(UTC)).map(
    lambda moment: moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")
)
timestamps = st.one_of(rfc3339, aware_datetimes, st.text(FILE_CHARS, max_size=25), json_scalars)
texts = st.one_of(st.text(FILE_CHARS, max_size=30), st.text(FILE_CHARS, min_size=250, max_size=260))
task_objects = st.fixed_dictionaries(
    {"title": st.one_of(texts, json_scalars)},
    optional={
        "id": st.one_of(
            st.uuids().map(str), st.text("0123456789abcdef-", max_size=40), json_scalars
        ),
        "number": st.one_of(st.integers(), json_scalars),
        "description": st.one_of(texts, json_scalars),
        "status": st.one_of(
            st.sampled_from(["pending", "in_progress", "completed", "DONE"]), json_scalars
        ),
        "priority": st.one_of(st.sampled_from(["low", "medium", "High", "urgent"]), json_scalars),
        "due": timestamps,
        "project": st.one_of(st.from_regex(r"[a-z]{1,8}", fullmatch=True), texts, json_scalars),
        "tags": st.one_of(
            st.lists(
                st.one_of(
                    st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.text(FILE_CHARS, max_size=8)
                ),
                max_size=3,
            ),
            json_scalars,
        ),
        "created_at": timestamps,
        "updated_at": timestamps,
        "completed_at": timestamps,
        "extra": json_scalars,
    },
)
compact_times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda moment: moment.strftime("%Y%m%dT%H%M%SZ").rjust(16, "0")
    ),
    timestamps,
)
taskwarrior_objects = st.fixed_dictionaries(
    {"description": st.one_of(texts, json_scalars)},
    optional={
        "uuid": st.one_of(st.uuids().map(str), json_scalars),
        "entry": compact_times,
        "modified": compact_times,
        "end": compact_times,
        "due": compact_times,
        "start": compact_times,
        "status": st.one_of(
            st.sampled_from(["pending", "completed", "deleted", "waiting", "recurring"]),
            json_scalars,
        ),
        "priority": st.one_of(st.sampled_from(["H", "M", "L", "X"]), json_scalars),
        "project": st.one_of(st.from_regex(r"[a-z.]{1,8}", fullmatch=True), json_scalars),
        "tags": st.one_of(st.lists(st.text(WORD_CHARS, max_size=8), max_size=3), json_scalars),
        "annotations": st.one_of(
            st.lists(
                st.fixed_dictionaries({"entry": compact_times, "description": texts}), max_size=2
            ),
            json_scalars,
        ),
        "urgency": json_scalars,
        "id": json_scalars,
    },
)
todo_words = st.one_of(
    st.text(FILE_CHARS.filter(lambda c: not c.isspace()), min_size=1, max_size=10),
    st.sampled_from(
        [
            "x",
            "(A)",
            "(B)",
            "(Z)",
            "(a)",
            "2026-11-01",
            "2026-02-30",
            "+proj",
            "+other",
            "@home",
            "due:2026-12-01",
            "due:2026-13-01",
            "due:x",
            "uuid:" + str(uuid.UUID(int=7)),
            "uuid:nope",
            "status:in_progress",
            "status:x",
            "pri:A",
            "pri:",
            "t:2026-01-01",
            "10:30",
            "http://x/y",
        ]
    ),
)
todo_lines = st.lists(todo_words, max_size=8).map(" ".join)


def _csv_text(objects: list[dict]) -> str:
    fields = list(dict.fromkeys(key for obj in objects for key in obj)) or ["title"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields)

    def cell(value):
        if isinstance(value, list):
            return " ".join(str(item) for item in value)
        return "" if value is None else str(value)

    for obj in objects:
        writer.writerow([cell(obj.get(name)) for name in fields])
    return buffer.getvalue()


@st.composite
def import_files(draw) -> tuple[str, str]:
    """(format, file text): well-formed files of random records, or random text."""
    fmt = draw(st.sampled_from(["json", "jsonl", "csv", "taskwarrior", "todotxt"]))
    if draw(st.integers(0, 4)) == 0:
        return fmt, draw(st.text(FILE_CHARS, max_size=200))
    if fmt == "todotxt":
        return fmt, "\n".join(draw(st.lists(todo_lines, max_size=6)))
    if fmt == "taskwarrior":
        objects = draw(st.lists(taskwarrior_objects, max_size=5))
        if draw(st.booleans()):
            return fmt, json.dumps(objects, ensure_ascii=draw(st.booleans()))
        return fmt, "\n".join(json.dumps(obj) + draw(st.sampled_from(["", ","])) for obj in objects)
    objects = draw(st.lists(task_objects, max_size=5))
    if fmt == "csv":
        return fmt, _csv_text(objects)
    if fmt == "json":
        return fmt, json.dumps(
            objects, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1]))
        )
    return fmt, "\n".join(json.dumps(obj, ensure_ascii=False) for obj in objects)


def _import_property(taskcli, tmp_path, file, options) -> None:
    fmt, text = file
    path = tmp_path / "import-source"
    path.write_text(text, encoding="utf-8", newline="")
    before = all_tasks(taskcli)
    as_json = "--json" in options
    args = ["import", *options, *(["--format", fmt] if "--detect" not in options else [])]
    result = taskcli(*[a for a in args if a != "--detect"], str(path))
    check_clean(result, as_json=as_json, rejected_lines=True)
    after = all_tasks(taskcli)
    if result.exit_code or "--dry-run" in options:
        assert after == before
        return
    if as_json:
        created = result.json()["created"]
        assert result.json()["rejected"] == []
    else:
        created = int(result.stdout.split("created ", 1)[1].split(",")[0])
    assert len(after) == len(before) + created
    numbers = [task["number"] for task in after]
    assert len(set(numbers)) == len(numbers)
    assert {t["number"] for t in before} <= set(numbers)


import_options = st.lists(st.sampled_from(["--json", "--dry-run", "--detect"]), unique=True)


@on_sqlite
@SETTINGS
@given(file=import_files(), options=import_options)
def test_import_any_file_in_any_format(taskcli, user, tmp_path, file, options):
    _import_property(taskcli, tmp_path, file, options)


@on_postgres
@PG_SETTINGS
@given(file=import_files(), options=import_options)
def test_import_any_file_in_any_format_on_postgres(taskcli, user, tmp_path, file, options):
    _import_property(taskcli, tmp_path, file, options)


@pytest.mark.parametrize(
    "record",
    [
        {"title": "nul in description", "description": "a\u0000b"},
        {"title": "nul in project", "project": "p\u0000"},
        {"title": "nul in tag", "tags": ["t\u0000"]},
        {"title": "lone surrogate", "description": "a\ud800b"},
        {"title": "lone surrogate in tag", "tags": ["\udfff"]},
    ],
    ids=lambda record: record["title"].replace(" ", "-"),
)
def test_import_of_nul_and_surrogates_is_refused_cleanly(taskcli, user, backend, tmp_path, record):
    """JSON can spell NUL and lone surrogates (\\u0000, \\ud800); PostgreSQL text cannot
    hold NUL and a lone surrogate cannot be encoded at all. Either a clean rejection (exit 5,
    nothing imported) or, where the database can hold the value, an exact import."""
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="ascii")
    before = all_tasks(taskcli)
    result = taskcli("import", str(path))
    check_clean(result, rejected_lines=True)
    if result.exit_code:
        assert result.exit_code == 5
        assert all_tasks(taskcli) == before
        return
    stored = all_tasks(taskcli)[-1]
    assert {key: stored[key] for key in record} == record
