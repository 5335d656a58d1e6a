"""Migrations and connection handling on SQLite and a real PostgreSQL."""

import os
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import psycopg2
import pytest
import sqlalchemy as sa

from taskcli.core import db, migrate, pgconnect
from taskcli.core.config import resolve_settings
from tests.conftest import PASSWORD, REPO, run_process

TABLES = {
    "users", "counters", "sessions", "tasks", "meta", "alembic_version", "spent_nonces",
    "login_failures", "contexts", "journal", "journal_tasks",
}  # fmt: skip


def _pg_tables(url: str) -> set[str]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in cur.fetchall()}


def test_status_migrate_status_on_postgres(taskcli, pg_url):
    before = taskcli("db", "status", "--database-url", pg_url)
    assert before.exit_code == 7
    assert "run: taskcli db migrate" in before.stderr
    migrated = taskcli("db", "migrate", "--database-url", pg_url, "--json")
    assert migrated.exit_code == 0, migrated.stderr
    assert migrated.json()["from"] is None
    assert migrated.json()["to"] == migrate.head_revision()
    after = taskcli("db", "status", "--database-url", pg_url, "--json")
    assert after.exit_code == 0
    assert after.json()["up_to_date"] is True
    assert _pg_tables(pg_url) == TABLES
    again = taskcli.ok("db", "migrate", "--database-url", pg_url)
    assert again.stdout.startswith("already at")


def test_migrate_sql_prints_ddl_and_touches_nothing(taskcli, pg_url):
    result = taskcli.ok("db", "migrate", "--sql", "--database-url", pg_url)
    assert "CREATE TABLE tasks" in result.stdout
    assert "CREATE INDEX ix_tasks_user_due" in result.stdout
    assert _pg_tables(pg_url) == set()


