"""Domain errors. Each carries the exit code and a hint; the CLI renders them in one place."""

from __future__ import annotations


class TaskcliError(Exception):
    """Base of every error taskcli reports to the user."""

    exit_code = 1
    code = "error"
    default_hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint


class UsageError(TaskcliError):
    """The command line itself is wrong (missing --yes without a TTY, bad option mix)."""

    exit_code = 2
    code = "usage"


class AuthError(TaskcliError):
    """Not logged in, wrong credentials, or the session is expired or revoked."""

    exit_code = 3
    code = "auth"
    default_hint = "run: taskcli login"


class NotFoundError(TaskcliError):
    """The task (or other object) does not exist for this user."""

    exit_code = 4
    code = "not_found"


class InvalidInputError(TaskcliError):
    """A value breaks a rule of the data model."""

    exit_code = 5
    code = "invalid_input"


class ConflictError(TaskcliError):
    """The change conflicts with existing data (email taken, ambiguous reference)."""

    exit_code = 5
    code = "conflict"


class EditorFailedError(TaskcliError):
    """The editor exited with a failure (or was killed): nothing is changed."""

    exit_code = 1
    code = "editor_failed"


class DatabaseUnavailableError(TaskcliError):
    """The database could not be reached or refused the connection."""

    exit_code = 6
    code = "database_unavailable"


class SchemaError(TaskcliError):
    """The database schema is missing or older than this taskcli."""

    exit_code = 7
    code = "schema_out_of_date"
    default_hint = "run: taskcli db migrate"


class NotPermittedError(TaskcliError):
    """The database role lacks a privilege or ownership the command needs."""

    exit_code = 8
    code = "not_permitted"
    default_hint = "ask the database administrator to grant it"


class ConfigError(TaskcliError):
    """The configuration file or a configuration value is invalid."""

    exit_code = 5
    code = "config"


class TokenStoreError(TaskcliError):
    """The token file (the keyring's fallback) cannot be read, written or locked."""

    exit_code = 6
    code = "token_store_unavailable"
    default_hint = "check the data directory (TASKCLI_DATA_DIR), its permissions and free space"


class Terminated(TaskcliError):
    """The process was sent SIGTERM while writing a file; the file was left as it was."""

    exit_code = 143  # 128 + SIGTERM, as a shell reports a process that SIGTERM ended
    code = "terminated"
