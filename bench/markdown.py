"""The markdown report: one table per section, then every budget with ✓ or ✗."""

from __future__ import annotations

from bench.report import TASKCLI_SYSTEMS, figure, size_label

AUTH_LABELS = ("Startup", "SSLRequest", "GSSENCRequest", "Password/SASL")


def _mark(ok: bool | None) -> str:
    return "–" if ok is None else "✓" if ok else "✗"


def _table(header: list[str], rows: list[list]) -> list[str]:
    def cell(value) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def render(results: dict) -> str:
    meta = results.get("meta", {})
    taskwarrior = meta.get("taskwarrior_version") or "no Taskwarrior"
    lines = [
        f"# taskcli benchmarks ({meta.get('profile_name', '?')} run)",
        "",
        f"{meta.get('taskcli_version', '?')}, {taskwarrior}, "
        f"{meta.get('cpus', '?')} CPUs, load average {meta.get('loadavg_start')} → "
        f"{meta.get('loadavg_end')}, {meta.get('duration_s', 0):.0f} s. "
        "Times are medians of wall time in ms unless marked.",
        "",
    ]
    lines += _startup_section(results.get("startup", {}))
    lines += _scaling_section(results.get("scaling", {}), results.get("imports", {}))
    lines += _roundtrip_section(results.get("roundtrips", {}))
    lines += _rls_section(results.get("rls", {}))
    lines += _citus_section(results.get("citus", {}))
    lines += _bulk_section(results.get("bulk", {}))
    lines += _warm_section(results.get("warm", {}))
    lines += _throughput_section(results)
    lines += ["## Budgets", ""]
    rows = [
        [
            b["budget"],
            b["subject"],
            b["limit"],
            b["value"],
            _mark(b["ok"]),
            b["cpu_value"],
            _mark(b["ok_cpu"]),
        ]
        for b in results.get("budgets", [])
    ]
    lines += [
        "value: from wall time (the budget); CPU: the same from the client's CPU time,",
        "which this machine's load does not inflate (it leaves out the server's work).",
        "",
    ]
    lines += _table(["budget", "subject", "limit", "value", "ok", "CPU", "ok"], rows)
    if results.get("errors"):
        lines += ["## Errors", ""] + [f"- {error}" for error in results["errors"]] + [""]
    return "\n".join(lines)


def _startup_section(startup: dict) -> list[str]:
    help_ms = startup.get("taskcli --help", {}).get("wall_ms")

    def versus_help(wall_ms: float | None) -> float | None:
        return round(wall_ms / help_ms, 2) if wall_ms and help_ms else None

    rows = [
        [name, s.get("wall_ms"), versus_help(s.get("wall_ms")), s.get("cpu_ms"),
         s.get("rss_mb"), s.get("n")]
        for name, s in startup.items()
    ]  # fmt: skip
    return ["## Start-up", ""] + _table(
        ["command", "wall ms", "× --help", "CPU ms", "peak RSS MB", "runs"], rows
    )


def _scaling_section(scaling: dict, imports: dict) -> list[str]:
    sizes, systems = scaling.get("sizes", []), scaling.get("systems", {})
    if not sizes:
        return []
    header = ["operation"]
    for system in systems:
        header += [f"{system} {size_label(s)}" for s in sizes]
        header += [f"× {size_label(sizes[-1])}/{size_label(sizes[0])}"] if len(sizes) > 1 else []
    rows = []
    for operation in scaling.get("operations", []):
        row: list = [operation]
        for system in systems:
            walls = [figure(scaling, system, s, operation) for s in sizes]
            row += walls
            if len(sizes) > 1:
                row.append(round(walls[-1] / walls[0], 2) if walls[0] and walls[-1] else None)
        rows.append(row)
    floor = scaling.get("floor", {})
    rows.append(["import floor (all rounds)", floor.get("wall_ms")] + [None] * (len(header) - 2))
    cpu_rows = [
        [operation]
        + [
            systems[sy].get(str(s), {}).get(operation, {}).get("cpu_ms")
            for sy in systems
            for s in sizes
        ]
        for operation in scaling.get("operations", [])
    ]
    cpu_rows.append(
        ["import floor (all rounds)", floor.get("cpu_ms")] + [None] * (len(cpu_rows[0]) - 2)
    )
    cpu_header = ["operation"] + [f"{sy} {size_label(s)}" for sy in systems for s in sizes]
    load_rows = [
        [system, size_label(int(size)), f["wall_s"], f["tasks_per_s"], f["rss_mb"]]
        for system, by_size in imports.items()
        for size, f in by_size.items()
    ]
    return (
        ["## Per-command cost by data size (wall ms, median)", ""]
        + _table(header, rows)
        + ["Client CPU ms (median; excludes the PostgreSQL server's work):", ""]
        + _table(cpu_header, cpu_rows)
        + ["## Loading the data (one `import` each)", ""]
        + _table(["system", "tasks", "wall s", "tasks/s", "peak RSS MB"], load_rows)
    )


