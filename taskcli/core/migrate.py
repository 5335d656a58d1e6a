"""Schema migrations through Alembic, from a source checkout or an installed wheel.

The migration scripts live in the top-level ``migrations/`` folder, which the wheel ships
as the ``taskcli.migrations`` package; Alembic is pointed at whichever copy is importable.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from taskcli.core.errors import SchemaError, UsageError
from taskcli.core.roles import require_owner

# Every taskcli migrating a PostgreSQL database takes this advisory lock first.
ADVISORY_LOCK_KEY = 0x7A5C_C11D


def script_location() -> str:
    """The installed ``taskcli.migrations`` package, or ``migrations/`` of a source checkout."""
    try:
        return str(resources.files("taskcli.migrations"))
    except ModuleNotFoundError:
        return str(Path(__file__).resolve().parents[2] / "migrations")


def alembic_config(connection: Connection | None = None, *, url: str | None = None) -> Config:
    if connection is not None and connection.dialect.default_schema_name is None:
        # Commands skip this first-connect query; schema comparison needs it.
        schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
        connection.dialect.default_schema_name = schema
    config = Config()
    config.set_main_option("script_location", script_location())
    config.attributes["connection"] = connection
    config.attributes["url"] = url
    config.attributes["output_buffer"] = None
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory(script_location())


def head_revision() -> str | None:
    return _script().get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _run(action: Callable[..., None], config: Config, revision: str, **kwargs: Any) -> None:
    try:
        action(config, revision, **kwargs)
    except CommandError as error:
        raise UsageError(f"cannot migrate to {revision!r}: {error}") from None


def upgrade(conn: Connection, revision: str = "head") -> str | None:
    """Upgrade in one transaction (under an advisory lock on PostgreSQL).

    Returns the revision the schema was at when this run got the lock.
    """
    require_owner(conn, "db migrate")
    config = alembic_config(conn)
    _run(command.upgrade, config, revision)
    return config.attributes.get("from_revision")


def downgrade(conn: Connection, revision: str) -> None:
    require_owner(conn, "db downgrade")
    _run(command.downgrade, alembic_config(conn), revision)


def upgrade_sql(url: str, revision: str, out: TextIO) -> None:
    """Write the SQL an upgrade would run, touching no database."""
    config = Config(output_buffer=out)
    config.set_main_option("script_location", script_location())
    config.attributes["url"] = url
    start, _, end = revision.rpartition(":")
    target = revision if start else f"base:{end}"
    _run(command.upgrade, config, target, sql=True)


@dataclass(frozen=True)
class Revision:
    revision: str
    down_revision: str | None
    message: str
    is_head: bool


def history() -> list[Revision]:
    script = _script()
    heads = set(script.get_heads())
    return [
        Revision(
            revision=rev.revision,
            down_revision=rev.down_revision if isinstance(rev.down_revision, str) else None,
            message=(rev.doc or "").strip(),
            is_head=rev.revision in heads,
        )
        for rev in script.walk_revisions()
    ]


def check(conn: Connection) -> None:
    """Raise SchemaError when the models and the migrated schema differ (``alembic check``)."""
    buffer = io.StringIO()
    config = alembic_config(conn)
    config.attributes["output_buffer"] = buffer
    try:
        command.check(config)
    except CommandError as error:
        raise SchemaError(f"models and migrations differ: {error}") from None
