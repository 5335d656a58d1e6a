"""The warm local server (SPEC §15): ``python -m taskcli.server``, started by the client.

One process per user holds the lock beside its socket, imports the stack once, and forks a
child per command: the child takes the client's stdin, stdout and stderr (passed over the
socket), its argv, environment and working directory, and runs the same Typer app as the
in-process path. The parent keeps nothing per user: each child reads the config, the token
store and the database afresh. Nothing received is logged.
"""

from __future__ import annotations

import fcntl
import os
import selectors
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

from taskcli import __version__, paths, wire

DEFAULT_IDLE_SECONDS = 600
TICK_SECONDS = 1.0
HEADER_TIMEOUT = 10.0
WARM_PACKAGES = ("taskcli.cli", "taskcli.core", "taskcli.core.formats")  # every module
WARM_MODULES = (
    "sqlalchemy", "sqlmodel", "sqlite3", "psycopg2", "rich.console", "rich.table", "keyring",
    "jwt", "passlib.context", "subprocess",
    "taskcli.serve_child",
)  # fmt: skip


def idle_seconds(environ: Any = os.environ) -> float:
    try:
        return float(environ.get("TASKCLI_SERVER_IDLE", DEFAULT_IDLE_SECONDS))
    except ValueError:
        return DEFAULT_IDLE_SECONDS


class Server:
    def __init__(self, directory: Path, lock_fd: int, idle: float) -> None:
        self.directory = directory
        self.path = directory / paths.SOCKET_NAME
        self.lock_fd = lock_fd
        self.idle = idle
        self.build = wire.build()  # clients of another build are told to restart it
        self.started = time.time()
        self.last_request = time.monotonic()
        self.children: set[int] = set()
        self.accepting = True
        self.restart = False
        self.listener = self._bind()
        self.inode = os.stat(self.path).st_ino
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)

    def _bind(self) -> socket.socket:
        try:  # we hold the lock: a socket left here is a dead server's
            self.path.unlink()
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        previous = os.umask(0o177)  # the socket is 0600 from its first moment
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(previous)
        os.chmod(self.path, 0o600)
        listener.listen(64)
        return listener

    def serve(self) -> None:
        while True:
            for _key, _events in self.selector.select(TICK_SECONDS):
                if self.accepting:
                    self._accept()
            self._reap()
            if not self.children and self._should_exit():
                break
        self._close()

    def _should_exit(self) -> bool:
        if not self.accepting or self.restart:
            return True
        if time.monotonic() - self.last_request > self.idle:
            return True
        return not self._socket_is_ours()

    def _socket_is_ours(self) -> bool:
        try:
            return os.stat(self.path).st_ino == self.inode
        except OSError:
            return False

    def _stop_accepting(self) -> None:
        if self.accepting:
            self.accepting = False
            self.selector.unregister(self.listener)
            if self._socket_is_ours():
                self.path.unlink()
            self.listener.close()

    def _close(self) -> None:
        self._stop_accepting()
        os.close(self.lock_fd)

    def _reap(self) -> None:
        for pid in list(self.children):
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.children.discard(pid)

    def _accept(self) -> None:
        try:
            conn, _address = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        try:
            self._handle(conn)
        except (OSError, wire.Closed):
            pass
        finally:
            conn.close()  # the child (if any) has its own copy

    def _handle(self, conn: socket.socket) -> None:
        credentials = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", credentials)
        if uid != os.getuid():
            return
        conn.settimeout(HEADER_TIMEOUT)
        channel = wire.Channel(conn)
        message = channel.receive()
        self.last_request = time.monotonic()
        if message.get("status"):
            channel.send(self.status())
            return
        if message.get("stop"):
            channel.send({"stopping": os.getpid()})
            self._stop_accepting()
            return
        if message.get("build") != self.build or len(channel.fds) != 3:
            channel.send({"restart": True})
            self.restart = True  # exits once its running commands are done
            self._stop_accepting()
            return
        pid = os.fork()
        if pid == 0:
            conn.settimeout(None)
            self.listener.close()
            self.selector.close()
            os.close(self.lock_fd)
            from taskcli import serve_child

            serve_child.run(channel, message)  # never returns
        self.children.add(pid)
        for fd in channel.fds:
            os.close(fd)

    def status(self) -> dict[str, Any]:
        return {
            "running": True,
            "pid": os.getpid(),
            "version": __version__,
            "socket": str(self.path),
            "uptime_seconds": round(time.time() - self.started, 1),
            "idle_timeout_seconds": self.idle,
            "running_commands": len(self.children),
        }


def take_lock(directory: Path) -> int | None:
    """The server lock's fd, or None when another server holds it."""
    fd = os.open(directory / paths.LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def warm_up() -> None:
    """Import the stack and build the command tree once; freeze what exists so the forked
    children do not copy it page by page when the collector walks it."""
    import gc
    import importlib
    import pkgutil

    names = list(WARM_MODULES)
    for package in WARM_PACKAGES:
        path = importlib.import_module(package).__path__
        names += [f"{package}.{module.name}" for module in pkgutil.iter_modules(path)]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    from taskcli.cli.app import click_command

    click_command()
    gc.freeze()


AFTER_PATIENCE_SECONDS = 5.0


def wait_for(pid: int) -> None:
    """Until the process that started us has exited (bounded): its command's end is
    its own, not shared with our start-up."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:  # gone already, or no pidfd on this kernel
        return
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            selector.select(AFTER_PATIENCE_SECONDS)
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    os.chdir("/")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C is not ours
    try:
        directory = Path(paths.checked_server_dir(os.environ, create=True))
    except paths.UntrustedDirectory:
        return 1
    lock_fd = take_lock(directory)
    if lock_fd is None:
        return 0
    if len(args) == 2 and args[0] == "--after" and args[1].isdigit():
        wait_for(int(args[1]))
    warm_up()
    try:
        server = Server(directory, lock_fd, idle_seconds())
    except OSError:
        return 1
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
