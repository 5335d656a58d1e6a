"""Guess a file's format from its name and the first few KiB of its content.

By extension: ``.jsonl``/``.ndjson`` → jsonl, ``.csv`` → csv, ``.txt`` (todo.txt,
done.txt) → todotxt. A ``.json`` file may be a Taskwarrior export, so its content
decides between json, taskwarrior and (one object per line) jsonl. Otherwise by
content: a JSON array whose first object has ``uuid`` and ``entry`` → taskwarrior,
any other array → json; lines of JSON objects → jsonl, or taskwarrior when they
have ``uuid`` and ``entry``; a first line that parses as a CSV header with a
``title`` column → csv; recognisable todo.txt (below) → todotxt. Empty content is
todotxt (nothing to import). Anything else is refused (InvalidInputError, exit 5,
hint ``--format``), never guessed.

Recognisably todo.txt: no non-blank line starts like another kind of text (indented
as code or nested lists are, or with one of ``# > | ` < { [ - * = / ;`` as Markdown,
HTML, JSON, comments and the like do), and at least half of the non-blank lines
carry a todo.txt mark (see :func:`.todotxt.has_todotxt_mark`: a leading ``x``,
``(A)`` or date, a ``+project``, ``@context`` or ``key:value`` word). Plain lines of
prose, a CSV file without its header, source code and Markdown are none of these.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import PurePath

from taskcli.core.errors import InvalidInputError
from taskcli.core.formats.todotxt import has_todotxt_mark

_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".txt": "todotxt"}
_JSON_FORMATS = ("json", "jsonl", "taskwarrior")
_UUID_KEY = re.compile(r'"uuid"\s*:')
_ENTRY_KEY = re.compile(r'"entry"\s*:')
_FOREIGN_STARTS = tuple(" \t#>|`<{[-*=/;")
_NAMES = "json, jsonl, csv, taskwarrior or todotxt"


def detect_format(filename: str | None, head: str) -> str:
    """The format of a file named ``filename`` (None or "-" for stdin) that starts with ``head``."""
    suffix = PurePath(filename).suffix.lower() if filename and filename != "-" else ""
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    sniffed = _sniff(head)
    if suffix == ".json" and sniffed not in _JSON_FORMATS:
        return "json"
    if sniffed is None:
        where = "the input" if filename in (None, "-") else filename
        raise InvalidInputError(
            f"cannot tell the format of {where}: it is not recognisably one of {_NAMES}",
            hint="name the format with --format",
        )
    return sniffed


def _sniff(head: str) -> str | None:
    text = head.lstrip(" \t\r\n\ufeff")
    first_line = text.split("\n", 1)[0]
    if text.startswith("["):
        return "taskwarrior" if _is_taskwarrior(_first_element(text[1:]), text) else "json"
    if text.startswith("{"):
        return "taskwarrior" if _is_taskwarrior(_decode(first_line), text) else "jsonl"
    if _is_csv_header(first_line):
        return "csv"
    if not text or _is_todotxt(head):
        return "todotxt"
    return None


def _is_todotxt(head: str) -> bool:
    lines = [line for line in head.removeprefix("\ufeff").splitlines() if line.strip()]
    if any(line.startswith(_FOREIGN_STARTS) for line in lines):
        return False
    return 2 * sum(1 for line in lines if has_todotxt_mark(line)) >= len(lines)


def _first_element(text: str) -> object:
    """The first element of a JSON array's text after '[', or None when cut off or broken."""
    try:
        return json.JSONDecoder().raw_decode(text.lstrip())[0]
    except (ValueError, RecursionError):
        return None


def _decode(line: str) -> object:
    try:
        return json.loads(line.strip().removesuffix(","))
    except (ValueError, RecursionError):
        return None


def _is_taskwarrior(obj: object, text: str) -> bool:
    """Taskwarrior objects have uuid and entry; when the head cuts the object, look at keys."""
    if isinstance(obj, dict):
        return "uuid" in obj and "entry" in obj
    return bool(_UUID_KEY.search(text) and _ENTRY_KEY.search(text))


def _is_csv_header(line: str) -> bool:
    try:
        cells = next(csv.reader([line]), [])
    except csv.Error:
        return False
    return "title" in (cell.strip().lower() for cell in cells)
