"""The warm local server (SPEC §15): the same bytes and exit codes as the in-process path,
its lifecycle, and who may talk to it. Real processes and real sockets, no mocks.

Every test gets its own XDG_RUNTIME_DIR (short, 0700) so no real user's server is touched,
and stops the server it started.
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from taskcli import client, paths, wire
from tests.conftest import PASSWORD
from tests.support import terminal

# The console script, as pip writes it: the client's main().
CONSOLE_SCRIPT = "import sys, taskcli.client as c; sys.argv[0] = 'taskcli'; c.main()"
CLIENT = [sys.executable, "-c", CONSOLE_SCRIPT]
PATIENCE = 60.0  # only keeps a broken case from hanging the suite; nothing is measured
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
EMAIL = "served@example.com"


def run(*args: str, stdin: str | None = None, server: bool | None = True, env=None):
    """The console script; ``server`` None leaves TASKCLI_SERVER unset (the config decides)."""
    environment = dict(os.environ if env is None else env)
    environment.pop("TASKCLI_SERVER", None)
    if server is not None:
        environment["TASKCLI_SERVER"] = "on" if server else "off"
    return subprocess.run(
        [*CLIENT, *args], input=stdin, capture_output=True, text=True, env=environment,
        timeout=PATIENCE,
    )  # fmt: skip


def until(condition, what: str):
    deadline = time.monotonic() + PATIENCE
    while not (value := condition()):
        assert time.monotonic() < deadline, f"waited for {what}"
        time.sleep(0.02)
    return value


def status() -> dict | None:
    return client.ask({"status": True})


def server_pids(runtime: Path) -> list[int]:
    """The server processes (not their children) whose socket is under ``runtime``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if b"taskcli.server" not in command or f"XDG_RUNTIME_DIR={runtime}".encode() not in environ:
            continue
        parent_command = Path(f"/proc/{parent}/cmdline")
        try:
            if b"taskcli.server" in parent_command.read_bytes():
                continue  # a child serving a command
        except OSError:
            pass
        found.append(int(entry.name))
    return found


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:  # reaped between the two looks
        return True
    return state == "Z"


