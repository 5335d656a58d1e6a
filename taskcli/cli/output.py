"""Rendering shared by all commands: rich on a TTY, plain lines when piped, JSON on request.

stdout carries results only; messages, warnings and errors go to stderr.
"""

import functools
import json
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TextIO, cast

from taskcli.cli import terminal

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


class TerminalSafeWriter:
    """A text stream for a terminal. Data bound for a file or a pipe stays exact, but a
    person reading it on a terminal must not have stored escape sequences acted upon: JSON
    text gets ``\\u`` escapes for what json leaves raw (the same JSON value), other text
    the visible escapes of :func:`visible` (line breaks and tabs kept)."""

    def __init__(self, stream: TextIO, *, is_json: bool) -> None:
        self.stream = stream
        self.is_json = is_json

    def write(self, text: str) -> int:
        if self.is_json:
            return self.stream.write(_json_escaped(text))
        return self.stream.write(visible(text, keep="\n\t"))

    def flush(self) -> None:
        self.stream.flush()


def console(*, stderr: bool = False):
    """A rich Console for a stream :mod:`taskcli.cli.terminal` calls a terminal (rich is
    imported only then); stdout's gets the terminal's size, as the paged table does."""
    from rich.console import Console

    screen = terminal.current()
    size = None if stderr else screen.size()
    return Console(
        stderr=stderr,
        force_terminal=True,
        no_color=not screen.color_allowed(),
        highlight=False,
        soft_wrap=False,
        width=size.columns if size else None,
        height=size.lines if size else None,
    )


def json_text(document: Any, *, indent: int | None = None) -> str:
    """``json.dumps`` text (UTF-8, not ASCII-escaped) with DEL and the C1 controls written
    as ``\\u`` escapes too: the same JSON value, nothing a terminal acts on."""
    return _json_escaped(json.dumps(document, ensure_ascii=False, indent=indent))


def _json_escaped(text: str) -> str:
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
    if not terminal.current().stderr_is_tty():
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


# ---- the pager ------------------------------------------------------------------------------


class PagerClosed(Exception):
    """The user quit the pager before the end of the output (not an error)."""


class PagedOutput:
    """stdout, until the output is taller than the terminal: then the pager gets it all.

    Lines are held back only until one screen is full, so memory stays bounded however
    long the output is, and a short output never starts the pager at all.
    """

    def __init__(self, command: list[str] | None, height: int) -> None:
        self._command = command
        self._height = height
        self._held: list[str] = []
        self._lines = 0
        self._pager: terminal.Program | None = None

    def isatty(self) -> bool:
        return True

    @property
    def _to_pager(self) -> IO[str]:
        assert self._pager is not None and self._pager.stdin is not None  # stdin=PIPE
        return self._pager.stdin

    def write(self, text: str) -> int:
        if self._pager is not None:
            try:
                self._to_pager.write(text)
            except BrokenPipeError:
                raise PagerClosed from None
        elif self._command is None:
            sys.stdout.write(text)
        else:
            self._held.append(text)
            self._lines += text.count("\n")
            if self._lines >= self._height:
                self._start_pager()
        return len(text)

    def flush(self) -> None:
        (self._to_pager if self._pager is not None else sys.stdout).flush()

    def _start_pager(self) -> None:
        command = self._command
        assert command is not None  # only called while there is a pager to start
        try:
            self._pager = terminal.current().run_interactive(command, pipe_stdin=True)
        except OSError as error:  # no such program: the output still reaches the terminal
            warn(f"pager {command[0]!r} not started ({error.strerror}); printing directly")
            self._command = None
        self.write("".join(self._held))
        self._held = []

    def close(self) -> None:
        """Write what was held back, or let the pager finish (the user quits it)."""
        if self._pager is None:
            sys.stdout.write("".join(self._held))
            sys.stdout.flush()
            return
        try:
            self._to_pager.close()
        except BrokenPipeError:  # the user quit the pager before the end: that is fine
            pass
        self._pager.wait()


@contextmanager
def paging(*, no_pager: bool) -> Iterator[Any]:
    """A rich Console for stdout on a terminal that pages output taller than the screen."""
    from rich.console import Console

    screen = terminal.current()
    size = screen.size()
    sink = PagedOutput(None if no_pager else screen.pager_command(), size.lines)
    try:
        yield Console(
            file=cast("IO[str]", sink), force_terminal=True, width=size.columns, height=size.lines,
            no_color=not screen.color_allowed(), highlight=False, soft_wrap=False,
        )  # fmt: skip
    except PagerClosed:
        pass
    finally:
        sink.close()
