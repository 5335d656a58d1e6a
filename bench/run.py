"""Run the taskcli benchmarks: ``python bench/run.py [--quick]``.

Prints a markdown report and writes bench/results/latest.json. Every figure comes from
this one run (start-up, per-command cost at several sizes on SQLite, PostgreSQL and
Taskwarrior, round trips, import throughput, export memory), so ratios between them hold
on a noisy machine. Nothing here asserts a timing: budgets are reported as ✓/✗.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import (  # noqa: E402
    bulk,
    citus,
    isolation,
    markdown,
    report,
    roundtrips,
    scaling,
    suites,
    taskwarrior,
    warm,
)  # fmt: skip
from bench.context import PROFILES, Profile, Run  # noqa: E402
from bench.runner import capture  # noqa: E402
from bench.workloads import TASKCLI, base_env  # noqa: E402

RESULTS = REPO / "bench" / "results" / "latest.json"
SECTIONS = {
    "startup": suites.startup_section,
    "scaling": scaling.section,
    "roundtrips": roundtrips.section,
    "rls": isolation.section,
    "bulk": bulk.section,
    "warm": warm.section,
    "import": suites.import_section,
    "memory": suites.memory_section,
    "citus": citus.section,
}


def meta(name: str, profile: Profile) -> dict:
    env = base_env()
    tw = taskwarrior.available() and capture(["task", "--version"], env=env).strip()
    return {
        "profile_name": name,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": {k: v for k, v in profile.__dict__.items() if k != "reps"}
        | {"reps": {str(k): v for k, v in profile.reps.items()}},
        "python": sys.version.split()[0],
        "taskcli_version": capture([TASKCLI, "--version"], env=env).strip(),
        "taskwarrior_version": f"Taskwarrior {tw}" if tw else None,
        "cpus": os.cpu_count(),
        "loadavg_start": round(os.getloadavg()[0], 2),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the < 5 minute profile")
    parser.add_argument("--profile", choices=sorted(PROFILES), help="quick, full or smoke")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=tuple(SECTIONS),
        help="run only these sections (round trips need scaling's PostgreSQL data)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    name = args.profile or ("quick" if args.quick else "full")
    profile = PROFILES[name]
    started = time.monotonic()
    run = Run(profile=profile, workdir=Path(tempfile.mkdtemp(prefix="taskcli-bench-")))
    os.chmod(run.workdir, 0o755)  # the postgres OS user must reach the cluster under it
    run.results["meta"] = meta(name, profile)
    try:
        if not args.no_postgres:
            run.attempt("start PostgreSQL", run.start_postgres)
        for name, section in SECTIONS.items():
            if args.only and name not in args.only:
                continue
            if name == "roundtrips" and "scaling" not in (args.only or SECTIONS):
                run.results["errors"].append("round trips skipped: they use scaling's data")
                continue
            run.attempt(name, lambda section=section: section(run))
    except KeyboardInterrupt:
        run.results["errors"].append("interrupted: the figures are partial")
    finally:
        if run.cluster is not None:
            run.cluster.stop()
        shutil.rmtree(run.workdir, ignore_errors=True)
    run.results["meta"] |= {
        "duration_s": round(time.monotonic() - started, 1),
        "loadavg_end": round(os.getloadavg()[0], 2),
    }
    run.results["budgets"] = report.budgets(run.results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(run.results, indent=2, default=str) + "\n")
    print(markdown.render(run.results))  # noqa: T201 - the report is the script's output
    print(f"\n(JSON: {args.output})", file=sys.stderr)  # noqa: T201 - where the report went
    return 0


if __name__ == "__main__":
    sys.exit(main())