@pytest.fixture
def runtime(monkeypatch):
    """A private runtime directory for this test's server (short: socket paths are short)."""
    directory = Path(tempfile.mkdtemp(prefix="tc-"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(directory))
    monkeypatch.setenv("TASKCLI_SERVER_IDLE", "60")
    yield directory
    answer = client.ask({"stop": True})
    for pid in server_pids(directory):
        os.kill(pid, signal.SIGKILL)
    if answer:
        until(lambda: gone(int(answer["stopping"])), "the server to stop")
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def served(runtime):
    """A running server (started by a first command)."""
    assert run("--version").returncode == 0
    until(status, "the server to start")
    return runtime


def registered(*, server: bool, env=None) -> None:
    result = run("register", "-e", EMAIL, "--password-stdin", stdin=PASSWORD + "\n",
                 server=server, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr


def same_result(args, *, stdin=None, env=None):
    """The command's (exit code, stdout, stderr) through the server and in-process."""
    through = run(*args, stdin=stdin, env=env)
    here = run(*args, stdin=stdin, server=False, env=env)
    return (through.returncode, through.stdout, through.stderr), (
        here.returncode, here.stdout, here.stderr)  # fmt: skip


# ---- the same bytes -----------------------------------------------------------------------


READ_ONLY = [
    ["list"], ["list", "--json"], ["show", "1"], ["show", "99"], ["show", "99", "--json"],
    ["--help"], ["add", "--help"], ["--version"], ["list", "--bogus"], ["stats"],
    ["export", "--format", "csv"], ["whoami"],
]  # fmt: skip


def test_piped_commands_print_the_same_bytes_both_ways(served):
    registered(server=True)
    for title in ("Buy milk", "Write report"):
        assert run("add", title, "--due", "2030-01-02").returncode == 0
    assert run("done", "2").returncode == 0
    assert status()["pid"], "the commands ran without a server"
    for args in READ_ONLY:
        through, here = same_result(args)
        assert through == here, args
    assert run("show", "99").returncode == 4


def test_completion_answers_the_same_through_the_server(served):
    """The shells' completion protocol (an environment variable, no arguments) is a
    command like any other: the server answers it with the same candidates."""
    registered(server=True)
    for title in ("Buy milk", "Write: the report"):
        assert run("add", title, "--project", "Home", "--tag", "shop").returncode == 0
    lines = {
        "bash": {"COMP_WORDS": "taskcli done ", "COMP_CWORD": "2",
                 "_TASKCLI_COMPLETE": "complete_bash"},
        "zsh": {"_TYPER_COMPLETE_ARGS": "taskcli done ", "_TASKCLI_COMPLETE": "complete_zsh"},
        "fish": {"_TYPER_COMPLETE_ARGS": "taskcli list --project ",
                 "_TASKCLI_COMPLETE": "complete_fish", "_TYPER_COMPLETE_FISH_ACTION": "get-args"},
    }  # fmt: skip
    for shell, variables in lines.items():
        through, here = same_result([], env={**os.environ, **variables})
        assert through == here, shell
        assert through[0] == 0 and through[1], shell
    assert "Write" in same_result([], env={**os.environ, **lines["zsh"]})[0][1]


def test_changing_commands_print_the_same_bytes_both_ways(served, tmp_path):
    """Register, add, done, a failure: in two fresh data directories, one each way."""
    elsewhere = {**os.environ, "TASKCLI_DATA_DIR": str(tmp_path / "elsewhere")}
    steps = [
        (["register", "-e", EMAIL, "--password-stdin"], PASSWORD + "\n"),
        (["add", "Buy milk", "--priority", "high", "--tag", "home"], None),
        (["add", "Pay rent", "--json"], None),
        (["done", "1"], None),
        (["done", "7"], None),
        (["import", "-"], '[{"title": "imported one"}, {"title": "imported two"}]'),
        (["list", "--json"], None),
        (["logout"], None),
    ]
    for args, stdin in steps:
        through = run(*args, stdin=stdin)
        here = run(*args, stdin=stdin, server=False, env=elsewhere)

        def plain(result):
            text = UUID.sub("UUID", TIMESTAMP.sub("TIME", result.stdout))
            errors = result.stderr.replace(str(tmp_path / "elsewhere"), "DATA")
            return result.returncode, text, errors.replace(str(tmp_path / "data"), "DATA")

        assert plain(through) == plain(here), args
    assert status()["pid"]


def test_stdin_is_streamed_to_import(served):
    registered(server=True)
    document = json.dumps([{"title": f"task {n}"} for n in range(300)])
    result = run("import", "-", stdin=document)
    assert (result.returncode, result.stdout) == (0, "created 300, updated 0, skipped 0\n")
    assert len(json.loads(run("list", "--json", "--limit", "0").stdout)) == 300


def test_a_closed_pipe_ends_the_command_as_in_process(served):
    registered(server=True)
    run("import", "-", stdin=json.dumps([{"title": f"task {n}"} for n in range(3000)]))
    script = f'{shlex.join(CLIENT)} list --limit 0 | head -1; echo "${{PIPESTATUS[0]}}"'
    outcomes = []
    for switch in ("on", "off"):
        environment = {**os.environ, "TASKCLI_SERVER": switch}
        result = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, env=environment,
            timeout=PATIENCE,
        )  # fmt: skip
        outcomes.append((result.stdout, result.stderr))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0].splitlines()[-1] == "0"


class Terminal(terminal.Terminal):
    """The client on a pseudo-terminal, through the server or in-process."""

    def __init__(self, *args: str, server: bool, **env: str) -> None:
        switch = "on" if server else "off"
        super().__init__([*CLIENT, *args], {**os.environ, "TASKCLI_SERVER": switch, **env})


def on_terminal(*args: str, server: bool, **env: str) -> tuple[int, str]:
    screen = Terminal(*args, server=server, **env)
    return screen.finish(), screen.transcript


def test_a_terminal_sees_the_same_bytes_both_ways(served):
    registered(server=True)
    for title in ("Buy milk", "Write report", "Call mum"):
        added = run("add", title, "--due", "2030-01-02", "--priority", "high")
        assert added.returncode == 0, added.stderr
    size = {"COLUMNS": "90", "LINES": "30"}
    for args in (["list"], ["show", "1"], ["show", "99"], ["--help"], ["stats"], ["next"]):
        assert on_terminal(*args, server=True, **size) == on_terminal(*args, server=False, **size)