def test_concurrent_migrations_leave_one_schema(pg_url):
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run_process("db", "migrate", "--database-url",
                                                      pg_url), range(4)))  # fmt: skip
    assert [r.exit_code for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    head = migrate.head_revision()
    assert sorted(r.stdout.split(":")[0] for r in results) == [
        f"already at {head}", f"already at {head}", f"already at {head}",
        f"migrated base -> {head}",
    ]  # fmt: skip
    assert _pg_tables(pg_url) == TABLES
    with psycopg2.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT version_num FROM alembic_version")
        assert cur.fetchall() == [(migrate.head_revision(),)]
        cur.execute("SELECT key FROM meta ORDER BY key")
        keys = [("database_id",), ("key_rotated_at",), ("salt_key",), ("signing_key",)]
        assert cur.fetchall() == keys


def test_ordinary_commands_never_migrate_postgres(taskcli, pg_url, monkeypatch):
    monkeypatch.setenv("TASKCLI_DATABASE_URL", pg_url)
    result = taskcli("register", "--email", "a@example.com", "--password-stdin",
                     input=PASSWORD + "\n")  # fmt: skip
    assert result.exit_code == 7
    assert result.stderr.strip().endswith("(hint: run: taskcli db migrate)")
    assert _pg_tables(pg_url) == set()
    as_json = taskcli("register", "--email", "a@example.com", "--password-stdin", "--json",
                      input=PASSWORD + "\n")  # fmt: skip
    assert as_json.error == {
        "code": "schema_out_of_date",
        "message": as_json.error["message"],
        "hint": "run: taskcli db migrate",
    }


def test_commands_after_downgrade_report_schema_out_of_date(taskcli, pg_url, monkeypatch):
    monkeypatch.setenv("TASKCLI_DATABASE_URL", pg_url)
    taskcli.ok("db", "migrate")
    taskcli.ok("register", "--email", "a@example.com", "--password-stdin", input=PASSWORD)
    refused = taskcli("db", "downgrade", "base")
    assert refused.exit_code == 2
    assert _pg_tables(pg_url) == TABLES
    taskcli.ok("db", "downgrade", "base", "--yes")
    assert _pg_tables(pg_url) == {"alembic_version"}
    result = taskcli("list")
    assert result.exit_code == 7


def test_embedded_database_is_created_and_migrated_on_first_use(taskcli, isolated):
    taskcli.ok("register", "--email", "a@example.com", "--password-stdin", input=PASSWORD)
    path = isolated / "data" / "taskcli.db"
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert TABLES <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert taskcli.ok("db", "status", "--json").json()["up_to_date"] is True


def test_db_status_migrates_a_new_embedded_database_like_every_command(taskcli, isolated):
    status = taskcli("db", "status", "--json")
    assert status.exit_code == 0, status.stderr
    assert status.json()["current"] == status.json()["head"] == migrate.head_revision()
    assert status.json()["up_to_date"] is True
    with sqlite3.connect(isolated / "data" / "taskcli.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert TABLES <= tables


def test_schema_head_constant_matches_the_migrations():
    assert db.SCHEMA_HEAD == migrate.head_revision()
    history = taskcli_history = migrate.history()
    assert taskcli_history[0].is_head and history[-1].down_revision is None


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_models_and_migrations_agree(backend_name, request, tmp_path, monkeypatch):
    """The equivalent of `alembic check`: autogenerate finds nothing to do at head."""
    if backend_name == "sqlite":
        url = f"sqlite:///{tmp_path / 'check.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    database = db.Database(resolve_settings(database_url_option=url))
    with database.connect(migrate_embedded=False) as conn:
        migrate.upgrade(conn)
        migrate.check(conn)


def test_alembic_cli_from_the_checkout_uses_taskcli_settings(pg_url):
    env = {"TASKCLI_DATABASE_URL": pg_url}
    upgrade = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=REPO,
                             env={**_environ(), **env}, capture_output=True, text=True)  # fmt: skip
    assert upgrade.returncode == 0, upgrade.stderr
    check = subprocess.run([sys.executable, "-m", "alembic", "check"], cwd=REPO,
                           env={**_environ(), **env}, capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert _pg_tables(pg_url) == TABLES


def _environ():
    import os

    return dict(os.environ)


# ---- connection failures ------------------------------------------------------------------


def _one_clean_line(result, password: str) -> str:
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert password not in result.stderr
    return result.stderr


def test_unreachable_server_is_exit_6_with_host(taskcli):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://bob:hunter2secret@127.0.0.1:{port}/tasks"
    line = _one_clean_line(taskcli("db", "status", "--database-url", url), "hunter2secret")
    assert f"127.0.0.1:{port}/tasks" in line
    assert "connection refused" in line


def test_wrong_password_and_missing_database(taskcli, pg_server, pg_url):
    parts = urlsplit(pg_url)
    wrong = pg_url.replace(f":{parts.password}@", ":not-the-password@")
    line = _one_clean_line(taskcli("db", "status", "--database-url", wrong), "not-the-password")
    assert "password authentication failed" in line
    missing = pg_url.rsplit("/", 1)[0] + "/no_such_database"
    line = _one_clean_line(taskcli("db", "status", "--database-url", missing), parts.password)
    assert 'database "no_such_database" does not exist' in line


def test_ssl_required_against_a_server_without_ssl(taskcli, pg_url):
    url = pg_url + ("&" if "?" in pg_url else "?") + "sslmode=require"
    line = _one_clean_line(taskcli("db", "status", "--database-url", url),
                           urlsplit(pg_url).password)  # fmt: skip
    assert "SSL" in line


def _tls_only_server() -> socket.socket:
    """A server that answers PostgreSQL's SSLRequest with "yes" and then nothing more:
    enough for libpq to start TLS and check its own certificate settings."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            client.recv(8)
            client.sendall(b"S")

    threading.Thread(target=serve, daemon=True).start()
    return listener


def test_ssl_failures_give_libpq_s_own_reason(taskcli, isolated):
    listener = _tls_only_server()
    port = listener.getsockname()[1]
    try:
        url = f"postgresql://bob:pw-in-url@127.0.0.1:{port}/tasks?sslmode=verify-full"
        line = _one_clean_line(taskcli("db", "status", "--database-url", url), "pw-in-url")
    finally:
        listener.close()
    root_certificate = isolated / "home" / ".postgresql" / "root.crt"
    assert line.startswith(
        f"error: cannot connect to PostgreSQL at 127.0.0.1:{port}/tasks:"
        f' root certificate file "{root_certificate}" does not exist'
    ), line


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("sslmode=bogus", 'invalid sslmode value: "bogus"'),
        ("foo=bar", 'invalid connection option "foo"'),
        ("port=99999", 'invalid port number: "99999"'),
        ("connect_timeout=soon", "connect_timeout='soon': expected whole seconds"),
    ],
)
def test_a_parameter_libpq_refuses_is_exit_5_naming_it(taskcli, query, named):
    url = f"postgresql://bob:pw-in-url@127.0.0.1:1/tasks?{query}"
    result = taskcli("db", "status", "--database-url", url)
    assert (result.exit_code, result.stdout) == (5, ""), result.stderr
    assert result.stderr.startswith("error: invalid database URL"), result.stderr
    assert named in result.stderr and result.stderr.count("\n") == 1
    assert "pw-in-url" not in result.stderr


@pytest.mark.parametrize("port", ["99999", "0", "54x"])
def test_a_port_out_of_range_is_exit_5_showing_the_port_given(taskcli, isolated, port):
    url = f"postgresql://bob@db.example.com:{port}/tasks"
    for args in (["db", "status", "--database-url", url], ["config", "set", "database_url", url]):
        result = taskcli(*args)
        assert (result.exit_code, result.stdout) == (5, ""), result.stderr
        assert f"invalid port {port!r} in the database URL" in result.stderr
        assert "5432" not in result.stderr and result.stderr.count("\n") == 1
    assert not (isolated / "config" / "config.toml").exists()


def test_transient_failures_are_retried(monkeypatch):
    """A server that refuses twice and then answers: the third attempt connects."""
    attempts = []
    real_connect = psycopg2.connect

    def flaky(*args, **kwargs):
        attempts.append(1)
        if len(attempts) < 3:
            raise psycopg2.OperationalError("connection refused\n\tIs the server running?")
        return real_connect(*args, **kwargs)

    listener_url = "postgresql://u:p@127.0.0.1:9/x"
    database = db.Database(resolve_settings(database_url_option=listener_url))
    monkeypatch.setattr(database.engine.dialect.loaded_dbapi, "connect", flaky)
    monkeypatch.setattr(pgconnect.time, "sleep", lambda _: None)
    with pytest.raises(Exception):  # noqa: B017 - the real server is absent on port 9
        with database.connect():
            pass
    assert len(attempts) == pgconnect.CONNECT_ATTEMPTS


def test_server_restart_between_commands(taskcli, pg_server, pg_url, monkeypatch):
    from tests import servers

    if not isinstance(pg_server, servers.PostgresCluster):
        pytest.skip("needs the suite's own cluster to restart it")
    monkeypatch.setenv("TASKCLI_DATABASE_URL", pg_url)
    taskcli.ok("db", "migrate")
    taskcli.ok("register", "--email", "r@example.com", "--password-stdin", input=PASSWORD)
    taskcli.ok("add", "before restart")
    pg_server.restart()
    assert taskcli.ok("list", "--json").json()[0]["title"] == "before restart"


def test_postgres_url_forms(tmp_path):
    from taskcli.core.urls import normalize_url

    assert normalize_url("postgres://u:p@h/d").startswith("postgresql+psycopg2://")
    assert normalize_url("postgresql://u@h/d?sslmode=require&channel_binding=require") == (
        "postgresql+psycopg2://u@h/d?sslmode=require&channel_binding=require"
    )
    engine = db.Database(resolve_settings(database_url_option="postgres://u@h/d")).engine
    assert engine.dialect.driver == "psycopg2"
    assert engine.url.host == "h"
    assert isinstance(engine.url, sa.engine.URL)


def test_postgres_url_forms_libpq_accepts():
    from taskcli.core.urls import describe_target, normalize_url

    assert normalize_url("postgresql:///tasks?host=/run/pg&port=5433") == (
        "postgresql+psycopg2:///tasks?host=/run/pg&port=5433"
    )
    assert normalize_url("postgresql://bob@%2Frun%2Fpg:5433/tasks?sslmode=disable") == (
        "postgresql+psycopg2://bob@/tasks?sslmode=disable&host=%2Frun%2Fpg&port=5433"
    )
    assert describe_target("postgresql:///tasks?host=/run/pg&port=5433") == "/run/pg:5433/tasks"
    assert describe_target("postgresql://%2Frun%2Fpg/tasks") == "/run/pg:5432/tasks"


@pytest.mark.postgres
def test_socket_directory_urls_connect(taskcli, pg_url, pg_server):
    from urllib.parse import quote, urlsplit

    from tests import servers

    if not isinstance(pg_server, servers.PostgresCluster):
        pytest.skip("needs the suite's own cluster (its socket directory)")
    parts = urlsplit(pg_url)
    socket_dir, userinfo = str(pg_server.socket_dir), parts.netloc.rpartition("@")[0]
    for url in (
        f"postgresql://{userinfo}@{parts.path}?host={socket_dir}&port={parts.port}",
        f"postgresql://{userinfo}@{quote(socket_dir, safe='')}:{parts.port}{parts.path}",
    ):
        result = taskcli("db", "status", "--database-url", url)
        assert result.exit_code == 7, (url, result.stderr)  # reached: not migrated yet
        assert "run: taskcli db migrate" in result.stderr


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://al:pw@h/d?sslmode=require", "postgresql://al:***@h/d?sslmode=require"),
        ("postgresql://al@h/d?sslmode=require&password=pw", "postgresql://al@h/d?sslmode=require&password=***"),
        ("postgresql://al:pw@h/d?password=pw#x", "postgresql://al:***@h/d?password=***#x"),
        ("postgresql:///d?host=/run/pg&pass%77ord=pw", "postgresql:///d?host=/run/pg&pass%77ord=***"),
        ("postgres://h/d?sslpassword=pw&PASSWORD=pw", "postgres://h/d?sslpassword=***&PASSWORD=***"),
        ("postgresql://al@h/d?passfile=/home/al/.pgpass", "postgresql://al@h/d?passfile=/home/al/.pgpass"),
        ("sqlite:////home/al/tasks.db", "sqlite:////home/al/tasks.db"),
        ("//al:pw@h/d?password=pw", "//al:***@h/d?password=***"),
    ],
)  # fmt: skip
def test_redact_url_hides_every_password(url, shown):
    from taskcli.core.urls import redact_url

    assert redact_url(url) == shown


def test_a_url_without_a_scheme_is_refused_without_showing_its_password(taskcli):
    result = taskcli("db", "status", "--database-url", "//al:s3cret@db.example.com/tasks")
    assert (result.exit_code, result.stdout) == (5, "")
    assert result.stderr.startswith("error: unsupported database URL '//al:***@")
    assert "s3cret" not in result.stderr


def _modes(*paths) -> list[int]:
    return [stat.S_IMODE(os.stat(path).st_mode) for path in paths]


def test_embedded_data_directory_is_private(taskcli, isolated):
    taskcli.ok("register", "--email", "a@example.com", "--password-stdin", input=PASSWORD)
    assert _modes(isolated / "data", isolated / "data" / "taskcli.db") == [0o700, 0o600]


def test_embedded_database_files_are_made_private_whatever_existed(taskcli, isolated):
    """``mkdir -p ~/.local/share/taskcli`` (0755) before the first use, and a database,
    WAL and shared-memory file left readable (0644) by an older taskcli, get fixed."""
    data = isolated / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    database = data / "taskcli.db"
    other_writer = sqlite3.connect(database)  # keeps -wal and -shm in place meanwhile
    try:
        other_writer.execute("PRAGMA journal_mode = WAL")
        other_writer.execute("CREATE TABLE earlier (x)")
        other_writer.commit()
        files = [database, data / "taskcli.db-wal", data / "taskcli.db-shm"]
        for path in files:
            path.chmod(0o644)
        taskcli.ok("register", "--email", "a@example.com", "--password-stdin", input=PASSWORD)
        assert _modes(data, *files) == [0o700, 0o600, 0o600, 0o600]
    finally:
        other_writer.close()


def test_a_database_file_outside_the_data_directory_is_private_too(taskcli, tmp_path):
    elsewhere = tmp_path / "projects"
    elsewhere.mkdir(mode=0o755)
    elsewhere.chmod(0o755)
    database = elsewhere / "tasks.db"
    url = f"sqlite:///{database}"
    taskcli.ok("register", "--email", "a@example.com", "--password-stdin", "--database-url", url,
               input=PASSWORD)  # fmt: skip
    assert _modes(elsewhere, database) == [0o755, 0o600]  # a directory of yours stays as it is


def test_a_file_that_is_not_sqlite_is_one_line_exit_6(taskcli, isolated):
    data = isolated / "data"
    data.mkdir()
    (data / "taskcli.db").write_bytes(b"not a database at all, just some junk bytes\n" * 10)
    result = taskcli("register", "--email", "a@example.com", "--password-stdin", input=PASSWORD)
    assert (result.exit_code, result.stdout) == (6, "")
    assert result.stderr == (
        f"error: cannot open SQLite database {data / 'taskcli.db'}: file is not a database"
        " (hint: move the file away to start afresh, or restore it from a backup)\n"
    )


def test_a_data_directory_that_cannot_be_made_is_one_line_exit_6(taskcli, isolated):
    blocker = isolated / "blocker"
    blocker.write_text("a file where a directory should be\n")
    env = {"TASKCLI_DATA_DIR": str(blocker / "data"), "TASKCLI_TOKEN": "any"}
    result = taskcli("add", "x", env=env)
    assert (result.exit_code, result.stdout) == (6, "")
    assert result.stderr.startswith("error: cannot create the directory of SQLite database")
    assert result.stderr.count("\n") == 1


def _backend_pid(database: db.Database) -> int:
    with database.connect(migrate_embedded=False) as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def test_a_kept_connection_idle_too_long_is_replaced_though_no_timer_fired(pg_url, monkeypatch):
    """A server worker closes its connection on a timer, and a timer stands still while
    the machine sleeps; the check when a command takes the connection reads the boot
    clock, which does not. Here no worker loop runs at all: only that check."""
    monkeypatch.setattr(db, "_kept", db.KeptConnections(idle_seconds=0.5))
    database = db.Database(resolve_settings(database_url_option=pg_url))
    first = _backend_pid(database)
    assert _backend_pid(database) == first  # kept between commands
    time.sleep(0.8)
    replaced = _backend_pid(database)
    assert replaced != first
    assert _backend_pid(database) == replaced
    db._kept.close()
