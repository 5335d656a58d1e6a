"""Import/export formats: reading samples, rejections, round trips, detection, streaming."""

from __future__ import annotations

import csv
import enum
import io
import json
import re
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from taskcli.core.errors import InvalidInputError
from taskcli.core.formats import (
    FORMATS,
    ParsedRecord,
    detect_format,
    read_records,
    task_to_json,
    write_records,
)
from taskcli.core.formats.records import MAX_RECORD_CHARS, Series, new_record
from taskcli.core.models import TaskCreate, validated

DATA = Path(__file__).parent / "data" / "formats"
UUID_1 = "0b1f6c52-5b5e-4a0e-9d4e-3d2f1a6c7e01"


@pytest.fixture(scope="module", autouse=True)
def new_york_time() -> Iterator[None]:
    """todo.txt dates are local; pin the local zone (UTC-5 in winter) so results are exact."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "America/New_York")
        time.tzset()
        yield
    time.tzset()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def read(text: str, fmt: str) -> list[ParsedRecord]:
    return list(read_records(io.StringIO(text), fmt))


def read_file(name: str, fmt: str) -> list[ParsedRecord]:
    with (DATA / name).open(encoding="utf-8", newline="") as stream:
        return list(read_records(stream, fmt))


def write(records: list[dict[str, Any]], fmt: str) -> str:
    out = io.StringIO()
    assert write_records(records, out, fmt) == len(records)
    return out.getvalue()


def errors(parsed: list[ParsedRecord]) -> list[tuple[str, str]]:
    return [(item.location, item.error) for item in parsed if item.error]


def task(**fields: Any) -> dict[str, Any]:
    record = {**new_record(), "title": "A task"}
    record.update(fields)
    return record


# --- the package surface ---------------------------------------------------------------


def test_formats_lists_every_format_the_cli_offers() -> None:
    assert FORMATS == ("json", "jsonl", "csv", "taskwarrior", "todotxt")


def test_unknown_format_is_invalid_input_before_anything_is_read_or_written() -> None:
    out = io.StringIO()
    with pytest.raises(InvalidInputError) as raised:
        read_records(io.StringIO("[]"), "xml")
    assert "xml" in raised.value.message
    assert raised.value.hint == "choose one of: json, jsonl, csv, taskwarrior, todotxt"
    with pytest.raises(InvalidInputError):
        write_records([task()], out, "yaml")
    assert out.getvalue() == ""


class Status(enum.Enum):
    completed = "completed"


def test_task_to_json_is_the_spec_object() -> None:
    record = task(
        id=uuid.UUID(UUID_1),
        number=7,
        title="Renew passport",
        status=Status.completed,
        priority="high",
        due=datetime(2026, 12, 15, 18, 0, tzinfo=UTC),
        tags={"urgent", "errand"},
        created_at=datetime(2026, 11, 1, 9, 15, 30, 123456, tzinfo=UTC),
        completed_at=datetime(2026, 11, 3, 8, 0),  # naive means UTC
    )
    obj = task_to_json(record)
    assert list(obj) == [
        "id", "number", "title", "description", "status", "priority", "due",
        "project", "tags", "created_at", "updated_at", "completed_at",
        "annotations", "wait", "scheduled", "depends", "recur", "until",
    ]  # fmt: skip
    assert obj == {
        "id": UUID_1,
        "number": 7,
        "title": "Renew passport",
        "description": None,
        "status": "completed",
        "priority": "high",
        "due": "2026-12-15T18:00:00Z",
        "project": None,
        "tags": ["errand", "urgent"],
        "created_at": "2026-11-01T09:15:30Z",
        "updated_at": None,
        "completed_at": "2026-11-03T08:00:00Z",
        "annotations": [],
        "wait": None,
        "scheduled": None,
        "depends": [],
        "recur": None,
        "until": None,
    }
    json.dumps(obj)  # plain JSON types only


# --- json and jsonl ----------------------------------------------------------------------


def test_json_reads_our_export_and_fills_missing_keys() -> None:
    parsed = read_file("tasks.json", "json")
    assert [item.location for item in parsed] == ["index 0", "index 1", "index 2"]
    first, second, third = (item.record for item in parsed)
    assert first == task(
        id="6f9d3a0e-2c1b-4f5e-8a7d-9b0c1d2e3f40",
        number=1,
        title="Renew passport",
        description="Need photos.\nBring the old passport.",
        status="in_progress",
        priority="high",
        due=utc("2026-12-15T23:00:00Z"),
        project="admin",
        tags=["errand", "urgent"],
        created_at=utc("2026-11-01T09:15:00Z"),
        updated_at=utc("2026-11-05T12:00:00Z"),
    )
    assert second["title"] == "Geburtstagsgeschenk für Zoë"
    assert second["completed_at"] == utc("2026-11-10T15:30:00Z")
    assert third == task(title="Only a title")


def test_json_rejects_bad_elements_by_index_and_keeps_reading() -> None:
    text = json.dumps(
        [
            "just text",
            {"title": "ok"},
            {"title": "bad id", "id": "1234"},
            {"title": "bad due", "due": "next friday"},
            {"description": "no title"},
            {"title": "bad status", "status": "done"},
            {"title": "bad tags", "tags": "a b"},
            {"title": "bad number", "number": 1.5},
            {"title": "last", "status": "COMPLETED"},
        ]
    )
    parsed = read(text, "json")
    assert errors(parsed) == [
        ("index 0", "expected a task object, got a string"),
        ("index 2", "id: not a UUID: '1234'"),
        ("index 3", "due: not a timestamp: 'next friday'"),
        ("index 4", "title is missing"),
        ("index 5", "status: expected one of pending, in_progress, completed, got 'done'"),
        ("index 6", "tags: expected an array of strings"),
        ("index 7", "number: not an integer: 1.5"),
    ]
    assert [item.record["title"] for item in parsed if item.record] == ["ok", "last"]
    assert parsed[-1].record["status"] == "completed"


def test_json_syntax_error_ends_the_input_with_its_place() -> None:
    text = '[\n{"title": "one"},\n{"title": "two" "oops"},\n{"title": "three"}\n]'
    parsed = read(text, "json")
    assert parsed[0].record["title"] == "one"
    assert errors(parsed) == [("index 1", "Expecting ',' delimiter at line 3 column 17")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('\n {"title": "not in an array"}', [("line 2", "expected a JSON array ('[')")]),
        ('[{"title": "a"}', [("index 1", "expected ',' or ']', found the end of the input")]),
        ('[{"title": "a"}] trailing', [("index 1", "text after the array at line 1 column 18")]),
    ],
)
def test_json_document_errors(text: str, expected: list[tuple[str, str]]) -> None:
    assert errors(read(text, "json")) == expected


def test_json_accepts_empty_input_and_an_empty_array() -> None:
    assert read("", "json") == []
    assert read(" [ ] \n", "json") == []
    assert read('\ufeff[{"title": "bom"},]', "json")[0].record["title"] == "bom"


def test_json_writer_streams_a_valid_array_and_empty_is_brackets() -> None:
    assert write([], "json") == "[]\n"
    text = write([task(title="Zoë"), task(title="b")], "json")
    assert text.splitlines()[0] == "["
    assert "Zoë" in text  # UTF-8, not \\u escapes
    assert [obj["title"] for obj in json.loads(text)] == ["Zoë", "b"]


def test_jsonl_reads_lines_skipping_blanks_and_rejecting_by_line() -> None:
    parsed = read_file("tasks.jsonl", "jsonl")
    assert [item.location for item in parsed] == ["line 1", "line 3", "line 4", "line 5", "line 6"]
    assert parsed[0].record["due"] == utc("2026-12-15T22:00:00Z")  # offset converted to UTC
    assert parsed[1].record == task(title="Buy milk", tags=["shopping"])
    assert errors(parsed) == [
        ("line 4", "expected a task object, got an array"),
        ("line 5", "not valid JSON: Expecting ',' delimiter at column 21"),
        ("line 6", "id: not a UUID: '1234'"),
    ]


def test_jsonl_writer_writes_one_compact_object_per_line() -> None:
    assert write([], "jsonl") == ""
    lines = write([task(title="a"), task(title="b")], "jsonl").splitlines()
    assert [json.loads(line)["title"] for line in lines] == ["a", "b"]


# --- csv ---------------------------------------------------------------------------------


def test_csv_reads_columns_in_any_order_and_empty_cells_as_null() -> None:
    parsed = read_file("tasks.csv", "csv")
    assert [item.location for item in parsed] == ["line 2", "line 4", "line 5", "line 6"]
    passport, milk, car = (item.record for item in parsed[:3])
    assert passport == task(
        title="Renew passport",
        description="Need photos.\nBring the old passport.",
        status="in_progress",
        priority="high",
        due=utc("2026-12-15T23:00:00Z"),
        tags=["errand", "urgent"],
    )
    assert milk == task(title="Buy milk")
    assert car["tags"] == ["car", "weekend"]  # commas tolerated between tags
    assert errors(parsed) == [("line 6", "due: not a timestamp: 'next friday'")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name,due\nx,\n", [("line 1", "the CSV header has no 'title' column")]),
        ("title,number\na,1\nb\nc,2,3\nd,x\n", [
            ("line 3", "expected 2 cells as in the header, found 1"),
            ("line 4", "expected 2 cells as in the header, found 3"),
            ("line 5", "number: not an integer: 'x'"),
        ]),
        ("title,number\na," + "9" * 5000 + "\n", [
            ("line 2", "number: not an integer: '" + "9" * 55 + "…99'"),  # cut short
        ]),
        ("title,project\n ,home\n", [("line 2", "title is missing")]),
        ("title\n,\n\nok\n", []),  # rows of empty cells are blank lines
    ],
)  # fmt: skip
def test_csv_rejections(text: str, expected: list[tuple[str, str]]) -> None:
    assert errors(read(text, "csv")) == expected


def test_csv_writer_header_and_null_cells() -> None:
    text = write([task(title="Buy milk, eggs", tags=["shop", "today"], number=3)], "csv")
    assert text == (
        "id,number,title,description,status,priority,due,project,tags,"
        "created_at,updated_at,completed_at,annotations,wait,scheduled,depends,recur,until\r\n"
        ',3,"Buy milk, eggs",,,,,,shop today,,,,,,,,,\r\n'
    )


FORMULAS = ['=HYPERLINK("https://evil.example","click")', "=1+1", "+SUM(1,2)", "-2", "@x",
            "\tleading tab", "\rleading return"]  # fmt: skip


def test_csv_guards_cells_a_spreadsheet_would_evaluate() -> None:
    """OWASP's leading ' on every such cell; reading it back gives the original values."""
    tags = ["=1+1", "+SUM(1;2)", "-2", "@x"]
    records = [task(title=value, description=value, project=value) for value in FORMULAS]
    records += [task(tags=[tag, "plain"]) for tag in tags]
    text = write(records, "csv")
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert [[row[2], row[3], row[7]] for row in rows[: len(FORMULAS)]] == [
        ["'" + value] * 3 for value in FORMULAS
    ]
    assert [row[8] for row in rows[len(FORMULAS) :]] == [f"'{tag} plain" for tag in tags]
    assert [item.record for item in read(text, "csv")] == records


def test_csv_keeps_values_that_start_with_a_quote() -> None:
    values = ["'=1+1", "''-2", "'plain", "'", "it's"]
    text = write([task(title=value) for value in values], "csv")
    cells = [row[2] for row in csv.reader(io.StringIO(text, newline=""))][1:]
    assert cells == ["''=1+1", "'''-2", "'plain", "'", "it's"]
    assert [item.record["title"] for item in read(text, "csv")] == values


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.text(), st.text(alphabet="'=+-@\t\r x", max_size=8)))
def test_csv_guard_is_lossless_for_every_string(value: str) -> None:
    from taskcli.core.formats.csv_format import guard_cell, unguard_cell

    guarded = guard_cell(value)
    assert guarded[:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert unguard_cell(guarded) == value


# --- taskwarrior -------------------------------------------------------------------------


def test_taskwarrior_pretty_printed_export() -> None:
    parsed = read_file("taskwarrior-export.json", "taskwarrior")
    # A series (its template at index 3) comes out when the input has ended.
    assert [item.location for item in parsed] == [f"index {n}" for n in (0, 1, 2, 5, 3, 4)]
    assert errors(parsed) == []
    # index 2 is deleted, index 3 the template of the recurring task at index 4
    assert [item.skipped for item in parsed] == [False, False, True, False, True, False]
    passport, gift, _, book, _, plants = (item.record for item in parsed)
    assert passport == task(
        id=UUID_1,
        title="Renew passport",
        status="in_progress",
        priority="high",
        due=utc("2026-12-15T23:00:00Z"),
        project="admin",
        tags=["errand", "urgent"],
        created_at=utc("2026-11-01T09:15:00Z"),
        updated_at=utc("2026-11-05T12:00:00Z"),
        annotations=[
            {"entry": utc("2026-11-02T10:10:10Z"), "text": "need two biometric photos"},
            {"entry": utc("2026-11-03T08:00:00Z"), "text": "appointment Tue 9:00, Bürgeramt"},
        ],
    )
    assert (gift["title"], gift["status"], gift["priority"]) == (
        "Geburtstagsgeschenk für Zoë kaufen", "pending", "medium",
    )  # fmt: skip
    assert (gift["project"], gift["tags"]) == ("family.birthdays", ["café"])
    assert gift["wait"] == utc("2026-11-20T00:00:00Z")
    assert (plants["id"], plants["status"], plants["recur"]) == (
        "0b1f6c52-5b5e-4a0e-9d4e-3d2f1a6c7e05", "pending", "weekly",
    )  # fmt: skip
    assert parsed[-1].series == Series(
        id="0b1f6c52-5b5e-4a0e-9d4e-3d2f1a6c7e04", index=2, anchor=utc("2026-11-06T08:00:00Z")
    )
    assert book["title"] == "日本語の本を返す"
    assert book["status"] == "completed"  # started, then finished
    assert book["completed_at"] == utc("2026-11-10T15:30:00Z")


def test_taskwarrior_one_object_per_line_with_trailing_commas() -> None:
    parsed = read_file("taskwarrior-lines.data", "taskwarrior")
    assert [item.location for item in parsed] == ["line 1", "line 2", "line 3", "line 4"]
    backup, rent = parsed[0].record, parsed[1].record
    assert backup["status"] == "pending"
    assert backup["updated_at"] == utc("2012-01-12T09:00:00Z")
    assert (rent["status"], rent["completed_at"]) == ("completed", utc("2012-02-01T09:00:00Z"))
    assert parsed[2].skipped and parsed[2].record is None
    assert errors(parsed) == [("line 4", "entry: not a Taskwarrior date: '2012-13-45'")]


@pytest.mark.parametrize(
    ("obj", "error"),
    [
        ({"description": "x", "uuid": "nope"}, "uuid: not a UUID: 'nope'"),
        ({"description": "x", "priority": "X"}, "priority: expected H, M or L, got 'X'"),
        ({"description": "x", "status": "gone"}, "status: unknown Taskwarrior status 'gone'"),
        ({"description": "x", "due": 20261201}, "due: expected a date string, got a number"),
        ({"description": "x", "start": "soon"}, "start: not a Taskwarrior date: 'soon'"),
        ({"uuid": UUID_1, "status": "pending"}, "description is missing"),
        ({"description": "x", "annotations": [{"entry": "20261101T000000Z"}]},
         "annotations: each needs a description string"),
        ({"description": "x", "tags": "home"}, "tags: expected an array of strings"),
        ({"description": "x", "annotations": [{"description": "n"}]},
         "annotations: each needs an entry date"),
        ({"description": "x", "depends": "nope"}, "depends: not a UUID: 'nope'"),
        ({"description": "x", "wait": "later"}, "wait: not a Taskwarrior date: 'later'"),
        ({"description": "x", "parent": UUID_1, "imask": 1.5},
         "imask: expected an instance index, got 1.5"),
    ],
)  # fmt: skip
def test_taskwarrior_rejections(obj: dict[str, Any], error: str) -> None:
    assert errors(read(json.dumps([obj]), "taskwarrior")) == [("index 0", error)]
    assert errors(read(json.dumps(obj), "taskwarrior")) == [("line 1", error)]


UUID_2 = "0b1f6c52-5b5e-4a0e-9d4e-3d2f1a6c7e02"
TEMPLATE = {"uuid": UUID_1, "status": "recurring", "description": "Water", "recur": "weekly",
            "due": "20261106T080000Z", "until": "20270101T000000Z", "mask": "+--"}  # fmt: skip


def instance(number: int, index: object, status: str = "pending", **more: Any) -> dict[str, Any]:
    return {"uuid": f"0b1f6c52-5b5e-4a0e-9d4e-3d2f1a6c7e1{number}", "status": status,
            "description": "Water", "recur": "weekly", "parent": UUID_1, "imask": index,
            "due": f"202611{6 + 7 * int(index):02d}T080000Z", **more}  # fmt: skip


@pytest.mark.parametrize("order", ["template first", "template last"])
def test_taskwarrior_series_is_one_recurring_task(order: str) -> None:
    """The open instance with the lowest index is the task, in the template's series and
    with its recur and until; later open instances and the template are skipped; a
    completed instance stays a completed task."""
    objects = [instance(2, 2.0), instance(1, 1), instance(0, 0, "completed"), TEMPLATE]
    if order == "template first":
        objects = [TEMPLATE, *objects[:3]]
    parsed = read(json.dumps(objects), "taskwarrior")
    records = [item.record for item in parsed if item.record]
    assert sum(item.skipped for item in parsed) == 2
    done, kept = records
    assert (done["id"], done["status"]) == ("0b1f6c52-5b5e-4a0e-9d4e-3d2f1a6c7e10", "completed")
    assert (kept["id"], kept["status"], kept["due"]) == (
        "0b1f6c52-5b5e-4a0e-9d4e-3d2f1a6c7e11", "pending", utc("2026-11-13T08:00:00Z"),
    )  # fmt: skip
    assert (kept["recur"], kept["until"]) == ("weekly", utc("2027-01-01T00:00:00Z"))
    [series] = [item.series for item in parsed if item.series]
    assert series == Series(id=UUID_1, index=1, anchor=utc("2026-11-06T08:00:00Z"))


def test_taskwarrior_template_without_open_instance_is_the_recurring_task() -> None:
    parsed = read(json.dumps([instance(0, 0, "completed"), TEMPLATE]), "taskwarrior")
    assert [item.skipped for item in parsed] == [False, False]
    template = parsed[1].record
    assert (template["id"], template["status"], template["recur"]) == (UUID_1, "pending", "weekly")
    assert parsed[1].series is None  # a series that starts at the template itself


def test_taskwarrior_templates_without_uuid_or_twice_are_each_read() -> None:
    """Nothing held back is lost: each template is a record (the importer rejects an id
    that appears twice)."""
    nameless = {key: value for key, value in TEMPLATE.items() if key != "uuid"}
    parsed = read(json.dumps([nameless, nameless, TEMPLATE, TEMPLATE]), "taskwarrior")
    assert [item.record["id"] for item in parsed] == [None, None, UUID_1, UUID_1]


def test_taskwarrior_instance_without_its_template_is_an_ordinary_task() -> None:
    [item] = read(json.dumps([instance(1, 1)]), "taskwarrior")
    assert (item.record["recur"], item.series) == ("weekly", None)


@pytest.mark.parametrize(
    ("recur", "period"),
    [("daily", "daily"), ("weekdays", "weekdays"), ("weekly", "weekly"), ("biweekly", "biweekly"),
     ("fortnight", "biweekly"), ("monthly", "monthly"), ("quarterly", "quarterly"),
     ("yearly", "yearly"), ("annual", "yearly"), ("semiannual", "6m"), ("bimonthly", "2m"),
     ("2d", "2d"), ("3wks", "3w"), ("2mos", "2m"), ("2q", "6m"), ("1yr", "1y"), ("P10D", "10d"),
     ("Weekly", "weekly")],
)  # fmt: skip
def test_taskwarrior_periods_map_to_taskcli_periods(recur: str, period: str) -> None:
    [item] = read(json.dumps([{"description": "x", "recur": recur}]), "taskwarrior")
    assert item.record["recur"] == period


@pytest.mark.parametrize("recur", ["4h", "30min", "10s", "0d", "99999d", "sennight", 7])
def test_taskwarrior_period_without_a_taskcli_one_rejects_the_task(recur: object) -> None:
    [item] = read(json.dumps([{"description": "x", "recur": recur}]), "taskwarrior")
    assert item.error is not None and item.error.startswith("recur: ")


def test_taskwarrior_depends_as_array_or_older_comma_text() -> None:
    both = f"{UUID_1},{UUID_2}"
    for depends in ([UUID_1, UUID_2], both, f"{UUID_1.upper()}, {UUID_2}"):
        [item] = read(json.dumps([{"description": "x", "depends": depends}]), "taskwarrior")
        assert item.record["depends"] == [UUID_1, UUID_2]


def test_taskwarrior_deleted_is_skipped_even_when_malformed() -> None:
    parsed = read('[{"status": "deleted", "entry": "garbage"}]', "taskwarrior")
    assert parsed == [ParsedRecord("index 0", skipped=True)]


def test_taskwarrior_writer_uses_export_form() -> None:
    record = task(
        id=UUID_1,
        number=4,
        title="Renew passport",
        description="need photos",
        status="in_progress",
        priority="high",
        due=utc("2026-12-15T23:00:00Z"),
        project="admin",
        tags=["errand"],
        created_at=utc("2026-11-01T09:15:00Z"),
        updated_at=utc("2026-11-05T12:00:00Z"),
        annotations=[{"entry": utc("2026-11-02T10:00:00Z"), "text": 'call "them", é'}],
        wait=utc("2026-11-10T00:00:00Z"),
        scheduled=utc("2026-11-12T00:00:00Z"),
        depends=[uuid.UUID(UUID_2)],
    )
    [obj] = json.loads(write([record], "taskwarrior"))
    assert obj == {
        "uuid": UUID_1,
        "description": "Renew passport",
        "status": "pending",
        "entry": "20261101T091500Z",
        "modified": "20261105T120000Z",
        "start": "20261101T091500Z",
        "due": "20261215T230000Z",
        "wait": "20261110T000000Z",
        "scheduled": "20261112T000000Z",
        "priority": "H",
        "project": "admin",
        "tags": ["errand"],
        "depends": [UUID_2],
        "annotations": [{"entry": "20261102T100000Z", "description": 'call "them", é'}],
        "taskcli_description": "need photos",  # Taskwarrior has none: it keeps ours as is
    }
    done = task(title="t", status="completed", completed_at=utc("2026-11-03T08:00:00Z"))
    [obj] = json.loads(write([done], "taskwarrior"))
    assert (obj["status"], obj["end"]) == ("completed", "20261103T080000Z")
    assert write([], "taskwarrior") == "[]\n"


def test_taskwarrior_writer_gives_an_open_recurring_task_a_template() -> None:
    """As Taskwarrior keeps it: the task is instance 0 of a template whose uuid comes from
    the task's, and reading it back gives the task alone; a done one has no template."""
    due, until = utc("2026-12-01T08:00:00Z"), utc("2027-06-01T00:00:00Z")
    record = task(id=UUID_1, status="in_progress", due=due, recur="2y", until=until)
    template, obj = json.loads(write([record], "taskwarrior"))
    assert template == {
        "uuid": template["uuid"], "description": "A task", "status": "recurring", "mask": "-",
        "due": "20261201T080000Z", "until": "20270601T000000Z", "recur": "24m",
    }  # fmt: skip
    assert (obj["uuid"], obj["parent"], obj["imask"], obj["recur"]) == (
        UUID_1, template["uuid"], 0, "24m",
    )  # fmt: skip
    assert "start" in obj and json.loads(write([record], "taskwarrior"))[0] == template
    parsed = read(write([record], "taskwarrior"), "taskwarrior")
    assert [item.skipped for item in parsed] == [True, False]
    assert parsed[1].record == {**record, "recur": "24m"}
    assert parsed[1].series == Series(id=template["uuid"], index=0, anchor=due)
    done = {**record, "status": "completed", "completed_at": until}
    [obj] = json.loads(write([done], "taskwarrior"))
    assert (obj["status"], obj["recur"], "parent" in obj) == ("completed", "24m", False)


# --- todo.txt ----------------------------------------------------------------------------


def test_todotxt_sample() -> None:
    parsed = read_file("todo.txt", "todotxt")
    assert [item.location for item in parsed] == [f"line {n}" for n in (1, 2, 4, 5, 6, 7, 8, 9)]
    dentist, report, cleaning, bill, books, resume, read_docs, _ = (item.record for item in parsed)
    assert dentist == task(
        title="Call the dentist about the crown",
        status="pending",
        priority="high",
        project="health",
        tags=["phone"],
        due=utc("2026-11-21T04:59:59Z"),  # end of the local (New York) day
        created_at=utc("2026-11-01T04:00:00Z"),  # local midnight, still summer time
    )
    assert (report["priority"], report["project"], report["tags"]) == (
        "medium", "work", ["finance", "office"],
    )  # fmt: skip
    assert report["title"] == "Draft the quarterly report"  # t:2026-11-10 removed
    assert report["scheduled"] == utc("2026-11-10T05:00:00Z")  # the local day's start
    assert cleaning == task(title="Pick up dry cleaning", status="pending", tags=["errands"])
    assert (bill["status"], bill["priority"]) == ("completed", None)
    assert bill["completed_at"] == utc("2026-11-03T05:00:00Z")
    assert bill["created_at"] == utc("2026-11-01T04:00:00Z")
    assert (books["priority"], books["created_at"]) == ("low", None)
    assert books["completed_at"] == utc("2026-11-04T05:00:00Z")
    assert (resume["title"], resume["status"]) == ("Résumé für Zoë übersetzen", "in_progress")
    assert resume["due"] == utc("2026-12-25T04:59:59Z")
    assert read_docs["title"] == "Read https://docs.python.org/3/ at 10:30"
    assert read_docs["id"] is None  # uuid: that is not a UUID is just dropped
    assert read_docs["recur"] == "weekly"
    assert errors(parsed) == [("line 9", "due: not a date (YYYY-MM-DD): '2026-02-30'")]


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("(D) low anyway", "priority", "low"),
        ("(Z) still low", "priority", "low"),
        ("(a) lower case is text", "title", "(a) lower case is text"),
        ("x pri:A done later", "priority", "high"),
        ("x status:in_progress done wins", "status", "completed"),
        (f"ours uuid:{UUID_1.upper()}", "id", UUID_1),
        ("+solo is the project", "project", "solo"),
        ("a lone + and @ stay", "title", "a lone + and @ stay"),
        ("2026-11-01 2026-11-02 second date is text", "title", "2026-11-02 second date is text"),
        ("t:2026-07-01 summer", "scheduled", utc("2026-07-01T04:00:00Z")),
        ("rec:1w", "recur", "weekly"),
        ("rec:+2w", "recur", "biweekly"),
        ("rec:d", "recur", "daily"),
        ("rec:m", "recur", "monthly"),
        ("rec:+3m", "recur", "quarterly"),
        ("rec:y", "recur", "yearly"),
        ("rec:1b", "recur", "weekdays"),
        ("rec:+10D", "recur", "10d"),
        ("rec:2y", "recur", "2y"),
    ],
)
def test_todotxt_details(line: str, field: str, value: Any) -> None:
    [item] = read(line, "todotxt")
    assert item.record[field] == value


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("x 2026-13-01 bad month", "date: not a date (YYYY-MM-DD): '2026-13-01'"),
        ("task pri:1", "pri: expected a priority letter A-Z, got '1'"),
        ("task due:tomorrow", "due: not a date (YYYY-MM-DD): 'tomorrow'"),
        ("task t:soon", "t: not a date (YYYY-MM-DD): 'soon'"),
        ("task rec:2b", "rec: expected a period such as 1w, +2d, m or 1b (weekdays), got '2b'"),
        ("task rec:1h", "rec: expected a period such as 1w, +2d, m or 1b (weekdays), got '1h'"),
    ],
)
def test_todotxt_rejections(line: str, error: str) -> None:
    assert errors(read(f"fine\n{line}\n", "todotxt")) == [("line 2", error)]


