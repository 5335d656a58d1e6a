"""Generated task data and the isolated taskcli every benchmark runs.

`write_tasks` writes N tasks as a taskcli JSON export (SPEC §10 objects), streamed so a
million tasks never sit in memory. `Taskcli` is one isolated taskcli installation (its
own config and data directories, a file token store, one database).
"""

from __future__ import annotations

import json
import os
import random
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.runner import COMMAND_TIMEOUT, Sample, capture, run

VENV_BIN = Path(sys.executable).parent
TASKCLI = str(VENV_BIN / "taskcli") if (VENV_BIN / "taskcli").exists() else "taskcli"
PASSWORD = "bench-password-1"

PROJECTS = [f"project{i}" for i in range(20)]
TAGS = [f"tag{i}" for i in range(30)]
WORDS = (
    "write review fix call plan buy read send update check clean order book prepare test "
    "deploy report draft email invoice meeting garden kitchen taxes budget slides"
).split()
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class Dataset:
    """A generated task file and which records stayed pending (targets for show/done)."""

    path: Path
    size: int
    ids: list[str]  # in file order: import numbers them 1..N in this order
    pending: list[int]  # 0-based indexes of pending records, spread over the whole file
    recurring: list[int] = field(default_factory=list)  # the pending ones that recur


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _task(rng: random.Random, index: int) -> dict:
    created = EPOCH + timedelta(seconds=rng.randrange(0, 2 * 365 * 86400))
    updated = created + timedelta(seconds=rng.randrange(0, 30 * 86400))
    roll = rng.random()
    status = "completed" if roll < 0.10 else "in_progress" if roll < 0.15 else "pending"
    due = created + timedelta(days=rng.randrange(1, 120)) if rng.random() < 0.5 else None
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "number": index + 1,
        "title": " ".join(rng.choices(WORDS, k=rng.randrange(2, 7))) + f" #{index}",
        "description": "notes " * rng.randrange(1, 20) if rng.random() < 0.3 else None,
        "status": status,
        "priority": rng.choice(("low", "medium", "medium", "high")),
        "due": _stamp(due) if due else None,
        "project": rng.choice(PROJECTS) if rng.random() < 0.7 else None,
        "tags": rng.sample(TAGS, rng.randrange(0, 4)),
        "created_at": _stamp(created),
        "updated_at": _stamp(updated),
        "completed_at": _stamp(updated) if status == "completed" else None,
        **_planning(rng, created, due),
    }


def _planning(rng: random.Random, created: datetime, due: datetime | None) -> dict:
    """The planning fields of about one task in twenty each: a recurrence (with a due
    date), a wait (past or ahead), a scheduled time, annotations; dependencies are added
    by write_tasks (on earlier tasks)."""
    fields: dict = {"annotations": [], "wait": None, "scheduled": None, "depends": [],
                    "recur": None, "until": None}  # fmt: skip
    if rng.random() < 0.05:
        fields["recur"] = rng.choice(("daily", "weekly", "monthly", "weekdays", "2w"))
        fields["due"] = _stamp(due or created + timedelta(days=7))
    if rng.random() < 0.05:
        fields["wait"] = _stamp(created + timedelta(days=rng.randrange(1, 1500)))
    if rng.random() < 0.05:
        fields["scheduled"] = _stamp(created + timedelta(days=rng.randrange(1, 900)))
    if rng.random() < 0.05:
        moment = created + timedelta(hours=1)
        fields["annotations"] = [{"entry": _stamp(moment), "text": "noted " * rng.randrange(1, 6)}
                                 for _ in range(rng.randrange(1, 3))]  # fmt: skip
    return fields


def write_tasks(path: Path, size: int, seed: int = 1) -> Dataset:
    """Write `size` tasks as a JSON array, one object per line (deterministic for a seed)."""
    rng = random.Random(seed)
    ids: list[str] = []
    pending: list[int] = []
    recurring: list[int] = []
    with open(path, "w", encoding="utf-8") as out:
        out.write("[\n")
        for index in range(size):
            task = _task(rng, index)
            if index and rng.random() < 0.05:  # waits for one or two earlier tasks
                task["depends"] = rng.sample(ids[-200:], min(len(ids), rng.randrange(1, 3)))
            ids.append(task["id"])
            if task["status"] == "pending":
                pending.append(index)
                if task["recur"]:
                    recurring.append(index)
            out.write(("," if index else "") + json.dumps(task) + "\n")
        out.write("]\n")
    return Dataset(path=path, size=size, ids=ids, pending=pending, recurring=recurring)


def middle_targets(dataset: Dataset, count: int, *, recurring: bool = False) -> list[int]:
    """`count` distinct pending indexes (recurring ones: of those) from the middle of the
    file (no edge effects)."""
    pending = dataset.recurring if recurring else dataset.pending
    start = max(0, len(pending) // 2 - count // 2)
    return pending[start : start + count]


def base_env() -> dict[str, str]:
    """Our environment without anything that would steer taskcli or libpq elsewhere."""
    skip = ("TASKCLI_", "PG")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env.update(
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        NO_COLOR="1",
        COLUMNS="200",
        LC_ALL="C.UTF-8",
        TASKCLI_SERVER="off",  # every process starts cold, as measured before the server
    )
    return env


@dataclass
class Taskcli:
    """One isolated taskcli: private config and data directories, one database."""

    name: str
    home: Path
    database_url: str | None = None  # None: the embedded SQLite in the data directory
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        (self.home / "config").mkdir(parents=True, exist_ok=True)
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        self.env = base_env()
        self.env.update(
            TASKCLI_CONFIG_DIR=str(self.home / "config"),
            TASKCLI_DATA_DIR=str(self.home / "data"),
        )
        if self.database_url:
            self.env["TASKCLI_DATABASE_URL"] = self.database_url

    def argv(self, *args: str) -> list[str]:
        return [TASKCLI, *args]

    def run(
        self, *args: str, timeout: float = COMMAND_TIMEOUT, env: dict[str, str] | None = None
    ) -> Sample:
        return run(self.argv(*args), env={**self.env, **(env or {})}, timeout=timeout)

    def register(self, email: str) -> None:
        argv = self.argv("register", "--email", email, "--password-stdin")
        run(argv, env=self.env, stdin=PASSWORD + "\n")

    def login(self, email: str) -> None:
        argv = self.argv("login", "--email", email, "--password-stdin")
        run(argv, env=self.env, stdin=PASSWORD + "\n")

    def show_json(self, ref: str) -> dict:
        return json.loads(capture(self.argv("show", ref, "--json"), env=self.env))
