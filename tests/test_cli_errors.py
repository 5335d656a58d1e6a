"""The one error path: interrupts, closed pipes, unexpected errors."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.both_ways


@pytest.mark.in_process("patches core.listing in the test's process")
def test_interrupt_is_exit_130_with_one_line(taskcli, user, monkeypatch):
    from taskcli.core import listing

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(listing, "list_tasks", interrupted)
    result = taskcli("list")
    assert result.exit_code == 130
    assert result.stderr == "error: interrupted\n"
    as_json = taskcli("list", "--json")
    assert as_json.error["code"] == "interrupted"


@pytest.mark.in_process("patches core.listing in the test's process")
def test_unexpected_error_is_one_line_and_traceback_only_with_verbose(taskcli, user, monkeypatch):
    from taskcli.core import listing

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(listing, "list_tasks", broken)
    result = taskcli("list")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: unexpected error: RuntimeError: disk on fire "
        "(hint: run again with --verbose for details)\n"
    )
    verbose = taskcli("list", "--verbose")
    assert "Traceback" in verbose.stderr
    assert verbose.stderr.endswith("(hint: run again with --verbose for details)\n")


def test_a_closed_pipe_ends_output_quietly(taskcli, isolated, tmp_path):
    taskcli.ok("register", "-e", "p@example.com", "--password-stdin", input=PASSWORD)
    source = tmp_path / "many.jsonl"
    source.write_text("".join(json.dumps({"title": f"task {n}"}) + "\n" for n in range(3000)))
    taskcli.ok("import", str(source))
    reader = subprocess.Popen(
        [sys.executable, "-m", "taskcli", "export"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    assert reader.stdout.readline() == b"[\n"
    reader.stdout.close()  # like `| head -1`
    assert reader.wait(timeout=60) == 0
    assert reader.stderr.read() == b""
