"""Commands in forked server processes: become the client's process (its streams, argv,
environment, working directory, umask, signal dispositions), run the Typer app, report the
exit code. The pager and the editor are run by the client, in its terminal.

A *worker* (:class:`Worker`) serves one command at a time and many in sequence, keeping
its database engines and a PostgreSQL connection warm (:func:`taskcli.core.db.keep_connections`)
and closing the connection after :func:`connection_idle_seconds` without a command; after
each command it puts back everything the command changed (see :meth:`Worker.restore`).
A *one-shot* child (:func:`run_once`) serves one command and exits.
"""

from __future__ import annotations

import errno
import io
import locale
import os
import queue
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, NoReturn

from taskcli import wire
from taskcli.cli import terminal

STREAMS = (("stdin", 0, "rb"), ("stdout", 1, "wb"), ("stderr", 2, "wb"))
HEADER_TIMEOUT = 10.0  # a client that connects and says nothing holds only this process
CONNECTION_IDLE_SECONDS = 60.0  # SPEC §15: a Neon compute may scale to zero


def connection_idle_seconds(environ: Any = os.environ) -> float:
    """Seconds without a command after which a worker closes its database connection
    (TASKCLI_SERVER_DB_IDLE, as the server was started; default 60)."""
    try:
        return float(environ.get("TASKCLI_SERVER_DB_IDLE", CONNECTION_IDLE_SECONDS))
    except ValueError:
        return CONNECTION_IDLE_SECONDS


THREAD_PATIENCE_SECONDS = 0.5
MAX_REQUESTS = 1000  # then a fresh worker: what a long life may gather stays bounded
MANAGED_SIGNALS = (
    signal.SIGINT,
    signal.SIGPIPE,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGCHLD,
    signal.SIGWINCH,
)


class Link:
    """The connection to the client while the command runs: a thread reads it, turning a
    forwarded signal into the same signal here and a vanished client into Ctrl-C."""

    def __init__(self, channel: wire.Channel) -> None:
        self.channel = channel
        self.answers: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.finished = False

        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

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
            if name in wire.FORWARDED_SIGNALS and not self.finished:
                os.kill(os.getpid(), getattr(signal, f"SIG{name}"))
            elif name is None:
                self.answers.put(message)

    def answer(self) -> dict[str, Any]:
        message = self.answers.get()
        if message.get("closed"):
            raise OSError("the client went away")
        return message

    def wait_for_foreground(self, fd: int, stop: str) -> None:
        """Until the client's job is the terminal's foreground one (it stops meanwhile by
        SIGTT``stop``, as the terminal would stop this process were it its own); OSError
        EIO where the terminal would refuse instead (an orphaned job)."""
        self.channel.send({"foreground": fd, "stop": stop})
        if self.answer().get("tty") == "eio":
            raise OSError(errno.EIO, os.strerror(errno.EIO))


class Seen:
    """Whether the running command has read or written anything of the client's yet (its
    streams, a program run in the client): until then it may be run again unseen."""

    touched = False


class WatchedFile(io.FileIO):
    """A standard stream's file, noting in :class:`Seen` that the command used it; a
    read of a terminal waits for :attr:`before_read`, a write for :attr:`before_write`
    (see :func:`terminal_checks`)."""

    before_read: Callable[[int], None] = staticmethod(lambda _fd: None)
    before_write: Callable[[int], None] = staticmethod(lambda _fd: None)

    def readinto(self, buffer: Any) -> int | None:
        Seen.touched = True
        WatchedFile.before_read(self.fileno())
        return super().readinto(buffer)

    def readall(self) -> bytes:
        Seen.touched = True
        WatchedFile.before_read(self.fileno())
        return super().readall()

    def write(self, data: Any, /) -> int:
        Seen.touched = True
        WatchedFile.before_write(self.fileno())
        return super().write(data)


class RemoteProgram:
    """An interactive program the client runs; quacks like the Popen it replaces."""

    def __init__(self, link: Link, argv: list[str], env: dict[str, str] | None, pipe: bool):
        Seen.touched = True
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

    def before_hidden_read(self) -> None:
        # getpass turns the echo off before it reads: in the background this stops
        # first, as the terminal stops the process that would change its modes
        if os.isatty(0):
            self.link.wait_for_foreground(0, "TTOU")


def receive_header(conn: socket.socket) -> tuple[wire.Channel, dict[str, Any]] | None:
    """The request on a new connection; None when the client said nothing in time or
    something that is not a request."""
    conn.settimeout(HEADER_TIMEOUT)
    channel = wire.Channel(conn)
    try:
        header = channel.receive()
    except (OSError, wire.Closed):
        return None
    conn.settimeout(None)
    return channel, header


