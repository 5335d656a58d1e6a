"""Where the session token is kept: ``TASKCLI_TOKEN``, a 0600 file, or the OS keyring.

One token per profile and database. ``save`` puts it in the OS keyring (service
``taskcli``) and falls back to ``tokens.json`` in the data directory when no keyring is
usable: no backend, the fail or null backend, a locked or missing Secret Service, any
keyring error, or a call that does not answer within :data:`KEYRING_TIMEOUT` seconds.
The fallback is reported through the ``warn`` callback once per data directory (a marker
file there remembers it), not at every login. Every read-modify-write of the file holds
an exclusive lock on ``tokens.json.lock`` beside it, so logins on several profiles at
once keep every entry; a file that cannot be read, written or locked is a
:class:`~taskcli.core.errors.TokenStoreError`.

``load`` reads the environment first, then the file, then the keyring. The file comes
before the keyring because it only ever holds the newest token (a successful keyring save
removes the file's copy) and because reading it costs neither the keyring import nor a
possible keyring timeout.

``keyring`` is imported only inside the functions that talk to it: it is slow to import
and ``taskcli --help`` must not pay for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from taskcli.core.errors import TokenStoreError
from taskcli.core.files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, write_private

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "taskcli"
TOKEN_ENV = "TASKCLI_TOKEN"
TOKEN_FILE_NAME = "tokens.json"
LOCK_FILE_NAME = "tokens.json.lock"
FALLBACK_NOTED_NAME = "keyring-fallback-noted"
KEYRING_TIMEOUT = 3.0
_FILE_VERSION = 1

T = TypeVar("T")


@dataclass(frozen=True)
class StoredToken:
    """A token, where it came from, and a description of that (shown by ``whoami``)."""

    token: str = field(repr=False)
    storage: str
    source: TokenSource

    @property
    def from_environment(self) -> bool:
        """Given by the caller (TASKCLI_TOKEN): not taskcli's to replace or forget."""
        return self.source is TokenSource.environment


class TokenSource(StrEnum):
    environment = "environment"
    file = "file"
    keyring = "keyring"


class _KeyringUnusable(Exception):
    """The OS keyring cannot be used; the message says why (and never holds the token)."""


