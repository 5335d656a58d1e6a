"""One task vocabulary: the record's fields are the JSON keys, columns and format fields.

The last test adds two fields to a copy of the package (the record line, the table column
and the input rule, as a release does) and checks that export, the JSON object in Python
and in the database, and the import formats take them up with no other edit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from taskcli.core.vocabulary import TASK_FIELDS
from tests.conftest import REPO

# SPEC §10: a stable interface; new keys may be added, none removed, renamed or reordered.
RELEASED_KEYS = [
    "id", "number", "title", "description", "status", "priority", "due",
    "project", "tags", "created_at", "updated_at", "completed_at",
]  # fmt: skip


def test_the_task_object_keeps_every_released_key_in_its_order():
    assert [name for name in TASK_FIELDS if name in RELEASED_KEYS] == RELEASED_KEYS


# Runs in the copy: imports a task with the new fields and updates it, exports it in every
# format, reads each export back and re-imports the mapped formats; prints what it saw.
OLD = "2020-01-02T03:04:05Z"
PROBE = """
import io, json, sys, uuid
from pathlib import Path

import sqlalchemy as sa

import taskcli
from taskcli.core import formats, transfer
from taskcli.core.listing import TaskFilter
from taskcli.core.models import Counter, Task
from taskcli.core.tasks import COLUMNS

root, OLD = sys.argv[1:]
assert Path(taskcli.__file__).is_relative_to(root), taskcli.__file__
engine = sa.create_engine("sqlite://", isolation_level="AUTOCOMMIT")
Task.metadata.create_all(engine)
owner = uuid.uuid4()
source = {"id": str(uuid.uuid4()), "title": "water the plants", "reminder": "2030-01-02T03:04:05Z",
          "mood": "calm", "created_at": OLD, "updated_at": OLD}
seen = {"columns": [column.name for column in COLUMNS], "exports": {}, "read_back": {}}
with engine.connect() as conn:
    conn.execute(Counter.__table__.insert().values(user_id=owner))
    flt = TaskFilter(include_completed=True, limit=0)
    def load(text, fmt="jsonl"):
        stream = io.StringIO(text)
        return transfer.import_file(conn, user_id=owner, stream=stream, fmt=fmt).as_dict()
    def task_objects():
        return [formats.task_to_json(r) for r in transfer.iter_tasks(
            conn, user_id=owner, flt=flt)]
    seen["created"] = load(json.dumps(source))
    # no update time given: the import's time when a field changed, like this one
    changed = {**source, "mood": "busy"}
    del changed["updated_at"]
    seen["updated"] = load(json.dumps(changed))
    seen["python_json"] = task_objects()
    for fmt in formats.FORMATS:
        out = io.StringIO()
        transfer.export_tasks(conn, user_id=owner, flt=flt, out=out, fmt=fmt)
        seen["exports"][fmt] = out.getvalue()
        parsed = list(formats.read_records(io.StringIO(out.getvalue()), fmt))
        seen["read_back"][fmt] = [{k: str(v) for k, v in p.record.items()} for p in parsed]
    seen["carries"] = {fmt: sorted(formats.carried_fields(fmt).fields)
                       for fmt in formats.FORMATS}
    for fmt in ("taskwarrior", "todotxt"):
        load(seen["exports"][fmt], fmt)
    seen["after_mapped_formats"] = task_objects()
print(json.dumps(seen))
"""


def _insert_after(path: Path, anchor: str, lines: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(anchor) == 1, f"{path.name}: {anchor!r} should appear once"
    path.write_text(text.replace(anchor, anchor + lines), encoding="utf-8")


def _package_with_two_more_fields(root: Path) -> Path:
    package = root / "taskcli"
    shutil.copytree(REPO / "taskcli", package, ignore=shutil.ignore_patterns("__pycache__"))
    core = package / "core"
    _insert_after(
        core / "vocabulary.py",
        "    until: datetime | None\n",
        "    reminder: datetime | None\n    mood: str | None\n",
    )
    _insert_after(
        core / "models.py",
        "    until: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))\n",
        "    reminder: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))\n"
        "    mood: str | None = Field(default=None, sa_column=sa.Column(sa.String(20)))\n",
    )
    _insert_after(
        core / "models.py",
        "    depends: list[uuid.UUID] = []\n",
        "    reminder: datetime | None = None\n    mood: str | None = None\n",
    )
    return root


def test_a_field_added_to_the_record_is_exported_imported_and_in_the_json(tmp_path):
    root = _package_with_two_more_fields(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(root), OLD],
        capture_output=True,
        text=True,
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(root)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    fields = [*TASK_FIELDS, "reminder", "mood"]
    assert seen["columns"] == fields
    assert seen["created"]["created"] == 1
    assert seen["updated"]["updated"] == 1
    (task,) = seen["python_json"]
    assert list(task) == fields
    assert (task["reminder"], task["mood"]) == ("2030-01-02T03:04:05Z", "busy")
    assert task["created_at"] == OLD and task["updated_at"] > OLD  # the change was seen
    # The database writes the same bytes as Python, new keys included.
    assert seen["exports"]["jsonl"] == json.dumps(task, ensure_ascii=False) + "\n"
    assert json.loads(seen["exports"]["json"]) == [task]
    assert seen["exports"]["csv"].splitlines()[0] == ",".join(fields)
    for fmt in ("json", "jsonl", "csv"):
        assert sorted(seen["carries"][fmt]) == sorted(fields), fmt
        (record,) = seen["read_back"][fmt]
        assert (record["reminder"], record["mood"]) == ("2030-01-02 03:04:05+00:00", "busy"), fmt
    # The mapped formats carry a new field only once their mapping reads it: until then,
    # re-importing their files keeps it.
    for fmt in ("taskwarrior", "todotxt"):
        assert not {"reminder", "mood"} & set(seen["carries"][fmt]), fmt
    (kept,) = seen["after_mapped_formats"]
    assert (kept["reminder"], kept["mood"]) == ("2030-01-02T03:04:05Z", "busy")
