"""Text fields and the terminal (SPEC §16): input refuses C0/C1 control characters and
accepts the format characters real text uses; output escapes any control character that
reaches it anyway (older rows, a direct database write), on a terminal and piped."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import PASSWORD, run_process
from tests.tasks_support import SGR, run_in_pty, set_columns, stored_tasks, user_id
from tests.transfer_support import task_object, write_json

# Window title, clipboard write (OSC 52), hidden link (OSC 8), bell, erase screen, and
# the 8-bit CSI (U+009B) that some terminals take for ESC [.
OSC_52 = "\x1b]52;c;aGVsbG8=\x07"
HOSTILE = {
    "title": f"pay {OSC_52} rent \x1b[2J now \x9b31m red",
    "description": "see \x1b]8;;https://evil.example\x07here\x1b]8;;\x07\nsecond \x1b]0;pwned\x07",
    "project": "home\x1b[2J",
    "tags": ["bill\x07", "\x9b1m"],
}
# Characters a terminal acts on; what is left once rich's own colour sequences are removed.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def no_raw_controls(text: str) -> bool:
    return RAW_CONTROL.search(SGR.sub("", text)) is None


# ---- input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["add", "bell\x07"], "title"),
        (["add", f"copy {OSC_52}"], "title"),
        (["add", "csi \x9b2J"], "title"),
        (["add", "del \x7f"], "title"),
        (["add", "t", "-d", "erase \x1b[2J"], "description"),
        (["add", "t", "-d", "over\rwrite"], "description"),
        (["add", "t", "-d", "c1 \x85 next line"], "description"),
        (["add", "t", "--project", "p\x1b]0;x\x07"], "project"),
        (["add", "t", "-t", "ok", "-t", "t\x9b"], "tags"),
    ],
    ids=repr,
)
def test_add_refuses_control_characters_naming_the_field(taskcli, user, args, field):
    refused_naming(taskcli, args, field)


@pytest.mark.in_process("an argument cannot carry a NUL byte through exec")
def test_add_refuses_a_nul_naming_the_field(taskcli, user):
    refused_naming(taskcli, ["add", "nul \x00"], "title")


def refused_naming(taskcli, args: list[str], field: str) -> None:
    result = taskcli(*args)
    assert (result.exit_code, result.stdout) == (5, ""), result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {field}: ") and "control characters" in line, line
    assert no_raw_controls(result.stderr)
    assert stored_tasks() == []


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--title", "new \x1b[2J"], "title"),
        (["-d", "x\x07"], "description"),
        (["--project", "p\x9b"], "project"),
        (["--add-tag", "t\x1b"], "tags"),
    ],
    ids=repr,
)
def test_update_refuses_control_characters(taskcli, user, args, field):
    taskcli.ok("add", "original", "--project", "home")
    before = stored_tasks()
    result = taskcli("update", "1", *args)
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr.startswith(f"error: {field}: ") and "control characters" in result.stderr
    assert stored_tasks() == before


def test_description_keeps_tabs_and_line_breaks(taskcli, user):
    text = "one\ttwo\nthree\r\nfour"
    task = taskcli.ok("add", "t", "-d", text, "--json").json()
    assert task["description"] == text
    assert stored_tasks()[0]["description"] == text


# Emoji joined by ZWJ, a variation selector, RTL and LTR marks, a soft hyphen, a zero-width
# space, a BOM-like ZWNBSP inside text: all Unicode category Cf, all in real text.
REAL_TEXT = [
    "👩\u200d💻 ship it",
    "family 👨\u200d👩\u200d👧\u200d👦",
    "pride 🏳\ufe0f\u200d🌈",
    "\u200fשלום\u200e ok",
    "Silben\u00adtrennung",
    "zero\u200bwidth",
]


def test_format_characters_are_accepted_in_every_text_field(taskcli, user):
    for index, text in enumerate(REAL_TEXT):
        word = text.replace(" ", "")
        task = taskcli.ok("add", text, "-d", text, "--project", word, "-t", word, "--json").json()
        assert (task["title"], task["description"], task["project"], task["tags"]) == (
            text, text, word, [word],
        )  # fmt: skip
        assert stored_tasks()[index]["title"] == text


def test_import_rejects_control_characters_like_other_rejections(taskcli, user, tmp_path):
    objects = [
        task_object("fine"),
        task_object("bad project", project="p\x1b]0;x\x07"),
        task_object(f"bad title {OSC_52}"),
        task_object(REAL_TEXT[0], description=REAL_TEXT[3]),
    ]
    result = taskcli("import", str(write_json(tmp_path / "tasks.json", objects)))
    assert (result.exit_code, result.stdout) == (5, "")
    lines = result.stderr.splitlines()
    assert lines[0].startswith("rejected index 1: project: must not contain control")
    assert lines[1].startswith("rejected index 2: title: must not contain control")
    assert lines[2].startswith("error: 2 record(s) rejected, nothing imported")
    assert no_raw_controls(result.stderr)
    assert stored_tasks() == []
    del objects[1:3]
    assert taskcli.ok("import", str(write_json(tmp_path / "ok.json", objects))).stdout == (
        "created 2, updated 0, skipped 0\n"
    )
    assert [task["title"] for task in stored_tasks()] == ["fine", REAL_TEXT[0]]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"title": "nul \u0000"}, "title: must not contain control characters (found U+0000)"),
        ({"title": "t", "description": "lone \ud800"}, "description: must not contain unpaired"),
        ({"title": "t", "tags": ["\udfff"]}, "tags: must not contain unpaired"),
    ],
    ids=["nul", "surrogate", "surrogate-tag"],
)
def test_import_still_refuses_nul_and_unpaired_surrogates(taskcli, user, tmp_path, fields, error):
    path = tmp_path / "odd.json"  # JSON can spell both; ASCII keeps the escapes as they are
    path.write_text(json.dumps([task_object(**fields)]), encoding="ascii")
    result = taskcli("import", str(path))
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr.startswith(f"rejected index 0: {error}"), result.stderr
    assert stored_tasks() == []


def test_register_refuses_an_email_with_control_characters(taskcli, backend):
    result = taskcli(
        "register", "--email", "me\x1b[2J@example.com", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert (result.exit_code, result.stdout) == (5, "")
    assert "email" in result.stderr and no_raw_controls(result.stderr)


# ---- output ---------------------------------------------------------------------------------


@pytest.fixture
def hostile_row(taskcli, user):
    """Task 1 holds control sequences in every text field, written behind taskcli's back."""
    taskcli.ok("add", "placeholder")
    set_columns(1, user_id(taskcli), **HOSTILE)


