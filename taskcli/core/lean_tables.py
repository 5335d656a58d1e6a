"""The few columns that the session check and shell completion read, as lightweight
SQLAlchemy table clauses.

Importing :mod:`taskcli.core.models` sets up SQLModel and pydantic (about 0.2 s), which
a press of TAB should not pay for a handful of columns. The models stay the schema's one
source: tests/test_completion.py checks that every column here is a column of the
model's table, with the same type.
"""

from __future__ import annotations

import sqlalchemy as sa

TAG_MAX = 50  # models.TAG_MAX (checked by the same test)
UTC_TIMESTAMP = sa.DateTime(timezone=True)
TAGS = sa.JSON().with_variant(sa.ARRAY(sa.String(TAG_MAX)), "postgresql")

meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))
users = sa.table("users", sa.column("id", sa.Uuid), sa.column("email", sa.String))
sessions = sa.table(
    "sessions",
    sa.column("id", sa.Uuid),
    sa.column("user_id", sa.Uuid),
    sa.column("secret_hash", sa.String),
    sa.column("expires_at", UTC_TIMESTAMP),
    sa.column("revoked_at", UTC_TIMESTAMP),
    sa.column("ended_reason", sa.String),
)
tasks = sa.table(
    "tasks",
    sa.column("user_id", sa.Uuid),
    sa.column("number", sa.Integer),
    sa.column("title", sa.String),
    sa.column("status", sa.String),
    sa.column("project", sa.String),
    sa.column("tags", TAGS),
    sa.column("updated_at", UTC_TIMESTAMP),
)
contexts = sa.table(
    "contexts",
    sa.column("user_id", sa.Uuid),
    sa.column("name", sa.String),
    sa.column("filters", sa.Text),
)
