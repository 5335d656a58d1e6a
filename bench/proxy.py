"""A loopback TCP proxy in front of PostgreSQL that counts round trips and adds latency.

A *turn* is the client sending (one or more packets) and then the server answering;
consecutive packets in one direction belong to the same turn, and a client message the
server never answers (Terminate) is no turn. Every server→client packet is held back
by ``latency`` seconds, so a command's wall time grows by about turns × latency.

The proxy also decodes the frontend/backend protocol well enough to label each turn
("Q SELECT …" → "T D×3 C Z"), which shows which statements cost a round trip. Connect
through it with ``sslmode=disable``: TLS would hide the messages (the counts would still
be right, the labels not).

Runs an asyncio loop in a daemon thread; use it as a context manager::

    with Proxy("127.0.0.1", 5432) as proxy:
        proxy.latency = 0.020
        proxy.reset()
        ... connect to 127.0.0.1:proxy.port ...
        proxy.connections()  # [[Turn, ...], ...] one list per client connection
"""

from __future__ import annotations

import asyncio
import struct
import threading
import time
from dataclasses import dataclass, field

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104
CANCEL_REQUEST = 80877102
AUTH_NAMES = {
    0: "AuthOk",
    3: "AuthCleartext",
    5: "AuthMD5",
    10: "AuthSASL",
    11: "AuthSASLContinue",
    12: "AuthSASLFinal",
}
QUERY_LABEL_CHARS = 140


@dataclass
class Turn:
    """One client→server→client exchange, with a summary of the messages in each way."""

    sent: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    answered: bool = False

    def label(self) -> str:
        return f"{' ; '.join(self.sent) or '?'}  →  {_squash(self.received) or '?'}"


def _squash(names: list[str]) -> str:
    """'D D D C Z' → 'D×3 C Z'."""
    out: list[str] = []
    for name in names:
        if out and out[-1].split("×")[0] == name:
            head, _, count = out[-1].partition("×")
            out[-1] = f"{head}×{int(count or 1) + 1}"
        else:
            out.append(name)
    return " ".join(out)


class _Decoder:
    """Splits one direction of a PostgreSQL protocol stream into labelled messages."""

    def __init__(self, *, client: bool) -> None:
        self.client = client
        self.buffer = bytearray()
        self.untyped = client  # a client starts with a length-prefixed startup packet
        self.expect_ssl_byte = False
        self.broken = False  # TLS or garbage: stop decoding, keep counting

    def feed(self, data: bytes) -> list[str]:
        if self.broken:
            return []
        self.buffer += data
        labels: list[str] = []
        try:
            while (label := self._next()) is not None:
                labels.append(label)
        except (struct.error, ValueError, IndexError):
            self.broken = True
            labels.append("<undecoded>")
        return labels

    def _next(self) -> str | None:
        buffer = self.buffer
        if self.expect_ssl_byte:
            if not buffer:
                return None
            answer = chr(buffer[0])
            del buffer[:1]
            self.expect_ssl_byte = False
            if answer == "S":
                self.broken = True  # TLS from here on
            return f"SSL:{answer}"
        if self.untyped:
            if len(buffer) < 8:
                return None
            (length,) = struct.unpack_from("!I", buffer)
            if len(buffer) < length:
                return None
            (code,) = struct.unpack_from("!I", buffer, 4)
            del buffer[:length]
            if code in (SSL_REQUEST, GSS_REQUEST):
                self.peer.expect_ssl_byte = True
                return "SSLRequest" if code == SSL_REQUEST else "GSSENCRequest"
            self.untyped = False
            return "CancelRequest" if code == CANCEL_REQUEST else "Startup"
        if len(buffer) < 5:
            return None
        kind = chr(buffer[0])
        (length,) = struct.unpack_from("!I", buffer, 1)
        if len(buffer) < 1 + length:
            return None
        body = bytes(buffer[5 : 1 + length])
        del buffer[: 1 + length]
        return self._client_label(kind, body) if self.client else self._server_label(kind, body)

    @staticmethod
    def _client_label(kind: str, body: bytes) -> str:
        if kind == "Q":
            text = " ".join(body.rstrip(b"\0").decode("utf-8", "replace").split())
            return "Q " + (
                text if len(text) <= QUERY_LABEL_CHARS else text[:QUERY_LABEL_CHARS] + "…"
            )
        if kind == "P":
            parts = body.split(b"\0")
            text = " ".join(parts[1].decode("utf-8", "replace").split()) if len(parts) > 1 else ""
            return "Parse " + text[:QUERY_LABEL_CHARS]
        return {"p": "Password/SASL", "X": "Terminate", "S": "Sync"}.get(kind, kind)

    @staticmethod
    def _server_label(kind: str, body: bytes) -> str:
        if kind == "R":
            (code,) = struct.unpack_from("!I", body)
            return AUTH_NAMES.get(code, f"Auth{code}")
        if kind == "C":
            return "C(" + body.rstrip(b"\0").decode("utf-8", "replace") + ")"
        if kind == "E":
            fields = {
                part[:1].decode(): part[1:].decode("utf-8", "replace")
                for part in body.split(b"\0")
                if part
            }
            return f"Error({fields.get('C', '?')}: {fields.get('M', '')[:80]})"
        if kind == "Z":
            return f"Z({body[:1].decode()})"
        return kind


