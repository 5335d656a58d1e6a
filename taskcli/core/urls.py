"""Database URL rules, kept free of SQLAlchemy so they cost nothing to import."""

from __future__ import annotations

from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from taskcli.core.errors import ConfigError

POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg2"}
SQLITE_SCHEMES = {"sqlite", "sqlite+pysqlite"}


def _split(url: str) -> SplitResult:
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
        return _postgres_url(parts)
    if scheme in SQLITE_SCHEMES:
        return "sqlite:///" + sqlite_path(url)
    shown = scheme or redact_url(url)[:20] or "(empty)"
    raise ConfigError(
        f"unsupported database URL {shown!r}: use postgresql://USER@HOST/DB or sqlite:///PATH"
    )


def _postgres_url(parts: SplitResult) -> str:
    """``postgresql+psycopg2://…`` with everything libpq accepts kept: an empty host
    (``postgresql:///db?host=/run/pg``) and a percent-encoded socket directory as host
    (``postgresql://%2Frun%2Fpg:5433/db``), which becomes the ``host`` parameter."""
    netloc, query = parts.netloc, parts.query
    userinfo, at, hostport = netloc.rpartition("@")
    for port in _ports(hostport):
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ConfigError(
                f"invalid port {port!r} in the database URL: expected a number from 1 to 65535"
            )
    host, colon, port = hostport.partition(":")
    if host.lower().startswith("%2f"):
        moved = [f"host={host}"] + ([f"port={port}"] if colon and port else [])
        query = "&".join(([query] if query else []) + moved)
        netloc = userinfo + at
    # assembled by hand: urlunsplit drops the "//" of an empty host
    url = f"postgresql+psycopg2://{netloc}{parts.path}"
    return url + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def _ports(hostport: str) -> list[str]:
    """The ports written in ``host:port[,host:port…]`` (an IPv6 host is in brackets)."""
    ports = []
    for host in hostport.split(","):
        _, colon, port = host.rpartition("]")[2].rpartition(":")
        if colon:
            ports.append(port)
    return ports


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///PATH`` URL (four slashes for an absolute path)."""
    _, sep, path = url.strip().partition(":///")
    if not sep or not path or "?" in path:
        raise ConfigError("invalid SQLite URL: use sqlite:///PATH/TO/FILE.db")
    return unquote(path)


def is_sqlite(url: str) -> bool:
    return _split(url).scheme.lower() in SQLITE_SCHEMES


# libpq URL parameters whose value is a secret (libpq percent-decodes names and values)
SECRET_PARAMETERS = {"password", "sslpassword"}


def redact_url(url: str) -> str:
    """The URL with every password replaced by ``***``, in the user info and in the query
    (``?password=…``, which libpq accepts too): safe to print."""
    parts = _split(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostinfo}"
    query = "&".join(_redacted_parameter(item) for item in parts.query.split("&"))
    if (netloc, query) == (parts.netloc, parts.query):
        return url.strip()
    # assembled by hand: urlunsplit drops the "//" of an empty host
    shown = f"{parts.scheme}:" if parts.scheme else ""
    shown += f"//{netloc}{parts.path}" + (f"?{query}" if query else "")
    return shown + (f"#{parts.fragment}" if parts.fragment else "")


def _redacted_parameter(item: str) -> str:
    name, equals, _ = item.partition("=")
    if equals and unquote(name).strip().lower() in SECRET_PARAMETERS:
        return f"{name}=***"
    return item


def describe_target(url: str) -> str:
    """Short 'where' for messages: ``host:port/db`` or the SQLite file path."""
    parts = _split(url)
    if parts.scheme.lower() in SQLITE_SCHEMES:
        return sqlite_path(url)
    ports = _ports(parts.netloc.rpartition("@")[2])
    port = ports[0] if ports and ports[0] else None
    query = dict(parse_qsl(parts.query))
    host = query.get("host") or unquote(parts.hostname or "") or "localhost"
    port = port or query.get("port")
    return f"{host}:{port or 5432}/{unquote(parts.path.lstrip('/')) or '(default)'}"


def database_key(url: str) -> str:
    """Identity of a database for token storage: scheme, user, host, port, name; no secrets."""
    parts = _split(url)
    if parts.scheme.lower() in SQLITE_SCHEMES:
        return f"sqlite:{describe_target(url)}"
    return f"postgresql://{parts.username or ''}@{describe_target(url)}"


def connect_budget(url: str, default: int) -> int:
    """The connect timeout of a PostgreSQL URL: its own ``connect_timeout`` when it has
    one, else ``default``."""
    values = [value for name, value in parse_qsl(_split(url).query) if name == "connect_timeout"]
    if not values:
        return default
    given: str | tuple[str, ...] = values[0] if len(values) == 1 else tuple(values)
    if not (isinstance(given, str) and given.isdigit() and int(given) >= 1):
        raise ConfigError(
            f"invalid database URL: connect_timeout={given!r}: expected whole seconds, at least 1"
        )
    return int(given)


def libpq_url(url: str) -> str:
    """A PostgreSQL URL as libpq itself reads it (``postgresql://…``, every parameter
    kept), for a connection made with the driver alone."""
    parts = _split(url)
    if parts.scheme.lower() not in POSTGRES_SCHEMES:
        raise ConfigError("not a PostgreSQL URL")
    return "postgresql:" + url.strip()[len(parts.scheme) + 1 :]
