"""The ``taskcli`` console script: hand the command to the warm local server (SPEC §15),
or run it in this process.

Standard library only (and taskcli's own stdlib-only modules): this runs before every
command, so its start-up is the floor of every command's time. That is why it takes the
built-in ``_socket`` and ``_signal`` rather than ``socket`` and ``signal``, which import
``enum`` (see taskcli/wire.py for the figures); tests/test_server.py pins the modules it
loads. ``python -m taskcli`` always runs in-process.

The server is used by default (on Linux); ``TASKCLI_SERVER=off`` (or 0, false, no) and,
without the variable, ``server = false`` in the config file turn it off. When none is
running, this command runs in-process and starts one for the next. Anything that goes
wrong before the server has started the command falls back to the in-process path,
silently.
"""

from __future__ import annotations

import _signal
import _socket
import os
import sys

from taskcli import __version__, paths, wire

# typing.TYPE_CHECKING would import typing: too dear for the client's start-up
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

OFF_WORDS = ("off", "0", "false", "no")
ON_WORDS = ("on", "1", "true", "yes")
MAX_SOCKET_PATH = 108  # sun_path's size on Linux, with its final NUL


def main() -> NoReturn:
    if not server_wanted(os.environ):
        run_in_process()
    code, start_one = through_server()
    if code is None:
        try:
            run_in_process()
        finally:
            if start_one:
                spawn_server()
    sys.exit(code)


def run_in_process() -> NoReturn:
    from taskcli.cli.app import main as app_main

    app_main()
    sys.exit(0)  # app_main always exits; this keeps the type checker's promise


def server_wanted(environ: dict[str, str] | os._Environ[str]) -> bool:
    """On unless TASKCLI_SERVER says off (or 0, false, no), or, without it, the config
    file says ``server = false`` (SPEC §15: the first command starts the server)."""
    if not sys.platform.startswith("linux") or not hasattr(_socket, "SCM_RIGHTS"):
        return False
    switch = environ.get("TASKCLI_SERVER", "").strip().lower()
    if switch in OFF_WORDS:
        return False
    if switch in ON_WORDS:
        return True
    return not config_turns_server_off(os.path.join(paths.config_dir(environ), "config.toml"))


def config_turns_server_off(path: str) -> bool:
    """Whether the config file says ``server = false``. An unreadable or invalid file does
    not: the command reports it, the same way in either path."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError:
        return False
    if b"server" not in raw:  # the common case, without importing the TOML parser
        return False
    import tomllib

    try:
        value = tomllib.loads(raw.decode("utf-8")).get("server", True)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return value is False


def socket_path(environ: dict[str, str] | os._Environ[str], *, create: bool) -> str:
    """The server's socket, in a directory checked private (UntrustedDirectory if not)."""
    return os.path.join(paths.checked_server_dir(environ, create=create), paths.SOCKET_NAME)


def connect(path: str, timeout: float | None = None) -> wire.Channel:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return wire.Channel(sock)


def through_server() -> tuple[int | None, bool]:
    """The command's exit code when the server ran it; (None, start_one) when it did not
    start it: run in-process, and start a server afterwards when none is listening."""
    try:
        path = socket_path(os.environ, create=True)
    except paths.UntrustedDirectory:
        return None, False
    if len(os.fsencode(path)) >= MAX_SOCKET_PATH:  # no server could bind it
        return None, False
    try:
        channel = connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        return None, True
    except OSError:
        return None, False
    try:
        channel.send(request_header(), [0, 1, 2])
        answer = channel.receive()
    except (OSError, wire.Closed):
        channel.sock.close()
        return None, False
    if not answer.get("started"):  # {"restart": true}: another version answered
        channel.sock.close()
        return None, False
    pid = answer.get("pid")
    return follow(channel, pid if isinstance(pid, int) and pid > 0 else None), False


def request_header() -> dict[str, Any]:
    streams = {
        name: {"encoding": stream.encoding, "errors": stream.errors}
        for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout), ("stderr", sys.stderr))
        if stream is not None
    }
    return {
        "version": __version__,
        "build": wire.build(),
        "argv": sys.argv,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": current_umask(),
        "streams": streams,
    }


