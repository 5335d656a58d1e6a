"""PostgreSQL test databases as production runs them: tables owned by a role that is not a
superuser, commands run as the application role that `db grant` prepared.

One owner and one application role serve the whole session; the schema is migrated and
granted once, into a template that every test database is copied from (CREATE DATABASE …
TEMPLATE, far cheaper than migrating each time). Tests that inspect or tamper with the
tables behind taskcli's back use :func:`admin_url` (the server's superuser, which row-level
security does not restrict).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass

from psycopg2 import sql

from tests import servers

_ADMIN_URLS: dict[str, str] = {}
_OWNER_URLS: dict[str, str] = {}


@dataclass(frozen=True)
class SuiteRoles:
    owner: str
    owner_password: str
    app: str
    app_password: str
    template: str


def create_suite_roles(server: servers.Server) -> SuiteRoles:
    suffix = uuid.uuid4().hex[:10]
    roles = SuiteRoles(
        f"suite_owner_{suffix}", uuid.uuid4().hex, f"suite_app_{suffix}", uuid.uuid4().hex,
        f"taskcli_template_{suffix}",
    )  # fmt: skip
    server.create_role(roles.owner, roles.owner_password, "NOSUPERUSER CREATEROLE")
    server.create_role(roles.app, roles.app_password, "NOSUPERUSER")
    template = server.create_database(roles.template, owner=roles.owner)
    owner_url = server.url_as(template, roles.owner, roles.owner_password)
    for args in (("db", "migrate"), ("db", "grant", roles.app)):
        subprocess.run(
            [sys.executable, "-m", "taskcli", "--database-url", owner_url, *args],
            check=True, capture_output=True,
        )  # fmt: skip
    return roles


def drop_suite_roles(server: servers.Server, roles: SuiteRoles) -> None:
    server.drop_database(roles.template)
    server.drop_role(roles.app)
    server.drop_role(roles.owner)


def create_app_database(server: servers.Server, roles: SuiteRoles) -> tuple[str, str]:
    """A migrated, granted database of its own; returns (its application URL, its name)."""
    name = f"taskcli_{uuid.uuid4().hex[:12]}"
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
        sql.Identifier(name), sql.Identifier(roles.template), sql.Identifier(roles.owner)
    )
    with servers.admin_cursor(server.admin_url()) as cursor:
        cursor.execute(statement)
    admin = server.database_url(name)
    app = server.url_as(admin, roles.app, roles.app_password)
    _ADMIN_URLS[app] = admin
    _OWNER_URLS[app] = server.url_as(admin, roles.owner, roles.owner_password)
    return app, name


def admin_url(url: str) -> str:
    """The superuser's URL of the database ``url`` names (``url`` itself if it is one)."""
    return _ADMIN_URLS.get(url, url)


def owner_url(url: str) -> str:
    """The owner's URL of the database ``url`` names (``url`` itself if it is one)."""
    return _OWNER_URLS.get(url, url)
