"""Task references: numbers, full UUIDs and UUID prefixes, parsed and resolved per user."""

from __future__ import annotations

import uuid

import pytest

from taskcli.core.errors import InvalidInputError
from taskcli.core.refs import parse_ref, parse_refs
from tests.tasks_support import set_columns, stored_tasks, user_id

pytestmark = pytest.mark.both_ways  # taskcli in-process and through the local server

FIRST = uuid.UUID("abcdef01-1111-4111-8111-111111111111")
SECOND = uuid.UUID("abcdef02-2222-4222-8222-222222222222")
THIRD = uuid.UUID("abcdef02-3333-4333-8333-333333333333")


# ---- parsing --------------------------------------------------------------------------------


def test_parse_number():
    assert parse_ref(" 12 ").number == 12
    assert parse_ref("12").low is None


@pytest.mark.parametrize("text", ["0", "-1", "1.5", "abcde", "abcdeg", "", "#3", "1" * 33])
def test_parse_rejects(text):
    with pytest.raises(InvalidInputError):
        parse_ref(text)


def test_parse_prefix_is_a_range():
    ref = parse_ref("ABCDEF-0")
    assert (ref.low, ref.high) == (
        uuid.UUID("abcdef00-0000-0000-0000-000000000000"),
        uuid.UUID("abcdef0f-ffff-ffff-ffff-ffffffffffff"),
    )
    assert not ref.is_full_uuid


def test_parse_full_uuid():
    ref = parse_ref(str(FIRST).upper())
    assert ref.is_full_uuid and ref.low == FIRST
    assert parse_ref(FIRST.hex).low == FIRST


@pytest.mark.parametrize(
    ("text", "number", "prefix"),
    [
        ("12345", 12345, None),
        ("123456", 123456, "123456"),
        ("06776119", None, "06776119"),  # a leading zero is never a number
        ("2147483648", None, "21474836-48"),  # beyond the largest number
    ],
)
def test_parse_digits_as_number_or_prefix(text, number, prefix):
    ref = parse_ref(text)
    assert ref.number == number
    if prefix is None:
        assert ref.low is None
    else:
        assert ref.low == uuid.UUID(prefix.replace("-", "").ljust(32, "0"))


def test_parse_refs_needs_one():
    with pytest.raises(InvalidInputError):
        parse_refs([])


# ---- resolving through the CLI --------------------------------------------------------------


@pytest.fixture
def colliding(taskcli, user):
    """Tasks 1, 2, 3 with ids FIRST, SECOND, THIRD (SECOND and THIRD share 'abcdef02')."""
    owner = user_id(taskcli)
    for number, task_id in enumerate((FIRST, SECOND, THIRD), start=1):
        taskcli.ok("add", f"task {number}")
        set_columns(number, owner, id=task_id)
    return owner


@pytest.mark.parametrize(
    "ref",
    [
        "1",
        str(FIRST),
        str(FIRST).upper(),
        FIRST.hex,
        "abcdef01",
        "ABCDEF01-11",
        "abcdef01-1111-4111",
    ],
)
def test_show_by_reference(taskcli, colliding, ref):
    task = taskcli.ok("show", ref, "--json").json()
    assert (task["number"], task["id"]) == (1, str(FIRST))


def test_prefix_shorter_than_six_hex_is_invalid(taskcli, colliding):
    result = taskcli("show", "abcde")
    assert (result.exit_code, result.stdout) == (5, "")
    assert "at least 6" in result.stderr


def test_ambiguous_prefix_lists_the_candidates(taskcli, colliding):
    for ref in ("abcdef0", "abcdef", "ABCDEF02"):
        result = taskcli("show", ref, "--json")
        assert (result.exit_code, result.stdout) == (5, "")
        assert "ambiguous" in result.error["message"]
        assert str(THIRD) in result.error["message"]
    result = taskcli("show", "abcdef02")
    assert str(SECOND) in result.stderr and str(THIRD) in result.stderr
    assert str(FIRST) not in result.stderr


