"""Configuration: directories, the TOML config file with profiles, and precedence.

The database is chosen by, highest first: ``--database-url``, ``TASKCLI_DATABASE_URL``,
the active profile's ``database_url``, the embedded SQLite default. The active profile is
``--profile``, ``TASKCLI_PROFILE``, the file's ``default_profile``, then ``default``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskcli.core.errors import ConfigError, InvalidInputError
from taskcli.core.urgency import DEFAULTS as URGENCY_DEFAULTS

APP_NAME = "taskcli"
DEFAULT_PROFILE = "default"
DEFAULT_SESSION_DAYS = 30
DEFAULT_CONNECT_TIMEOUT = 10
SQLITE_LOCK_WAIT_FACTOR = 3
PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _positive_int(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        expected = f"expected a whole number from {low} to {high}"
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ConfigError(f"{expected}, got {value!r}") from None
        if not low <= number <= high:
            raise ConfigError(f"{expected}, got {number}")
        return number

    return parse


def _database_url(value: Any) -> str:
    from taskcli.core.urls import normalize_url  # light: no SQLAlchemy import

    text = str(value).strip()
    normalize_url(text)  # raises ConfigError when the URL is not one taskcli can use
    return text


def _anchored_sqlite_url(url: str, base: Path) -> str:
    """A SQLite URL with an absolute path (``~`` expanded, a relative one under base)."""
    from taskcli.core.urls import is_sqlite, sqlite_path

    if not is_sqlite(url) or sqlite_path(url).startswith("/"):
        return url
    path = Path(sqlite_path(url)).expanduser()
    return f"sqlite:///{path if path.is_absolute() else base / path}"


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"expected true or false, got {value!r}")


def _profile_name(value: Any) -> str:
    text = str(value).strip()
    if not PROFILE_NAME_RE.match(text):
        raise ConfigError(
            f"invalid profile name {text!r}: use letters, digits, '.', '_' or '-' (≤ 64)"
        )
    return text


def _context_name(value: Any) -> str:
    from taskcli.core.contexts import checked_name

    try:
        return checked_name(str(value))
    except InvalidInputError as error:
        raise ConfigError(error.message) from None


def _coefficient(term: str) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        from taskcli.core.urgency import coefficient

        try:
            return coefficient(term, value)
        except InvalidInputError as error:
            raise ConfigError(error.message.removeprefix(f"urgency.{term}: ")) from None

    return parse


PROFILE_KEYS: dict[str, Callable[[Any], Any]] = {
    "database_url": _database_url,
    "session_days": _positive_int(1, 3650),
    "connect_timeout": _positive_int(1, 300),
    "context": _context_name,  # the context in use (taskcli context use)
    # the urgency coefficients a profile may override
    **{f"urgency.{term}": _coefficient(term) for term in URGENCY_DEFAULTS},
}
TOP_LEVEL_KEYS: dict[str, Callable[[Any], Any]] = {
    "default_profile": _profile_name,
    "server": _boolean,  # false: every command runs in its own process (SPEC §15)
}
ALL_KEYS = (*TOP_LEVEL_KEYS, *PROFILE_KEYS)


def config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where config.toml lives (``TASKCLI_CONFIG_DIR`` overrides)."""
    override = environ.get("TASKCLI_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME))


def data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the embedded database and the token file live (``TASKCLI_DATA_DIR`` overrides)."""
    override = environ.get("TASKCLI_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def validate_key(key: str) -> None:
    if key not in ALL_KEYS:
        raise ConfigError(f"unknown config key {key!r}; known keys: {', '.join(ALL_KEYS)}")


class ConfigFile:
    """The TOML file: ``default_profile`` at the top, ``[profiles.NAME]`` tables below."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            with self.path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            return {}
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {self.path}: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read {self.path}: {exc.strerror}") from None
        profiles = data.get("profiles", {})
        tables = isinstance(profiles, dict) and all(isinstance(p, dict) for p in profiles.values())
        if not tables:
            raise ConfigError(f"{self.path}: [profiles.NAME] entries must be tables")
        return data

    @property
    def profiles(self) -> dict[str, dict[str, Any]]:
        profiles: dict[str, dict[str, Any]] = self.data.setdefault("profiles", {})
        return profiles

    def profile(self, name: str) -> dict[str, Any]:
        return dict(self.profiles.get(name, {}))

    def require_profile(self, name: str) -> None:
        """Refuse a profile name the file does not define (``default`` always exists)."""
        if name != DEFAULT_PROFILE and name not in self.profiles:
            raise ConfigError(
                f"no profile named {name!r} in {self.path}",
                hint=f"create it: taskcli config set database_url URL --profile {name}",
            )

    def get(self, key: str, profile: str) -> Any:
        validate_key(key)
        self.require_profile(profile)
        if key in TOP_LEVEL_KEYS:
            return self.data.get(key)
        return self.profiles.get(profile, {}).get(key)

    def set(self, key: str, value: Any, profile: str) -> Any:
        validate_key(key)
        if any("\ud800" <= c <= "\udfff" or c == "\x00" for c in str(value)):
            raise ConfigError(f"{key}: contains NUL or unpaired surrogate characters")
        parser = TOP_LEVEL_KEYS.get(key) or PROFILE_KEYS[key]
        try:
            parsed = parser(value)
        except ConfigError as exc:
            raise ConfigError(f"{key}: {exc.message}") from None
        if key == "default_profile":
            self.require_profile(parsed)
        if key in TOP_LEVEL_KEYS:
            self.data[key] = parsed
        else:
            self.profiles.setdefault(_profile_name(profile), {})[key] = parsed
        return parsed

    def unset(self, key: str, profile: str) -> bool:
        """Remove a setting; a profile left empty goes too, unless it is the default (the
        default profile is always one the file defines)."""
        validate_key(key)
        self.require_profile(profile)
        if key in TOP_LEVEL_KEYS:
            return self.data.pop(key, None) is not None
        table = self.profiles.get(profile, {})
        removed = table.pop(key, None) is not None
        if not table and profile != self.data.get("default_profile"):
            self.profiles.pop(profile, None)
        return removed

    def save(self) -> None:
        """Write atomically with mode 0600 (the file may hold a database password)."""
        from taskcli.core.files import write_private

        try:
            write_private(self.path, dump_toml(self.data))
        except OSError as exc:
            raise ConfigError(f"cannot write {self.path}: {exc.strerror}") from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else _toml_escape(c) for c in escaped)
    return f'"{escaped}"'


