"""Streaming JSON arrays: read one element at a time, write one element at a time.

``json.load`` would hold a whole export (a million tasks) in memory; the scanner
below keeps only the element being decoded plus one read chunk. A syntax error
cannot be resynchronised, so it ends the array (as a :class:`JsonSyntaxError`).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

_CHUNK = 64 * 1024
# No task object comes near this; it bounds what a broken file can pull into memory.
_MAX_ELEMENT_CHARS = 8 * 1024 * 1024
_WHITESPACE = " \t\n\r"
_NON_WHITESPACE = re.compile(r"[^ \t\n\r]")
_NUMBER_TAIL = re.compile(r"[0-9eE.+-]*")
_LEADING_SPACE = _WHITESPACE + "\ufeff"
_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class Head:
    """The first chunk of a stream with content, and where it starts: the whitespace
    before it is read past (in linear time) and not kept."""

    text: str
    line: int = 1  # the line number of text[0]
    column: int = 0  # the 0-based column of text[0]


class JsonSyntaxError(ValueError):
    """The JSON text is broken at ``location``; nothing after it can be read."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(message)
        self.location = location
        self.message = message


class _Scanner:
    """A window on a text stream: the unread text, where it starts, and JSON decoding."""

    def __init__(self, stream: TextIO, head: Head) -> None:
        self.stream = stream
        self.buffer = head.text
        self.pos = 0
        self.eof = False
        self.line = head.line  # line number of buffer[0]
        self.column = head.column  # 0-based column of buffer[0]

    def fill(self, size: int = _CHUNK) -> bool:
        """Append more of the stream to the buffer; False at the end of the stream."""
        if self.eof:
            return False
        chunk = self.stream.read(size)
        if not chunk:
            self.eof = True
            return False
        if self.pos >= _CHUNK:
            self._drop_consumed()
        self.buffer += chunk
        return True

    def _drop_consumed(self) -> None:
        dropped = self.buffer[: self.pos]
        newlines = dropped.count("\n")
        self.line += newlines
        self.column = (
            len(dropped) - dropped.rfind("\n") - 1 if newlines else self.column + len(dropped)
        )
        self.buffer = self.buffer[self.pos :]
        self.pos = 0

    def peek(self) -> str:
        """The next non-whitespace character (not consumed), or '' at the end."""
        while True:
            if found := _NON_WHITESPACE.search(self.buffer, self.pos):
                self.pos = found.start()
                return self.buffer[self.pos]
            self.pos = len(self.buffer)
            if not self.fill():
                return ""

    def where(self, pos: int) -> str:
        """'line L column C' of a buffer position, counted from the start of the stream."""
        start = self.buffer.rfind("\n", 0, pos) + 1
        column = pos - start + 1 if start else self.column + pos + 1
        return f"line {self.line_at(pos)} column {column}"

    def line_at(self, pos: int) -> int:
        """The 1-based line number of a buffer position."""
        return self.line + self.buffer.count("\n", 0, pos)

    def value(self, location: str) -> object:
        """Decode the JSON value at the current position and move past it."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as error:
                pending = len(self.buffer) - self.pos
                # The value may just be cut by the chunk boundary: read more, doubling.
                if pending < _MAX_ELEMENT_CHARS and self.fill(max(_CHUNK, pending)):
                    continue
                raise JsonSyntaxError(location, f"{error.msg} at {self.where(error.pos)}") from None
            except RecursionError:
                raise JsonSyntaxError(location, "JSON nested too deeply") from None
            except ValueError as error:  # e.g. an integer too long to convert
                raise JsonSyntaxError(location, str(error)) from None
            pending = len(self.buffer) - self.pos
            if self._number_may_go_on(value, end) and self.fill(max(_CHUNK, pending)):
                continue
            self.pos = end
            return value

    def _number_may_go_on(self, value: object, end: int) -> bool:
        """Whether a number decoded up to ``end`` may go on in the next chunk: the buffer
        can end inside it ("1." or "1e" decode as 1). Bounded like an element."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        within = len(self.buffer) - self.pos < _MAX_ELEMENT_CHARS
        return within and _NUMBER_TAIL.fullmatch(self.buffer, end) is not None


