"""Files taskcli writes: the config (may hold a database password), the token fallback and
exports, all through :func:`replacing`; and the modes of the embedded database's files.

A file is never written in place. Its new content goes to a temporary file created
exclusively (``O_EXCL | O_NOFOLLOW``, a random name) in the target's directory, is
flushed to disk, and is renamed over the target at the end. A reader sees the old file
or the new one, never part of one, and a symlink or file that someone else planted at
either name is replaced, never written through.
"""

from __future__ import annotations

import os
import secrets
import signal
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import NoReturn, TextIO

from taskcli.core.errors import Terminated

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
_NEW_FILE_MODE = 0o666  # what open() asks for; the umask takes its share
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@contextmanager
def replacing(path: Path, *, mode: int | None = None) -> Iterator[TextIO]:
    """A UTF-8 text stream whose content replaces ``path`` when the block ends normally.

    ``mode`` is the new file's mode; without it an existing regular file of ours keeps
    its mode and anything else gets a new file's (0666 minus the umask). On any
    exception, and on SIGTERM (raised as :class:`Terminated` while the block runs in the
    main thread), the temporary file is removed and the target is left as it was.
    """
    path = Path(path)
    wanted = _kept_mode(path) if mode is None else mode
    with _sigterm_raises():
        # created 0600 when a mode will be set, else as open() would (0666 minus the umask)
        creation_mode = _NEW_FILE_MODE if wanted is None else PRIVATE_FILE_MODE
        descriptor, temporary = _create_temporary(path, creation_mode)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as out:
                if wanted is not None:
                    os.fchmod(descriptor, wanted)  # exactly: the umask does not apply
                yield out
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            with suppress(FileNotFoundError):
                temporary.unlink()
            raise
    _sync_directory(path.parent)


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a file only its owner can read (mode 0600),
    creating its directory (mode 0700) when missing."""
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    with replacing(path, mode=PRIVATE_FILE_MODE) as out:
        out.write(text)


def _create_temporary(path: Path, mode: int) -> tuple[int, Path]:
    for _ in range(100):
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(6)}.partial")
        try:
            return os.open(candidate, _CREATE_FLAGS, mode), candidate
        except FileExistsError:  # someone else's file (or symlink) at that name: another
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def _kept_mode(path: Path) -> int | None:
    """The existing target's mode if it is a regular file we own; never the mode of a
    file someone else planted."""
    with suppress(OSError):
        existing = path.lstat()
        if stat.S_ISREG(existing.st_mode) and existing.st_uid == os.geteuid():
            return stat.S_IMODE(existing.st_mode)
    return None


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (a crash right after it keeps the new file)."""
    with suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` inside the block, so cleanup code runs (signal
    handlers can only be installed from the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(_signum: int, _frame: FrameType | None) -> NoReturn:
        raise Terminated("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def make_private(directory: Path | None, files: list[Path]) -> None:
    """Mode 0700 for ``directory`` and 0600 for each of ``files`` that exists, whatever
    they were before (only looser modes are changed)."""
    for path, wanted in [(directory, PRIVATE_DIR_MODE)] + [(f, PRIVATE_FILE_MODE) for f in files]:
        if path is None:
            continue
        try:
            current = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if current & ~wanted:
            path.chmod(current & wanted)