COMMANDS = [["list"], ["show", "1"], ["list", "--json"], ["show", "1", "--json"], ["done", "1"]]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_stored_controls_never_reach_a_terminal(hostile_row, args):
    code, stdout, stderr = run_in_pty(*args)
    assert code == 0, stderr
    assert no_raw_controls(stdout), repr(stdout)
    assert no_raw_controls(stderr), repr(stderr)
    if "--json" not in args:
        assert "\\x1b]52" in stdout and "\\x9b31m" in stdout  # visible, not acted upon


def test_list_jsonl_is_list_json_a_compact_object_a_line_escaped_alike(taskcli, hostile_row):
    from taskcli.cli.output import json_text

    listed = taskcli.ok("list", "--json").json()
    lines = taskcli.ok("list", "--jsonl").stdout
    assert lines == "".join(json_text(task) + "\n" for task in listed)
    assert no_raw_controls(lines) and "\\u009b31m" in lines


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_stored_controls_never_reach_a_pipe(hostile_row, args):
    result = run_process(*args)
    assert result.exit_code == 0, result.stderr
    assert no_raw_controls(result.stdout), repr(result.stdout)
    assert no_raw_controls(result.stderr), repr(result.stderr)


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "taskwarrior", "todotxt"])
def test_export_to_a_terminal_escapes_stored_controls_and_piped_stays_exact(hostile_row, fmt):
    code, stdout, stderr = run_in_pty("export", "--format", fmt)
    assert code == 0, stderr
    assert no_raw_controls(stdout.replace("\r\n", "\n")), repr(stdout)
    piped = run_process("export", "--format", fmt)
    assert piped.exit_code == 0, piped.stderr
    if fmt in ("json", "jsonl", "taskwarrior"):  # the same JSON values either way

        def parsed(text: str):
            return json.loads(text.split("\n")[0] if fmt == "jsonl" else text)

        assert parsed(stdout) == parsed(piped.stdout)
    else:  # a file or a pipe gets the data exactly
        assert "\x1b]52" in piped.stdout


def test_piped_list_escapes_controls_within_its_fields(hostile_row):
    line = run_process("list").stdout
    fields = line.removesuffix("\n").split("\t")
    assert fields[4:] == [
        "home\\x1b[2J",
        "bill\\x07,\\x9b1m",
        "pay \\x1b]52;c;aGVsbG8=\\x07 rent \\x1b[2J now \\x9b31m red",
    ]


def test_done_message_escapes_the_title(hostile_row):
    result = run_process("done", "1")
    assert result.stdout == (
        "completed 1: pay \\x1b]52;c;aGVsbG8=\\x07 rent \\x1b[2J now \\x9b31m red\n"
    )


def test_json_output_escapes_c1_controls_and_keeps_the_value(hostile_row):
    result = run_process("show", "1", "--json")
    assert "\\u009b31m" in result.stdout
    assert json.loads(result.stdout)["title"] == HOSTILE["title"]


def test_confirmation_prompts_escape_what_they_show(backend):
    """Prompts (delete, downgrade) show what they act on; the revision here is argv as given."""
    code, _, stderr = run_in_pty("db", "downgrade", "base\x1b]0;pwned\x07", input="n\n")
    assert code == 0
    assert "to base\\x1b]0;pwned\\x07?" in stderr
    assert no_raw_controls(stderr), repr(stderr)


def test_show_piped_keeps_one_field_per_line(taskcli, user):
    """A multi-line description with tabs stays on its ``description`` line, escaped."""
    taskcli.ok("add", "t", "-d", "first\tline\nsecond line\r\nthird")
    lines = run_process("show", "1").stdout.splitlines()
    fields = dict(line.split("\t", 1) for line in lines)
    assert len(fields) == len(lines)
    assert fields["description"] == "first\\tline\\nsecond line\\r\\nthird"


def test_show_on_a_terminal_keeps_line_breaks_and_escapes_the_rest(hostile_row):
    code, stdout, _ = run_in_pty("show", "1")
    assert code == 0
    lines = SGR.sub("", stdout).splitlines()
    first = next(index for index, line in enumerate(lines) if "see " in line)
    assert "\\x1b]8;;https://evil.example\\x07here" in lines[first]
    assert "second \\x1b]0;pwned\\x07" in lines[first + 1]
