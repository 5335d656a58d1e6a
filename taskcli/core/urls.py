"""Database URL rules, kept free of SQLAlchemy so they cost nothing to import."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

from taskcli.core.errors import ConfigError

POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg2"}
SQLITE_SCHEMES = {"sqlite", "sqlite+pysqlite"}


def _split(url: str):
    try:
        return urlsplit(url.strip())
    except ValueError as exc:
        raise ConfigError(f"invalid database URL: {exc}") from None


def normalize_url(url: str) -> str:
    """The URL SQLAlchemy should get: PostgreSQL always through psycopg2.

    ``postgres://`` and ``postgresql://`` both mean psycopg2 (SQLAlchemy 2.1 would pick
    psycopg 3 for a bare ``postgresql://``). Query parameters such as ``sslmode`` stay.
    """
    parts = _split(url)
    scheme = parts.scheme.lower()
    if scheme in POSTGRES_SCHEMES:
        return urlunsplit(parts._replace(scheme="postgresql+psycopg2"))
    if scheme in SQLITE_SCHEMES:
        return "sqlite:///" + sqlite_path(url)
    shown = scheme or url.strip()[:20] or "(empty)"
    raise ConfigError(
        f"unsupported database URL {shown!r}: use postgresql://USER@HOST/DB or sqlite:///PATH"
    )


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///PATH`` URL (four slashes for an absolute path)."""
    _, sep, path = url.strip().partition(":///")
    if not sep or not path or "?" in path:
        raise ConfigError("invalid SQLite URL: use sqlite:///PATH/TO/FILE.db")
    return unquote(path)


def is_sqlite(url: str) -> bool:
    return _split(url).scheme.lower() in SQLITE_SCHEMES


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe to print)."""
    parts = _split(url)
    if parts.password is None:
        return url.strip()
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def describe_target(url: str) -> str:
    """Short 'where' for messages: ``host:port/db`` or the SQLite file path."""
    parts = _split(url)
    if parts.scheme.lower() in SQLITE_SCHEMES:
        return sqlite_path(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "localhost"
    return f"{host}:{port or 5432}/{unquote(parts.path.lstrip('/')) or '(default)'}"


def database_key(url: str) -> str:
    """Identity of a database for token storage: scheme, user, host, port, name; no secrets."""
    parts = _split(url)
    if parts.scheme.lower() in SQLITE_SCHEMES:
        return f"sqlite:{describe_target(url)}"
    return f"postgresql://{parts.username or ''}@{describe_target(url)}"
