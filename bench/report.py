"""Summaries, budget checks (SPEC §8 and the bench brief) and the markdown report."""

from __future__ import annotations

import statistics

from bench.runner import Sample

HELP_MS = 100.0
FLOOR_FACTOR = 1.3
FLAT_FACTOR = 1.15
FLAT_OPERATIONS = ("add", "list", "show", "done", "done (recurring)", "update")
NEXT_FACTOR = 1.2  # `next` at the largest size, against a list page there
BULK_SECONDS = 5.0  # `done` of every open task at the largest size by one filter
STATS_FACTOR = 2.0  # `stats` counts every task: at the largest size, against a list page
COMPARED_WITH_TASKWARRIOR = ("list --limit 0", "export")
VERSUS_FACTOR = 0.5  # taskcli at most half of Taskwarrior's time: "≥ 2× faster"
EXTRA_TURNS, AIM_TURNS = 2, 1
IMPORT_RATE = 20_000
EXPORT_RSS_MB = 150.0
WARM_VERSION_MS = 30.0
COMPLETE = "complete task numbers"  # the warm section's completion row (SPEC §14)
TASKCLI_SYSTEMS = ("sqlite", "postgres")


def stats(samples: list[Sample]) -> dict:
    """Medians of wall and CPU time (ms), the largest peak RSS (MB), and the raw walls."""
    if not samples:
        return {}
    return {
        "wall_ms": round(statistics.median(s.wall for s in samples) * 1000, 1),
        "cpu_ms": round(statistics.median(s.cpu for s in samples) * 1000, 1),
        "rss_mb": round(max(s.max_rss_kib for s in samples) * 1024 / 1e6, 1),
        "n": len(samples),
        "wall_ms_samples": [round(s.wall * 1000, 1) for s in samples],
    }


def size_label(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    return f"{size // 1000}k" if size >= 1000 and size % 1000 == 0 else str(size)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 2) if numerator and denominator else None


def _budget(name: str, subject: str, value, limit: str, test, cpu_value=None) -> dict:
    """One budget. ``test(value) -> bool``; the CPU-time variant (where one exists) says
    whether a wall-time failure is this machine's load rather than taskcli."""
    return {
        "budget": name,
        "subject": subject,
        "limit": limit,
        "value": value,
        "ok": None if value is None else test(value),
        "cpu_value": cpu_value,
        "ok_cpu": None if cpu_value is None else test(cpu_value),
    }


def budgets(results: dict) -> list[dict]:
    """Every budget with its measured value; ok None when it could not be measured."""
    help_figures = results.get("startup", {}).get("taskcli --help", {})
    found = [
        _budget(
            "--help",
            "ms",
            help_figures.get("wall_ms"),
            f"< {HELP_MS:.0f}",
            lambda v: v < HELP_MS,
            help_figures.get("cpu_ms"),
        )
    ]
    found += _scaling_budgets(results.get("scaling", {}))
    found += _roundtrip_budgets(results.get("roundtrips", {}))
    throughput = results.get("import_throughput", {})
    found.append(
        _budget(
            "import into PostgreSQL",
            f"{size_label(throughput['size'])} tasks, tasks/s" if throughput else "not measured",
            throughput.get("tasks_per_s"),
            f"≥ {IMPORT_RATE:,}",
            lambda v: v >= IMPORT_RATE,
        )
    )
    found += _warm_budgets(results.get("warm", {}))
    bulk = results.get("bulk", {})
    for system, figures in bulk.get("systems", {}).items():
        found.append(
            _budget(
                f"bulk done by one filter, {system}",
                f"{size_label(bulk['size'])} tasks, s",
                figures.get("done_s"),
                f"≤ {BULK_SECONDS:.0f}",
                lambda v: v <= BULK_SECONDS,
            )
        )
    for system, by_size in results.get("memory", {}).items():
        for size, figures in by_size.items():
            found.append(
                _budget(
                    f"export peak RSS, {system}",
                    f"{size_label(int(size))} tasks, MB",
                    figures.get("export", {}).get("rss_mb"),
                    f"< {EXPORT_RSS_MB:.0f} (at 1M)",
                    lambda v: v < EXPORT_RSS_MB,
                )
            )
    return found


def _warm_budgets(warm: dict) -> list[dict]:
    """The client's start-up through the server, and warm commands against Taskwarrior."""
    if not warm:
        return []
    operations = warm["operations"]
    served = operations.get("--version", {}).get("warm (server)", {})
    found = [
        _budget("--version through the server", "ms", served.get("wall_ms"),
                f"< {WARM_VERSION_MS:.0f}", lambda v: v < WARM_VERSION_MS, served.get("cpu_ms"))
    ]  # fmt: skip
    found += _warm_ratios(warm, ("list", "show", "add", "done"), 1.0, "≤ 1")
    complete = operations.get(COMPLETE, {}).get("warm (server)", {})
    found.append(  # SPEC §14: a TAB within the --help budget plus one query
        _budget("complete task numbers through the server", "ms", complete.get("wall_ms"),
                f"< {HELP_MS:.0f} (--help's)", lambda v: v < HELP_MS, complete.get("cpu_ms"))
    )  # fmt: skip
    for larger in warm.get("larger", []):  # SPEC §15 at 100k; the whole list and export ≥ 3×
        ops = ("list", "show", "add", "done", "list --limit 0", "export")
        found += _warm_ratios(larger, ops, 1 / 3, "≤ 0.33")
    trips = warm.get("roundtrips", {}).get("operations", {})
    for op, by_system in trips.items():
        served = by_system.get("warm (server)", {})
        found.append(
            _budget(f"warm {op} on PostgreSQL", "round trips (connections opened)",
                    served.get("turns"), "1 (0)",
                    lambda v, s=served: v == 1 and s.get("connections_opened") == 0)
        )  # fmt: skip
    return found


