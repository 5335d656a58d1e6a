"""The README documents every command and option, and starts with the two promised commands."""

import re

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


def test_readme_starts_with_install_and_test_commands():
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", README, flags=re.S)
    first, second = blocks[0].strip(), blocks[1].strip()
    assert first.startswith("pip install . && ")
    assert "taskcli" in first
    ci = (REPO / ".ci" / "run").read_text()
    assert any(line.startswith(second) for line in ci.splitlines())


def test_every_command_accepts_json():
    leaves = [
        (path, cmd) for path, cmd in _commands() if path and not getattr(cmd, "commands", None)
    ]
    without = [
        " ".join(path) for path, cmd in leaves if not any("--json" in p.opts for p in cmd.params)
    ]
    assert len(leaves) > 20
    assert without == []