def test_hidden_password_prompt_and_confirmation_through_the_server(served):
    screen = Terminal("register", "--email", EMAIL, server=True)
    screen.expect("Password: ")
    screen.type(PASSWORD)
    screen.expect("Repeat for confirmation: ")
    screen.type(PASSWORD)
    assert screen.finish() == 0, screen.transcript
    assert "registered and logged in as served@example.com" in screen.transcript
    assert PASSWORD not in screen.transcript, "the password was echoed"
    run("add", "Buy milk")
    screen = Terminal("delete", "1", server=True)
    screen.expect("[y/N]: ")
    screen.type("n")
    assert screen.finish() == 0, screen.transcript
    screen = Terminal("delete", "1", server=True)
    screen.expect("[y/N]: ")
    screen.type("y")
    assert screen.finish() == 0, screen.transcript
    assert run("list", "--json").stdout == "[]\n"


def test_the_pager_and_the_editor_run_in_the_client(served, tmp_path):
    registered(server=True)
    run("import", "-", stdin=json.dumps([{"title": f"task {n}"} for n in range(40)]))
    pager = {"TASKCLI_PAGER": "sed s/^/paged:/", "COLUMNS": "80", "LINES": "10"}
    through = on_terminal("list", server=True, **pager)
    assert through == on_terminal("list", server=False, **pager)
    assert through[0] == 0 and through[1].count("paged:") >= 40
    editor = tmp_path / "editor.sh"
    editor.write_text(
        '#!/bin/sh\necho "editor pid $PPID" >> "$0.log"\nsed -i s/task\\ 3/edited/ "$1"\n'
    )
    editor.chmod(0o700)
    code, transcript = on_terminal("edit", "4", server=True, TASKCLI_EDITOR=str(editor))
    assert code == 0, transcript
    assert json.loads(run("show", "4", "--json").stdout)["title"] == "edited"
    server_pid = status()["pid"]
    editor_parent = int(Path(f"{editor}.log").read_text().split()[-1])
    assert editor_parent != server_pid and not is_child_of(editor_parent, server_pid)


def is_child_of(pid: int, parent: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return int(text.rsplit(")", 1)[1].split()[1]) == parent


def children(parent: int) -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and is_child_of(int(entry.name), parent)]  # fmt: skip


def reads_stdin(pid: int) -> bool:
    """Whether the process is blocked in read(0, ...) (its import waiting for input)."""
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    return fields[:2] == ["0", "0x0"]


def reads_a_terminal(pid: int) -> bool:
    """Whether the process is blocked in a read of a terminal (getpass reads /dev/tty)."""
    try:
        number, fd = Path(f"/proc/{pid}/syscall").read_text().split()[:2]
        target = os.readlink(f"/proc/{pid}/fd/{int(fd, 16)}")
        return number == "0" and target.startswith(("/dev/pts/", "/dev/tty"))
    except (OSError, ValueError):
        return False


