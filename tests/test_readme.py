"""The README documents every command and option, and starts with the two promised commands."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer

from taskcli.cli.app import app
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _walk(command, path=()):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


def _commands():
    return list(_walk(typer.main.get_command(app)))


def test_every_command_is_documented():
    missing = [
        " ".join(path)
        for path, _ in _commands()
        if path and f"taskcli {' '.join(path)}" not in README
    ]
    assert missing == []


def test_every_option_is_documented():
    missing = set()
    for path, command in _commands():
        for param in command.params:
            for opt in [*param.opts, *param.secondary_opts]:
                if opt.startswith("-") and not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])",
                                                          README):  # fmt: skip
                    missing.add(f"{' '.join(path) or 'taskcli'} {opt}")
    assert sorted(missing) == []


def _first_two_commands() -> tuple[str, str]:
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", README, flags=re.S)
    return blocks[0].strip(), blocks[1].strip()


def test_readme_starts_with_install_and_test_commands():
    first, second = _first_two_commands()
    assert "\n" not in first and "pip install . && " not in first  # not into the system
    assert first.endswith("taskcli list")
    ci = (REPO / ".ci" / "run").read_text()
    assert any(line.startswith(second) for line in ci.splitlines())


@pytest.mark.slow
def test_the_install_command_works_as_written(tmp_path):
    """The first command, run in a copy of the checkout by a user with an empty home:
    it installs taskcli into a virtual environment and runs it on the embedded default."""
    source = tmp_path / "checkout"
    ignored = (".git", ".venv", "venv", "build", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*ignored, ".hypothesis"))
    home = tmp_path / "home"
    home.mkdir()
    real_config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": real_config}  # pip's config
    first, _ = _first_two_commands()
    done = subprocess.run(["bash", "-c", first], cwd=source, env=env, capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    assert done.stdout.splitlines()[-1].endswith("\tTry taskcli")
    assert (home / ".local" / "share" / "taskcli-venv" / "bin" / "taskcli").exists()


def test_every_command_accepts_json():
    leaves = [
        (path, cmd) for path, cmd in _commands() if path and not getattr(cmd, "commands", None)
    ]
    without = [
        " ".join(path) for path, cmd in leaves if not any("--json" in p.opts for p in cmd.params)
    ]
    assert len(leaves) > 20
    assert without == []