def _roundtrip_section(roundtrips: dict) -> list[str]:
    commands = roundtrips.get("commands", {})
    if not commands:
        return []
    latency = roundtrips.get("latency_ms")
    floor = commands.get("floor", {}).get("turns")
    rows = []
    for name, f in commands.items():
        turns, wall, delayed = f.get("turns"), f.get("wall_ms"), f.get("wall_ms_delayed")
        extra = None if turns is None or floor is None else f"+{turns - floor}"
        delta = delayed - wall if wall and delayed else None
        expected = turns * latency if turns is not None else None
        rows.append([name, f.get("connections"), turns, extra, wall, delayed, delta, expected])
    header = ["command", "connections", "turns", "vs floor", "wall ms (proxy)"]
    header += [f"wall ms (+{latency:g} ms/reply)", "Δ ms", f"turns × {latency:g} ms"]
    details = [
        "Statements after connecting (one line per turn; `→` the server's reply):",
        "",
        "```",
    ]
    for name, figures in commands.items():
        for turns in figures.get("labels", []):
            statements = [label for label in turns if not label.startswith(AUTH_LABELS)]
            for label in statements:
                sent, _, received = label.partition("  →  ")
                shown = sent if len(sent) <= 110 else sent[:109] + "…"
                details.append(f"{name:8} {shown}  →  {received}")
    return (
        ["## Round trips to PostgreSQL (through bench/proxy.py)", ""]
        + _table(header, rows)
        + details
        + ["```", ""]
    )


def _warm_section(warm: dict) -> list[str]:
    if not warm:
        return []
    lines = _warm_table(warm) + _warm_trips_section(warm.get("roundtrips", {}))
    for larger in warm.get("larger", []):
        lines += [""] + _warm_table(larger)
    return lines


def _warm_table(warm: dict) -> list[str]:
    rows = []
    for op, by_system in warm["operations"].items():
        cold, served, tw = (
            by_system.get(s, {}) for s in ("in-process", "warm (server)", "taskwarrior")
        )
        ratio = served.get("wall_ms") / tw["wall_ms"] if served and tw.get("wall_ms") else None
        rows.append([op, cold.get("wall_ms"), served.get("wall_ms"), served.get("cpu_ms"),
                     tw.get("wall_ms"), ratio])  # fmt: skip
    header = ["command", "in-process", "warm (server)", "warm CPU ms", "Taskwarrior",
              "warm ÷ Taskwarrior"]  # fmt: skip
    title = f"## Warm commands through the local server ({warm['size']:,} tasks, SQLite)"
    return [title, ""] + _table(header, rows)


def _warm_trips_section(trips: dict) -> list[str]:
    if not trips:
        return []
    rows = []
    for op, by_system in trips["operations"].items():
        cold, served = (by_system.get(s, {}) for s in ("in-process", "warm (server)"))
        rows.append([op, cold.get("turns"), cold.get("connections_opened"),
                     cold.get("wall", {}).get("wall_ms"), served.get("turns"),
                     served.get("connections_opened"),
                     served.get("wall", {}).get("wall_ms")])  # fmt: skip
    header = ["command", "in-process turns", "connections", f"ms at {trips['latency_ms']:g} ms",
              "warm turns", "connections", f"ms at {trips['latency_ms']:g} ms"]  # fmt: skip
    title = "## Warm commands on PostgreSQL (through bench/proxy.py)"
    return ["", title, ""] + _table(header, rows)


