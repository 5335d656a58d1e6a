"""SQLModel tables (the single schema source) and the validated input shapes.

Tables: ``users``, ``counters``, ``sessions``, ``tasks`` and ``meta`` (per-database signing
key and id). Every per-user table has ``user_id`` first in its primary key and in every
unique constraint (ids are unique per user; SPEC §4, §17).
Input shapes (``TaskCreate``, ``TaskUpdate``) carry the data-model rules once.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, TypeVar

import sqlalchemy as sa
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    model_validator,
)
from sqlmodel import Field, SQLModel
from typing_extensions import TypedDict

from taskcli.core.dates import format_utc, parse_timestamp, utc_now
from taskcli.core.enums import TaskPriority, TaskStatus
from taskcli.core.errors import InvalidInputError

M = TypeVar("M", bound=SQLModel)

UNSTORABLE = re.compile("[\ud800-\udfff]")  # unpaired UTF-16 surrogates
WHITESPACE = re.compile(r"\s")
# C0 and C1 control characters (Unicode category Cc): on a terminal they start escape
# sequences (ESC, CSI U+009B) or move the cursor, so text fields refuse them. Format
# characters (category Cf: ZWJ in emoji, RTL marks, soft hyphen) are real text and allowed.
CONTROL_CHARACTERS = "\x00-\x1f\x7f-\x9f"
CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
LINE_BREAKS = re.compile("[\r\n\u2028\u2029]")

TITLE_MAX = 255
DESCRIPTION_MAX = 2000
PROJECT_MAX = 100
TAG_MAX = 50
ANNOTATION_MAX = 2000
RECUR_MAX = 16
CONTEXT_NAME_MAX = 50
JOURNAL_TEXT_MAX = 255  # a journal entry's command and client


def _timestamp(**kwargs: Any) -> sa.Column[datetime]:
    return sa.Column(sa.DateTime(timezone=True), **kwargs)


def _check_in(column: str, enum: type[StrEnum]) -> sa.CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return sa.CheckConstraint(f"{column} IN ({values})", name=f"ck_tasks_{column}")


class Model(SQLModel):
    """Base of every model: pydantic builds a model's validator on first use, not at import
    (commands use the tables through SQLAlchemy Core; only add/update/import validate)."""

    model_config = ConfigDict(defer_build=True)  # type: ignore[assignment]
    # Set by SQLModel on each table=True class, which it does not declare for type checkers.
    __table__: ClassVar[sa.Table]


class UuidList(sa.types.TypeDecorator[list[uuid.UUID]]):
    """Task ids (``depends``): a native uuid array on PostgreSQL, a JSON array of canonical
    UUID strings elsewhere (the JSON text is then already what export writes); no ids is
    NULL."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.ARRAY(sa.Uuid))
        return dialect.type_descriptor(sa.JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if not value:
            return None
        ids = [item if isinstance(item, uuid.UUID) else uuid.UUID(str(item)) for item in value]
        return ids if dialect.name == "postgresql" else [str(item) for item in ids]

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> list[uuid.UUID]:
        return [item if isinstance(item, uuid.UUID) else uuid.UUID(item) for item in value or []]


class AnnotationList(sa.types.TypeDecorator[list[dict[str, Any]]]):
    """Annotations, oldest first, stored as the JSON text export writes for them
    (``[{"entry": "2026-11-23T08:00:00Z", "text": "…"}]``); none is NULL."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        return annotations_text(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> list[dict[str, Any]]:
        return annotations_from_text(value)


def annotations_text(value: list[dict[str, Any]] | str | None) -> str | None:
    """The stored JSON text of a list of annotations (already text: kept), None for none."""
    if isinstance(value, str):
        return value or None
    if not value:
        return None
    items = [{"entry": format_utc(item["entry"]), "text": item["text"]} for item in value]
    return json.dumps(items, ensure_ascii=False)


def annotations_from_text(value: str | None) -> list[dict[str, Any]]:
    if not value:
        return []
    return [{"entry": parse_timestamp(item["entry"]), "text": item["text"]}
            for item in json.loads(value)]  # fmt: skip


# Tags: a native text array on PostgreSQL (GIN-indexed, filtered with @>), JSON elsewhere.
# (the generic ARRAY, so that SQLite commands need not import the PostgreSQL dialects)
TagsType = sa.JSON().with_variant(sa.ARRAY(sa.String(TAG_MAX)), "postgresql")


class Meta(Model, table=True):
    """Per-database facts created by the first migration: ``database_id``, ``signing_key``."""

    __tablename__ = "meta"
    key: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    value: str = Field(sa_column=sa.Column(sa.Text, nullable=False))


class User(Model, table=True):
    __tablename__ = "users"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(sa_column=sa.Column(sa.String(320), nullable=False, unique=True))
    # the argon2 salt and parameters, and g^x mod p (see taskcli.core.proofs): no hash
    password_setting: str = Field(sa_column=sa.Column(sa.String(160), nullable=False))
    password_verifier: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp(nullable=False))
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp(nullable=False))
    # the account lifecycle (SPEC §18): a locked account cannot log in; the last login;
    # an administrator's one-time reset code, as its SHA-256, and when it stops working
    locked_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    last_login_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    reset_code_hash: str | None = Field(default=None, sa_column=sa.Column(sa.String(64)))
    reset_expires_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


def _id_column() -> sa.Column[uuid.UUID]:
    """An id unique per user: the table's primary key is (user_id, id)."""
    return sa.Column(sa.Uuid, nullable=False)


def _owner_column(**kwargs: Any) -> sa.Column[uuid.UUID]:
    return sa.Column(
        sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, **kwargs
    )


class Counter(Model, table=True):
    """A user's next task number. Kept out of ``users`` so that drawing a number writes
    only the user's own row of a per-user table (users stays unwritten by task work)."""

    __tablename__ = "counters"
    user_id: uuid.UUID = Field(sa_column=_owner_column(primary_key=True))
    next_task_number: int = Field(
        default=1, sa_column=sa.Column(sa.Integer, nullable=False, server_default="1")
    )
    # the user's next journal step (see taskcli.core.journal)
    next_journal_step: int = Field(
        default=1, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="1")
    )