def answer_control(channel: wire.Channel, header: dict[str, Any], facts: dict[str, Any]) -> str:
    """Answer a request that is not a command (status, stop, another build); ``facts``:
    the server's status and build. What the server must do about it: "" (a command:
    run it), "done", "stop" or "restart"."""
    if header.get("status"):
        channel.send(facts["status"])
        return "done"
    if header.get("stop"):
        channel.send({"stopping": facts["status"]["pid"]})
        return "stop"
    if header.get("build") != facts["build"] or len(channel.fds) != 3:
        channel.send({"restart": True})
        return "restart"
    return ""


def run_once(conn: socket.socket, facts: dict[str, Any], report: socket.socket) -> NoReturn:
    """A one-shot child: one request, then exit (``report`` tells the server of a stop or
    restart asked)."""
    try:
        received = receive_header(conn)
        if received is not None:
            channel, header = received
            what = answer_control(channel, header, facts)
            if what in ("stop", "restart"):
                report.send(what.encode())
            if not what:
                become_client(channel, header)
                link = Link(channel)
                code, by_signal = run_app(link)
                link.finished = True
                channel.send({"exit": code, "signal": by_signal})
    finally:
        os._exit(0)


class Worker:
    """A long-lived server process: requests one at a time from the server's ``control``
    socket (the client's connection passed along), the database kept warm in between."""

    def __init__(self, control: socket.socket) -> None:
        from taskcli.core import db

        self.control = wire.Channel(control)
        self.connection_idle = connection_idle_seconds()
        self.kept = db.keep_connections(self.connection_idle)
        self.environ = dict(os.environ)
        self.cwd = "/"
        self.umask = os.umask(0o022)
        os.umask(self.umask)
        self.ctype = locale.setlocale(locale.LC_CTYPE)
        self.std_fds = [os.dup(fd) for fd in range(3)]
        for fd in self.std_fds:
            os.set_inheritable(fd, False)
        self.std_streams = (sys.stdin, sys.stdout, sys.stderr)
        self.dunder_streams = (sys.__stdin__, sys.__stdout__, sys.__stderr__)
        self.argv = list(sys.argv)
        self.handlers = {number: signal.getsignal(number) for number in MANAGED_SIGNALS}
        self.served = 0
        self.threads = {thread.ident for thread in threading.enumerate()}

    def serve(self) -> NoReturn:
        with selectors.DefaultSelector() as selector:
            selector.register(self.control.sock, selectors.EVENT_READ)
            while True:
                if not selector.select(self.connection_idle):
                    self.kept.close()  # 60 s without a command: the connection goes
                    selector.select()
                try:
                    message = self.control.receive()
                    conn = socket.socket(fileno=self.control.take_fd())
                except (OSError, wire.Closed):
                    os._exit(0)  # the server is gone or stopping
                try:
                    what, retire = self.serve_one(conn, message["facts"])
                except BaseException:  # whatever it was, this process may not be clean
                    what, retire = "", True
                self.served += 1
                retire = retire or self.served >= MAX_REQUESTS
                try:
                    self.control.send({"idle": True, "then": what, "retire": retire})
                except OSError:
                    os._exit(0)
                if retire:
                    os._exit(0)

    def serve_one(self, conn: socket.socket, facts: dict[str, Any]) -> tuple[str, bool]:
        """Serve the request on ``conn``: what the server must do, and whether this worker
        must retire (something of the command may outlive it: an interrupted command, a
        thread left running)."""
        link: Link | None = None
        received: tuple[wire.Channel, dict[str, Any]] | None = None
        interrupted = True
        try:
            received = receive_header(conn)
            if received is None:
                return "", False
            channel, header = received
            what = answer_control(channel, header, facts)
            if what:
                return what, False
            become_client(channel, header)
            link = Link(channel)
            try:
                code, by_signal = run_app(link)
            finally:
                link.finished = True
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            interrupted = by_signal is not None
            channel.send({"exit": code, "signal": by_signal})
        finally:
            for fd in received[0].fds if received else ():
                os.close(fd)
            try:
                conn.shutdown(socket.SHUT_RDWR)  # wakes the link's reader: it ends
            except OSError:
                pass
            if link is not None:
                link.thread.join(1.0)
                self.restore()
            conn.close()
        return "", interrupted or self.threads_left()

    def threads_left(self) -> bool:
        """Whether a thread the command started still runs (a keyring call abandoned after
        its timeout): then this worker retires. One that is just ending gets a moment."""
        deadline = time.monotonic() + THREAD_PATIENCE_SECONDS
        for thread in threading.enumerate():
            if thread.ident not in self.threads:
                thread.join(max(0.0, deadline - time.monotonic()))
        return any(thread.ident not in self.threads for thread in threading.enumerate())

    def restore(self) -> None:
        """Put back what the last command changed: the streams (the client's fds closed
        here, so a reader of its pipe sees the end), argv, environment, time zone, locale,
        working directory, umask, signal dispositions, and the keyring backend chosen by
        the command's environment."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        for target, fd in enumerate(self.std_fds):
            os.dup2(fd, target)
        sys.stdin, sys.stdout, sys.stderr = self.std_streams
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = self.dunder_streams  # type: ignore[misc]
        sys.argv = list(self.argv)
        os.environ.clear()
        os.environ.update(self.environ)
        time.tzset()
        try:
            locale.setlocale(locale.LC_CTYPE, self.ctype)
        except locale.Error:
            pass
        os.chdir(self.cwd)
        os.umask(self.umask)
        for number, handler in self.handlers.items():
            signal.signal(number, handler)
        if "keyring.core" in sys.modules:  # python-keyring caches its backend per process
            sys.modules["keyring.core"]._keyring_backend = None  # type: ignore[attr-defined]


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
    if isinstance(header.get("umask"), int):
        os.umask(header["umask"] & 0o777)
    sys.argv = list(header["argv"])
    settings = header.get("streams", {})
    for name, fd, mode in STREAMS:
        stream = text_stream(fd, mode, name, settings.get(name, {}))
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGWINCH):
        signal.signal(number, signal.SIG_DFL)


def text_stream(fd: int, mode: str, name: str, settings: dict[str, str]) -> io.TextIOWrapper:
    """A text stream on fd as a fresh interpreter builds sys.stdin/stdout/stderr."""
    raw = WatchedFile(fd, mode, closefd=False)
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
    from taskcli.core import db

    # the pid: the client stops this process on Ctrl-Z and continues it with its own
    link.channel.send({"started": True, "pid": os.getpid()})
    code, by_signal = 0, None
    try:
        with terminal.faked(RemoteTerminal(link)), terminal_checks(link):
            try:
                with resend_allowed():
                    click_command()()
            except db.Resend:  # the connection was gone before anything reached it
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


@contextmanager
def terminal_checks(link: Link) -> Iterator[None]:
    """While the command runs, before each read of a terminal the client says it may go
    on: a job in the background (``taskcli delete 1 &``) is stopped first, as the
    terminal stops a background reader (SIGTTIN), until ``fg``, so that this process
    does not take the line the shell was meant to read. So too before a write to a
    terminal that stops background writers (``stty tostop``: SIGTTOU). The terminal is
    not this process's controlling terminal: only the client can tell whether its job
    is the foreground one."""
    import termios

    # the client's streams, asked once: a write to a file or a pipe costs no system call
    terminals = {fd for _name, fd, _mode in STREAMS if os.isatty(fd)}

    def before_read(fd: int) -> None:
        if fd in terminals:
            link.wait_for_foreground(fd, "TTIN")

    def before_write(fd: int) -> None:
        if fd not in terminals:
            return
        try:  # read at each write: `stty tostop` may be typed while the command runs
            stops_writers = termios.tcgetattr(fd)[3] & termios.TOSTOP
        except termios.error:  # the terminal has gone (a hangup)
            return
        if stops_writers:
            link.wait_for_foreground(fd, "TTOU")

    WatchedFile.before_read, WatchedFile.before_write = before_read, before_write
    try:
        yield
    finally:
        WatchedFile.before_read = WatchedFile.before_write = lambda _fd: None


@contextmanager
def resend_allowed() -> Iterator[None]:
    """While the command runs, it may be run again (:class:`taskcli.core.db.Resend`) as
    long as it has used none of the client's streams; only once (not in the run again),
    and only in a worker, whose connections are kept."""
    from taskcli.core import db

    kept = db.kept_connections()
    if kept is None:
        yield
        return
    Seen.touched = False
    kept.may_resend = lambda: not Seen.touched
    try:
        yield
    finally:
        kept.may_resend = lambda: False


def exit_code(value: object) -> int:
    """SystemExit's code as the interpreter turns it into a status."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    sys.stderr.write(f"{value}\n")
    return 1
