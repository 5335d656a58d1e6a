"""The client–server wire format: length-prefixed messages over a Unix stream socket, file
descriptors passed alongside (SCM_RIGHTS). Standard library only (the client uses it).

Messages, client → server: the request header ``{"version", "build", "argv", "env",
"cwd", "streams"}`` with fds 0, 1, 2; ``{"status": true}``; ``{"stop": true}``; later
``{"signal": "INT"}`` (the names in :data:`FORWARDED_SIGNALS`), ``{"ran": code}`` /
``{"error": ...}`` answering a ``run`` and ``{"tty": "go" | "eio"}`` answering a
``foreground``. Server → client: ``{"started": true, "pid": worker}`` once the command
runs, ``{"run": argv, "env": ..., "stdin_fd": bool}`` (the pager or the editor, to run in
the client's terminal; the pager's pipe passed along), ``{"foreground": fd, "stop":
"TTIN" | "TTOU"}`` before the command reads the terminal (or changes its modes, or
writes under ``stty tostop``), ``{"exit": code}`` at the end; ``{"restart": true}`` when
the builds differ (:func:`build`).

A message is JSON's data model (a dict of str keys; lists, str, int, float, bool, None),
framed as a 4-byte big-endian length and the value in :mod:`marshal`'s format 4. The
client's start-up is the floor of every command's time, and the usual modules cost it
dearly: ``json`` brings ``re`` (4–6 ms here), ``socket`` and ``signal`` bring ``enum``
(6 ms), ``struct`` 1 ms; ``marshal`` and ``_socket`` are built in. Only a peer of our own
uid reaches this (the server checks SO_PEERCRED before it reads; the client's socket lives
in a directory only its user can enter), and what arrives is checked to be that data model
before anyone sees it (:func:`plain`): anything else (a code object, a set, bytes) closes
the connection.
"""

from __future__ import annotations

import _socket
import marshal
import os
import sys

# typing.TYPE_CHECKING would import typing: too dear for the client's start-up
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

LENGTH_SIZE = 4
MAX_MESSAGE = 64 * 1024 * 1024
MAX_FDS = 4
MAX_DEPTH = 8
FORMAT = 4  # marshal's format since Python 3.4: readable by every interpreter we run on
FD_SIZE = 4  # a C int, as SCM_RIGHTS carries file descriptors on Linux
# The signals the client passes on as {"signal": NAME}; the worker raises them in itself.
FORWARDED_SIGNALS = ("INT", "TERM", "HUP", "WINCH")


def build() -> str:
    """What makes a client and a server the same taskcli: the version, the interpreter, and
    where the package lives and when its newest source file changed (an upgrade in place,
    an edited checkout, another virtual environment with the same version), and how the
    interpreter turns argv and paths into text (its UTF-8 mode and file-system encoding,
    fixed when it starts: a client under PYTHONUTF8=0 and a Latin-1 locale must not be
    served by a UTF-8 server). A server answers only clients of its own build."""
    from taskcli import __version__

    package = os.path.dirname(os.path.abspath(__file__))
    newest, folders = 0, [package]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        folders.append(entry.path)
                elif entry.name.endswith(".py"):
                    newest = max(newest, entry.stat().st_mtime_ns)
    text = f"utf8={sys.flags.utf8_mode} fs={sys.getfilesystemencoding()}"
    return f"{__version__} {sys.executable} {package} {newest} {text}"


class Closed(Exception):
    """The other end closed the connection (or sent something that is not a message)."""


def plain(value: object, depth: int = 0) -> Any:
    """``value`` when it is JSON's data model (tuples made lists, as JSON would have sent
    them); Closed for anything else, or nested deeper than any message of ours."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if depth >= MAX_DEPTH:
        raise Closed("not a message")
    if isinstance(value, (list, tuple)):
        return [plain(item, depth + 1) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: plain(item, depth + 1) for key, item in value.items()}
    raise Closed("not a message")


def _message(value: object) -> dict[str, Any]:
    """``value`` as a message (a dict in JSON's data model, see :func:`plain`); Closed
    for anything else."""
    checked = plain(value)
    if not isinstance(checked, dict):
        raise Closed("not a message")
    return checked


class Channel:
    """One connection: send and receive whole messages; received fds wait in ``fds``.

    ``sock`` is a socket of either module (``socket.socket`` is a ``_socket.socket``)."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.fds: list[int] = []
        self._buffer = bytearray()

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        try:
            data = marshal.dumps(_message(message), FORMAT)
        except Closed:
            raise TypeError(f"not a message: {message!r}") from None
        frame = len(data).to_bytes(LENGTH_SIZE, "big") + data
        if fds:
            rights = b"".join(fd.to_bytes(FD_SIZE, sys.byteorder) for fd in fds)
            ancillary = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)]
            sent = self.sock.sendmsg([frame], ancillary)
            if sent < len(frame):  # (an empty send to a peer already gone would fail)
                self.sock.sendall(frame[sent:])
        else:
            self.sock.sendall(frame)

    def receive(self) -> dict[str, Any]:
        """The next message; Closed at the end of the stream."""
        while True:
            if len(self._buffer) >= LENGTH_SIZE:
                size = int.from_bytes(self._buffer[:LENGTH_SIZE], "big")
                if size > MAX_MESSAGE:
                    raise Closed("message too long")
                end = LENGTH_SIZE + size
                if len(self._buffer) >= end:
                    data = bytes(self._buffer[LENGTH_SIZE:end])
                    del self._buffer[:end]
                    try:
                        value = marshal.loads(data)
                    except (ValueError, EOFError, TypeError):
                        raise Closed("not a message") from None
                    return _message(value)
            self._read()

    def _read(self) -> None:
        data, ancillary, _flags, _address = self.sock.recvmsg(
            65536, _socket.CMSG_LEN(MAX_FDS * FD_SIZE), _socket.MSG_CMSG_CLOEXEC
        )
        for level, kind, rights in ancillary:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                whole = len(rights) - len(rights) % FD_SIZE
                self.fds += [
                    int.from_bytes(rights[at : at + FD_SIZE], sys.byteorder)
                    for at in range(0, whole, FD_SIZE)
                ]
        if not data:
            raise Closed("connection closed")
        self._buffer += data

    def take_fd(self) -> int:
        if not self.fds:
            raise Closed("a file descriptor was announced but not passed")
        return self.fds.pop(0)
