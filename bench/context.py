"""The profiles (how much to measure) and the state every section of a run shares."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Profile:
    sizes: tuple[int, ...]
    reps: dict[int, int]  # rounds of the per-command benchmark at each size
    startup_reps: int
    roundtrip_reps: int
    latency_ms: float
    import_size: int
    import_reps: int
    memory_size: int
    memory_systems: tuple[str, ...]
    timeout: float  # per command
    # above this size Taskwarrior runs only what the budgets compare (list --limit 0, export)
    taskwarrior_all_up_to: int | None = None


PROFILES = {
    # 1k and 100k (the budgets' sizes) with few rounds; export memory at 200k on SQLite.
    "quick": Profile(
        sizes=(1_000, 100_000),
        reps={1_000: 4, 100_000: 3},
        startup_reps=7,
        roundtrip_reps=2,
        latency_ms=20,
        import_size=50_000,
        import_reps=1,
        memory_size=200_000,
        memory_systems=("sqlite",),
        timeout=300,
        taskwarrior_all_up_to=10_000,
    ),
    "full": Profile(
        sizes=(1_000, 10_000, 100_000),
        reps={1_000: 9, 10_000: 7, 100_000: 5},
        startup_reps=20,
        roundtrip_reps=5,
        latency_ms=20,
        import_size=50_000,
        import_reps=3,
        memory_size=1_000_000,
        memory_systems=("sqlite", "postgres"),
        timeout=1800,
    ),
    # checks that the suite itself works, in about two minutes; the figures mean little
    "smoke": Profile(
        sizes=(200, 2_000),
        reps={200: 2, 2_000: 2},
        startup_reps=2,
        roundtrip_reps=1,
        latency_ms=20,
        import_size=5_000,
        import_reps=1,
        memory_size=5_000,
        memory_systems=("sqlite", "postgres"),
        timeout=120,
    ),
}


@dataclass
class Run:
    """What the sections share: the profile, a scratch directory, the PostgreSQL cluster,
    the results being collected."""

    profile: Profile
    workdir: Path
    cluster: object | None = None  # tests.servers.PostgresCluster
    results: dict = field(default_factory=lambda: {"errors": []})
    roundtrip_source: dict | None = None  # the smallest PostgreSQL dataset, for round trips

    def attempt(self, what: str, work: Callable[[], object]) -> object | None:
        """Run one piece of work; on failure record the error and carry on with the rest."""
        try:
            return work()
        except KeyboardInterrupt:
            raise
        except Exception as error:  # a benchmark that breaks must not take the others down
            detail = str(error).strip() or type(error).__name__
            self.results["errors"].append(f"{what}: {detail}")
            if os.environ.get("BENCH_DEBUG"):
                traceback.print_exc()
            return None

    def log(self, text: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)  # noqa: T201 - the bench's progress log

    def start_postgres(self) -> None:
        from tests.servers import PostgresCluster, find_pg_bindir

        if find_pg_bindir() is None:
            self.results["errors"].append("PostgreSQL server binaries not found: skipped")
            return
        self.log("starting a throwaway PostgreSQL cluster")
        self.cluster = PostgresCluster.start(self.workdir)

    def pg_url(self, name: str) -> str:
        """A new database on the cluster; sslmode=disable so bench/proxy.py can read it."""
        return self.cluster.create_database(name) + "?sslmode=disable"