def follow(channel: wire.Channel, worker: int | None) -> int:
    """Serve the running command (run by the process ``worker``): forward signals, run what
    it asks to run here, and return its exit code."""

    names = {getattr(_signal, f"SIG{name}"): name for name in wire.FORWARDED_SIGNALS}

    def forward(number: int, _frame: object) -> None:
        try:
            channel.send({"signal": names[number]})
        except OSError:
            pass

    def suspend(_number: int, _frame: object) -> None:
        """Ctrl-Z: the command stops with this process, as it would in-process (else it
        would go on writing to, and reading from, the terminal the shell has taken back),
        and goes on when this process is continued (``fg``, ``bg``)."""
        signal_worker(worker, _signal.SIGSTOP)
        try:
            _signal.signal(_signal.SIGTSTP, _signal.SIG_DFL)
            os.kill(os.getpid(), _signal.SIGTSTP)  # stops here; an orphaned job does not
        finally:
            _signal.signal(_signal.SIGTSTP, suspend)
            signal_worker(worker, _signal.SIGCONT)

    for number in names:
        _signal.signal(number, forward)
    if worker is not None:
        _signal.signal(_signal.SIGTSTP, suspend)
    while True:
        try:
            message = channel.receive()
        except (OSError, wire.Closed):
            sys.stderr.write("taskcli: the server stopped before the command finished\n")
            return 1
        if "exit" in message:
            _signal.signal(_signal.SIGTSTP, _signal.SIG_DFL)  # the worker serves others now
            if message.get("signal") == "INT":  # an uncaught KeyboardInterrupt, as Python ends
                _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
                os.kill(os.getpid(), _signal.SIGINT)
            return int(message["exit"])
        if "run" in message:
            run_here(channel, message)
        elif "foreground" in message:  # about to use the terminal (see serve_child)
            stop = getattr(_signal, f"SIG{message['stop']}")
            channel.send({"tty": wait_for_foreground(message["foreground"], stop)})


def wait_for_foreground(fd: int, stop: int) -> str:
    """The command is about to read the terminal on ``fd`` (``stop``: SIGTTIN), or to
    change its modes, or to write to it when it stops background writers (``stty
    tostop``) (SIGTTOU): while this job is in the background, stop as the terminal stops
    such a process, until ``fg``. "go" once in the foreground, or for a write when
    SIGTTOU is ignored; "eio" when the stop did not happen (an orphaned job, a read with
    SIGTTIN ignored), where the read or write gets EIO. (Only the client can tell: the
    terminal is not the worker's.)"""
    continued = []
    previous = _signal.signal(_signal.SIGCONT, lambda *_: continued.append(True))
    try:
        while not in_foreground(fd):
            if stop == _signal.SIGTTOU and _signal.getsignal(stop) == _signal.SIG_IGN:
                return "go"
            continued.clear()
            os.kill(os.getpid(), stop)  # stops here, as the read or write would
            if not continued:
                return "eio"
        return "go"
    finally:
        _signal.signal(_signal.SIGCONT, previous)


def in_foreground(fd: int) -> bool:
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:  # no longer a terminal
        return True


def signal_worker(worker: int | None, number: int) -> None:
    if worker is not None:
        try:
            os.kill(worker, number)
        except OSError:  # it has ended
            pass


def run_here(channel: wire.Channel, message: dict[str, Any]) -> None:
    """Run the pager or the editor in this terminal; answer whether it started, then its
    status (as subprocess reports it: negative for a signal)."""
    import subprocess

    stdin = channel.take_fd() if message.get("stdin_fd") else None
    try:
        program = subprocess.Popen(message["run"], stdin=stdin, env=message.get("env"))
    except OSError as error:
        channel.send({"error": error.strerror, "errno": error.errno})
        return
    finally:
        if stdin is not None:
            os.close(stdin)
    channel.send({"spawned": True})
    channel.send({"ran": program.wait()})


def spawn_server() -> None:
    """Start a server in its own session, detached from this terminal, holding none of
    this process's file descriptors (a pipe left open would keep a reader waiting); it
    exits at once if another one holds the lock, and waits for this process to end
    before it imports anything, so that the two do not compete for the CPU."""
    import subprocess

    try:
        subprocess.Popen(
            [sys.executable, "-m", "taskcli.server", "--after", str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
            start_new_session=True, cwd="/",
        )  # fmt: skip
    except OSError:
        pass


def ask(message: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any] | None:
    """One question to the running server (status, stop); None when none answers."""
    try:
        channel = connect(socket_path(os.environ, create=False), timeout)
    except (OSError, paths.UntrustedDirectory):
        return None
    try:
        channel.send(message)
        return channel.receive()
    except (OSError, wire.Closed):
        return None
    finally:
        channel.sock.close()


def current_umask() -> int:
    """This process's umask (files the command creates get it, as in-process)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask
