"""Planning input at the edges: priority letters in files, recurrences spelled two ways,
contradictory options, negative and malformed urgency coefficients, cycles in an import."""

from __future__ import annotations

import json

import pytest

from tests.transfer_support import listed


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("json", '[{"title": "a", "priority": "H"}, {"title": "b", "priority": "l"}]'),
        ("jsonl", '{"title": "a", "priority": "h"}\n{"title": "b", "priority": "L"}\n'),
        ("csv", "title,priority\na,H\nb,low\n"),
    ],
)
def test_import_takes_priority_letters(taskcli, user, fmt, text):
    imported = taskcli("import", "-", "--format", fmt, input=text)
    assert imported.exit_code == 0, imported.stderr
    assert [task["priority"] for task in listed(taskcli)] == ["high", "low"]


def test_reimporting_todotxt_keeps_a_recurrence_spelled_otherwise(taskcli, user):
    for period in ("weekly", "1w", "2w", "biweekly", "yearly", "12m"):
        taskcli.ok("add", f"every {period}", "--due", "2026-12-24", "--recur", period)
    before = taskcli.ok("export").stdout
    todo = taskcli.ok("export", "--format", "todotxt").stdout
    assert "rec:+1w" in todo
    taskcli.ok("import", "-", "--format", "todotxt", input=todo)
    assert taskcli.ok("export").stdout == before  # same recur text, same updated_at


def test_adding_and_removing_the_same_dependency_is_a_usage_error(taskcli, user):
    taskcli.ok("add", "a")
    taskcli.ok("add", "b")
    refused = taskcli("update", "2", "--add-depends", "1", "--remove-depends", "1")
    assert refused.exit_code == 2 and "exclude each other" in refused.stderr
    assert taskcli.ok("show", "2", "--json").json()["depends"] == []


def test_a_context_cannot_say_project_and_no_project(taskcli, user):
    refused = taskcli("context", "define", "odd", "--project", "work", "--no-project")
    assert refused.exit_code == 2 and "exclude each other" in refused.stderr
    assert taskcli.ok("context", "list", "--json").json() == []


def test_a_negative_coefficient_is_a_value_not_an_option(taskcli, user):
    assert taskcli.ok("config", "set", "urgency.blocked", "-8").stdout.strip().endswith("-8.0")
    assert taskcli.ok("config", "get", "urgency.blocked").stdout.strip() == "-8.0"
    assert taskcli("config", "set", "urgency.blocked", "-x").exit_code == 5


def test_an_urgency_entry_that_is_not_a_table_stops_next(taskcli, user, isolated):
    config = isolated / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[profiles.default]\nurgency = 5\n")
    refused = taskcli("next")
    assert refused.exit_code == 5 and len(refused.stderr.strip().splitlines()) == 1
    assert "urgency" in refused.stderr


def test_an_import_closing_a_cycle_reports_it_as_a_rejected_record(taskcli, user):
    first, second = "6f9d3a52-8f4e-4d0b-9c57-2b1f3e0a7d41", "0b1f6c52-5b5e-4a0e-9d4e-3d2f1a6c7e01"
    tasks = [{"id": first, "title": "a", "depends": [second]},
             {"id": second, "title": "b", "depends": [first]}]  # fmt: skip
    refused = taskcli("import", "-", "--format", "json", "--json", input=json.dumps(tasks))
    assert refused.exit_code == 5
    report = refused.json() if refused.stdout else json.loads(refused.stderr)
    assert report["created"] == 0 and len(report["rejected"]) == 1
    assert "cycle" in report["rejected"][0]["error"]
    assert listed(taskcli) == []