def _warm_ratios(warm: dict, ops: tuple[str, ...], limit: float, label: str) -> list[dict]:
    operations = warm["operations"]
    size = size_label(warm["size"])
    found = []
    for op in ops:
        figures = operations.get(op, {})
        mine, theirs = figures.get("warm (server)", {}), figures.get("taskwarrior", {})
        found.append(
            _budget(f"warm {op} vs Taskwarrior", f"{size}, × Taskwarrior",
                    _ratio(mine.get("wall_ms"), theirs.get("wall_ms")), label,
                    lambda v: v <= limit, _ratio(mine.get("cpu_ms"), theirs.get("cpu_ms")))
        )  # fmt: skip
    return found


def figure(scaling: dict, system: str, size, operation: str, key: str = "wall_ms"):
    by_size = scaling.get("systems", {}).get(system, {})
    return by_size.get(str(size), {}).get(operation, {}).get(key)


def _pair(scaling: dict, a: tuple, b: tuple) -> tuple[float | None, float | None]:
    """(wall ratio, CPU ratio) of two (system, size, operation) cells."""
    return tuple(
        _ratio(figure(scaling, *a, key=key), figure(scaling, *b, key=key))
        for key in ("wall_ms", "cpu_ms")
    )


def _scaling_budgets(scaling: dict) -> list[dict]:
    sizes = scaling.get("sizes", [])
    if not sizes:
        return []
    small, large = sizes[0], sizes[-1]
    floor = scaling.get("floor", {})
    found = []
    for system in TASKCLI_SYSTEMS:
        for operation in scaling.get("operations", []):
            wall = _ratio(figure(scaling, system, small, operation), floor.get("wall_ms"))
            cpu = _ratio(figure(scaling, system, small, operation, "cpu_ms"), floor.get("cpu_ms"))
            found.append(
                _budget(
                    f"{operation} at {size_label(small)} / import floor",
                    system,
                    wall,
                    f"≤ {FLOOR_FACTOR}",
                    lambda v: v <= FLOOR_FACTOR,
                    cpu,
                )
            )
    if large == small:
        return found
    for system in TASKCLI_SYSTEMS:
        for operation in FLAT_OPERATIONS:
            wall, cpu = _pair(scaling, (system, large, operation), (system, small, operation))
            found.append(
                _budget(
                    f"{operation}: {size_label(large)} / {size_label(small)}",
                    system,
                    wall,
                    f"≤ {FLAT_FACTOR}",
                    lambda v: v <= FLAT_FACTOR,
                    cpu,
                )
            )
    for system in TASKCLI_SYSTEMS:
        for operation in ("next", "list --sort urgency"):
            wall, cpu = _pair(scaling, (system, large, operation), (system, large, "list"))
            found.append(
                _budget(
                    f"{operation} at {size_label(large)} / list at {size_label(large)}",
                    system,
                    wall,
                    f"≤ {NEXT_FACTOR}",
                    lambda v: v <= NEXT_FACTOR,
                    cpu,
                )
            )
    for system in TASKCLI_SYSTEMS:
        wall, cpu = _pair(scaling, (system, large, "stats"), (system, large, "list"))
        found.append(
            _budget(
                f"stats at {size_label(large)} / list at {size_label(large)}",
                system,
                wall,
                f"≤ {STATS_FACTOR}",
                lambda v: v <= STATS_FACTOR,
                cpu,
            )
        )
    for system in TASKCLI_SYSTEMS:
        for operation in COMPARED_WITH_TASKWARRIOR:
            wall, cpu = _pair(
                scaling, (system, large, operation), ("taskwarrior", large, operation)
            )
            found.append(
                _budget(
                    f"{operation} at {size_label(large)}: taskcli / Taskwarrior",
                    system,
                    wall,
                    f"≤ {VERSUS_FACTOR} (2× faster)",
                    lambda v: v <= VERSUS_FACTOR,
                    cpu,
                )
            )
    return found


def _roundtrip_budgets(roundtrips: dict) -> list[dict]:
    commands = roundtrips.get("commands", {})
    floor = commands.get("floor", {}).get("turns")
    if floor is None:
        return []
    limit = f"≤ floor + {EXTRA_TURNS} = {floor + EXTRA_TURNS} (aim {floor + AIM_TURNS})"
    return [
        _budget(
            f"round trips: {name}",
            "turns",
            figures.get("turns"),
            limit,
            lambda v: v <= floor + EXTRA_TURNS,
        )
        for name, figures in commands.items()
        if name != "floor"
    ]