def test_todotxt_writer_line() -> None:
    record = task(
        id=UUID_1,
        title="Pay   the bill",
        status="completed",
        priority="high",
        project="home",
        tags=["computer", "urgent"],
        due=utc("2026-12-02T04:59:59Z"),
        created_at=utc("2026-11-01T12:00:00Z"),
        completed_at=utc("2026-11-21T03:00:00Z"),  # still 20 November in New York
        description="cannot be held",
    )
    assert write([record], "todotxt") == (
        "x (A) 2026-11-20 2026-11-01 Pay title:%20%20the bill +home @computer @urgent "
        f"due:2026-12-01 uuid:{UUID_1}\n"
    )
    started = task(title="Write", status="in_progress", priority="medium")
    assert write([started], "todotxt") == "(B) Write status:in_progress\n"
    planned = task(title="Plan", due=utc("2026-12-02T04:59:59Z"), recur="quarterly",
                   scheduled=utc("2026-11-25T05:00:00Z"))  # fmt: skip
    assert write([planned], "todotxt") == "Plan due:2026-12-01 t:2026-11-25 rec:+3m\n"
    assert write([{**planned, "recur": "weekdays"}], "todotxt").endswith(" rec:+1b\n")
    assert write([{**planned, "recur": "10d"}], "todotxt").endswith(" rec:+10d\n")
    # a done line without a completion date cannot carry a creation date
    done = task(title="Old", status="completed", created_at=utc("2026-11-01T12:00:00Z"))
    assert write([done], "todotxt") == "x Old\n"