def iter_json_array(stream: TextIO, head: Head | None = None) -> Iterator[tuple[int, object]]:
    """Yield ``(index, element)`` of the JSON array on ``stream`` (``head`` read already).

    Empty input is an empty array. A trailing comma before ``]`` is tolerated (old
    Taskwarrior exports have one). Raises :class:`JsonSyntaxError` where the text breaks.
    """
    scanner = _Scanner(stream, head or Head(""))
    first = scanner.peek()
    if first == "\ufeff":
        scanner.pos += 1
        first = scanner.peek()
    if first == "":
        return
    if first != "[":
        raise JsonSyntaxError(f"line {scanner.line_at(scanner.pos)}", "expected a JSON array ('[')")
    scanner.pos += 1
    index = 0
    while scanner.peek() != "]":
        yield index, scanner.value(f"index {index}")
        index += 1
        separator = scanner.peek()
        if separator == ",":
            scanner.pos += 1
        elif separator != "]":
            found = (
                f"{separator!r} at {scanner.where(scanner.pos)}"
                if separator
                else "the end of the input"
            )
            raise JsonSyntaxError(f"index {index}", f"expected ',' or ']', found {found}")
    scanner.pos += 1
    if scanner.peek() != "":
        raise JsonSyntaxError(
            f"index {index}", f"text after the array at {scanner.where(scanner.pos)}"
        )


def write_json_array(objects: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write a JSON array one element per line (``[]`` when empty); return the count."""
    return write_json_array_texts((json.dumps(o, ensure_ascii=False) for o in objects), out)


class JsonArrayWriter:
    """A JSON array one element per line (``[]`` when empty), from one-line JSON texts."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0

    def add(self, text: str) -> None:
        self.out.write((",\n" if self.count else "[\n") + text)
        self.count += 1

    def close(self) -> int:
        """End the array; return how many elements it has."""
        self.out.write("\n]\n" if self.count else "[]\n")
        return self.count


class JsonLinesWriter(JsonArrayWriter):
    """One-line JSON texts, one per line."""

    def add(self, text: str) -> None:
        self.out.write(text + "\n")
        self.count += 1

    def close(self) -> int:
        return self.count


def write_json_array_texts(texts: Iterable[str], out: TextIO) -> int:
    """:func:`write_json_array` for elements already encoded as one-line JSON texts."""
    return _write_all(JsonArrayWriter(out), texts)


def write_json_lines_texts(texts: Iterable[str], out: TextIO) -> int:
    """One-line JSON texts, one per line; return the count."""
    return _write_all(JsonLinesWriter(out), texts)


def _write_all(writer: JsonArrayWriter, texts: Iterable[str]) -> int:
    for text in texts:
        writer.add(text)
    return writer.close()


def read_head(stream: TextIO) -> Head:
    """Read chunks until one has a non-whitespace character (or the stream ends)."""
    line, column = 1, 0
    while (chunk := stream.read(_CHUNK)) and not chunk.strip(_LEADING_SPACE):
        newlines = chunk.count("\n")
        line += newlines
        column = len(chunk) - chunk.rfind("\n") - 1 if newlines else column + len(chunk)
    return Head(chunk, line, column)


class HeadThenStream:
    """The rest of a stream after its head was read, readable by lines again."""

    def __init__(self, head: Head, stream: TextIO) -> None:
        self.head = io.StringIO(head.text)
        self.stream = stream

    def readline(self, size: int = -1) -> str:
        line = self.head.readline(size)
        if line.endswith("\n") or 0 <= size <= len(line):
            return line
        return line + self.stream.readline(size - len(line) if size >= 0 else -1)