class AuthSession(Model, table=True):
    """A login. The token's ``jti`` is the id; of the token only the SHA-256 of its random
    secret (``sec``) is stored, so no copy of the database rebuilds a token."""

    __tablename__ = "sessions"
    __table_args__ = (sa.PrimaryKeyConstraint("user_id", "id"),)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=_id_column())
    user_id: uuid.UUID = Field(sa_column=_owner_column())
    secret_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp(nullable=False))
    expires_at: datetime = Field(sa_column=_timestamp(nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    client: str | None = Field(default=None, sa_column=sa.Column(sa.String(255)))
    # why it ended, when not by its own logout (taskcli.core.authentication.ENDED)
    ended_reason: str | None = Field(default=None, sa_column=sa.Column(sa.String(16)))


class SpentNonce(Model, table=True):
    """The single-use proofs of the last half hour (PostgreSQL's login and session checks),
    with the backend and statement that spent them."""

    __tablename__ = "spent_nonces"
    nonce: uuid.UUID = Field(primary_key=True)
    backend: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    at: datetime = Field(sa_column=_timestamp(nullable=False, index=True))


class LoginFailure(Model, table=True):
    """Failed logins per email (keyed by a MAC of it, known or not): the throttle."""

    __tablename__ = "login_failures"
    email_key: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    failures: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    last_failure_at: datetime = Field(sa_column=_timestamp(nullable=False))
    locked_until: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class Task(Model, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        sa.PrimaryKeyConstraint("user_id", "id"),
        sa.UniqueConstraint("user_id", "number", name="uq_tasks_user_number"),
        sa.Index("ix_tasks_user_status", "user_id", "status"),
        sa.Index("ix_tasks_user_due", "user_id", "due"),
        sa.Index("ix_tasks_user_created", "user_id", "created_at"),
        sa.Index("ix_tasks_user_updated", "user_id", "updated_at"),
        sa.Index("ix_tasks_user_project", "user_id", "project"),
        sa.Index("ix_tasks_tags", "tags", postgresql_using="gin"),
        # the tasks with dependencies (urgency's blocking term reads only these)
        sa.Index(
            "ix_tasks_user_depends",
            "user_id",
            postgresql_where=sa.text("depends IS NOT NULL"),
            sqlite_where=sa.text("depends IS NOT NULL"),
        ),  # fmt: skip
        _check_in("status", TaskStatus),
        _check_in("priority", TaskPriority),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=_id_column())
    user_id: uuid.UUID = Field(sa_column=_owner_column())
    number: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    title: str = Field(sa_column=sa.Column(sa.String(TITLE_MAX), nullable=False))
    description: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    status: str = Field(
        default=TaskStatus.pending.value, sa_column=sa.Column(sa.String(11), nullable=False)
    )
    priority: str = Field(
        default=TaskPriority.medium.value, sa_column=sa.Column(sa.String(6), nullable=False)
    )
    due: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    project: str | None = Field(default=None, sa_column=sa.Column(sa.String(PROJECT_MAX)))
    tags: list[str] = Field(default_factory=list, sa_column=sa.Column(TagsType, nullable=False))
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp(nullable=False))
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp(nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    annotations: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(AnnotationList, nullable=True)
    )
    wait: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    scheduled: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    depends: list[uuid.UUID] = Field(
        default_factory=list, sa_column=sa.Column(UuidList, nullable=True)
    )
    recur: str | None = Field(default=None, sa_column=sa.Column(sa.String(RECUR_MAX)))
    until: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    # The series a recurring task belongs to (not part of the task object): its id, this
    # occurrence's index and the due time of occurrence 0 (see taskcli.core.recurrence).
    recur_series: uuid.UUID | None = Field(default=None, sa_column=sa.Column(sa.Uuid))
    recur_index: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    recur_anchor: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class Context(Model, table=True):
    """A named set of list filters, stored per user (it follows the user to every machine)."""

    __tablename__ = "contexts"
    __table_args__ = (sa.PrimaryKeyConstraint("user_id", "name"),)
    user_id: uuid.UUID = Field(sa_column=_owner_column())
    name: str = Field(sa_column=sa.Column(sa.String(CONTEXT_NAME_MAX), nullable=False))
    filters: str = Field(sa_column=sa.Column(sa.Text, nullable=False))  # JSON object
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp(nullable=False))
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp(nullable=False))


