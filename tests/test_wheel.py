"""The built wheel works on its own: installed in a fresh venv, run from another directory."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_db import TABLES, _pg_tables


def _run(*args, cwd=None, timeout=600):
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done


@pytest.mark.slow
def test_wheel_migrates_a_fresh_database_from_another_directory(tmp_path, pg_url):
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO))
    (wheel,) = wheels.glob("taskcli-*.whl")
    assert "taskcli/py.typed" in zipfile.ZipFile(wheel).namelist()  # typed for its importers
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", str(venv))
    _run(str(venv / "bin" / "pip"), "install", "-q", str(wheel))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    taskcli = str(venv / "bin" / "taskcli")
    # the plain console script (script-files), not an entry-point wrapper that imports re
    names = zipfile.ZipFile(wheel).namelist()
    assert "taskcli/taskcli" not in names
    script = Path(taskcli).read_text().splitlines()
    assert script[0].startswith(f"#!{venv / 'bin' / 'python'}")
    assert [line for line in script if line.startswith(("import", "from"))] == [
        "from taskcli.client import main"
    ]
    where = _run(str(venv / "bin" / "python"), "-c", "import taskcli; print(taskcli.__file__)",
                 cwd=elsewhere).stdout  # fmt: skip
    assert str(venv) in where
    status = subprocess.run([taskcli, "db", "status", "--database-url", pg_url], cwd=elsewhere,
                            capture_output=True, text=True)  # fmt: skip
    assert status.returncode == 7
    _run(taskcli, "db", "migrate", "--database-url", pg_url, cwd=elsewhere)
    assert _pg_tables(pg_url) == TABLES
    _run(taskcli, "db", "status", "--database-url", pg_url, cwd=elsewhere)
    history = _run(taskcli, "db", "history", cwd=elsewhere).stdout
    assert "(head)" in history
