"""Running one command and measuring it: wall time, its own CPU time, its peak RSS.

Every command starts from a tiny spawner process (`python -I -S`, ~10 MB) rather than
from the benchmark itself. Linux charges a child the resident size of the process it was
forked from until it execs, so a child forked straight from this process (which holds
the generated data) would report our size as its peak RSS. The spawner times the
command, reaps it with wait4 (its own CPU time and peak RSS, not ours) and reports on a
pipe; its own start-up is not in the figures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

PYTHON = sys.executable
COMMAND_TIMEOUT = 600.0

SPAWNER = """\
import os, sys, time
report, argv = int(sys.argv[1]), sys.argv[2:]
started = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
os.write(report, f"{elapsed} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss} {code}".encode())
"""


class BenchError(RuntimeError):
    """A benchmarked command failed or timed out; the run reports it instead of a figure."""


@dataclass(frozen=True)
class Sample:
    """One command run: wall time and the command's own CPU time (s), peak RSS (KiB)."""

    wall: float
    cpu: float
    max_rss_kib: int


def run(
    argv: list[str],
    *,
    env: dict[str, str],
    stdin: str | None = None,
    timeout: float = COMMAND_TIMEOUT,
    stdout_path: str = os.devnull,
) -> Sample:
    """Run argv to completion, stdout to a file (/dev/null by default); BenchError when it
    fails or outlives the timeout (then it is killed with its process group)."""
    read_end, write_end = os.pipe()
    with tempfile.TemporaryFile() as errors, open(stdout_path, "wb") as out:
        try:
            process = subprocess.Popen(
                [PYTHON, "-I", "-S", "-c", SPAWNER, str(write_end), *argv],
                env=env,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=errors,
                pass_fds=(write_end,),
                start_new_session=True,  # the timeout kills the command with the spawner
            )
        finally:
            os.close(write_end)
        if stdin is not None:
            process.stdin.write(stdin.encode())
            process.stdin.close()
        timed_out = threading.Event()
        timer = threading.Timer(timeout, _kill_group, (process.pid, timed_out))
        timer.start()
        try:
            process.wait()
            report = _read_all(read_end)
        finally:
            timer.cancel()
        errors.seek(0)
        tail = " | ".join(errors.read().decode(errors="replace").strip().splitlines()[-3:])
        if timed_out.is_set():
            raise BenchError(f"timed out after {timeout:.0f} s: {_shown(argv)}")
        if not report:
            raise BenchError(f"could not run {_shown(argv)}: {tail}")
        wall, cpu, rss, code = report.split()
        if int(code) != 0:
            raise BenchError(f"exit {code}: {_shown(argv)}: {tail}")
    return Sample(float(wall), float(cpu), int(rss))


def _kill_group(pid: int, flag: threading.Event) -> None:
    flag.set()
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _read_all(fd: int) -> str:
    chunks = []
    with os.fdopen(fd, "rb") as pipe:
        while chunk := pipe.read(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def _shown(argv: list[str]) -> str:
    return " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))


def capture(argv: list[str], *, env: dict[str, str], timeout: float = COMMAND_TIMEOUT) -> str:
    """Run argv and return its stdout (BenchError on failure)."""
    try:
        done = subprocess.run(
            argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise BenchError(f"timed out after {timeout:.0f} s: {_shown(argv)}") from None
    if done.returncode != 0:
        raise BenchError(f"exit {done.returncode}: {_shown(argv)}: {done.stderr.strip()}")
    return done.stdout