def _toml_escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def dump_toml(data: Mapping[str, Any]) -> str:
    """Serialise the two-level structure taskcli writes (scalars and [profiles.NAME])."""
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in data.items() if k != "profiles"]
    for name, table in sorted(data.get("profiles", {}).items()):
        lines += ["", f"[profiles.{_toml_key(name)}]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines).lstrip("\n") + "\n"


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where it runs."""

    profile: str
    database_url: str
    database_url_source: str
    session_days: int
    connect_timeout: int
    config_dir: Path
    data_dir: Path
    context: str | None = None
    urgency: dict[str, float] = field(default_factory=dict)  # the profile's overrides

    @property
    def config_path(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def sqlite_lock_wait(self) -> int:
        """Seconds to wait for another process's lock on a SQLite file. Several local
        processes writing one file queue for its lock, each briefly; a busy machine
        stretches that queue, so it is a multiple of ``connect_timeout`` (30 s at the
        default 10 s)."""
        return SQLITE_LOCK_WAIT_FACTOR * self.connect_timeout


def load_config(environ: Mapping[str, str] = os.environ) -> ConfigFile:
    return ConfigFile(config_dir(environ) / "config.toml")


def active_profile(config: ConfigFile, option: str | None, environ: Mapping[str, str]) -> str:
    name = option or environ.get("TASKCLI_PROFILE") or config.data.get("default_profile")
    return _profile_name(name or DEFAULT_PROFILE)


def resolve_settings(
    *,
    profile_option: str | None = None,
    database_url_option: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Settings:
    """Apply the precedence rules to the options, the environment and the config file."""
    config = load_config(environ)
    profile = active_profile(config, profile_option, environ)
    config.require_profile(profile)
    table = config.profile(profile)
    directory = data_dir(environ)
    candidates = [
        (database_url_option, "--database-url"),
        (environ.get("TASKCLI_DATABASE_URL"), "TASKCLI_DATABASE_URL"),
        (table.get("database_url"), f"profile {profile}"),
    ]
    url, source = next(
        ((u, s) for u, s in candidates if u),
        (f"sqlite:///{directory / 'taskcli.db'}", "embedded default"),
    )
    # A relative SQLite path in the file means beside the file, so that every directory
    # a command runs in finds the same database; on the command line it means the
    # current directory, as any relative path there does.
    base = config.path.parent if source.startswith("profile ") else Path.cwd()
    return Settings(
        profile=profile,
        database_url=_anchored_sqlite_url(_database_url(url), base),
        database_url_source=source,
        session_days=PROFILE_KEYS["session_days"](table.get("session_days", DEFAULT_SESSION_DAYS)),
        connect_timeout=PROFILE_KEYS["connect_timeout"](
            table.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
        ),
        config_dir=config.path.parent,
        data_dir=directory,
        context=table.get("context"),
        urgency=_urgency_overrides(table),
    )


def _urgency_overrides(table: Mapping[str, Any]) -> dict[str, float]:
    """The profile's ``urgency.<term>`` values, written as dotted keys (what ``config set``
    writes) or as a TOML ``[profiles.NAME.urgency]`` table; a bad one is a ConfigError."""
    given = {key.removeprefix("urgency."): value for key, value in table.items()
             if key.startswith("urgency.")}  # fmt: skip
    nested = table.get("urgency")
    if isinstance(nested, dict):
        given.update(nested)
    elif nested is not None:
        raise ConfigError("urgency: must be a table of coefficients ([profiles.NAME.urgency])")
    overrides = {}
    for term, value in given.items():
        key = f"urgency.{term}"
        if key not in PROFILE_KEYS:
            raise ConfigError(f"unknown config key {key!r}; known keys: {', '.join(ALL_KEYS)}")
        try:
            overrides[term] = PROFILE_KEYS[key](value)
        except ConfigError as error:
            raise ConfigError(f"{key}: {error.message}") from None
    return overrides
