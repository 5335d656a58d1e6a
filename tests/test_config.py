"""Configuration file, profiles and the precedence of database sources."""

import os
import stat
import tomllib

import pytest

from tests.conftest import PASSWORD, run_process


def _database(taskcli, *args):
    result = taskcli("db", "status", "--json", *args)
    assert result.exit_code in (0, 7), result.stderr
    return result.json()["database"]


def test_embedded_default_lives_in_the_data_dir(taskcli, isolated):
    assert _database(taskcli) == f"sqlite:///{isolated / 'data' / 'taskcli.db'}"


def test_precedence_option_over_environment_over_profile_over_default(
    taskcli, isolated, monkeypatch
):
    profile_db = f"sqlite:///{isolated / 'profile.db'}"
    env_db = f"sqlite:///{isolated / 'env.db'}"
    option_db = f"sqlite:///{isolated / 'option.db'}"
    taskcli.ok("config", "set", "database_url", profile_db)
    assert _database(taskcli) == profile_db
    monkeypatch.setenv("TASKCLI_DATABASE_URL", env_db)
    assert _database(taskcli) == env_db
    assert _database(taskcli, "--database-url", option_db) == option_db
    assert _database(taskcli) == env_db  # options are per command


def test_profiles_switch_with_option_environment_and_default(taskcli, isolated, monkeypatch):
    work = f"sqlite:///{isolated / 'work.db'}"
    home = f"sqlite:///{isolated / 'home.db'}"
    taskcli.ok("config", "set", "database_url", work, "--profile", "work")
    taskcli.ok("config", "set", "database_url", home, "--profile", "home")
    assert _database(taskcli, "--profile", "work") == work
    assert _database(taskcli, "-p", "home") == home
    monkeypatch.setenv("TASKCLI_PROFILE", "work")
    assert _database(taskcli) == work
    monkeypatch.delenv("TASKCLI_PROFILE")
    taskcli.ok("profile", "use", "home")
    assert _database(taskcli) == home
    listed = taskcli.ok("profile", "list", "--json").json()
    assert {row["name"]: row["active"] for row in listed} == {
        "default": False,
        "home": True,
        "work": False,
    }
    plain = taskcli.ok("profile", "list").stdout.splitlines()
    assert any(line.startswith("* home") for line in plain)


def test_global_options_work_after_the_command(taskcli, isolated):
    db = f"sqlite:///{isolated / 'after.db'}"
    assert _database(taskcli, "--database-url", db) == db
    result = taskcli("db", "status", "--database-url", db, "-v")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"database: {db}\n")


def test_unknown_profile_is_an_error(taskcli):
    result = taskcli("-p", "nope", "list")
    assert result.exit_code == 5
    assert "no profile named 'nope'" in result.stderr


@pytest.mark.parametrize(
    "args", [["profile", "use", "nosuch"], ["config", "set", "default_profile", "nosuch"]]
)
def test_an_unknown_profile_cannot_become_the_default(taskcli, isolated, args):
    taskcli.ok("config", "set", "session_days", "7", "--profile", "work")
    written = (isolated / "config" / "config.toml").read_text()
    refused = taskcli(*args)
    assert refused.exit_code == 5
    assert refused.stderr == (
        f"error: no profile named 'nosuch' in {isolated / 'config' / 'config.toml'}"
        " (hint: create it: taskcli config set database_url URL --profile nosuch)\n"
    )
    assert (isolated / "config" / "config.toml").read_text() == written
    taskcli.ok("db", "status")  # the configuration still works
    taskcli.ok(*args[:-1], "work")
    taskcli.ok(*args[:-1], "default")


@pytest.mark.parametrize(
    "args",
    [["config", "get", "session_days"], ["config", "get", "default_profile"],
     ["config", "unset", "session_days"]],
)  # fmt: skip
def test_config_get_and_unset_refuse_a_profile_that_does_not_exist(taskcli, isolated, args):
    result = taskcli(*args, "--profile", "nope")
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr.startswith("error: no profile named 'nope'")
    assert not (isolated / "config" / "config.toml").exists()


def test_unsetting_the_last_key_of_the_default_profile_keeps_the_profile(taskcli, isolated):
    """The default profile is always one the file defines, so every command keeps working."""
    taskcli.ok("config", "set", "session_days", "5", "--profile", "work")
    taskcli.ok("profile", "use", "work")
    taskcli.ok("config", "unset", "session_days")
    assert "work" in taskcli.ok("profile", "list").stdout
    taskcli.ok("db", "status")
    taskcli.ok("config", "set", "session_days", "5", "--profile", "other")
    taskcli.ok("config", "unset", "session_days", "--profile", "other")
    assert "other" not in taskcli.ok("profile", "list").stdout  # not the default: removed


def test_config_set_get_unset_list(taskcli, isolated):
    assert taskcli.ok("config", "get", "session_days").stdout == "30\n"
    assert taskcli.ok("config", "get", "connect_timeout").stdout == "10\n"
    taskcli.ok("config", "set", "session_days", "7")
    assert taskcli.ok("config", "get", "session_days", "--json").json() == {
        "key": "session_days",
        "profile": "default",
        "value": 7,
    }
    taskcli.ok("config", "set", "connect_timeout", "3", "--profile", "slow")
    listed = taskcli.ok("config", "list").stdout.splitlines()
    assert "profiles.default.session_days = 7" in listed
    assert "profiles.slow.connect_timeout = 3" in listed
    taskcli.ok("config", "unset", "session_days")
    assert taskcli.ok("config", "get", "session_days").stdout == "30\n"
    missing = taskcli("config", "get", "database_url")
    assert missing.exit_code == 4
    data = tomllib.loads((isolated / "config" / "config.toml").read_text())
    assert data == {"profiles": {"slow": {"connect_timeout": 3}}}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("session_days", "0"),
        ("session_days", "many"),
        ("connect_timeout", "999"),
        ("database_url", "mysql://u@h/db"),
        ("database_url", "sqlite://"),
        ("default_profile", "has space"),
        ("colour", "red"),
    ],
)
def test_bad_config_values_are_rejected_and_nothing_is_written(taskcli, isolated, key, value):
    result = taskcli("config", "set", key, value)
    assert result.exit_code == 5
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert not (isolated / "config" / "config.toml").exists()


