"""The client–server wire format: length-prefixed JSON messages over a Unix stream socket,
file descriptors passed alongside (SCM_RIGHTS). Standard library only (the client uses it).

Messages, client → server: the request header ``{"version", "build", "argv", "env",
"cwd", "streams"}`` with fds 0, 1, 2; ``{"status": true}``; ``{"stop": true}``; later
``{"signal": "INT"}`` (also TERM, HUP) and ``{"ran": code}`` / ``{"error": ...}`` answering
a ``run``. Server → client: ``{"started": true}`` once the command runs, ``{"run": argv,
"env": ..., "stdin_fd": bool}`` (the pager or the editor, to run in the client's terminal;
the pager's pipe passed along), ``{"exit": code}`` at the end; ``{"restart": true}`` when
the builds differ (:func:`build`).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys

# typing.TYPE_CHECKING would import typing: too dear for the client's start-up
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

LENGTH = struct.Struct("!I")
MAX_MESSAGE = 64 * 1024 * 1024
MAX_FDS = 4


def build() -> str:
    """What makes a client and a server the same taskcli: the version, the interpreter, and
    where the package lives and when its newest source file changed (an upgrade in place,
    an edited checkout, another virtual environment with the same version). A server
    answers only clients of its own build."""
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
    return f"{__version__} {sys.executable} {package} {newest}"


class Closed(Exception):
    """The other end closed the connection (or sent something that is not a message)."""


class Channel:
    """One connection: send and receive whole messages; received fds wait in ``fds``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fds: list[int] = []
        self._buffer = bytearray()

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        data = json.dumps(message, separators=(",", ":")).encode("ascii")
        frame = LENGTH.pack(len(data)) + data
        if fds:
            sent = socket.send_fds(self.sock, [frame], fds)
            if sent < len(frame):  # (an empty send to a peer already gone would fail)
                self.sock.sendall(frame[sent:])
        else:
            self.sock.sendall(frame)

    def receive(self) -> dict[str, Any]:
        """The next message; Closed at the end of the stream."""
        while True:
            if len(self._buffer) >= LENGTH.size:
                (size,) = LENGTH.unpack_from(self._buffer)
                if size > MAX_MESSAGE:
                    raise Closed("message too long")
                end = LENGTH.size + size
                if len(self._buffer) >= end:
                    data = bytes(self._buffer[LENGTH.size : end])
                    del self._buffer[:end]
                    try:
                        message = json.loads(data)
                    except ValueError:
                        raise Closed("not a message") from None
                    if not isinstance(message, dict):
                        raise Closed("not a message")
                    return message
            data, fds, _flags, _address = socket.recv_fds(
                self.sock, 65536, MAX_FDS, socket.MSG_CMSG_CLOEXEC
            )
            self.fds += fds
            if not data:
                raise Closed("connection closed")
            self._buffer += data

    def take_fd(self) -> int:
        if not self.fds:
            raise Closed("a file descriptor was announced but not passed")
        return self.fds.pop(0)
