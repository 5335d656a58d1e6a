"""``taskcli server status|stop``: the warm local server that makes commands instant."""

import os
import time
from typing import Any

from taskcli.cli import output
from taskcli.cli.helptext import command, group
from taskcli.cli.options import Json

app = group(
    "The local server that keeps taskcli warm: status, stop.",
    "taskcli server status",
    "taskcli server stop",
)
STOP_WAIT_SECONDS = 10.0


def _where() -> dict[str, Any]:
    """The socket path and, when the server cannot be used, why."""
    from taskcli import client, paths

    socket = os.path.join(paths.server_dir(os.environ), paths.SOCKET_NAME)
    facts: dict[str, Any] = {"socket": socket}
    if not client.server_wanted(os.environ):
        facts["disabled"] = "the local server is off (TASKCLI_SERVER=off or server = false "
        facts["disabled"] += "in the config file; Linux only)"
    if os.path.lexists(paths.server_dir(os.environ)):  # none yet: nothing to refuse
        try:
            client.socket_path(os.environ, create=False)
        except paths.UntrustedDirectory as error:
            facts["refused"] = str(error)
    return facts


@command(app, "status", "taskcli server status", "taskcli server status --json")
def status_command(as_json: Json = False) -> None:
    """Whether the server runs: its pid, socket, version, uptime and idle timeout."""
    from taskcli import client

    answer = client.ask({"status": True})
    if answer is not None and answer.get("pid") == os.getppid():
        # this command is run by that server: it counts itself among the running ones
        answer["running_commands"] = max(0, int(answer.get("running_commands", 1)) - 1)
    facts = {"running": False, **_where()} if answer is None else {**_where(), **answer}
    if as_json:
        output.print_json(facts)
        return
    if not facts["running"]:
        output.print_line("server: not running")
    else:
        output.print_line(f"server: running (pid {facts['pid']}, taskcli {facts['version']})")
        output.print_line(f"uptime: {facts['uptime_seconds']:.0f} s")
        output.print_line(f"idle timeout: {facts['idle_timeout_seconds']:.0f} s")
    output.print_line(f"socket: {facts['socket']}")
    for reason in ("disabled", "refused"):
        if reason in facts:
            output.print_line(f"{reason}: {facts[reason]}")


@command(app, "stop", "taskcli server stop", "taskcli server stop --json")
def stop_command(as_json: Json = False) -> None:
    """Ask the server to exit (it finishes the commands it is running); none running is fine."""
    from taskcli import client

    answer = client.ask({"stop": True})
    pid = answer.get("stopping") if answer else None
    if pid is not None:
        _wait_for_exit(int(pid))
    if as_json:
        output.print_json({"stopped": pid is not None, "pid": pid})
    else:
        output.message(f"server stopped (pid {pid})" if pid else "no server was running")


def _wait_for_exit(pid: int) -> None:
    """Until the process is gone. When this command itself runs in the server (its child),
    the server has stopped listening already and exits once this command is done."""
    if pid == os.getppid():
        return
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        time.sleep(0.02)
