"""sessions keep the hash of a random secret inside the token, not of the token

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

A token used to be a deterministic function of the signing key and of the session's
stored facts, so any copy of the database (a backup, a branch) could rebuild every
live token. Tokens now carry a random secret of which only the SHA-256 is stored.
Sessions started before this revision end (their owners log in again): their tokens
can be rebuilt from any older copy of the database.
"""

from collections.abc import Sequence

import sqlmodel  # noqa: F401
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE sessions SET revoked_at = CURRENT_TIMESTAMP WHERE revoked_at IS NULL"
    )
    # plain SQL that PostgreSQL and SQLite (3.25+) both run, with or without a database
    op.execute("ALTER TABLE sessions RENAME COLUMN token_hash TO secret_hash")


def downgrade() -> None:
    """The sessions started since stay ended: 0002 would take a hash of the whole token."""
    op.execute(
        "UPDATE sessions SET revoked_at = CURRENT_TIMESTAMP WHERE revoked_at IS NULL"
    )
    op.execute("ALTER TABLE sessions RENAME COLUMN secret_hash TO token_hash")
