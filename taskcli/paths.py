"""Where taskcli's files live, computed with the standard library only.

The client (taskcli/client.py) must answer "is the server disabled in the config file, and
where is its socket?" without importing platformdirs. On Linux these are the XDG rules that
core/config.py gets from platformdirs; tests/test_server.py pins the two equal.
"""

from __future__ import annotations

import os
import stat

# typing.TYPE_CHECKING would import typing: too dear for the client's start-up
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

APP_NAME = "taskcli"
SOCKET_NAME = "server.sock"
LOCK_NAME = "server.lock"


def _xdg_dir(environ: Mapping[str, str], variable: str, default: str) -> str:
    base = environ.get(variable, "")
    if not base.strip():
        base = os.path.expanduser(default)
    return os.path.join(base, APP_NAME)


def config_dir(environ: Mapping[str, str] = os.environ) -> str:
    """Where config.toml lives (``TASKCLI_CONFIG_DIR`` overrides)."""
    override = environ.get("TASKCLI_CONFIG_DIR")
    if override:
        return os.path.expanduser(override)
    return _xdg_dir(environ, "XDG_CONFIG_HOME", "~/.config")


def data_dir(environ: Mapping[str, str] = os.environ) -> str:
    """Where the embedded database and the token file live (``TASKCLI_DATA_DIR`` overrides)."""
    override = environ.get("TASKCLI_DATA_DIR")
    if override:
        return os.path.expanduser(override)
    return _xdg_dir(environ, "XDG_DATA_HOME", "~/.local/share")


class UntrustedDirectory(Exception):
    """The server's directory is not one only this user can reach: never use it."""


def private_dir_problem(path: str) -> str | None:
    """Why ``path`` is not a private directory of ours (None when it is): a symlink, not a
    directory, owned by someone else, or reachable by group or others."""
    try:
        info = os.lstat(path)
    except OSError as error:
        return f"{path}: {error.strerror}"
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a directory"
    if info.st_uid != os.getuid():
        return f"{path} is owned by uid {info.st_uid}, not {os.getuid()}"
    if info.st_mode & 0o077:
        return f"{path} has mode {stat.S_IMODE(info.st_mode):04o}, not 0700"
    return None


def server_dir(environ: Mapping[str, str] = os.environ) -> str:
    """The directory of the server's socket and lock (not created, not checked):
    ``$XDG_RUNTIME_DIR/taskcli`` when the runtime directory is a private one of ours,
    else ``<data dir>/server``."""
    runtime = environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and private_dir_problem(runtime) is None:
        return os.path.join(runtime, APP_NAME)
    return os.path.join(data_dir(environ), "server")


def checked_server_dir(environ: Mapping[str, str] = os.environ, *, create: bool) -> str:
    """:func:`server_dir`, created 0700 if asked, then checked: UntrustedDirectory unless it
    is a real directory owned by this user that no one else can reach."""
    path = server_dir(environ)
    if create:
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            os.mkdir(path, mode=0o700)
        except FileExistsError:
            pass
        except OSError as error:
            raise UntrustedDirectory(f"{path}: {error.strerror}") from None
    problem = private_dir_problem(path)
    if problem is not None:
        raise UntrustedDirectory(problem)
    return path
