"""The global options of one invocation, and the settings and database they select.

Command modules take their state from here, never from the root app, so each of them
imports on its own (the root app imports them, not the other way round).
"""

from dataclasses import dataclass, field
from typing import Any

import typer


@dataclass
class AppState:
    """Global options, and the settings and database they select (built on first use)."""

    profile: str | None = None
    database_url: str | None = None
    verbose: bool = False
    no_pager: bool = False
    _cache: dict[str, Any] = field(default_factory=dict)

    def settings(self):
        if "settings" not in self._cache:
            from taskcli.core.config import resolve_settings

            self._cache["settings"] = resolve_settings(
                profile_option=self.profile, database_url_option=self.database_url
            )
        return self._cache["settings"]

    def database(self):
        if "database" not in self._cache:
            from taskcli.core.db import Database

            self._cache["database"] = Database(self.settings())
        return self._cache["database"]


def state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        # Shell completion parses the command line without running the root callback: the
        # global options it parsed are only in the root's params then.
        given = root.params
        root.obj = AppState(profile=given.get("profile"), database_url=given.get("database_url"))
    return root.obj