def test_ctrl_c_interrupts_the_command_and_rolls_back(served):
    registered(server=True)
    for server in (True, False):
        environment = {**os.environ, "TASKCLI_SERVER": "on" if server else "off"}
        process = subprocess.Popen(
            [*CLIENT, "import", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=environment,
        )  # fmt: skip
        assert process.stdin is not None
        process.stdin.write(b'[{"title": "half"},')  # then stdin stays open: a slow import
        process.stdin.flush()
        pid = process.pid
        if server:
            server_pid = status()["pid"]
            until(lambda s=server_pid: any(map(reads_stdin, children(s))), "the import to read")
        else:
            until(lambda p=pid: reads_stdin(p), "the import to read")
        process.send_signal(signal.SIGINT)
        # stdin stays open until the command has ended, as a terminal's does after Ctrl-C:
        # closing it first would race the interruption with an end of input.
        process.wait(timeout=PATIENCE)
        stdout, stderr = process.communicate(timeout=PATIENCE)
        assert (process.returncode, stdout) == (130, b""), stderr
        assert stderr.endswith(b"error: interrupted\n"), stderr
        assert run("list", "--json").stdout == "[]\n"


def process_state(pid: int) -> str:
    """The state letter of /proc/PID/stat: T is stopped by a signal."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def job_control_shell(*, server: bool) -> terminal.Terminal:
    """An interactive bash (job control on) on a pseudo-terminal, at its prompt."""
    shell = terminal.Terminal(
        ["/bin/bash", "--norc", "--noprofile", "-i"],
        {**os.environ, "PS1": "shell$ ", "TASKCLI_SERVER": "on" if server else "off"},
    )
    shell.expect("shell$ ")
    return shell


def fg_until_it_reads(shell: terminal.Terminal, *, server: bool) -> None:
    """``fg`` typed to ``shell``, then wait until the job's command (the server's worker,
    or the process itself) reads the terminal."""
    parent = status()["pid"] if server else shell.pid
    shell.type("fg")
    until(lambda: any(map(reads_a_terminal, children(parent))), "the command to read")


def answer_yes_and_exit(shell: terminal.Terminal) -> None:
    """The ``delete 1`` waiting in ``shell`` is told yes; the task is gone, bash exits."""
    shell.type("y")
    shell.expect("deleted 1: Buy milk")
    shell.expect("shell$ ")
    shell.type("exit")
    assert shell.finish() == 0, shell.transcript
    assert run("list", "--json").stdout == "[]\n"


@pytest.mark.parametrize("server", [True, False], ids=["server", "in-process"])
def test_ctrl_z_stops_the_command_and_fg_goes_on(served, server):
    """In a job-control shell, as a user types: Ctrl-Z at a prompt stops the command (its
    worker too: a running one would read the next line the shell was meant to get), the
    shell has the terminal, and ``fg`` takes the command up where it was."""
    registered(server=True)
    assert run("add", "Buy milk").returncode == 0
    shell = job_control_shell(server=server)
    shell.type(shlex.join([*CLIENT, "delete", "1"]))
    shell.expect("[y/N]: ")
    parents = children(status()["pid"]) if server else children(shell.pid)
    reader = until(lambda: next(filter(reads_stdin, parents), None), "the prompt to read")
    os.write(shell.fd, b"\x1a")  # Ctrl-Z
    shell.expect("Stopped")
    until(lambda: process_state(reader) == "T", "the command to stop")
    shell.type("echo the shell reads line $((1 + 1))")
    shell.expect("the shell reads line 2\r\n")
    shell.expect("shell$ ")
    assert process_state(reader) == "T"
    shell.type("fg")
    until(lambda: process_state(reader) != "T", "the command to go on")
    answer_yes_and_exit(shell)


@pytest.mark.parametrize("server", [True, False], ids=["server", "in-process"])
def test_a_background_job_that_reads_the_terminal_stops_until_fg(served, server):
    """``taskcli delete 1 &`` in a job-control shell: its prompt's read stops the job (as
    the terminal stops a background reader), the shell keeps its line, and ``fg`` lets
    the command read its answer."""
    registered(server=True)
    assert run("add", "Buy milk").returncode == 0
    shell = job_control_shell(server=server)
    shell.type(shlex.join([*CLIENT, "delete", "1"]) + " &")
    shell.expect("[y/N]: ")
    time.sleep(0.5)  # the read, had it not been stopped, would have begun by now
    shell.type("echo the shell reads line $((1 + 1))")
    shell.expect("the shell reads line 2\r\n")
    shell.type("jobs")
    shell.expect("Stopped")
    fg_until_it_reads(shell, server=server)
    answer_yes_and_exit(shell)


@pytest.mark.parametrize("server", [True, False], ids=["server", "in-process"])
def test_a_background_password_prompt_leaves_the_terminal_alone_until_fg(served, server):
    """``taskcli login -e … &``: the hidden prompt would turn the terminal's echo off for
    its read; in the background it stops first (as the terminal stops it, SIGTTOU), so
    the shell's terminal keeps its echo, and after ``fg`` it asks and reads hidden."""
    registered(server=True)
    shell = job_control_shell(server=server)
    shell.type(shlex.join([*CLIENT, "login", "-e", EMAIL]) + " &")
    shell.type("until jobs | grep -q Stopped; do sleep 0.1; done; echo job-stopped")
    shell.expect("\r\njob-stopped\r\n")
    shell.type("echo terminal:$(stty -a | tr ' ' '\\n' | grep -x -- '-\\?echo')")
    shell.expect("terminal:echo\r\n")
    fg_until_it_reads(shell, server=server)
    shell.expect("Password: ")  # written once the echo is off, after fg
    shell.type(PASSWORD)
    shell.expect(f"logged in as {EMAIL}")
    shell.expect("shell$ ")
    assert PASSWORD not in shell.transcript.split("fg", 1)[1]  # read with the echo off
    shell.type("exit")
    assert shell.finish() == 0, shell.transcript


