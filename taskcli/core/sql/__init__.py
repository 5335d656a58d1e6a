"""Where PostgreSQL and SQLite differ: the SQL expressions the domain code asks for by name
(``planning``), and the PostgreSQL mechanisms beneath it: taskcli's psycopg2 dialect
(``pgdialect``), COPY in and out (``pgcopy``) and JSON text built by the database
(``json_text``). A reader of the domain modules sees the rules; a reader of this package
sees the tricks.

This package's ``__init__`` imports nothing heavy: shell completion and the session check
use :func:`is_postgres` without loading SQLAlchemy's dialects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def is_postgres(conn: Connection) -> bool:
    """The one test of which database a connection reaches (PostgreSQL, else SQLite)."""
    return conn.dialect.name == "postgresql"
