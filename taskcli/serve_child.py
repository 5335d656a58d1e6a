"""One command in a forked server child: become the client's process (its streams, argv,
environment, working directory, signal dispositions), run the Typer app, report the exit
code. The pager and the editor are run by the client, in its terminal.
"""

from __future__ import annotations

import io
import locale
import os
import queue
import signal
import sys
import threading
import time
import traceback
from typing import IO, Any, NoReturn

from taskcli import wire
from taskcli.cli import terminal

STREAMS = (("stdin", 0, "rb"), ("stdout", 1, "wb"), ("stderr", 2, "wb"))


class Link:
    """The connection to the client while the command runs: a thread reads it, turning a
    forwarded signal into the same signal here and a vanished client into Ctrl-C."""

    def __init__(self, channel: wire.Channel) -> None:
        self.channel = channel
        self.answers: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.finished = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message = self.channel.receive()
            except (OSError, wire.Closed):
                self.answers.put({"closed": True})
                if not self.finished:  # the client was killed: cancel, roll back
                    os.kill(os.getpid(), signal.SIGINT)
                return
            name = message.get("signal")
            if name in ("INT", "TERM", "HUP"):
                os.kill(os.getpid(), getattr(signal, f"SIG{name}"))
            elif name is None:
                self.answers.put(message)

    def answer(self) -> dict[str, Any]:
        message = self.answers.get()
        if message.get("closed"):
            raise OSError("the client went away")
        return message


class RemoteProgram:
    """An interactive program the client runs; quacks like the Popen it replaces."""

    def __init__(self, link: Link, argv: list[str], env: dict[str, str] | None, pipe: bool):
        self.link = link
        self.stdin: IO[str] | None = None
        read_end, write_end = os.pipe() if pipe else (-1, -1)
        try:
            message = {"run": argv, "env": env, "stdin_fd": pipe}
            link.channel.send(message, [read_end] if pipe else None)
        finally:
            if pipe:
                os.close(read_end)
        answer = link.answer()
        if "error" in answer:
            if pipe:
                os.close(write_end)
            raise OSError(answer.get("errno") or 0, answer["error"])
        if pipe:
            encoding = sys.stdout.encoding or "utf-8"
            self.stdin = open(write_end, "w", encoding=encoding, errors="replace")

    def wait(self) -> int:
        return int(self.link.answer()["ran"])


class RemoteTerminal(terminal.Terminal):
    """The real streams (the client's, passed to this process); programs run client-side."""

    def __init__(self, link: Link) -> None:
        self.link = link

    def run_interactive(
        self, argv: list[str], *, env: dict[str, str] | None = None, pipe_stdin: bool = False
    ) -> terminal.Program:
        return RemoteProgram(self.link, argv, env, pipe_stdin)


def run(channel: wire.Channel, header: dict[str, Any]) -> NoReturn:
    become_client(channel, header)
    link = Link(channel)
    code, by_signal = run_app(link)
    link.finished = True
    try:
        channel.send({"exit": code, "signal": by_signal})
    finally:
        os._exit(0)


def become_client(channel: wire.Channel, header: dict[str, Any]) -> None:
    for target, fd in enumerate(channel.fds[:3]):
        os.dup2(fd, target)
        os.close(fd)
    channel.fds.clear()
    os.environ.clear()
    os.environ.update(header["env"])
    time.tzset()
    try:
        locale.setlocale(locale.LC_CTYPE, "")  # as a fresh interpreter does
    except locale.Error:
        pass
    try:
        os.chdir(header["cwd"])
    except OSError:
        pass
    sys.argv = list(header["argv"])
    settings = header.get("streams", {})
    for name, fd, mode in STREAMS:
        stream = text_stream(fd, mode, name, settings.get(name, {}))
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(number, signal.SIG_DFL)


def text_stream(fd: int, mode: str, name: str, settings: dict[str, str]) -> io.TextIOWrapper:
    """A text stream on fd as a fresh interpreter builds sys.stdin/stdout/stderr."""
    raw = io.FileIO(fd, mode, closefd=False)
    raw.name = f"<{name}>"
    buffered: io.BufferedReader | io.BufferedWriter
    buffered = io.BufferedReader(raw) if mode == "rb" else io.BufferedWriter(raw)
    return io.TextIOWrapper(
        buffered,
        encoding=settings.get("encoding") or "utf-8",
        errors=settings.get("errors") or "strict",
        newline="\n",
        line_buffering=name == "stderr" or raw.isatty(),
    )


def run_app(link: Link) -> tuple[int, str | None]:
    from taskcli.cli.app import click_command

    link.channel.send({"started": True})
    code, by_signal = 0, None
    try:
        with terminal.faked(RemoteTerminal(link)):
            click_command()()
    except SystemExit as exit_:
        code = exit_code(exit_.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        code, by_signal = 130, "INT"
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120  # as Python reports a failed flush of stdout at exit
    return code, by_signal


def exit_code(value: object) -> int:
    """SystemExit's code as the interpreter turns it into a status."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    sys.stderr.write(f"{value}\n")
    return 1
