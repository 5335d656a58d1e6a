"""The smaller benchmarks: start-up, import throughput into PostgreSQL, export memory."""

from __future__ import annotations

import shutil

from bench.context import Run
from bench.report import stats
from bench.runner import PYTHON, Sample, run
from bench.workloads import TASKCLI, Dataset, Taskcli, base_env, write_tasks

STARTUP = {
    "taskcli --help": [TASKCLI, "--help"],
    "taskcli --version": [TASKCLI, "--version"],
    "import floor": [PYTHON, "-c", "import sqlmodel, typer"],
}


def startup(*, reps: int, timeout: float) -> dict[str, list[Sample]]:
    """Round-robin start-up samples; `--help` runs with an empty data/config environment."""
    env = base_env()
    samples: dict[str, list[Sample]] = {name: [] for name in STARTUP}
    for _ in range(reps):
        for name, argv in STARTUP.items():
            samples[name].append(run(argv, env=env, timeout=timeout))
    return samples


def export_memory(tc: Taskcli, dataset: Dataset, *, timeout: float) -> dict[str, Sample]:
    """Load the dataset into tc (already migrated) and export it all to /dev/null."""
    tc.register(f"memory-{dataset.size}@example.com")
    loaded = tc.run("import", str(dataset.path), timeout=timeout)
    exported = tc.run("export", timeout=timeout)
    return {"import": loaded, "export": exported}


# ---- the sections ------------------------------------------------------------------------


def startup_section(run: Run) -> None:
    run.log("start-up")
    samples = startup(reps=run.profile.startup_reps, timeout=run.profile.timeout)
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
