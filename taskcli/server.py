"""The warm local server (SPEC §15): ``python -m taskcli.server``, started by the client.

One process per user holds the lock beside its socket, imports the stack once, and hands
each accepted connection (its peer's uid checked) to a worker forked from it
(:class:`taskcli.serve_child.Worker`: up to :data:`MAX_WORKERS`, each keeping its database
connection warm between the commands it serves, one at a time); the most recently idle
worker gets the next command, and a spare one is forked ahead when none is idle. Beyond
the cap a one-shot child serves the command. The worker reads the request (the client's
stdin, stdout and stderr passed over the socket, its argv, environment and working
directory) and runs the same Typer app as the in-process path. The server keeps nothing
per user: each command reads the config, the token store and the database afresh.
Nothing received is logged.
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
MAX_WORKERS = 4
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


class WorkerHandle:
    """The server's side of one worker: its pid and control socket."""

    def __init__(self, pid: int, control: socket.socket) -> None:
        self.pid = pid
        self.control = control
        self.channel = wire.Channel(control)
        self.busy = False


class Server:
    def __init__(self, directory: Path, lock_fd: int, idle: float) -> None:
        self.directory = directory
        self.path = directory / paths.SOCKET_NAME
        self.lock_fd = lock_fd
        self.idle = idle
        self.build = wire.build()  # clients of another build are told to restart it
        self.started = time.time()
        self.last_request = time.monotonic()
        self.children: set[int] = set()  # one-shot children
        self.reports: dict[int, socket.socket] = {}  # their report sockets by fd
        self.workers: dict[int, WorkerHandle] = {}  # by control socket fd
        self.idle_workers: list[WorkerHandle] = []  # the last one is the warmest
        self.accepting = True
        self.accepted: socket.socket | None = None  # the connection being handed on
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
        self._spare()
        while True:
            for key, _events in self.selector.select(TICK_SECONDS):
                if key.fileobj is self.listener:
                    if self.accepting:
                        self._accept()
                elif key.fd in self.workers:
                    self._from_worker(self.workers[key.fd])
                else:
                    self._from_child(key.fd)
            self._reap()
            if not self.busy() and self._should_exit():
                break
        self._close()

    def busy(self) -> int:
        return len(self.children) + sum(worker.busy for worker in self.workers.values())

    def _spare(self) -> None:
        """A worker forked ahead, so that the next command does not wait for a fork."""
        if self.accepting and not self.idle_workers and len(self.workers) < MAX_WORKERS:
            try:
                self._fork_worker()
            except OSError:
                pass

    def _fork_worker(self) -> WorkerHandle:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            ours.close()
            self._forget_in_child()
            from taskcli import serve_child

            serve_child.Worker(theirs).serve()  # never returns
        theirs.close()
        worker = WorkerHandle(pid, ours)
        self.workers[ours.fileno()] = worker
        self.idle_workers.append(worker)
        self.selector.register(ours, selectors.EVENT_READ)
        return worker

    def _forget_in_child(self) -> None:
        """In a forked child: nothing of the server's sockets, lock or workers."""
        self.listener.close()
        self.selector.close()
        os.close(self.lock_fd)
        for worker in self.workers.values():
            worker.control.close()
        for report in self.reports.values():
            report.close()
        if self.accepted is not None:  # a worker is given it by the message, if at all
            self.accepted.close()

    def _from_worker(self, worker: WorkerHandle) -> None:
        try:
            message = worker.channel.receive()
        except (OSError, wire.Closed):  # it exited (retired, or died)
            self._drop(worker)
            return
        self._then(message.get("then", ""))
        worker.busy = False
        if message.get("retire"):
            self._drop(worker)
        elif self.accepting:
            self.idle_workers.append(worker)
        else:
            self._drop(worker)
        self._spare()

    def _from_child(self, fd: int) -> None:
        report = self.reports.pop(fd, None)
        if report is None:  # a worker dropped earlier in this round
            return
        self.selector.unregister(report)
        try:
            self._then(report.recv(16).decode("ascii", "replace"))
        except OSError:
            pass
        report.close()

    def _then(self, what: str) -> None:
        if what == "restart":
            self.restart = True  # exits once its running commands are done
        if what in ("stop", "restart"):
            self._stop_accepting()

    def _drop(self, worker: WorkerHandle) -> None:
        self.workers.pop(worker.control.fileno(), None)
        if worker in self.idle_workers:
            self.idle_workers.remove(worker)
        self.selector.unregister(worker.control)
        worker.control.close()  # an idle worker exits when it reads the end
        self.children.add(worker.pid)  # reaped with the others

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
            for worker in list(self.idle_workers):
                self._drop(worker)

    def _close(self) -> None:
        self._stop_accepting()
        os.close(self.lock_fd)

    def _reap(self) -> None:
        workers = {worker.pid for worker in self.workers.values()}
        for pid in list(self.children - workers):
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
        self.accepted = conn
        try:
            self._handle(conn)
        except (OSError, wire.Closed):
            pass
        finally:
            conn.close()  # the worker or child has its own copy
            self.accepted = None
        self._spare()

    def _handle(self, conn: socket.socket) -> None:
        credentials = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", credentials)
        if uid != os.getuid():
            return
        self.last_request = time.monotonic()
        facts = {"status": self.status(), "build": self.build}
        while self.idle_workers or len(self.workers) < MAX_WORKERS:
            worker = self.idle_workers.pop() if self.idle_workers else self._take_new_worker()
            try:
                worker.channel.send({"facts": facts}, [conn.fileno()])
            except OSError:  # it died since it said it was idle: the next one
                self._drop(worker)
                continue
            worker.busy = True
            return
        report, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            report.close()
            self.accepted = None  # this child serves it
            self._forget_in_child()
            from taskcli import serve_child

            serve_child.run_once(conn, facts, theirs)  # never returns
        theirs.close()
        self.children.add(pid)
        self.reports[report.fileno()] = report
        self.selector.register(report, selectors.EVENT_READ)

    def _take_new_worker(self) -> WorkerHandle:
        worker = self._fork_worker()
        self.idle_workers.remove(worker)
        return worker

    def status(self) -> dict[str, Any]:
        return {
            "running": True,
            "pid": os.getpid(),
            "version": __version__,
            "socket": str(self.path),
            "uptime_seconds": round(time.time() - self.started, 1),
            "idle_timeout_seconds": self.idle,
            "running_commands": self.busy(),
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
