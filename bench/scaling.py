"""Per-command cost at several data sizes, for taskcli (SQLite, PostgreSQL) and Taskwarrior.

At each size every system gets the same generated tasks: taskcli by `taskcli import` of a
JSON file (timed: that is the import figure), Taskwarrior by `task import` of taskcli's
Taskwarrior-format export of them, without recurrences and dependencies (see
without_recurrence).
Once every size is loaded, the operations run
round-robin over operations, systems and sizes — one sample of each, repeated — so that
a busy moment on this machine hits all of them alike and the ratios between systems and
between sizes stay meaningful.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import taskwarrior
from bench.context import Run
from bench.report import COMPARED_WITH_TASKWARRIOR, stats
from bench.runner import PYTHON, BenchError, Sample, run
from bench.workloads import Dataset, Taskcli, base_env, middle_targets, write_tasks

OPERATIONS = (
    "add", "list", "list --limit 0", "show", "done", "done (recurring)", "update", "next",
    "list --sort urgency", "stats", "export",
)  # fmt: skip
SYSTEM_ORDER = ("sqlite", "postgres", "taskwarrior")
FLOOR_ARGV = [PYTHON, "-c", "import sqlmodel, typer"]

Commands = dict[str, Callable[[int], tuple[str, ...]]]


@dataclass
class System:
    """One system under test at one size: how to run it and how to spell each operation."""

    name: str
    size: int
    run: Callable[..., Sample]
    commands: Commands
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def taskcli_commands(refs: list[str], recurring: list[str]) -> Commands:
    return {
        "add": lambda i: (
            "add",
            f"bench task {i}",
            "-P",
            "high",
            "--due",
            "tomorrow",
            "-t",
            "bench",
            "--project",
            "bench",
        ),
        "list": lambda i: ("list",),
        "list --limit 0": lambda i: ("list", "--limit", "0"),
        "show": lambda i: ("show", refs[i]),
        "done": lambda i: ("done", refs[i]),
        "done (recurring)": lambda i: ("done", recurring[i]),
        "update": lambda i: ("update", refs[i], "-P", "low", "--add-tag", "bench"),
        "next": lambda i: ("next",),
        "list --sort urgency": lambda i: ("list", "--sort", "urgency"),
        "stats": lambda i: ("stats",),
        "export": lambda i: ("export",),
    }


def taskwarrior_commands(uuids: list[str]) -> Commands:
    return {
        "add": lambda i: (
            "add",
            f"bench task {i}",
            "priority:H",
            "due:tomorrow",
            "+bench",
            "project:bench",
        ),
        "list": lambda i: ("list", "limit:100"),
        "list --limit 0": lambda i: ("list",),
        "show": lambda i: (uuids[i], "info"),
        "done": lambda i: (uuids[i], "done"),
        "update": lambda i: (uuids[i], "modify", "priority:L", "+bench"),
        "next": lambda i: ("next", "limit:10"),
        "export": lambda i: ("export",),
    }


def load_taskcli(tc: Taskcli, dataset: Dataset, *, migrate: bool) -> Sample:
    """Register a user and import the dataset as theirs; the import's Sample."""
    if migrate:
        tc.run("db", "migrate")
    tc.register(f"bench-{dataset.size}@example.com")
    return tc.run("import", str(dataset.path))


def task_refs(tc: Taskcli, dataset: Dataset, indexes: list[int]) -> list[str]:
    """Task numbers for the indexes when import numbered the file in order, else UUIDs."""
    probe = indexes[0]
    numbered = tc.show_json(str(probe + 1)).get("id") == dataset.ids[probe]
    return [str(i + 1) if numbered else dataset.ids[i] for i in indexes]


def load_taskwarrior(home: Path, source: Taskcli) -> tuple[taskwarrior.Taskwarrior, Sample]:
    """A Taskwarrior holding source's tasks, via `taskcli export --format taskwarrior`."""
    path = home / "taskwarrior-export.json"
    source.run("export", "--format", "taskwarrior", "-o", str(path))
    without_recurrence(path)
    tw = taskwarrior.Taskwarrior(home / "taskwarrior")
    return tw, tw.run("import", str(path))


def without_recurrence(path: Path) -> None:
    """The Taskwarrior file without its recurrences and dependencies: given a template due
    months ago, Taskwarrior makes every missed instance on its next command (thousands of
    tasks for the generated data), and with 5,000 dependencies among 100,000 tasks its
    `export` takes minutes (it looks each one up for urgency): the comparison would
    measure those, not the commands."""
    import json

    kept = []
    for obj in json.loads(path.read_text(encoding="utf-8")):
        if obj.get("status") == "recurring":
            continue
        for key in ("recur", "until", "parent", "imask", "mask", "depends"):
            obj.pop(key, None)
        kept.append(obj)
    path.write_text(json.dumps(kept), encoding="utf-8")