@pytest.mark.parametrize(
    ("title", "written"),
    [
        ("+SUM(1,2)", "title:+SUM(1,2)"),
        ("@home @work", "title:@home title:@work"),
        ("Call +44 at 10:30, see http://x/y", "Call title:+44 at 10:30, see http://x/y"),
        ("x marks the spot", "title:x marks the spot"),
        ("(A) 2026-01-01 due:soon", "title:(A) 2026-01-01 title:due%3Asoon"),
        ("100% title:x", "100% title:title%3Ax"),
    ],
)  # fmt: skip
def test_todotxt_title_words_that_would_read_as_markup_are_encoded(title: str, written: str):
    record = task(title=title, status="pending", project="p")
    assert write([record], "todotxt") == f"{written} +p\n"
    [item] = read(write([record], "todotxt"), "todotxt")
    assert (item.record["title"], item.record["project"], item.record["tags"]) == (title, "p", [])


# --- round trips -------------------------------------------------------------------------

ROUND_TRIP_RECORDS = [
    task(
        id=UUID_1,
        number=1,
        title="Renew passport (Bürgeramt)",
        description='Need photos.\nBring the old one, "just in case".',
        status="in_progress",
        priority="high",
        due=utc("2026-12-16T04:59:59Z"),
        project="admin",
        tags=["errand", "urgent"],
        created_at=utc("2026-11-01T13:15:00Z"),
        updated_at=utc("2026-11-05T12:00:00Z"),
    ),
    task(
        id="0b1f6c52-5b5e-4a0e-9d4e-3d2f1a6c7e02",
        number=2,
        title="日本語の本を返す",
        status="completed",
        priority="low",
        tags=["library"],
        created_at=utc("2026-11-03T12:00:00Z"),
        updated_at=utc("2026-11-10T15:30:00Z"),
        completed_at=utc("2026-11-10T15:30:00Z"),
    ),
    task(
        id="0b1f6c52-5b5e-4a0e-9d4e-3d2f1a6c7e03",
        number=3,
        title="Buy milk, eggs; bread",
        status="pending",
        priority="medium",
        project="home.kitchen",
        created_at=utc("2026-11-04T08:00:00Z"),
        updated_at=utc("2026-11-04T08:00:00Z"),
        annotations=[{"entry": utc("2026-11-04T09:00:00Z"), "text": 'ask "Zoë", then go'}],
        due=utc("2026-11-06T04:59:59Z"),
        wait=utc("2026-11-05T05:00:00Z"),
        scheduled=utc("2026-11-05T05:00:00Z"),
        depends=[UUID_1],
        recur="weekly",
        until=utc("2027-01-01T04:59:59Z"),
    ),
]