@pytest.mark.parametrize("server", [True, False], ids=["server", "in-process"])
def test_under_stty_tostop_a_background_job_stops_before_it_writes(served, server):
    """``stty tostop``, then ``taskcli show 1 &``: the terminal stops a background job
    that writes to it (SIGTTOU), so nothing of the task appears until ``fg``."""
    registered(server=True)
    assert run("add", "Buy milk").returncode == 0
    shell = job_control_shell(server=server)
    shell.type("stty tostop")
    shell.expect("shell$ ")
    shell.type(shlex.join([*CLIENT, "show", "1"]) + " &")
    shell.type("until jobs | grep -q Stopped; do sleep 0.1; done; echo job-stopped")
    shell.expect("\r\njob-stopped\r\n")
    assert "Buy milk" not in shell.transcript
    shell.type("fg")
    shell.expect("Buy milk")
    shell.expect("shell$ ")
    shell.type("exit")
    assert shell.finish() == 0, shell.transcript


def test_a_forwarded_window_change_reaches_the_command():
    """The client forwards SIGWINCH (a resized terminal) as it does Ctrl-C: the worker's
    reader raises it in the worker, where a command could redraw."""
    from taskcli import serve_child

    caught = threading.Event()
    previous = signal.signal(signal.SIGWINCH, lambda *_: caught.set())
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    link = serve_child.Link(wire.Channel(right))
    try:
        wire.Channel(left).send({"signal": "WINCH"})
        assert caught.wait(PATIENCE)
    finally:
        link.finished = True  # so that the closed connection is no Ctrl-C of this process
        left.close()
        right.close()
        signal.signal(signal.SIGWINCH, previous)


def test_twenty_clients_at_once_each_get_their_own_output(served):
    registered(server=True)
    run("import", "-", stdin=json.dumps([{"title": f"task number {n}"} for n in range(1, 21)]))
    results: dict[int, subprocess.CompletedProcess] = {}

    def show(number: int) -> None:
        results[number] = run("show", str(number), "--json")

    threads = [threading.Thread(target=show, args=(n,)) for n in range(1, 26)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for number, result in results.items():
        if number <= 20:
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout)["title"] == f"task number {number}"
        else:
            assert (result.returncode, result.stdout) == (4, "")
            assert json.loads(result.stderr)["error"]["message"] == f"no task {number}"


def test_config_and_token_changes_are_seen_by_the_next_command(served):
    registered(server=True)
    assert run("whoami").returncode == 0
    assert run("logout", server=False).returncode == 0
    assert run("whoami").returncode == 3
    assert run("config", "set", "session_days", "7").returncode == 0
    assert run("config", "get", "session_days", server=False).stdout == "7\n"
    assert run("config", "get", "session_days").stdout == "7\n"


# ---- lifecycle ----------------------------------------------------------------------------


def test_the_first_command_runs_in_process_and_starts_one_server(runtime):
    assert status() is None
    first = subprocess.Popen([*CLIENT, "--version"], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "TASKCLI_SERVER": "on"})  # fmt: skip
    second = subprocess.Popen([*CLIENT, "--version"], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "TASKCLI_SERVER": "on"})  # fmt: skip
    assert first.communicate(timeout=PATIENCE)[0] == "taskcli 0.1.0\n"
    assert second.communicate(timeout=PATIENCE)[0] == "taskcli 0.1.0\n"
    until(status, "the server to start")
    time.sleep(1)  # lets a second server, had one started, reach its lock and bind
    assert len(server_pids(runtime)) == 1


def test_the_server_holds_none_of_the_first_commands_descriptors(runtime):
    """A pipe the first command inherited reaches its end when the command exits, though
    the server it started lives on (a reader of that pipe would wait for ever)."""
    read_end, write_end = os.pipe()
    environment = {**os.environ, "TASKCLI_SERVER": "on"}
    first = subprocess.run([*CLIENT, "--version"], pass_fds=[write_end], env=environment,
                           capture_output=True, timeout=PATIENCE)  # fmt: skip
    os.close(write_end)
    assert first.returncode == 0
    until(status, "the server to start")
    assert select.select([read_end], [], [], PATIENCE)[0], "the server holds the pipe"
    assert os.read(read_end, 1) == b""
    os.close(read_end)


