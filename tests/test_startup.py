"""Start-up stays light, and the entry points work."""

import json
import re
import subprocess
import sys

import pytest

from taskcli import __version__
from tests.conftest import REPO, run_process

# pydantic is left out: Typer itself uses it to convert option values.
HEAVY = ["sqlalchemy", "sqlmodel", "keyring", "jwt", "psycopg2", "alembic", "passlib", "rich"]

PROBE = """
import json, sys
sys.argv = ["taskcli", *json.loads(sys.argv[1])]
try:
    from taskcli.cli.app import main
    main()
except SystemExit:
    pass
heavy = [m for m in {heavy!r} if m in sys.modules]
sys.stderr.write("LOADED=" + json.dumps(heavy))
"""


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["db", "--help"], ["add", "--help"]])
def test_help_and_version_import_no_database_orm_keyring_or_jwt(args):
    code = PROBE.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True
    )
    loaded = json.loads(done.stderr.rsplit("LOADED=", 1)[1])
    assert loaded == []
    assert done.stdout


CLI_MODULES = sorted(
    path.stem for path in (REPO / "taskcli" / "cli").glob("*.py") if path.stem != "__init__"
)


@pytest.mark.parametrize("module", CLI_MODULES)
def test_every_cli_module_imports_on_its_own_without_the_root_app(module):
    """No import cycle: a command module takes its state from taskcli.cli.state, and only
    the root app (which imports the command modules) may load taskcli.cli.app."""
    code = (
        f"import sys, taskcli.cli.{module}\nsys.stdout.write(str('taskcli.cli.app' in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == str(module == "app")


def test_version_and_module_entry_point():
    result = run_process("--version")
    assert result.exit_code == 0
    assert result.stdout == f"taskcli {__version__}\n"
    assert result.stderr == ""


@pytest.mark.parametrize("args", [[], ["-v"], ["db"], ["config"], ["profile"]])
def test_a_group_without_a_command_prints_its_help_and_succeeds(args):
    result = run_process(*args)
    assert (result.exit_code, result.stderr) == (0, "")
    group = " ".join(arg for arg in args if not arg.startswith("-"))
    assert result.stdout.startswith(f"Usage: taskcli {group}".rstrip() + " [OPTIONS] COMMAND")
    assert "Commands:" in result.stdout


def test_taskcli_imports_no_private_typer_module():
    """pyproject pins typer by its public API; a private module may go in any release."""
    private = re.compile(r"\btyper\.(_\w+)|from typer(?:\.\w+)*\._\w+ import")
    offenders = [
        f"{path.relative_to(REPO)}: {line.strip()}"
        for path in sorted((REPO / "taskcli").rglob("*.py"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if private.search(line)
    ]
    assert offenders == []


def test_unknown_command_is_one_line_usage_error():
    result = run_process("frobnicate")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "frobnicate" in result.stderr


def test_usage_error_with_json_is_a_json_error(taskcli):
    result = taskcli("list", "--limit", "-3", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.error["code"] == "usage"


def test_shell_completion_script_and_answers():
    script = run_process("--show-completion", "bash")
    assert script.exit_code == 0
    assert "_taskcli_completion" in script.stdout

    def complete(words: str, index: int) -> list[str]:
        env = {"COMP_WORDS": words, "COMP_CWORD": str(index), "_TASKCLI_COMPLETE": "complete_bash"}
        return run_process(env=env).stdout.split()

    assert complete("taskcli li", 1) == ["list"]
    assert complete("taskcli list --so", 2) == ["--sort"]
    assert complete("taskcli db ro", 2) == ["rotate-key"]


def test_a_data_command_leaves_pyjwt_without_cryptography(user):
    """Only HS256 is used: PyJWT is loaded without its RSA/EC support (cryptography),
    and cryptography still imports normally afterwards (the Secret Service needs it)."""
    code = PROBE.format(heavy=["jwt", "cryptography"]) + (
        "\nimport cryptography.hazmat.primitives.hashes"
        "\nsys.stderr.write(' AFTER=' + str('cryptography' in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(["list"])], capture_output=True, text=True
    )
    loaded, after = done.stderr.rsplit("LOADED=", 1)[1].split(" AFTER=")
    assert json.loads(loaded) == ["jwt"], done.stderr
    assert after == "True"
