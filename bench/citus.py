"""taskcli on a Citus cluster against a single PostgreSQL: add, the first list page and
export of one user among 100 users with 100k tasks in all, in one run.

Both are set up as production runs them: migrated and granted by the owner, the commands
through the application role; the cluster (tests/citus/cluster.py: a coordinator and two
workers, all on this machine) also distributed with `taskcli db distribute`. Each user
has the same 1,000 tasks, imported through taskcli. The commands run round-robin over
the two systems. On one machine the cluster can only add cost (every statement takes one
more hop, and the three servers share the CPUs): the figure says what that cost is.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from bench.context import Run
from bench.report import stats
from bench.runner import Sample
from bench.workloads import Taskcli, write_tasks

USERS = 100
PER_USER = 1_000
COMMANDS = ("add", "list", "export")
APP_PASSWORD = "bench-app-password"


def _single(run: Run) -> tuple[str, str]:
    """(owner URL, application URL) on the run's PostgreSQL."""
    assert run.cluster is not None
    suffix = uuid.uuid4().hex[:8]
    app, name = f"bench_citus_app_{suffix}", f"bench_single_{suffix}"
    run.cluster.create_role(app, APP_PASSWORD, "NOSUPERUSER")
    owner = run.cluster.create_database(name) + "?sslmode=disable"
    return owner, run.cluster.url_as(owner, app, APP_PASSWORD)


def _distributed(run: Run):
    """The cluster and its (owner URL, application URL)."""
    from tests.citus.cluster import CitusCluster
    from tests.servers import admin_cursor

    cluster = CitusCluster.start(run.workdir)
    with admin_cursor(cluster.admin_url()) as cursor:
        cursor.execute(f"CREATE ROLE bench_app LOGIN PASSWORD '{APP_PASSWORD}'")
    owner = cluster.create_database("taskcli")
    cluster.authorize("taskcli", "bench_app", APP_PASSWORD)
    return cluster, owner, cluster.coordinator.url_as(owner, "bench_app", APP_PASSWORD)


def _load(run: Run, system: str, owner_url: str, app_url: str, distribute: bool) -> Taskcli:
    timeout = run.profile.timeout
    owner = Taskcli(f"{system}-owner", run.workdir / f"{system}-owner", owner_url)
    owner.run("db", "migrate", timeout=timeout)
    owner.run("db", "grant", app_url.split("//", 1)[1].split(":", 1)[0], timeout=timeout)
    if distribute:
        owner.run("db", "distribute", timeout=timeout)
    dataset = write_tasks(run.workdir / f"{system}.json", PER_USER, seed=80)

    def load(index: int) -> Taskcli:
        user = Taskcli(f"{system}-{index}", run.workdir / f"{system}-{index}", app_url)
        user.register(f"user-{index}@example.com")
        user.run("import", str(dataset.path), timeout=timeout)
        return user

    with ThreadPoolExecutor(max_workers=4) as pool:  # the loading is not measured
        users = list(pool.map(load, range(USERS)))
    dataset.path.unlink()
    return users[USERS // 2]


def section(run: Run) -> None:
    from tests.citus.cluster import citus_available

    if run.cluster is None:
        return
    if not citus_available():
        run.results["errors"].append("citus: the Citus extension is not installed: skipped")
        return
    reps = max(run.profile.reps[min(run.profile.reps)], 5)
    run.log(f"citus: {USERS} users x {PER_USER:,} tasks on a 3-node cluster and on one server")
    cluster, owner_url, app_url = _distributed(run)
    try:
        systems = {
            "single": _load(run, "single", *_single(run), distribute=False),
            "citus": _load(run, "citus", owner_url, app_url, distribute=True),
        }
        samples: dict[str, dict[str, list[Sample]]] = {
            command: {name: [] for name in systems} for command in COMMANDS
        }
        args = {"add": ("add", "benchmark task"), "list": ("list",), "export": ("export",)}
        for _ in range(reps):
            for command in COMMANDS:
                for name, tc in systems.items():
                    samples[command][name].append(
                        tc.run(*args[command], timeout=run.profile.timeout)
                    )
    finally:
        cluster.stop()
    run.results["citus"] = {
        "users": USERS,
        "tasks": USERS * PER_USER,
        "commands": {
            command: {name: stats(s) for name, s in by_system.items()}
            for command, by_system in samples.items()
        },
    }