def test_the_server_exits_when_idle(runtime, monkeypatch):
    monkeypatch.setenv("TASKCLI_SERVER_IDLE", "2")
    run("--version")
    pid = until(status, "the server to start")["pid"]
    until(lambda: gone(pid), "the idle server to exit")
    assert not (runtime / "taskcli" / "server.sock").exists()
    assert run("--version").stdout == "taskcli 0.1.0\n"


def test_a_deleted_socket_stops_the_server_and_the_next_command_works(served):
    pid = status()["pid"]
    (served / "taskcli" / "server.sock").unlink()
    until(lambda: gone(pid), "the server to notice its socket is gone")
    assert run("--version").stdout == "taskcli 0.1.0\n"
    assert until(status, "a new server")["pid"] != pid


def test_a_killed_server_is_replaced(served):
    registered(server=True)
    pid = status()["pid"]
    os.kill(pid, signal.SIGKILL)
    until(lambda: gone(pid), "the server to die")
    assert (served / "taskcli" / "server.sock").exists()  # stale: nobody listens
    result = run("add", "after the crash")
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert until(status, "a new server")["pid"] != pid
    assert [t["title"] for t in json.loads(run("list", "--json").stdout)] == ["after the crash"]


def test_another_build_is_told_to_restart_and_the_server_exits(served):
    pid = status()["pid"]
    channel = client.connect(str(served / "taskcli" / "server.sock"), timeout=PATIENCE)
    # another installation of the same version (a virtual environment elsewhere, an
    # upgrade in place, an edited checkout) is another build
    header = {**client.request_header(), "build": "0.1.0 /elsewhere/python /elsewhere 1"}
    channel.send(header, [0, 1, 2])
    assert channel.receive() == {"restart": True}
    channel.sock.close()
    until(lambda: gone(pid), "the old server to exit")
    assert run("--version").stdout == "taskcli 0.1.0\n"
    assert until(status, "a new server")["pid"] != pid


