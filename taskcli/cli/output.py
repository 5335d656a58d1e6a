"""Rendering shared by all commands: rich on a TTY, plain lines when piped, JSON on request.

stdout carries results only; messages, warnings and errors go to stderr.
"""

import functools
import json
import os
import re
import sys
from collections.abc import Iterable
from typing import Any

# C0 and C1 control characters. Input refuses them, but older rows, a direct database
# write or a command-line argument can still bring them here.
CONTROL_CODES = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
NAMED_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
RAW_IN_JSON = re.compile("[\x7f-\x9f]")  # json.dumps escapes C0 only


def visible(text: str, *, keep: str = "") -> str:
    """``text`` safe for a terminal: each control character not in ``keep`` written as a
    visible escape (``\\t``, ``\\n``, ``\\r``, else ``\\x1b`` style), so stored text can
    neither send escape sequences nor break a line or a tab-separated field. Keeping
    ``\\n`` keeps CRLF as a line break too."""
    if text.isprintable():  # the common case, and much faster than the search
        return text
    if "\n" in keep:
        text = text.replace("\r\n", "\n")
    return _controls_except(keep).sub(_escaped, text)


@functools.cache
def _controls_except(keep: str) -> re.Pattern:
    chars = "".join(chr(code) for code in CONTROL_CODES if chr(code) not in keep)
    return re.compile(f"[{re.escape(chars)}]")


def _escaped(match: re.Match) -> str:
    return NAMED_ESCAPES.get(match[0]) or f"\\x{ord(match[0]):02x}"


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def color_allowed() -> bool:
    return "NO_COLOR" not in os.environ


def console(*, stderr: bool = False):
    """A rich Console for TTY rendering (imported only when a TTY needs it)."""
    from rich.console import Console

    return Console(
        stderr=stderr,
        no_color=not color_allowed(),
        highlight=False,
        soft_wrap=False,
    )


def json_text(document: Any, *, indent: int | None = None) -> str:
    """``json.dumps`` text (UTF-8, not ASCII-escaped) with DEL and the C1 controls written
    as ``\\u`` escapes too: the same JSON value, nothing a terminal acts on."""
    text = json.dumps(document, ensure_ascii=False, indent=indent)
    return RAW_IN_JSON.sub(lambda match: f"\\u{ord(match[0]):04x}", text)


def print_json(document: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json_text(document, indent=2) + "\n")


def print_json_array(documents: Iterable[Any]) -> None:
    """A JSON array written element by element; the same text as ``print_json(list)``."""
    write = sys.stdout.write
    first = True
    for document in documents:
        text = json_text(document, indent=2).replace("\n", "\n  ")
        write(("[\n  " if first else ",\n  ") + text)
        first = False
    write("[]\n" if first else "\n]\n")


def print_json_lines(documents: Iterable[Any]) -> None:
    for document in documents:
        sys.stdout.write(json_text(document) + "\n")


def print_line(text: str = "") -> None:
    """One plain line on stdout; tabs (the field separator) kept, other controls escaped."""
    sys.stdout.write(visible(text, keep="\t") + "\n")


def message(text: str) -> None:
    """A message for the person at the terminal (stderr, never mixed into results)."""
    sys.stderr.write(visible(text) + "\n")
    sys.stderr.flush()


def warn(text: str) -> None:
    message(f"warning: {text}")


def render_error(*, code: str, message_text: str, hint: str | None, as_json: bool) -> None:
    if as_json:
        document = {"error": {"code": code, "message": message_text, "hint": hint}}
        sys.stderr.write(json_text(document) + "\n")
    else:
        suffix = f" (hint: {hint})" if hint else ""
        sys.stderr.write(visible(f"error: {message_text}{suffix}") + "\n")
    sys.stderr.flush()


def progress(total: int | None, description: str):
    """A rich progress bar on a TTY (stderr); a no-op tracker otherwise."""
    if not stderr_is_tty():
        return _NoProgress()
    from rich.progress import Progress

    bar = Progress(console=console(stderr=True), transient=True)
    return _RichProgress(bar, bar.add_task(description, total=total))


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def advance(self, amount: int = 1) -> None:
        return None


class _RichProgress(_NoProgress):
    def __init__(self, bar, task_id) -> None:
        self.bar = bar
        self.task_id = task_id

    def __enter__(self):
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def advance(self, amount: int = 1) -> None:
        self.bar.advance(self.task_id, amount)
