"""Round trips to PostgreSQL per command, and wall time with added network latency.

Every command goes through bench.proxy. The floor is what no client can avoid: a bare
`psycopg2.connect` plus one autocommit `SELECT 1`, run by the same interpreter through
the same proxy. Each command runs at 0 ms and at the chosen latency, round-robin.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.context import Run
from bench.proxy import Proxy
from bench.runner import PYTHON, BenchError, Sample, run
from bench.scaling import task_refs
from bench.workloads import Taskcli, base_env

FLOOR_SCRIPT = """\
import os, psycopg2
connection = psycopg2.connect(os.environ["BENCH_DATABASE_URL"])
connection.autocommit = True
with connection.cursor() as cursor:
    cursor.execute("SELECT 1")
    cursor.fetchall()
connection.close()
"""


def via_proxy(url: str, port: int) -> str:
    """url pointed at 127.0.0.1:port, with sslmode=disable so the proxy can read the protocol."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("sslmode="))
    query = "&".join(filter(None, [query, "sslmode=disable"]))
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{port}", query=query))


def _commands(pool: Iterator[str], fixed: str) -> dict[str, Callable[[], tuple[str, ...]]]:
    """Each command's arguments; done and delete take a fresh pending task every time."""
    return {
        "add": lambda: ("add", "round trip", "-P", "high", "--due", "tomorrow", "-t", "bench"),
        "list": lambda: ("list",),
        "show": lambda: ("show", fixed),
        "done": lambda: ("done", next(pool)),
        "update": lambda: ("update", fixed, "--title", "renamed"),
        "annotate": lambda: ("annotate", fixed, "a note"),
        "next": lambda: ("next",),
        "stats": lambda: ("stats",),
        "delete": lambda: ("delete", next(pool), "--yes"),
        "export": lambda: ("export",),
    }


def measure(
    *,
    upstream_port: int,
    database_url: str,
    email: str,
    home: Path,
    refs: list[str],
    latency_ms: float,
    reps: int,
    timeout: float,
) -> dict:
    """Turns and wall times per command; refs are pending tasks of email's user to spend."""
    results: dict[str, dict] = {}
    with Proxy("127.0.0.1", upstream_port) as proxy:
        url = via_proxy(database_url, proxy.port)
        tc = Taskcli("postgres-proxy", home, url)
        tc.login(email)
        floor_env = {**base_env(), "BENCH_DATABASE_URL": url}
        runners: dict[str, Callable[[], Sample]] = {
            "floor": lambda: run([PYTHON, "-c", FLOOR_SCRIPT], env=floor_env, timeout=timeout)
        }
        for name, arguments in _commands(iter(refs[1:]), refs[0]).items():
            runners[name] = lambda arguments=arguments: tc.run(*arguments(), timeout=timeout)
        for _ in range(reps):
            for latency in (0.0, latency_ms / 1000):
                proxy.latency = latency
                for name, runner in runners.items():
                    _sample(proxy, name, runner, results, latency > 0)
    return results


def _sample(proxy: Proxy, name: str, runner, results: dict, delayed: bool) -> None:
    entry = results.setdefault(name, {"wall": [], "wall_delayed": [], "turns": [], "labels": []})
    if entry.get("error"):
        return
    proxy.reset()
    try:
        sample = runner()
    except BenchError as error:
        entry["error"] = str(error)
        return
    connections = proxy.connections()
    entry["wall_delayed" if delayed else "wall"].append(sample.wall)
    entry["turns"].append(sum(len(turns) for turns in connections))
    entry["connections"] = len(connections)
    if not entry["labels"]:
        entry["labels"] = [[turn.label() for turn in turns] for turns in connections]


def section(run: Run) -> None:
    source = run.roundtrip_source
    if source is None:
        return
    reps = run.profile.roundtrip_reps
    run.log(f"round trips: {reps} rounds at 0 and {run.profile.latency_ms:g} ms")
    pending = source["dataset"].pending[: 4 * reps + 1]  # from the start: not the done targets
    refs = task_refs(source["tc"], source["dataset"], pending)
    raw = measure(
        upstream_port=run.cluster.port,
        database_url=source["url"],
        email=source["email"],
        home=run.workdir / "roundtrips",
        refs=refs,
        latency_ms=run.profile.latency_ms,
        reps=reps,
        timeout=run.profile.timeout,
    )
    commands = {}
    for name, entry in raw.items():
        if entry.get("error"):
            run.results["errors"].append(f"round trips {name}: {entry['error']}")
        commands[name] = {
            "turns": max(entry["turns"]) if entry["turns"] else None,
            "turns_seen": sorted(set(entry["turns"])),
            "connections": entry.get("connections"),
            "wall_ms": _median_ms(entry["wall"]),
            "wall_ms_delayed": _median_ms(entry["wall_delayed"]),
            "labels": entry["labels"],
        }
    run.results["roundtrips"] = {"latency_ms": run.profile.latency_ms, "commands": commands}


def _median_ms(walls: list[float]) -> float | None:
    return round(statistics.median(walls) * 1000, 1) if walls else None
