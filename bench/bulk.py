"""A bulk change at the largest size: `done` of every open task by one filter, and the
`undo` that reverts it (one journal step each way), on each database."""

from __future__ import annotations

from bench.context import Run
from bench.runner import Sample
from bench.workloads import Taskcli, write_tasks


def _measure(tc: Taskcli, timeout: float) -> dict[str, float]:
    done: Sample = tc.run("done", "--status", "pending", "--status", "in_progress", "--yes",
                          timeout=timeout)  # fmt: skip
    undo: Sample = tc.run("undo", "--yes", timeout=timeout)
    return {"done_s": round(done.wall, 2), "undo_s": round(undo.wall, 2)}


def section(run: Run) -> None:
    size = run.profile.sizes[-1]
    timeout = run.profile.timeout
    dataset = write_tasks(run.workdir / "bulk.json", size, seed=77)
    import json

    records = json.loads(dataset.path.read_text(encoding="utf-8"))
    open_count = sum(record.get("status") != "completed" for record in records)
    out: dict = {"size": size, "open": open_count, "systems": {}}
    run.log(f"bulk change: done of every open task among {size:,}, then undo")
    systems = [("sqlite", Taskcli("bulk-sqlite", run.workdir / "bulk-sqlite"))]
    if run.cluster is not None:
        url = run.pg_url("bench_bulk")
        systems.append(("postgres", Taskcli("bulk-postgres", run.workdir / "bulk-pg", url)))
    for name, tc in systems:

        def measure(name: str = name, tc: Taskcli = tc) -> None:
            if name == "postgres":
                tc.run("db", "migrate", timeout=timeout)
            tc.register(f"bulk-{name}@example.com")
            tc.run("import", str(dataset.path), timeout=timeout)
            out["systems"][name] = _measure(tc, timeout)

        run.attempt(f"bulk {name}", measure)
    run.results["bulk"] = out
    dataset.path.unlink()