class _Connection:
    """One proxied client connection: its turns and its two decoders."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.last: str | None = None
        self.closed = False
        self.kept = False  # open before the last reset()
        self.client = _Decoder(client=True)
        self.server = _Decoder(client=False)
        self.client.peer = self.server
        self.server.peer = self.client

    def from_client(self, data: bytes) -> None:
        if self.last != "client":
            self.turns.append(Turn())
        self.last = "client"
        self.turns[-1].sent += self.client.feed(data)

    def from_server(self, data: bytes) -> None:
        if not self.turns:  # the server spoke first: not a client turn
            self.turns.append(Turn(answered=True))
        self.turns[-1].answered = True
        self.last = "server"
        self.turns[-1].received += self.server.feed(data)

    def answered_turns(self) -> list[Turn]:
        return [turn for turn in self.turns if turn.answered]


class Proxy:
    """The proxy; ``latency`` (seconds) may be changed while it runs."""

    def __init__(self, upstream_host: str, upstream_port: int, *, latency: float = 0.0):
        self.upstream = (upstream_host, upstream_port)
        self.latency = latency
        self.port = 0
        self._records: list[_Connection] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._active = 0

    def __enter__(self) -> Proxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = future.result(timeout=10)
        return self

    def __exit__(self, *exc_info) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            deadline = time.monotonic() + 2.0  # let closing connections finish on their own
            while self._active and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            current = asyncio.current_task()
            while pending := [t for t in asyncio.all_tasks() if t is not current]:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def reset(self) -> None:
        """Count afresh: connections still open (a warm server's) stay, their turns
        forgotten; the others are dropped."""
        with self._lock:
            self._records = [record for record in self._records if not record.closed]
            for record in self._records:
                record.turns, record.last, record.kept = [], None, True

    def connections(self, settle: float = 2.0) -> list[list[Turn]]:
        """The answered turns of each connection since reset(), once all that were opened
        since have closed (or ``settle`` seconds passed: a warm server keeps its own)."""
        deadline = time.monotonic() + settle
        while self._opened_still_open() and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._lock:
            return [record.answered_turns() for record in self._records]

    def opened(self) -> int:
        """How many connections were opened since reset()."""
        with self._lock:
            return sum(not record.kept for record in self._records)

    def _opened_still_open(self) -> bool:
        with self._lock:
            return any(not record.kept and not record.closed for record in self._records)

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def _handle(self, client_reader, client_writer) -> None:
        record = _Connection()
        with self._lock:
            self._records.append(record)
        self._active += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self._active -= 1
            record.closed = True
            client_writer.close()
            return
        try:
            await asyncio.gather(
                self._pump(client_reader, server_writer, record.from_client, delay=False),
                self._pump(server_reader, client_writer, record.from_server, delay=True),
            )
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
            self._active -= 1
            record.closed = True

    async def _pump(self, reader, writer, observe, *, delay: bool) -> None:
        """Copy one direction; server→client data is delivered `latency` after arrival."""
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while (item := await queue.get()) is not None:
                due, data = item
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

        sender = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                observe(data)
                queue.put_nowait((time.monotonic() + (self.latency if delay else 0.0), data))
        except (ConnectionError, OSError):
            pass
        queue.put_nowait(None)
        try:
            await sender
        except (ConnectionError, OSError, RuntimeError):
            pass  # the peer went away first: nothing left to deliver
