"""The smaller benchmarks: start-up, import throughput into PostgreSQL, export memory."""

from __future__ import annotations

import shutil

from bench.context import Run
from bench.report import size_label, stats
from bench.runner import PYTHON, Sample, run
from bench.workloads import TASKCLI, Dataset, Taskcli, base_env, write_tasks

STARTUP = {
    "taskcli --help": [TASKCLI, "--help"],
    "taskcli --version": [TASKCLI, "--version"],
    "import floor": [PYTHON, "-c", "import sqlmodel, typer"],
}
# What bash asks at `taskcli done <TAB>` (click's completion protocol): the open tasks'
# numbers, from the database, for the logged-in user.
COMPLETE_TASK_NUMBERS = {
    "_TASKCLI_COMPLETE": "complete_bash",
    "COMP_WORDS": "taskcli done ",
    "COMP_CWORD": "2",
}
Subject = tuple[list[str], dict[str, str]]  # argv and environment


def startup(
    *, reps: int, timeout: float, more: dict[str, Subject] | None = None
) -> dict[str, list[Sample]]:
    """Round-robin start-up samples; `--help` runs with an empty data/config environment.
    ``more``: other commands measured in the same rounds (the completions)."""
    env = base_env()
    subjects = {name: (argv, env) for name, argv in STARTUP.items()} | (more or {})
    samples: dict[str, list[Sample]] = {name: [] for name in subjects}
    for _ in range(reps):
        for name, (argv, subject_env) in subjects.items():
            samples[name].append(run(argv, env=subject_env, timeout=timeout))
    return samples


def completion_subjects(run: Run) -> dict[str, Subject]:
    """A logged-in taskcli with tasks for each completion row: SQLite at the smallest and
    the largest size of the profile, PostgreSQL at the smallest (when a cluster runs)."""
    sizes = sorted({min(run.profile.sizes), max(run.profile.sizes)})
    systems = [("sqlite", size) for size in sizes]
    if run.cluster is not None:
        systems.append(("postgres", sizes[0]))
    subjects: dict[str, Subject] = {}
    for system, size in systems:

        def load(system: str = system, size: int = size) -> Subject:
            run.log(f"start-up: {size:,} tasks on {system} for the completion row")
            home = run.workdir / f"complete-{system}-{size}"
            url = run.pg_url(f"bench_complete_{size}") if system == "postgres" else None
            tc = Taskcli(f"complete-{system}", home, url)
            if url:
                tc.run("db", "migrate")
            tc.register(f"complete-{size}@example.com")
            dataset = write_tasks(home / "tasks.json", size, seed=size)
            tc.run("import", str(dataset.path), timeout=run.profile.timeout)
            dataset.path.unlink()
            return [TASKCLI], {**tc.env, **COMPLETE_TASK_NUMBERS}

        subject = run.attempt(f"completion data {system} {size:,}", load)
        if subject is not None:
            name = f"complete task numbers ({system} {size_label(size)})"
            subjects[name] = subject
    return subjects


def export_memory(tc: Taskcli, dataset: Dataset, *, timeout: float) -> dict[str, Sample]:
    """Load the dataset into tc (already migrated) and export it all to /dev/null."""
    tc.register(f"memory-{dataset.size}@example.com")
    loaded = tc.run("import", str(dataset.path), timeout=timeout)
    exported = tc.run("export", timeout=timeout)
    return {"import": loaded, "export": exported}


# ---- the sections ------------------------------------------------------------------------


def startup_section(run: Run) -> None:
    more = completion_subjects(run)
    run.log("start-up")
    samples = startup(reps=run.profile.startup_reps, timeout=run.profile.timeout, more=more)
    run.results["startup"] = {name: stats(s) for name, s in samples.items()}


def import_section(run: Run) -> None:
    if run.cluster is None:
        return
    size, reps = run.profile.import_size, run.profile.import_reps
    run.log(f"import throughput: {size:,} tasks into PostgreSQL, {reps} run(s)")
    dataset = write_tasks(run.workdir / "import.json", size, seed=50)
    samples = []
    for rep in range(reps):  # a fresh database each time: the same import, not an update
        name = f"bench_import_{rep}"
        tc = Taskcli(f"import-{rep}", run.workdir / f"import-{rep}", run.pg_url(name))
        try:
            tc.run("db", "migrate")
            tc.register(f"import-{rep}@example.com")
            samples.append(tc.run("import", str(dataset.path), timeout=run.profile.timeout))
        finally:
            run.cluster.drop_database(name)
    summary = stats(samples)
    run.results["import_throughput"] = {
        "size": size,
        "n": len(samples),
        "wall_s": round(summary["wall_ms"] / 1000, 2),
        "tasks_per_s": round(size / (summary["wall_ms"] / 1000)),
        "rss_mb": summary["rss_mb"],
    }
    dataset.path.unlink()


def memory_section(run: Run) -> None:
    size = run.profile.memory_size
    path = run.workdir / "memory.json"
    run.log(f"export memory: generating {size:,} tasks")
    dataset = write_tasks(path, size, seed=1000)
    run.results["memory"] = {}
    for system in run.profile.memory_systems:
        if system == "postgres" and run.cluster is None:
            continue
        run.log(f"export memory: {system}, {size:,} tasks")

        def work(system=system):
            url = run.pg_url("bench_memory") if system == "postgres" else None
            tc = Taskcli(f"memory-{system}", run.workdir / f"memory-{system}", url)
            try:
                if url:
                    tc.run("db", "migrate")
                samples = export_memory(tc, dataset, timeout=run.profile.timeout)
            finally:
                shutil.rmtree(tc.home, ignore_errors=True)
                if url:
                    run.cluster.drop_database("bench_memory")
            return {name: stats([sample]) for name, sample in samples.items()}

        figures = run.attempt(f"export memory {system}", work)
        if figures:
            run.results["memory"].setdefault(system, {})[str(size)] = figures
    path.unlink()
