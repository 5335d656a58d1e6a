"""Warm commands: through the local server (SPEC §15) against the in-process path and
Taskwarrior, on the same 1k tasks (SQLite), round-robin; and, with PostgreSQL, the round
trips and connections of each command behind bench/proxy.py, warm and in-process.

The in-process rows run with ``TASKCLI_SERVER=off`` (as every other section does); the
warm rows run the same console script with the server on, in a private runtime
directory, after one command has started the server. ``done`` takes a fresh pending task
on every run of every system.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from bench import taskwarrior
from bench.context import Run
from bench.proxy import Proxy
from bench.report import COMPLETE, stats
from bench.runner import BenchError, Sample, capture
from bench.scaling import (
    done_targets,
    load_taskcli,
    load_taskwarrior,
    task_refs,
    taskcli_commands,
    taskwarrior_commands,
)
from bench.suites import COMPLETE_TASK_NUMBERS
from bench.workloads import Taskcli, write_tasks

SIZE = 1_000
# COMPLETE: bash at `taskcli done <TAB>`; Taskwarrior's completion asks `task _ids`
OPERATIONS = ("--version", "list", "show", "add", "done", COMPLETE)
LARGE = 100_000  # and above: the whole list and the export too
LARGE_OPERATIONS = ("list --limit 0", "export")
SYSTEMS = ("in-process", "warm (server)", "taskwarrior")
START_PATIENCE_S = 60.0


def section(run: Run) -> None:
    home = run.workdir / "warm"
    home.mkdir()
    reps = max(run.profile.reps.get(SIZE, 4), 5)
    run.log(f"warm server: {SIZE:,} tasks, {reps} rounds")
    dataset = write_tasks(home / "tasks.json", SIZE, seed=SIZE)
    run.results["warm"] = _sized(run, home / str(SIZE), dataset, reps)
    if run.cluster is not None:
        run.log(f"warm server: round trips on PostgreSQL, {reps} rounds")
        trips = run.attempt("warm round trips", lambda: _round_trips(run, home, dataset, reps))
        if trips:
            run.results["warm"]["roundtrips"] = trips
    larger = []
    for size in [size for size in run.profile.sizes if size >= LARGE]:
        size_reps = run.profile.reps.get(size, 3)
        run.log(f"warm server: {size:,} tasks, {size_reps} rounds")
        big = write_tasks(home / f"tasks-{size}.json", size, seed=size)
        found = run.attempt(
            f"warm {size:,}",
            lambda size=size, big=big, size_reps=size_reps: _sized(
                run, home / str(size), big, size_reps
            ),
        )
        if found:
            larger.append(found)
    run.results["warm"]["larger"] = larger


def _sized(run: Run, home: Path, dataset, reps: int) -> dict:
    """One size: in-process, warm (server) and Taskwarrior on the same tasks, round-robin."""
    home.mkdir()
    operations = OPERATIONS + (LARGE_OPERATIONS if dataset.size >= LARGE else ())
    targets = done_targets(dataset, 3 * reps)
    cold = Taskcli("in-process", home / "taskcli")
    load_taskcli(cold, dataset, migrate=False)
    refs = task_refs(cold, dataset, targets)
    warm = Taskcli("warm", home / "taskcli")
    runtime = Path(tempfile.mkdtemp(prefix="tcb-"))  # short: socket paths are short
    warm.env.update(TASKCLI_SERVER="on", XDG_RUNTIME_DIR=str(runtime), TASKCLI_SERVER_IDLE="900")
    commands = {
        "in-process": (cold.run, _taskcli_ops(refs[0::3], operations)),
        "warm (server)": (warm.run, _taskcli_ops(refs[1::3], operations)),
    }
    if taskwarrior.available():
        tw, _loaded = load_taskwarrior(home, cold)
        uuids = [dataset.ids[i] for i in targets[2::3]]
        tw_ops = taskwarrior_commands(uuids)
        commands["taskwarrior"] = (
            tw.run,
            {"--version": lambda i: ("--version",), COMPLETE: lambda i: ("_ids",), **tw_ops},
        )
    _start_server(warm)
    try:
        samples = _measure(commands, operations, reps, run.profile.timeout)
    finally:
        warm.run("server", "stop")
        shutil.rmtree(runtime, ignore_errors=True)
    return {
        "size": dataset.size,
        "operations": {
            op: {system: stats(by_system.get(system, [])) for system in SYSTEMS}
            for op, by_system in samples.items()
        },
    }


ROUND_TRIP_OPERATIONS = ("list", "show", "add", "done", COMPLETE)


def _round_trips(run: Run, home: Path, dataset, reps: int) -> dict:
    """Per command, through the proxy: turns and connections opened, and the wall time
    with the profile's added latency, in-process and through the server (its worker's
    connection opened by an unmeasured first command)."""
    from bench.roundtrips import via_proxy

    url = run.pg_url("warm_roundtrips")
    loader = Taskcli("warm-pg-load", home / "pg-load", url)
    load_taskcli(loader, dataset, migrate=True)
    email = f"bench-{dataset.size}@example.com"
    targets = done_targets(dataset, 2 * (reps + 1))
    refs = task_refs(loader, dataset, targets)
    results: dict[str, dict[str, dict]] = {}
    latency = run.profile.latency_ms / 1000
    with Proxy("127.0.0.1", run.cluster.port) as proxy:  # type: ignore[attr-defined]
        proxied = via_proxy(url, proxy.port)
        cold = Taskcli("in-process", home / "pg-cold", proxied)
        cold.login(email)
        warm = Taskcli("warm", home / "pg-warm", proxied)
        warm.login(email)
        runtime = home / "pg-run"
        runtime.mkdir(mode=0o700)
        warm.env.update(TASKCLI_SERVER="on", XDG_RUNTIME_DIR=str(runtime),
                        TASKCLI_SERVER_IDLE="900")  # fmt: skip
        systems = {
            "in-process": (cold, _taskcli_ops(refs[0::2])),
            "warm (server)": (warm, _taskcli_ops(refs[1::2])),
        }
        _start_server(warm)
        try:
            warm.run(*systems["warm (server)"][1]["show"](reps), timeout=run.profile.timeout)
            for round_ in range(reps):
                for op in ROUND_TRIP_OPERATIONS:
                    for system, (tc, ops) in systems.items():
                        proxy.latency = latency
                        proxy.reset()
                        argv, env = _with_env(ops[op](round_))
                        sample = tc.run(*argv, timeout=run.profile.timeout, env=env)
                        turns = sum(map(len, proxy.connections(settle=0.5)))
                        entry = results.setdefault(op, {}).setdefault(
                            system, {"turns": [], "opened": [], "wall": []}
                        )
                        entry["turns"].append(turns)
                        entry["opened"].append(proxy.opened())
                        entry["wall"].append(sample)
        finally:
            warm.run("server", "stop")
    return {
        "latency_ms": run.profile.latency_ms,
        "operations": {
            op: {
                system: {
                    "turns": max(entry["turns"]),
                    "connections_opened": max(entry["opened"]),
                    "wall": stats(entry["wall"]),
                }
                for system, entry in by_system.items()
            }
            for op, by_system in results.items()
        },
    }


def _taskcli_ops(refs: list[str], operations: tuple[str, ...] = OPERATIONS) -> dict:
    ops = {
        **taskcli_commands(refs, []),
        "--version": lambda i: ("--version",),
        COMPLETE: lambda i: ((), COMPLETE_TASK_NUMBERS),  # no arguments: the environment
    }
    return {op: ops[op] for op in operations}


def _start_server(warm: Taskcli) -> None:
    """The first command starts the server; wait until it answers."""
    warm.run("--version")
    deadline = time.monotonic() + START_PATIENCE_S
    while time.monotonic() < deadline:
        facts = json.loads(capture(warm.argv("server", "status", "--json"), env=warm.env))
        if facts.get("running"):
            return
        time.sleep(0.1)
    raise BenchError("the local server did not start")


def _measure(
    commands: dict, operations: tuple[str, ...], reps: int, timeout: float
) -> dict[str, dict[str, list[Sample]]]:
    samples: dict[str, dict[str, list[Sample]]] = {op: {} for op in operations}
    for round_ in range(reps):
        for op in operations:
            for system, (runner, ops) in commands.items():
                argv, env = _with_env(ops[op](round_))
                sample = runner(*argv, timeout=timeout, env=env)
                samples[op].setdefault(system, []).append(sample)
    return samples


def _with_env(call: tuple) -> tuple[tuple[str, ...], dict[str, str] | None]:
    """An operation's arguments, and the variables it adds to the environment when it
    says ``(arguments, variables)`` (a completion is asked through the environment)."""
    if len(call) == 2 and isinstance(call[1], dict):
        return call[0], call[1]
    return call, None