def test_a_client_in_another_utf8_mode_runs_in_process_and_the_next_starts_its_server(served):
    """UTF-8 mode is fixed when an interpreter starts: a client of the other mode is not
    served by this server (its argv and paths would be decoded the other way)."""
    mode = subprocess.run([sys.executable, "-c", "import sys; print(sys.flags.utf8_mode)"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    other = {**os.environ, "PYTHONUTF8": "0" if mode == "1" else "1"}
    pid = status()["pid"]
    assert run("--version", env=other).stdout == "taskcli 0.1.0\n"
    until(lambda: gone(pid), "the server of the other mode to exit")
    assert run("--version", env=other).stdout == "taskcli 0.1.0\n"  # starts one of its mode
    started = until(status, "a server of the client's mode")["pid"]
    assert started != pid
    assert run("--version", env=other).stdout == "taskcli 0.1.0\n"
    time.sleep(0.5)  # had it been told to restart, it would be exiting by now
    assert status()["pid"] == started  # it served its own mode's client


def test_server_status_and_stop(served):
    facts = json.loads(run("server", "status", "--json").stdout)
    assert facts["running"] is True and facts["version"] == "0.1.0"
    assert facts["socket"] == str(served / "taskcli" / "server.sock")
    assert facts["idle_timeout_seconds"] == 60
    for server in (True, False):  # the asking command, run by the server, is not counted

        def running(server=server) -> int:
            return json.loads(run("server", "status", "--json", server=server).stdout)[
                "running_commands"
            ]

        until(lambda running=running: running() == 0, "no running command")
    stopped = run("server", "stop", "--json")
    assert (stopped.returncode, json.loads(stopped.stdout)) == (
        0, {"stopped": True, "pid": facts["pid"]})  # fmt: skip
    until(lambda: gone(facts["pid"]), "the server to exit")
    again = run("server", "stop", "--json", server=False)
    assert (again.returncode, json.loads(again.stdout)) == (0, {"stopped": False, "pid": None})
    quiet = run("server", "status", server=False)
    assert (quiet.returncode, quiet.stdout.splitlines()[0]) == (0, "server: not running")


def started_then_stopped(runtime: Path, what: str, *, server: bool | None) -> None:
    """A first command (``server`` as in :func:`run`) starts a server: stop it."""
    assert run("--version", server=server).returncode == 0
    assert until(status, what)["running"] is True
    assert run("server", "stop", server=False).returncode == 0
    until(lambda: server_pids(runtime) == [], "the server to exit")


def test_the_first_command_starts_the_server_and_off_wins(runtime):
    # neither the variable nor the key
    started_then_stopped(runtime, "the server the first command starts", server=None)
    set_off = run("config", "set", "server", "false", server=False)
    assert set_off.stdout == "server = false\n"
    assert run("--version", server=None).returncode == 0
    time.sleep(1)  # a server, had one been started, would be up by now
    assert status() is None and server_pids(runtime) == []
    assert "server: not running" in run("server", "status", server=None).stdout
    # the variable wins over the key
    started_then_stopped(runtime, "the server the variable asked for", server=True)
    set_on = run("config", "set", "server", "true", server=False)
    assert set_on.stdout == "server = true\n"
    assert run("--version", server=None).returncode == 0
    assert until(status, "the server the config allows")["running"] is True
    assert run("config", "get", "server").stdout == "true\n"


def test_a_changed_source_file_is_another_build(tmp_path):
    """The build identity changes with the newest source file of the package (an edit in
    place: this file made newer than every other, whichever was newest before)."""
    before = wire.build()
    source = Path(wire.__file__)
    stat = source.stat()
    try:
        os.utime(source, ns=(stat.st_atime_ns, time.time_ns() + 10**9 * 3600))
        assert wire.build() != before
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert wire.build() == before


# ---- security -----------------------------------------------------------------------------


def test_the_directory_is_0700_and_the_socket_0600(served):
    directory = served / "taskcli"
    assert stat.S_IMODE(directory.lstat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "server.sock").lstat().st_mode) == 0o600
    assert stat.S_ISSOCK((directory / "server.sock").lstat().st_mode)


def test_without_a_private_runtime_dir_the_data_dir_holds_the_socket(
    runtime, tmp_path, monkeypatch
):
    runtime.chmod(0o755)
    assert paths.server_dir(os.environ) == str(tmp_path / "data" / "server")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert paths.server_dir(os.environ) == str(tmp_path / "data" / "server")


@pytest.mark.parametrize("trap", ["symlink", "other owner", "open mode"])
def test_an_untrusted_socket_directory_is_never_used(runtime, trap):
    directory = runtime / "taskcli"
    if trap == "symlink":
        elsewhere = runtime / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        directory.symlink_to(elsewhere)
    else:
        directory.mkdir(mode=0o700)
        if trap == "other owner":
            os.chown(directory, 12345, 12345)
        else:
            directory.chmod(0o755)
    with pytest.raises(paths.UntrustedDirectory):
        client.socket_path(os.environ, create=True)
    assert run("--version").stdout == "taskcli 0.1.0\n"
    time.sleep(1)  # a server, had one been started, would be up by now
    assert server_pids(runtime) == []
    assert not list(runtime.rglob("server.sock"))


OTHER_USER = "taskcli-peer"


def other_user() -> tuple[int, int]:
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to act as a second local user")
    found = subprocess.run(["id", "-u", OTHER_USER], capture_output=True, text=True)
    if found.returncode != 0:
        subprocess.run(["useradd", "--no-create-home", OTHER_USER], check=True)
    uid = int(subprocess.run(["id", "-u", OTHER_USER], capture_output=True, text=True).stdout)
    gid = int(subprocess.run(["id", "-g", OTHER_USER], capture_output=True, text=True).stdout)
    return uid, gid


PEER = """
import socket, sys
from taskcli import client, wire
channel = client.connect(sys.argv[1], timeout=30)
print("connected")
try:
    channel.send({**client.request_header(), "status": True})
    print(channel.receive())
except (wire.Closed, ConnectionResetError, BrokenPipeError):
    print("closed")
"""


def test_another_local_user_is_refused_even_when_the_socket_is_reachable(served):
    uid, gid = other_user()
    directory = served / "taskcli"
    for path, mode in ((served, 0o711), (directory, 0o711), (directory / "server.sock", 0o666)):
        path.chmod(mode)
    try:
        peer = subprocess.run(
            ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
             sys.executable, "-c", PEER, str(directory / "server.sock")],
            capture_output=True, text=True, timeout=PATIENCE, cwd="/",
            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(Path(__file__).parents[1])},
        )  # fmt: skip
    finally:
        for path in (served, directory):
            path.chmod(0o700)
        (directory / "server.sock").chmod(0o600)
    assert (peer.returncode, peer.stdout) == (0, "connected\nclosed\n"), peer.stderr
    assert status()["running"], "the server still serves its own user"