def test_unknown_references_are_not_found(taskcli, colliding):
    for ref in ("4", "fedcba", str(uuid.uuid4())):
        result = taskcli("show", ref)
        assert (result.exit_code, result.stdout) == (4, "")
        assert result.stderr == f"error: no task {ref}\n"


@pytest.mark.parametrize(
    "command", [["done"], ["start"], ["reopen"], ["delete", "--yes"]], ids=lambda c: c[0]
)
def test_ambiguous_prefix_among_several_refs_changes_nothing(taskcli, colliding, command):
    before = stored_tasks()
    # abcdef02 names two tasks: with another reference the count still adds up to two
    for refs in (["1", "abcdef02"], ["9", "abcdef02"], ["abcdef02"]):
        result = taskcli(*command, *refs)
        assert result.exit_code in (4, 5), (refs, result.stdout, result.stderr)
        assert result.stdout == ""
        assert stored_tasks() == before


def test_update_with_ambiguous_prefix_changes_nothing(taskcli, colliding):
    before = stored_tasks()
    result = taskcli("update", "abcdef02", "--title", "x")
    assert result.exit_code == 5
    assert stored_tasks() == before


def test_prefix_and_number_of_the_same_task(taskcli, colliding):
    done = taskcli.ok("done", "abcdef01", "1", str(FIRST), "--json").json()
    assert [t["number"] for t in done] == [1]
    assert [t["status"] for t in stored_tasks()] == ["completed", "pending", "pending"]


def test_distinct_prefixes_of_colliding_ids(taskcli, colliding):
    done = taskcli.ok("done", "abcdef02-2", "abcdef023", "--json").json()
    assert [t["number"] for t in done] == [2, 3]


# ---- all-digit prefixes ----------------------------------------------------------------------

DIGITS = uuid.UUID("12345678-4444-4444-8444-444444444444")
ZERO = uuid.UUID("06776119-5555-4555-8555-555555555555")


@pytest.fixture
def digit_ids(taskcli, user):
    """Tasks 1 and 2 whose ids start with decimal digits only."""
    owner = user_id(taskcli)
    for number, task_id in enumerate((DIGITS, ZERO), start=1):
        taskcli.ok("add", f"digits {number}")
        set_columns(number, owner, id=task_id)
    return owner


@pytest.mark.parametrize(("ref", "number"), [("12345678", 1), ("123456", 1), ("06776119", 2)])
def test_all_digit_prefix_names_the_task_when_no_number_matches(taskcli, digit_ids, ref, number):
    assert taskcli.ok("show", ref, "--json").json()["number"] == number
    assert taskcli.ok("done", ref, "--json").json()[0]["number"] == number
    assert taskcli.ok("update", ref, "--title", "renamed", "--json").json()["number"] == number
    assert taskcli.ok("delete", "--yes", ref, "2" if number == 1 else "1").stdout


def test_a_task_number_wins_over_a_digit_prefix(taskcli, digit_ids):
    taskcli.ok("add", "numbered")
    set_columns(3, digit_ids, number=123456)
    assert taskcli.ok("show", "123456", "--json").json()["title"] == "numbered"
    done = taskcli.ok("done", "123456", "--json").json()
    assert [t["title"] for t in done] == ["numbered"]
    assert [t["status"] for t in stored_tasks()] == ["pending", "pending", "completed"]
    # the longer prefix still names the first task, and both act together
    both = taskcli.ok("start", "123456", "1234567", "--json").json()
    assert [t["number"] for t in both] == [1, 123456]


def test_digit_prefix_matching_nothing_is_not_found(taskcli, digit_ids):
    before = stored_tasks()
    for ref in ("987654", "0000001"):
        result = taskcli("done", ref, "1")
        assert (result.exit_code, result.stdout) == (4, "")
        assert result.stderr == f"error: no task {ref}\n"
    assert stored_tasks() == before