class TokenStore:
    """The token of one profile on one database."""

    def __init__(
        self,
        *,
        data_dir: Path,
        profile: str,
        database_key: str,
        warn: Callable[[str], None],
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.path = Path(data_dir) / TOKEN_FILE_NAME
        self.lock_path = Path(data_dir) / LOCK_FILE_NAME
        self.profile = profile
        # The key is the database URL without its password: hashing keeps host and user
        # names out of the keyring's entry list and gives a fixed-length name.
        digest = hashlib.sha256(database_key.encode("utf-8")).hexdigest()[:16]
        self.entry = f"{profile}:{digest}"
        self._warn = warn
        self._environ = environ

    def load(self) -> StoredToken | None:
        """The token in force, or None when not logged in."""
        from_env = self._environ.get(TOKEN_ENV, "").strip()
        if from_env:
            return StoredToken(from_env, f"environment ({TOKEN_ENV})", TokenSource.environment)
        from_file = (self._read_file() or {}).get(self.entry)
        if from_file:
            return StoredToken(from_file, f"file {self.path}", TokenSource.file)
        try:
            token, backend_name = _with_keyring(
                lambda backend: backend.get_password(SERVICE, self.entry)
            )
        except _KeyringUnusable:
            return None
        if not token:
            return None
        return StoredToken(token, f"keyring ({backend_name})", TokenSource.keyring)

    def save(self, token: str) -> str:
        """Store the token; return where it went (the same text ``load`` reports)."""
        try:
            _, backend_name = _with_keyring(
                lambda backend: backend.set_password(SERVICE, self.entry, token),
                secret=token,
            )
        except _KeyringUnusable as exc:
            with self._locked():
                tokens = self._read_file() or {}
                tokens[self.entry] = token
                self._write_file(tokens)
            self._note_fallback_once(
                f"OS keyring not usable ({exc}); "
                f"the session token is stored in {self.path} (readable only by you)"
            )
            return f"file {self.path}"
        self._forget_in_file()
        return f"keyring ({backend_name})"

    def _note_fallback_once(self, text: str) -> None:
        marker = self.path.with_name(FALLBACK_NOTED_NAME)
        if marker.exists():
            return
        self._warn(text)
        try:
            marker.touch()
        except OSError:  # not remembered: the warning comes again, which is harmless
            pass

    def delete(self) -> None:
        """Remove the token from the file and the keyring; a missing entry is fine.

        ``TASKCLI_TOKEN`` is left alone: the environment belongs to the caller.
        """
        self._forget_in_file()
        try:
            _with_keyring(self._delete_from_keyring)
        except _KeyringUnusable:
            pass

    def _delete_from_keyring(self, backend: KeyringBackend) -> None:
        from keyring.errors import PasswordDeleteError

        try:
            backend.delete_password(SERVICE, self.entry)
        except PasswordDeleteError:
            pass

    def _forget_in_file(self) -> None:
        if not self.path.exists():
            return  # nothing to forget, and no lock file to create for it
        with self._locked():
            tokens = self._read_file()
            if tokens is not None and tokens.pop(self.entry, None) is None:
                return  # nothing to forget (an unreadable file, None, is removed below)
            if tokens:
                self._write_file(tokens)
                return
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise TokenStoreError(f"cannot remove {self.path}: {exc.strerror}") from None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the token file's lock (other taskcli processes wait for it)."""
        import fcntl

        try:
            self.path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            descriptor = os.open(
                self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                PRIVATE_FILE_MODE,
            )  # fmt: skip
        except OSError as exc:
            raise TokenStoreError(f"cannot lock {self.lock_path}: {exc.strerror}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def _read_file(self) -> dict[str, str] | None:
        """The file's entries; None, after a warning, when its content is unusable."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TokenStoreError(f"cannot read {self.path}: {exc.strerror}") from None
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            self._warn(f"ignoring unreadable token file {self.path}: {exc}")
            return None
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, dict) or not all(
            isinstance(value, str) for value in tokens.values()
        ):
            self._warn(f"ignoring token file {self.path}: unexpected content")
            return None
        return tokens

    def _write_file(self, tokens: Mapping[str, str]) -> None:
        text = json.dumps({"version": _FILE_VERSION, "tokens": dict(tokens)}, indent=2) + "\n"
        try:
            write_private(self.path, text)
        except OSError as exc:
            raise TokenStoreError(f"cannot write {self.path}: {exc.strerror}") from None


def _with_keyring(
    action: Callable[[KeyringBackend], T], *, secret: str | None = None
) -> tuple[T, str]:
    """Run ``action`` on the active keyring backend; return its result and the backend name.

    Backend discovery and the call run in a daemon thread that is abandoned after
    :data:`KEYRING_TIMEOUT` seconds (a Secret Service waiting on an unlock prompt nobody
    will answer hangs forever). Every failure becomes :class:`_KeyringUnusable`.
    """

    def work() -> tuple[T, str]:
        import keyring

        backend = keyring.get_keyring()
        reason = _unusable_reason(backend)
        if reason:
            raise _KeyringUnusable(reason)
        return action(backend), _backend_name(backend)

    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # handed to the waiting caller below
            outcome["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=run, name="taskcli-keyring", daemon=True).start()
    if not finished.wait(KEYRING_TIMEOUT):
        raise _KeyringUnusable(f"no answer within {KEYRING_TIMEOUT:g} s")
    error = outcome.get("error")
    if isinstance(error, _KeyringUnusable):
        raise error
    if error is not None:
        raise _KeyringUnusable(_describe(error, secret)) from None
    result: tuple[T, str] = outcome["result"]
    return result


def _unusable_reason(backend: KeyringBackend) -> str | None:
    """Why a backend cannot hold a token, decided without calling it."""
    from keyring.backends import chainer, fail, null

    if isinstance(backend, fail.Keyring | null.Keyring):
        return f"no OS keyring backend is available ({_backend_name(backend)})"
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return "no OS keyring backend is available"
    return None


def _backend_name(backend: KeyringBackend) -> str:
    from keyring.backends import chainer

    if isinstance(backend, chainer.ChainerBackend):
        return ", ".join(member.name for member in backend.backends)
    return backend.name


def _describe(error: BaseException, secret: str | None) -> str:
    text = str(error).strip()
    if secret:
        text = text.replace(secret, "***")
    name = type(error).__name__
    return f"{name}: {text}" if text else name
