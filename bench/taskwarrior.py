"""Taskwarrior (`task`) in a private TASKRC/TASKDATA, for the comparison columns."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench.runner import COMMAND_TIMEOUT, Sample, capture, run
from bench.workloads import base_env

# Non-interactive and quiet; hooks off so a user's hooks never run. Everything else is
# Taskwarrior's default (gc on, urgency sorting), which is what its users get.
TASKRC = """\
data.location={data}
confirmation=no
verbose=nothing
color=off
hooks=off
detection=off
defaultwidth=200
news.version={version}
"""


def available() -> bool:
    return shutil.which("task") is not None


@dataclass
class Taskwarrior:
    """One isolated Taskwarrior: its own rc file and data directory."""

    home: Path
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.env = base_env()
        version = capture(["task", "--version"], env=self.env).strip() or "2.6.0"
        rc = self.home / "taskrc"
        rc.write_text(TASKRC.format(data=data, version=version))
        self.env.update(TASKRC=str(rc), TASKDATA=str(data))

    def run(
        self, *args: str, timeout: float = COMMAND_TIMEOUT, env: dict[str, str] | None = None
    ) -> Sample:
        return run(["task", *args], env={**self.env, **(env or {})}, timeout=timeout)

    def version(self) -> str:
        return capture(["task", "--version"], env=self.env).strip()