def _bulk_section(bulk: dict) -> list[str]:
    if not bulk.get("systems"):
        return []
    lines = [
        "## Bulk change",
        "",
        f"`done --status pending --status in_progress --yes` among {bulk['size']:,} tasks"
        f" ({bulk['open']:,} open), then `undo --yes` of it (seconds, one run):",
        "",
    ]
    rows = [[system, f["done_s"], f["undo_s"]] for system, f in bulk["systems"].items()]
    return lines + _table(["database", "done", "undo"], rows)


def _rls_section(rls: dict) -> list[str]:
    if not rls:
        return []
    lines = [
        "## Row-level security",
        "",
        f"One user with {rls['size']:,} tasks among {rls['users']} users on PostgreSQL: the"
        " application role (under row-level security) against the server's superuser"
        " (exempt from it), same token, same commands, round-robin.",
        "",
    ]
    lines += _ratio_table(rls["commands"], ("rls", "with RLS"), ("plain", "without"))
    login = rls.get("login_ms", {})
    if login:
        lines += [
            "A wrong login, the database's time (median, ms; one email known, one not):",
            "",
        ]
        lines += _table(list(login), [list(login.values())])
    return lines


def _citus_section(citus: dict) -> list[str]:
    if not citus:
        return []
    lines = [
        "## Scale-out: Citus",
        "",
        f"One user among {citus['users']} with {citus['tasks']:,} tasks in all, through the"
        " application role: a coordinator and two workers on this machine against one"
        " PostgreSQL server, round-robin.",
        "",
    ]
    return lines + _ratio_table(
        citus["commands"], ("citus", "Citus"), ("single", "one server"), measured_first=False
    )


def _ratio_table(
    commands: dict,
    measured: tuple[str, str],
    baseline: tuple[str, str],
    *,
    measured_first: bool = True,
) -> list[str]:
    """A row a command: its time in two set-ups (each a (key, heading) pair) and the
    measured one's as a ratio of the baseline's."""
    columns = [measured, baseline] if measured_first else [baseline, measured]
    rows = []
    for command, variants in commands.items():
        ratio = variants[measured[0]]["wall_ms"] / variants[baseline[0]]["wall_ms"]
        rows.append([command, *(variants[key]["wall_ms"] for key, _ in columns), f"{ratio:.2f}"])
    return _table(["command", *(heading for _, heading in columns), "ratio"], rows)


def _throughput_section(results: dict) -> list[str]:
    lines = []
    throughput = results.get("import_throughput", {})
    if throughput:
        lines += ["## Import throughput into PostgreSQL", ""]
        lines += _table(
            ["tasks", "wall s (median)", "tasks/s", "runs"],
            [
                [
                    throughput["size"],
                    throughput["wall_s"],
                    throughput["tasks_per_s"],
                    throughput["n"],
                ]
            ],
        )
    scaling = results.get("scaling", {})
    rows = [
        [
            system,
            size_label(int(size)),
            None,
            f.get("export", {}).get("wall_ms"),
            f.get("export", {}).get("rss_mb"),
        ]
        for system, by_size in scaling.get("systems", {}).items()
        if system in TASKCLI_SYSTEMS
        for size, f in by_size.items()
    ]
    rows += [
        [
            system,
            size_label(int(size)),
            f.get("import", {}).get("wall_ms"),
            f.get("export", {}).get("wall_ms"),
            f.get("export", {}).get("rss_mb"),
        ]
        for system, by_size in results.get("memory", {}).items()
        for size, f in by_size.items()
    ]
    if rows:
        lines += ["## Export memory", ""]
        lines += _table(
            ["system", "tasks", "import wall ms", "export wall ms", "export peak RSS MB"], rows
        )
    return lines