class JournalEntry(Model, table=True):
    """One change command of a user (one undo step): when, which command, from where."""

    __tablename__ = "journal"
    __table_args__ = (sa.PrimaryKeyConstraint("user_id", "step"),)
    user_id: uuid.UUID = Field(sa_column=_owner_column())
    step: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    at: datetime = Field(sa_column=_timestamp(nullable=False))
    command: str = Field(sa_column=sa.Column(sa.String(JOURNAL_TEXT_MAX), nullable=False))
    client: str = Field(sa_column=sa.Column(sa.String(JOURNAL_TEXT_MAX), nullable=False))
    undone_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


def _journal_tasks_table() -> sa.Table:
    """Each task a journal step touched, as it was before the step: ``existed`` false for
    a task the step created (only its id and number kept), else every column of the task
    (so undo puts it back byte for byte). Its columns follow ``tasks``: a migration that
    adds a task column adds it here too (tests/test_journal.py checks)."""
    image = [
        sa.Column(column.name, column.type, nullable=True)
        for column in Task.__table__.columns
        if column.name not in ("user_id", "id")
    ]
    return sa.Table(
        "journal_tasks",
        SQLModel.metadata,
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("existed", sa.Boolean, nullable=False),
        *image,
        sa.PrimaryKeyConstraint("user_id", "step", "id"),
        sa.ForeignKeyConstraint(
            ["user_id", "step"], ["journal.user_id", "journal.step"], ondelete="CASCADE"
        ),
    )


journal_tasks = _journal_tasks_table()


# ---- validated input shapes -------------------------------------------------------------


def _plain_text(value: str, *, multiline: bool = False) -> str:
    """``value`` if every database can store it and it cannot drive a terminal: no unpaired
    UTF-16 surrogate, no control character (``multiline`` allows tab, LF and CRLF)."""
    if UNSTORABLE.search(value):
        raise ValueError("must not contain unpaired surrogate characters")
    probe = value.replace("\r\n", "").replace("\n", "").replace("\t", "") if multiline else value
    control = CONTROL.search(probe)
    if control:
        allowed = "other than tab and newline " if multiline else ""
        found = f"U+{ord(control.group()):04X}"
        raise ValueError(f"must not contain control characters {allowed}(found {found})")
    return value