def test_config_file_is_private_and_password_redacted(taskcli, isolated):
    url = "postgresql://alice:s3cret-pw@db.example.com/tasks?sslmode=require"
    result = taskcli.ok("config", "set", "database_url", url)
    path = isolated / "config" / "config.toml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "s3cret-pw" not in result.stdout + result.stderr
    for args in (["config", "list"], ["config", "get", "database_url"], ["profile", "list"]):
        shown = taskcli.ok(*args)
        assert "s3cret-pw" not in shown.stdout + shown.stderr
        assert "alice:***@db.example.com" in shown.stdout
    assert tomllib.loads(path.read_text())["profiles"]["default"]["database_url"] == url


def test_broken_config_file_is_one_line_error(taskcli, isolated):
    (isolated / "config").mkdir()
    (isolated / "config" / "config.toml").write_text("default_profile = [unclosed\n")
    result = taskcli("list")
    assert result.exit_code == 5
    assert "config.toml" in result.stderr
    assert result.stderr.count("\n") == 1


def test_relative_sqlite_path_in_the_config_file_lives_beside_it(taskcli, isolated):
    """Every directory a command runs in finds the same database, not a new empty one."""
    taskcli.ok("config", "set", "database_url", "sqlite:///tasks.db")
    first, second = isolated / "first", isolated / "second"
    first.mkdir(), second.mkdir()
    registered = run_process(
        "register", "--email", "a@example.com", "--password-stdin", input=PASSWORD, cwd=first
    )
    assert registered.exit_code == 0, registered.stderr
    assert run_process("add", "written from the first directory", cwd=first).exit_code == 0
    listed = run_process("list", "--json", cwd=second)
    assert listed.exit_code == 0, listed.stderr
    assert [task["title"] for task in listed.json()] == ["written from the first directory"]
    assert (isolated / "config" / "tasks.db").exists()
    assert list(first.iterdir()) == list(second.iterdir()) == []
    status = run_process("db", "status", "--json", cwd=second).json()
    assert status["database"] == f"sqlite:///{isolated / 'config' / 'tasks.db'}"


@pytest.mark.parametrize("source", ["--database-url", "TASKCLI_DATABASE_URL"])
def test_relative_sqlite_path_on_the_command_line_is_the_current_directory(isolated, source):
    here = isolated / "here"
    here.mkdir()
    url = "sqlite:///sub/tasks.db"
    on_command_line = source == "--database-url"
    args = ["--database-url", url] if on_command_line else []
    env = {} if on_command_line else {"TASKCLI_DATABASE_URL": url}
    status = run_process("db", "status", "--json", *args, env=env, cwd=here)
    assert status.exit_code == 0, status.stderr
    assert status.json()["database"] == f"sqlite:///{here / 'sub' / 'tasks.db'}"
    assert (here / "sub" / "tasks.db").exists()


def test_config_set_dash_reads_the_value_from_stdin(taskcli, isolated):
    url = "postgresql://alice:from-stdin-pw@db.example.com/tasks"
    result = taskcli("config", "set", "database_url", "-", input=url + "\n")
    assert (result.exit_code, result.stderr) == (0, "")
    assert (
        result.stdout
        == "profiles.default.database_url = postgresql://alice:***@db.example.com/tasks\n"
    )
    stored = tomllib.loads((isolated / "config" / "config.toml").read_text())
    assert stored["profiles"]["default"]["database_url"] == url
    taskcli.ok("config", "set", "session_days", "-", input="12\r\n")
    assert taskcli.ok("config", "get", "session_days").stdout == "12\n"


@pytest.mark.parametrize(
    ("args", "stdin", "exit_code", "message"),
    [
        ([], "postgresql://a@h/d\n", 2, "error: no value given for database_url"),
        (["-"], "", 5, "error: database_url: nothing on stdin"),
    ],
    ids=["no value, no terminal", "empty stdin"],
)
def test_config_set_without_a_value_to_read(taskcli, isolated, args, stdin, exit_code, message):
    result = taskcli("config", "set", "database_url", *args, input=stdin)
    assert (result.exit_code, result.stdout) == (exit_code, "")
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert not (isolated / "config" / "config.toml").exists()


def test_config_set_asks_for_the_database_url_hidden_on_a_terminal(isolated):
    from tests.support.terminal import TaskcliTerminal as Terminal

    url = "postgresql://alice:typed-pw@db.example.com/tasks"
    terminal = Terminal("config", "set", "database_url")
    terminal.expect("database_url: ")
    terminal.type(url)
    assert terminal.finish() == 0, terminal.transcript
    assert "typed-pw" not in terminal.transcript  # not echoed, and printed redacted
    assert "postgresql://alice:***@db.example.com/tasks" in terminal.transcript
    stored = tomllib.loads((isolated / "config" / "config.toml").read_text())
    assert stored["profiles"]["default"]["database_url"] == url