def local_day(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone().date().isoformat()


def holdable(record: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The part of a record that ``fmt`` can carry."""
    if fmt == "taskwarrior":
        return {**record, "number": None, "description": None}
    if fmt == "todotxt":
        kept = {
            key: record[key]
            for key in ("id", "title", "status", "priority", "project", "tags", "recur")
        }
        days = ("due", "created_at", "completed_at", "scheduled")
        return kept | {key: local_day(record[key]) for key in days}
    return record


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_keeps_every_field_the_format_holds(fmt: str) -> None:
    parsed = read(write(ROUND_TRIP_RECORDS, fmt), fmt)
    assert errors(parsed) == []
    # (a recurring task comes with its template in Taskwarrior: skipped when read)
    assert [holdable(item.record, fmt) for item in parsed if item.record] == [
        holdable(record, fmt) for record in ROUND_TRIP_RECORDS
    ]


def stripped_text(max_size: int) -> st.SearchStrategy[str]:
    alphabet = st.characters(blacklist_categories=("Cs",))
    return st.text(alphabet, min_size=1, max_size=max_size).map(str.strip).filter(bool)


words = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters=","),
    min_size=1,
    max_size=12,
)
instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda value: value.replace(microsecond=0))
annotation_texts = st.one_of(
    stripped_text(40),
    st.sampled_from(['say "hi", then go', "Zoë, 日本 🎉", '"quoted", comma', "a,b;c", "'"]),
)
annotations = st.lists(
    st.fixed_dictionaries({"entry": instants, "text": annotation_texts}), max_size=3
)
periods = st.one_of(
    st.sampled_from(["daily", "weekdays", "weekly", "biweekly", "monthly", "quarterly", "yearly"]),
    st.builds("{}{}".format, st.integers(1, 9999), st.sampled_from("dwmy")),
)
records = st.builds(
    task,
    id=st.one_of(st.none(), st.uuids().map(str)),
    number=st.one_of(st.none(), st.integers(min_value=1, max_value=2**40)),
    title=stripped_text(60),
    description=st.one_of(st.none(), stripped_text(200)),
    status=st.sampled_from(["pending", "in_progress", "completed"]),
    priority=st.one_of(st.none(), st.sampled_from(["low", "medium", "high"])),
    due=st.one_of(st.none(), instants),
    project=st.one_of(st.none(), words),
    tags=st.lists(words, max_size=4, unique=True),
    created_at=st.one_of(st.none(), instants),
    updated_at=st.one_of(st.none(), instants),
    completed_at=st.one_of(st.none(), instants),
    annotations=annotations,
    wait=st.one_of(st.none(), instants),
    scheduled=st.one_of(st.none(), instants),
    depends=st.lists(st.uuids().map(str), max_size=3, unique=True),
    recur=st.one_of(st.none(), periods),
    until=st.one_of(st.none(), instants),
)


@settings(max_examples=150, deadline=None)
@given(batch=st.lists(records, max_size=4), fmt=st.sampled_from(["json", "jsonl", "csv"]))
def test_round_trip_of_arbitrary_records(batch: list[dict[str, Any]], fmt: str) -> None:
    """Every field, the planning ones included, reads back as written; and writing what
    was read gives the same bytes."""
    text = write(batch, fmt)
    parsed = [item.record for item in read(text, fmt)]
    assert parsed == batch
    assert write(parsed, fmt) == text


@settings(max_examples=150, deadline=None)
@given(batch=st.lists(records, max_size=4))
def test_taskwarrior_round_trip_of_arbitrary_records(batch: list[dict[str, Any]]) -> None:
    parsed = [item.record for item in read(write(batch, "taskwarrior"), "taskwarrior")]

    # An open recurring task is written with its template: read, it comes after the rest.
    def in_series(record: dict[str, Any]) -> bool:
        return bool(record["recur"] and record["id"] and record["status"] != "completed")

    batch = sorted(batch, key=in_series)
    for before, after in zip(batch, [record for record in parsed if record], strict=True):
        years = re.fullmatch(r"(\d+)y", before["recur"] or "")
        if years and int(years.group(1)) > 833:  # more than 9999 months: kept in years
            years = None
        expected = {
            **before,
            "number": None,
            "annotations": sorted(before["annotations"], key=lambda note: note["entry"]),
            "recur": f"{int(years.group(1)) * 12}m" if years else before["recur"],
        }
        if before["status"] != "completed":
            expected["completed_at"] = None
        assert after == expected


def accepted_title(text: str) -> str | None:
    """The title taskcli stores for ``text``, or None when it refuses it."""
    try:
        return validated(TaskCreate, {"title": text}).title
    except InvalidInputError:
        return None


TODO_FRAGMENTS = [
    "x", "(A)", "(b)", "2026-11-01", "+p", "@c", "+", "@", "due:2026-12-01", "due:x", "pri:A",
    "pri:", "uuid:" + UUID_1, "status:in_progress", "title:", "title:a%20b", "t:1", "10:30",
    "http://x/y", "%", "%41", ":", "/", "/a:b", "  ", " ", "\u00a0", "\u3000", "\u200b", "é",
]  # fmt: skip
titles = (
    st.lists(st.one_of(st.sampled_from(TODO_FRAGMENTS), st.text(max_size=5)), min_size=1,
             max_size=8)
    .flatmap(lambda parts: st.sampled_from(["", " "]).map(lambda sep: sep.join(parts)))
    .map(accepted_title)
    .filter(lambda title: title is not None)
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(record=records, title=titles)
def test_todotxt_round_trip_keeps_every_title_taskcli_accepts(
    record: dict[str, Any], title: str
) -> None:
    """The title comes back exactly, and the rest of the line reads as with a plain title."""
    [plain] = read(write([{**record, "title": "plain"}], "todotxt"), "todotxt")
    [item] = read(write([{**record, "title": title}], "todotxt"), "todotxt")
    assert item.record == {**plain.record, "title": title}


# --- detection ---------------------------------------------------------------------------

TW_TEXT = (DATA / "taskwarrior-export.json").read_text(encoding="utf-8")
TW_HEAD = TW_TEXT[: TW_TEXT.index('"uuid"') + 10]  # cut inside the first object


@pytest.mark.parametrize(
    ("filename", "head", "expected"),
    [
        ("tasks.jsonl", "", "jsonl"),
        ("feed.NDJSON", "[]", "jsonl"),
        ("export.CSV", "", "csv"),
        ("todo.txt", '[{"uuid": "x", "entry": "y"}]', "todotxt"),
        ("/home/me/done.txt", "", "todotxt"),
        ("tasks.json", '[{"title": "a"}]', "json"),
        ("tasks.json", '[{"uuid": "u", "entry": "20261101T000000Z", "description": "a"}]',
         "taskwarrior"),
        ("tasks.json", TW_HEAD, "taskwarrior"),
        ("tasks.json", "title,due\n", "json"),
        ("tasks.json", '{"uuid": "u", "entry": "e", "description": "d"},\n', "taskwarrior"),
        (None, "\ufeff \n[]", "json"),
        ("-", '{"title": "a"}\n{"title": "b"}\n', "jsonl"),
        (None, '{"description":"a","entry":"20120110T231200Z","uuid":"u"}\n', "taskwarrior"),
        ("tw.data", '[\n  {\n    "id": 1,\n    "uuid": "u",\n    "entry": ', "taskwarrior"),
        (None, "Priority, Title ,due\nhigh,a,\n", "csv"),
        ("export", "title\n", "csv"),
        (None, "(A) Call mum +family\n", "todotxt"),
        (None, "Call mum +family\nBuy milk\n", "todotxt"),  # half the lines marked
        ("notes", "x 2026-11-03 Pay the bill\n", "todotxt"),
        ("notes.md", (DATA / "todo.txt").read_text(encoding="utf-8"), "todotxt"),
        ("notes.txt", "Any text at all\n", "todotxt"),  # the name says so
        ("tasks.json", "Read the title\n", "json"),  # the name says so: the reader reports
        (None, "", "todotxt"),
        (None, " \n\n", "todotxt"),
    ],
)  # fmt: skip
def test_detect_format(filename: str | None, head: str, expected: str) -> None:
    assert detect_format(filename, head) == expected


REPO = Path(__file__).parents[1]
CSV_ROWS = "".join((DATA / "tasks.csv").read_text(encoding="utf-8").splitlines(True)[1:])


@pytest.mark.parametrize(
    ("filename", "head"),
    [
        ("README.md", (REPO / "README.md").read_text(encoding="utf-8")[:8192]),
        ("detect.py", (REPO / "taskcli/core/formats/detect.py").read_text(encoding="utf-8")),
        ("rows.dat", CSV_ROWS),  # a CSV file without its header
        (None, "Read the title, then the abstract\nand then the rest\n"),  # prose
        (None, "Call mum +family\nBuy milk\nWalk the dog\n"),  # mostly unmarked
        (None, "(A) Call mum\n# a heading\n"),
        (None, "x done\n    indented code\n"),
        (None, "2026-11-01 12:00:03 INFO started\n2026-11-01 12:00:04 INFO ready\n"),  # a log
        ("-", "- [ ] a Markdown @todo list\n"),
    ],
)  # fmt: skip
def test_detect_format_refuses_what_is_not_recognisably_a_format(
    filename: str | None, head: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        detect_format(filename, head)
    where = "the input" if filename in (None, "-") else filename
    assert refused.value.message == (
        f"cannot tell the format of {where}: it is not recognisably one of json, jsonl, csv, "
        "taskwarrior or todotxt"
    )
    assert refused.value.exit_code == 5
    assert "--format" in refused.value.hint


# --- robustness and streaming ------------------------------------------------------------

FRAGMENTS = [
    "[", "]", "{", "}", ",", ":", '"', "\n", " ", "\\", "x ", "(A) ", "+p ", "@c ",
    '"title"', '"uuid"', '"entry"', '"status"', '"deleted"', '"start"', '"description"',
    '"annotations"', '"tags"', '"due"', "null", "true", "1e400", "-0", "2026-11-01 ",
    "0001-01-01 ", "9999-12-31T23:59:59-01:00", "20261101T000000Z", "due:", "pri:",
    "uuid:", f"{UUID_1}", "title,tags,due\n", '"a\nb"',
]  # fmt: skip
fragment_text = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(st.text(), fragment_text), fmt=st.sampled_from(FORMATS))
def test_readers_never_raise_on_arbitrary_text(text: str, fmt: str) -> None:
    for item in read(text, fmt):
        assert [item.record is not None, item.error is not None, item.skipped].count(True) == 1
        if item.record is not None:
            assert set(item.record) == set(task())
            assert isinstance(item.record["title"], str)


class TrickleStream(io.StringIO):
    """A stream that hands out at most three characters per read, like a slow pipe."""

    def read(self, size: int | None = -1) -> str:
        return super().read(3 if size is None or size < 0 else min(size, 3))


@settings(max_examples=300, deadline=None)
@given(text=fragment_text, fmt=st.sampled_from(["json", "taskwarrior"]))
@example(text="[1e400", fmt="json")  # a chunk ending inside a number ("1e")
@example(text="[2.5,1]", fmt="json")
def test_json_arrays_read_the_same_in_tiny_chunks(text: str, fmt: str) -> None:
    assert list(read_records(TrickleStream(text), fmt)) == read(text, fmt)


def test_json_error_position_counts_lines_already_read_and_dropped() -> None:
    lines = ["["] + [f'{{"title": "task {n}", "number": {n}}},' for n in range(5000)]
    text = "\n".join(lines) + '\n  {"title": "broken" "here"}\n]'
    parsed = read(text, "json")
    assert len(parsed) == 5001  # far more than one 64 KiB chunk
    assert parsed[-1] == ParsedRecord(
        "index 5000", error="Expecting ',' delimiter at line 5002 column 22"
    )


class CountingSource:
    """A text source of ``size`` characters that keeps nothing but how many were handed out."""

    def __init__(self, text: str) -> None:
        self.stream = io.StringIO(text)
        self.handed_out = 0

    def _counted(self, text: str) -> str:
        self.handed_out += len(text)
        return text

    def read(self, size: int | None = -1) -> str:
        return self._counted(self.stream.read(size))

    def readline(self, size: int | None = -1) -> str:
        return self._counted(self.stream.readline(size))

    def __iter__(self) -> CountingSource:
        return self

    def __next__(self) -> str:
        if line := self.readline():
            return line
        raise StopIteration


HUGE = 8 * MAX_RECORD_CHARS
LINE_STARTS = {"jsonl": '{"title": "a"}\n', "todotxt": "a\n", "csv": "title\na\n",
               "taskwarrior": f'{{"uuid": "{UUID_1}", "description": "a"}}\n'}  # fmt: skip


@pytest.mark.parametrize("fmt", list(LINE_STARTS))
def test_a_line_longer_than_a_record_ends_the_input_after_reading_one_mib(fmt: str) -> None:
    source = CountingSource(LINE_STARTS[fmt] + "x" * HUGE + "\nnever read\n")
    parsed = list(read_records(source, fmt))  # type: ignore[arg-type]
    line = LINE_STARTS[fmt].count("\n") + 1
    assert errors(parsed) == [
        (f"line {line}", "longer than 1 MiB, which no task record is (nothing after it was read)")
    ]
    assert source.handed_out < MAX_RECORD_CHARS + 128 * 1024  # not the 8 MiB of it


@pytest.mark.parametrize("length", [MAX_RECORD_CHARS - 20, MAX_RECORD_CHARS])
def test_a_line_of_up_to_one_mib_is_read(length: int) -> None:
    line = '{"title": "' + "y" * (length - 13) + '"}\r\n'
    [item] = read(line, "jsonl")
    assert item.error is None and len(item.record["title"]) == length - 13


def peak_memory_of(work) -> int:
    return traced(work)[1]


def traced(work, *args: Any) -> tuple[Any, int]:
    """What ``work(*args)`` returns, and the peak of the memory it allocated (bytes)."""
    tracemalloc.start()
    try:
        value = work(*args)
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_leading_whitespace_is_read_past_without_keeping_it(tmp_path: Path) -> None:
    from taskcli.core.transfer import detect_format as detect_stream

    path = tmp_path / "tasks"
    tw_task = {"uuid": UUID_1, "entry": "20261101T000000Z", "description": "after"}
    path.write_text(" \n" * (HUGE // 2) + json.dumps([tw_task]))
    with path.open(encoding="utf-8") as stream:
        found: list[str] = []
        peak = peak_memory_of(lambda: found.append(detect_stream(stream, "tasks")))
        assert found == ["taskwarrior"]  # the content after the whitespace decides
        assert peak < 1024 * 1024
        parsed: list[ParsedRecord] = []
        peak = peak_memory_of(lambda: parsed.extend(read_records(stream, "taskwarrior")))
    assert [item.record["title"] for item in parsed if item.record] == ["after"]
    assert peak < 1024 * 1024  # the 8 MiB of whitespace was not held


class CountingSink(io.TextIOBase):
    """A text sink that keeps nothing but the number of characters written."""

    def __init__(self) -> None:
        self.chars = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


# Flat memory is shown by the peak at two sizes: holding the records (or the text written)
# would make the larger run's peak higher by at least the difference in size, which is
# megabytes (a parsed record takes over a kilobyte, a written one over 50 characters).
WRITE_SIZES = (20_000, 40_000)
READ_SIZES = (10_000, 20_000)
GROWTH_LIMIT = 256 * 1024
PEAK_LIMIT = 20 * 1024 * 1024


def many_records(count: int) -> Iterator[dict[str, Any]]:
    template = ROUND_TRIP_RECORDS[0]
    for number in range(1, count + 1):
        yield {**template, "id": str(uuid.UUID(int=number)), "number": number}


def count_read(stream, fmt: str) -> int:
    return sum(1 for item in read_records(stream, fmt) if item.record is not None)


def assert_flat(peaks: list[int]) -> None:
    smaller, larger = peaks
    assert larger - smaller < GROWTH_LIMIT, peaks  # twice the records, no more memory…
    assert larger < PEAK_LIMIT, peaks  # …and little of it at all


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_writing_streams_with_flat_memory(fmt: str) -> None:
    peaks = []
    for size in WRITE_SIZES:
        sink = CountingSink()
        count, peak = traced(write_records, many_records(size), sink, fmt)
        peaks.append(peak)
        assert count == size
        assert sink.chars > size * 50  # everything went through the sink…
    assert_flat(peaks)  # …and none of it stayed


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_reading_streams_with_flat_memory(fmt: str, tmp_path: Path) -> None:
    peaks = []
    for size in READ_SIZES:
        path = tmp_path / f"tasks-{size}.{fmt}"
        with path.open("w", encoding="utf-8", newline="") as out:
            write_records(many_records(size), out, fmt)
        with path.open(encoding="utf-8", newline="") as stream:
            count, peak = traced(count_read, stream, fmt)
        peaks.append(peak)
        assert count == size
    assert_flat(peaks)
