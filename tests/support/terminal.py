"""A program on a pseudo-terminal, driven as a person would: wait for a text, type a line."""

from __future__ import annotations

import os
import pty
import select
import sys

# Only keeps a broken prompt from hanging the suite; nothing is measured.
PATIENCE = 60.0


class Terminal:
    """``argv`` as a child process whose stdin, stdout and stderr are a pseudo-terminal
    (``env``: its whole environment, this process's by default)."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.transcript = ""
        self._seen = 0
        environment = dict(os.environ if env is None else env)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the program at once
            os.execve(argv[0], argv, environment)

    def expect(self, text: str) -> None:
        """Read until text appears after the text expected last."""
        while (found := self.transcript.find(text, self._seen)) < 0:
            ready, _, _ = select.select([self.fd], [], [], PATIENCE)
            assert ready, f"waited for {text!r}; the terminal shows {self.transcript!r}"
            chunk = self._read()
            assert chunk, f"the program ended before {text!r}: {self.transcript!r}"
            self.transcript += chunk
        self._seen = found + len(text)

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def finish(self) -> int:
        """Read to the end; the exit code."""
        while chunk := self._read():
            self.transcript += chunk
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)

    def _read(self) -> str:
        try:
            return os.read(self.fd, 4096).decode(errors="replace")
        except OSError:  # EIO: the child closed the terminal
            return ""


class TaskcliTerminal(Terminal):
    """``python -m taskcli ARGS`` (in-process) on a pseudo-terminal."""

    def __init__(self, *args: str) -> None:
        super().__init__([sys.executable, "-m", "taskcli", *args])