def measure(systems: list[System], *, reps: dict[int, int], timeout: float) -> list[Sample]:
    """Round-robin: each round runs the import floor once, then each operation on each
    system at each size; a size takes part in its first reps[size] rounds.

    Returns the floor's samples; the systems collect their own. A failing operation is
    recorded once and not retried on that system.
    """
    floor: list[Sample] = []
    for round_ in range(max(reps.values())):
        floor.append(run(FLOOR_ARGV, env=base_env(), timeout=timeout))
        for operation in OPERATIONS:
            for system in systems:
                if round_ >= reps[system.size] or operation not in system.commands:
                    continue
                if operation in system.errors:
                    continue
                try:
                    sample = system.run(*system.commands[operation](round_), timeout=timeout)
                except BenchError as error:
                    system.errors[operation] = str(error)
                    continue
                system.samples.setdefault(operation, []).append(sample)
    return floor


def done_targets(dataset: Dataset, reps: int, *, recurring: bool = False) -> list[int]:
    """Pending tasks (recurring ones) from the middle of the data: one fresh one per `done`
    repetition."""
    targets = middle_targets(dataset, reps, recurring=recurring)
    if len(targets) < reps:
        raise BenchError(f"only {len(targets)} pending tasks for {reps} repetitions")
    return targets


# ---- the section -------------------------------------------------------------------------


def section(run: Run) -> None:
    sizes = run.profile.sizes
    out = {"sizes": list(sizes), "operations": list(OPERATIONS), "systems": {}}
    run.results["scaling"], run.results["imports"] = out, {}
    loaded = [system for size in sizes for system in load_systems(run, size)]
    order = {name: index for index, name in enumerate(SYSTEM_ORDER)}
    systems = sorted(loaded, key=lambda s: (order.get(s.name, len(order)), s.size))
    rounds = ", ".join(f"{run.profile.reps[size]} at {size:,}" for size in sizes)
    run.log(f"rounds of {', '.join(OPERATIONS)}: {rounds} tasks")
    floor = measure(systems, reps=run.profile.reps, timeout=run.profile.timeout)
    out["floor"] = stats(floor)
    for system in systems:
        by_op = {op: stats(samples) for op, samples in system.samples.items()}
        out["systems"].setdefault(system.name, {})[str(system.size)] = by_op
        for operation, error in system.errors.items():
            run.results["errors"].append(f"{system.name} {operation} at {system.size:,}: {error}")


def load_systems(run: Run, size: int) -> list[System]:
    """Generate `size` tasks and load them into every system that is available."""
    home = run.workdir / f"size-{size}"
    home.mkdir()
    run.log(f"{size:,} tasks: generating and loading")
    dataset = write_tasks(home / "tasks.json", size, seed=size)
    targets = done_targets(dataset, run.profile.reps[size])
    recurring = done_targets(dataset, run.profile.reps[size], recurring=True)
    systems: list[System] = []

    def load(name: str, tc: Taskcli, migrate: bool) -> Taskcli:
        sample = load_taskcli(tc, dataset, migrate=migrate)
        record_import(run, name, size, sample)
        refs = task_refs(tc, dataset, targets)
        series = task_refs(tc, dataset, recurring)
        systems.append(System(name, size, tc.run, taskcli_commands(refs, series)))
        return tc

    source = run.attempt(
        f"load sqlite {size:,}", lambda: load("sqlite", Taskcli("sqlite", home / "sqlite"), False)
    )
    if run.cluster is not None:
        url = run.pg_url(f"bench_{size}")
        tc = run.attempt(
            f"load postgres {size:,}",
            lambda: load("postgres", Taskcli("postgres", home / "postgres", url), True),
        )
        if tc is not None and run.roundtrip_source is None:
            run.roundtrip_source = {
                "url": url,
                "email": f"bench-{size}@example.com",
                "tc": tc,
                "dataset": dataset,
            }
    if taskwarrior.available() and source is not None:
        loaded = run.attempt(f"load taskwarrior {size:,}", lambda: load_taskwarrior(home, source))
        if loaded:
            tw, sample = loaded
            record_import(run, "taskwarrior", size, sample)
            uuids = [dataset.ids[i] for i in targets]
            commands = taskwarrior_commands(uuids)
            limit = run.profile.taskwarrior_all_up_to
            if limit is not None and size > limit:
                commands = {op: commands[op] for op in COMPARED_WITH_TASKWARRIOR}
            systems.append(System("taskwarrior", size, tw.run, commands))
    return systems


def record_import(run: Run, system: str, size: int, sample: Sample) -> None:
    figures = {
        "wall_s": round(sample.wall, 2),
        "tasks_per_s": round(size / sample.wall),
        "rss_mb": round(sample.max_rss_kib * 1024 / 1e6, 1),
    }
    run.results["imports"].setdefault(system, {})[str(size)] = figures