def _one_line(limit: int) -> Callable[[str], str]:
    """A trimmed line of 1 to ``limit`` characters without tabs (a title, an annotation)."""

    def check(value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        if LINE_BREAKS.search(value) or "\t" in value:
            raise ValueError("must be one line without tabs")
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return _plain_text(value)

    return check


def _recur(value: str | None) -> str | None:
    from taskcli.core.recurrence import canonical_period

    return None if value is None else canonical_period(value)


def _description(value: str | None) -> str | None:
    if value is not None and len(value) > DESCRIPTION_MAX:
        raise ValueError(f"must be at most {DESCRIPTION_MAX} characters")
    return _plain_text(value, multiline=True) if value else None


def _no_space_word(limit: int, what: str) -> Callable[[str | None], str | None]:
    def check(value: str | None) -> str | None:
        return None if value is None else _checked_word(value, limit, what)

    return check


def _checked_word(value: str, limit: int, what: str) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise ValueError(f"{what} must be 1 to {limit} characters")
    if WHITESPACE.search(value) or (what == "tag" and "," in value):
        banned = "whitespace or commas" if what == "tag" else "whitespace"
        raise ValueError(f"{what} {value!r} must not contain {banned}")
    return _plain_text(value)


def _tag_set(values: list[str] | None) -> list[str]:
    unique: dict[str, None] = {}
    for value in values or []:
        unique[_checked_word(value, TAG_MAX, "tag")] = None
    return list(unique)


def _text(value: object) -> object:
    if value is not None and not isinstance(value, str):
        raise ValueError("must be text")
    return value


Title = Annotated[str, BeforeValidator(_text), AfterValidator(_one_line(TITLE_MAX))]
Description = Annotated[str | None, BeforeValidator(_text), AfterValidator(_description)]
Project = Annotated[
    str | None, BeforeValidator(_text), AfterValidator(_no_space_word(PROJECT_MAX, "project"))
]
Tags = Annotated[list[str], AfterValidator(_tag_set)]
AnnotationText = Annotated[str, BeforeValidator(_text), AfterValidator(_one_line(ANNOTATION_MAX))]
Recur = Annotated[str | None, BeforeValidator(_text), AfterValidator(_recur)]


class AnnotationItem(TypedDict):
    entry: AwareDatetime
    text: AnnotationText


class TaskBase(Model):
    title: Title
    description: Description = None
    status: TaskStatus = TaskStatus.pending
    priority: TaskPriority = TaskPriority.medium
    due: datetime | None = None
    project: Project = None
    tags: Tags = []
    annotations: list[AnnotationItem] = []
    wait: datetime | None = None
    scheduled: datetime | None = None
    depends: list[uuid.UUID] = []
    recur: Recur = None
    until: datetime | None = None


class TaskCreate(TaskBase):
    """A new task as the user describes it (add, import)."""

    @model_validator(mode="after")
    def _recurring_is_due(self) -> TaskCreate:
        if self.recur is not None and self.due is None:
            raise ValueError("recur: a recurring task needs a due date (--due)")
        return self


class TaskUpdate(Model):
    """Only the fields given are changed; ``None`` for due/project/description clears them;
    ``annotations`` replaces the whole list (edit)."""

    title: Title | None = None
    description: Description = None
    status: TaskStatus | None = None
    priority: TaskPriority | None = None
    due: datetime | None = None
    project: Project = None
    wait: datetime | None = None
    scheduled: datetime | None = None
    recur: Recur = None
    until: datetime | None = None
    annotations: list[AnnotationItem] | None = None


class AnnotationInput(Model):
    """One annotation's text as the user gives it (annotate)."""

    text: AnnotationText


class TagList(Model):
    """Tags given on their own (update's --tag), checked as a task's are."""

    tags: Tags


def column_values(data: Model) -> dict[str, Any]:
    """The validated fields as the tasks table stores them (an enum member as its value)."""
    values = {name: getattr(data, name) for name in type(data).model_fields}
    return {name: v.value if isinstance(v, StrEnum) else v for name, v in values.items()}


def validated(model: type[M], data: dict[str, Any]) -> M:
    """Build ``model`` from ``data`` or raise InvalidInputError naming the field and rule."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        # a rule across fields names its field itself
        raise InvalidInputError(f"{field}: {message}" if field else message) from None