# ---- the client itself --------------------------------------------------------------------


def test_the_client_imports_only_the_standard_library():
    probe = (
        "import sys; before = set(sys.modules); import taskcli.client; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.split()  # fmt: skip
    ours = {name for name in loaded if name.split(".")[0] == "taskcli"}
    assert ours == {"taskcli", "taskcli.client", "taskcli.paths", "taskcli.wire"}
    others = {name.split(".")[0] for name in loaded} - {"taskcli"}
    assert others <= set(sys.stdlib_module_names) | {"_distutils_hack"}, others


def test_the_client_leaves_out_the_modules_that_cost_its_start_up():
    # -S: no site, so nothing an installation's start-up imports hides what the client does
    probe = (
        "import sys; before = set(sys.modules); import taskcli.client; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    loaded = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True,
                            text=True, check=True, env=env).stdout.split()  # fmt: skip
    dear = {"enum", "json", "re", "socket", "signal", "struct", "typing", "pathlib"}
    assert "taskcli.client" in loaded
    assert dear.isdisjoint(loaded), sorted(dear & set(loaded))


@pytest.mark.parametrize(
    "environ",
    [{}, {"XDG_CONFIG_HOME": "/x/config", "XDG_DATA_HOME": "/x/data"},
     {"XDG_CONFIG_HOME": "  ", "XDG_DATA_HOME": ""}, {"HOME": "/home/someone"},
     {"TASKCLI_CONFIG_DIR": "~/c", "TASKCLI_DATA_DIR": "/d"}],
)  # fmt: skip
def test_the_client_finds_the_same_directories_as_the_config(monkeypatch, environ):
    from taskcli.core import config

    for name in ("TASKCLI_CONFIG_DIR", "TASKCLI_DATA_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert Path(paths.config_dir(os.environ)) == config.config_dir(os.environ)
    assert Path(paths.data_dir(os.environ)) == config.data_dir(os.environ)


@pytest.mark.parametrize(
    "value",
    [compile("print('ran')", "<sent>", "exec"), {"argv": {"a", "b"}}, {"env": b"bytes"},
     {1: "an int key"}, ["not", "a", "dict"], {"deep": [[[[[[[[[[1]]]]]]]]]]}],
    ids=["code", "set", "bytes", "int-key", "list", "too-deep"],
)  # fmt: skip
def test_a_frame_that_is_not_a_message_closes_the_connection(value):
    import marshal

    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    data = marshal.dumps(value, wire.FORMAT)
    left.sendall(len(data).to_bytes(wire.LENGTH_SIZE, "big") + data)
    with pytest.raises(wire.Closed, match="not a message"):
        wire.Channel(right).receive()
    with pytest.raises(TypeError):
        wire.Channel(left).send(value)
    left.close()
    right.close()


def test_a_frame_of_garbage_or_too_long_closes_the_connection():
    for frame, reason in ((b"\x00\x00\x00\x03\xff\xfe\xfd", "not a message"),
                          ((64 * 1024 * 1024 + 1).to_bytes(4, "big"), "too long")):  # fmt: skip
        left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        left.sendall(frame)
        with pytest.raises(wire.Closed, match=reason):
            wire.Channel(right).receive()
        left.close()
        right.close()


def test_a_message_on_the_wire_keeps_undecodable_arguments(tmp_path):
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    sent = {"argv": ["taskcli", "add", "caf\udce9"], "env": {"X": "ü"}}
    wire.Channel(left).send(sent, [0])
    channel = wire.Channel(right)
    assert channel.receive() == sent
    assert len(channel.fds) == 1
    os.close(channel.take_fd())
    left.close()
    with pytest.raises(wire.Closed):
        channel.receive()
    right.close()
