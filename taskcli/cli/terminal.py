"""What the process is attached to: which streams are terminals, the screen's size, colour,
the pager, and the person who answers prompts.

The one place that asks. Commands call :func:`current`; a test runs a command in-process
on a :class:`FakeTerminal` (see :func:`faked`), as gh's IOStreams allow, instead of
needing a pseudo-terminal for every case.
"""

import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Protocol

DEFAULT_PAGER = "less -FRX"
EDITOR_VARIABLES = ("TASKCLI_EDITOR", "VISUAL", "EDITOR")
FALLBACK_EDITORS = ("nano", "vi")


class Program(Protocol):
    """A started interactive program: its stdin (when piped) and its exit status."""

    stdin: IO[str] | None

    def wait(self) -> int: ...


class Terminal:
    """The real streams of this process."""

    def stdin_is_tty(self) -> bool:
        return sys.stdin.isatty()

    def stdout_is_tty(self) -> bool:
        return sys.stdout.isatty()

    def stderr_is_tty(self) -> bool:
        return sys.stderr.isatty()

    def size(self) -> os.terminal_size:
        return shutil.get_terminal_size()

    def color_allowed(self) -> bool:
        return "NO_COLOR" not in os.environ

    def pager_command(self) -> list[str] | None:
        """TASKCLI_PAGER, else PAGER, else ``less -FRX``; an empty value or ``cat`` means none."""
        import shlex

        text = os.environ.get("TASKCLI_PAGER")
        if text is None:
            text = os.environ.get("PAGER", DEFAULT_PAGER)
        words = shlex.split(text)
        return None if words in ([], ["cat"]) else words

    def editor_command(self) -> list[str]:
        """The first of TASKCLI_EDITOR, VISUAL, EDITOR that is set (not empty), split as a
        shell splits it (``code --wait``), else nano, else vi. ConfigError (exit 5) when
        the one chosen is not installed or none is."""
        import shlex
        import shutil

        from taskcli.core.errors import ConfigError

        hint = "set TASKCLI_EDITOR, VISUAL or EDITOR to an installed editor"
        for name in EDITOR_VARIABLES:
            text = os.environ.get(name, "")
            if not text.strip():
                continue
            try:
                words = shlex.split(text)
            except ValueError as error:
                raise ConfigError(f"{name}: {error}", hint=hint) from None
            if shutil.which(words[0]) is None:
                raise ConfigError(f"editor {words[0]!r} ({name}) not found", hint=hint)
            return words
        for program in FALLBACK_EDITORS:
            if shutil.which(program) is not None:
                return [program]
        raise ConfigError("no editor found (neither nano nor vi is installed)", hint=hint)

    def prompt(self, label: str, *, hidden: bool = False) -> str:
        """Ask on the terminal (the question on stderr, never mixed into results), until
        the answer is not empty; ``hidden``: typed without echo (getpass)."""
        while True:
            answer = self.answer(f"{label}: ", hidden=hidden)
            if answer:
                return answer

    def confirm(self, question: str) -> bool:
        """A yes/no question, no by default; anything else is asked again."""
        while True:
            answer = self.answer(f"{question} [y/N]: ").strip().lower()
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no", ""):
                return False
            sys.stderr.write("Error: invalid input\n")

    def answer(self, question: str, *, hidden: bool = False) -> str:
        """The line typed after ``question`` (written to stderr; hidden: to the terminal,
        as getpass writes it), without its line end.
        Ctrl-C or the end of input is typer.Abort (exit 130, "aborted").

        A visible answer is read from sys.stdin even on a terminal, where input() would
        read fd 0 by C stdio: a command run by the local server reads the client's
        terminal only through sys.stdin, where the server first checks that the job is
        in the foreground (and :meth:`before_hidden_read` before getpass turns the echo
        off)."""
        import typer

        try:
            if hidden:  # getpass writes the question once the echo is off
                import getpass

                self.before_hidden_read()
                return getpass.getpass(question)
            sys.stderr.write(question)
            sys.stderr.flush()
            line = sys.stdin.readline()
        except (KeyboardInterrupt, EOFError):
            if hidden:  # getpass leaves the line open
                sys.stderr.write("\n")
            raise typer.Abort() from None
        if not line:
            raise typer.Abort()
        return line.removesuffix("\n")

    def before_hidden_read(self) -> None:
        """Called before a hidden answer changes the terminal's modes to read it."""

    def run_interactive(
        self, argv: list[str], *, env: dict[str, str] | None = None, pipe_stdin: bool = False
    ) -> Program:
        """Start a program that uses the terminal (the pager, the editor); with pipe_stdin
        its stdin is a pipe taskcli writes text to. OSError when it cannot start. Under
        the local server the client runs it, in the user's own terminal."""
        import subprocess

        return subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE if pipe_stdin else None, text=pipe_stdin,
            encoding=(sys.stdout.encoding or "utf-8") if pipe_stdin else None,
            errors="replace" if pipe_stdin else None,
        )  # fmt: skip


class FakeTerminal(Terminal):
    """A terminal for in-process tests: which streams count as terminals, the screen's
    size, and the answers typed at the prompts, in order (each prompt is kept in
    ``asked`` as ``(label, hidden)``; a confirmation is answered by "y" or "n")."""

    def __init__(
        self, *, stdin: bool = True, stdout: bool = True, stderr: bool = True,
        columns: int = 80, lines: int = 24, color: bool = False,
        pager: list[str] | None = None, answers: Iterable[str] = (),
    ) -> None:  # fmt: skip
        self.ttys = {"stdin": stdin, "stdout": stdout, "stderr": stderr}
        self.screen = os.terminal_size((columns, lines))
        self.color = color
        self.pager = pager
        self.answers = list(answers)
        self.asked: list[tuple[str, bool]] = []

    def stdin_is_tty(self) -> bool:
        return self.ttys["stdin"]

    def stdout_is_tty(self) -> bool:
        return self.ttys["stdout"]

    def stderr_is_tty(self) -> bool:
        return self.ttys["stderr"]

    def size(self) -> os.terminal_size:
        return self.screen

    def color_allowed(self) -> bool:
        return self.color

    def pager_command(self) -> list[str] | None:
        return self.pager

    def prompt(self, label: str, *, hidden: bool = False) -> str:
        self.asked.append((label, hidden))
        return self.answers.pop(0)

    def confirm(self, question: str) -> bool:
        return self.prompt(question) == "y"


_current: Terminal = Terminal()


def current() -> Terminal:
    return _current


@contextmanager
def faked(fake: Terminal) -> Iterator[Terminal]:
    """Commands run in this block see ``fake`` as their terminal."""
    global _current
    previous, _current = _current, fake
    try:
        yield fake
    finally:
        _current = previous
