"""The servers of tests/servers.py behave as the PostgreSQL tests assume."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest

from tests import servers

pytestmark = pytest.mark.postgres

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pg_bindir():
    bindir = servers.find_pg_bindir()
    if bindir is None:
        servers.missing_dependency("PostgreSQL server binaries not found (package postgresql)")
    return bindir


@pytest.fixture(scope="module")
def cluster(pg_bindir, tmp_path_factory):
    with servers.PostgresCluster.start(tmp_path_factory.mktemp("pg"), bindir=pg_bindir) as pg:
        yield pg


@pytest.fixture(scope="module")
def bouncer(cluster, tmp_path_factory):
    if not servers.pgbouncer_available():
        servers.missing_dependency("pgbouncer is not installed (package pgbouncer)")
    with servers.start_pgbouncer(cluster, tmp_path_factory.mktemp("pgb")) as pgb:
        yield pgb


@pytest.fixture
def database(cluster, request):
    name = f"servers_{request.node.name[:40]}"
    yield cluster.create_database(name)
    cluster.drop_database(name)


def query(url: str, statement: str) -> list[tuple]:
    connection = psycopg2.connect(url, connect_timeout=5)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def is_running(pid: int) -> bool:
    """True unless the process is gone or a zombie (nobody may reap orphans in a container)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until_gone(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_find_pg_bindir_picks_newest_complete_version(tmp_path):
    for version, binaries in [("9.6", ("initdb", "postgres")), ("15", ("initdb", "postgres")),
                              ("16", ("initdb",)), ("common", ("initdb", "postgres"))]:  # fmt: skip
        bindir = tmp_path / version / "bin"
        bindir.mkdir(parents=True)
        for name in binaries:
            (bindir / name).write_text("#!/bin/sh\n")
            (bindir / name).chmod(0o755)

    assert servers.find_pg_bindir(tmp_path) == tmp_path / "15" / "bin"


def test_admin_url_is_password_login_over_tcp(cluster):
    url = urlsplit(cluster.admin_url())

    assert (url.hostname, url.port, url.username) == ("127.0.0.1", cluster.port, "postgres")
    assert url.password == cluster.password
    assert query(cluster.admin_url(), "SELECT current_user") == [("postgres",)]


def test_databases_are_separate(cluster):
    first = cluster.create_database("servers_first")
    second = cluster.create_database("servers_second")
    try:
        query(first, "CREATE TABLE marker (id int)")

        assert query(first, "SELECT current_database()") == [("servers_first",)]
        assert query(second, "SELECT current_database()") == [("servers_second",)]
        assert query(second, "SELECT to_regclass('marker')") == [(None,)]
    finally:
        cluster.drop_database("servers_first")
        cluster.drop_database("servers_second")


def test_wrong_password_is_refused(cluster):
    wrong = cluster.admin_url().replace(cluster.password, "not-the-password")

    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(wrong, connect_timeout=5)


def test_unix_socket_needs_no_password(cluster):
    connection = psycopg2.connect(host=str(cluster.socket_dir), port=cluster.port,
                                  user="postgres", dbname="postgres")  # fmt: skip
    connection.close()


def test_settings_suit_tests(cluster):
    settings = dict(query(cluster.admin_url(), "SELECT name, setting FROM pg_settings"))

    assert int(settings["max_connections"]) >= 120 + 20
    assert settings["fsync"] == "off"


def test_drop_database_disconnects_clients(cluster, database):
    connection = psycopg2.connect(database, connect_timeout=5)
    name = urlsplit(database).path.lstrip("/")

    cluster.drop_database(name)

    with pytest.raises(psycopg2.OperationalError), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close()
    with pytest.raises(psycopg2.OperationalError, match="does not exist"):
        query(database, "SELECT 1")


def test_restart_keeps_port_and_data(cluster, database):
    query(database, "CREATE TABLE kept (value text); INSERT INTO kept VALUES ('before')")
    port, pid = cluster.port, cluster.pid

    cluster.restart()

    assert cluster.port == port and cluster.pid != pid
    assert query(database, "SELECT value FROM kept") == [("before",)]


def test_external_server_creates_databases_on_that_server(cluster):
    external = servers.ExternalServer(cluster.admin_url() + "?connect_timeout=5")

    with external:
        url = external.create_database("servers_external")
        assert urlsplit(url).query == "connect_timeout=5"
        assert query(url, "SELECT current_database()") == [("servers_external",)]
        external.drop_database("servers_external")

    assert query(cluster.admin_url(), "SELECT 1") == [(1,)]  # leaving it did not stop it


def test_second_cluster_runs_beside_the_first_and_stops_cleanly(cluster, tmp_path):
    with servers.PostgresCluster.start(tmp_path) as other:
        assert other.port != cluster.port
        assert query(other.admin_url(), "SELECT inet_server_port()") == [(other.port,)]
        assert query(cluster.admin_url(), "SELECT inet_server_port()") == [(cluster.port,)]
        pid, datadir = other.pid, other.datadir

    other.stop()  # a second stop is harmless
    assert not is_running(pid)
    assert not datadir.exists()


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux only")
@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_server_does_not_outlive_the_test_process(pg_bindir, ending):
    script = (
        "from tests import servers\n"
        "pg = servers.PostgresCluster.start()\n"
        "print(pg.pid, pg.datadir, flush=True)\n"
        f"if {ending == 'sigkill'}:\n"
        "    input()\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    pid, datadir = child.stdout.readline().split()
    if ending == "sigkill":
        os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)

    gone = wait_until_gone(int(pid))
    workdir_left = Path(datadir).parent.exists()
    shutil.rmtree(Path(datadir).parent, ignore_errors=True)  # a killed process cannot clean up

    assert gone, f"postgres {pid} outlived its test process ({ending})"
    assert not workdir_left or ending == "sigkill"


def test_start_reports_missing_binaries(tmp_path):
    with pytest.raises(servers.ServerError, match="initdb, postgres.*not found in"):
        servers.PostgresCluster.start(tmp_path, bindir=tmp_path / "nowhere")


def test_start_reports_initdb_failure_with_its_log(tmp_path):
    # Not under tmp_path: as root the binaries run as postgres, who cannot enter pytest's dirs.
    with tempfile.TemporaryDirectory() as bindir:
        os.chmod(bindir, 0o755)
        for name, body in [("initdb", "echo 'initdb: simulated failure' >&2; exit 3"),
                           ("postgres", "exit 1")]:  # fmt: skip
            Path(bindir, name).write_text(f"#!/bin/sh\n{body}\n")
            Path(bindir, name).chmod(0o755)

        with pytest.raises(servers.ServerError, match=r"(?s)exit code 3.*simulated failure"):
            servers.PostgresCluster.start(tmp_path, bindir=Path(bindir))


def test_pgbouncer_serves_queries_in_transaction_mode(cluster, bouncer, database):
    name = urlsplit(database).path.lstrip("/")
    query(database, "CREATE TABLE seen (value int); INSERT INTO seen VALUES (42)")

    assert query(bouncer.url(name), "SELECT value FROM seen") == [(42,)]
    admin = psycopg2.connect(bouncer.url("pgbouncer"), connect_timeout=5)
    try:
        admin.autocommit = True  # the admin console has no transactions
        with admin.cursor() as cursor:
            cursor.execute("SHOW CONFIG")
            config = {row[0]: row[1] for row in cursor.fetchall()}
    finally:
        admin.close()
    assert config["pool_mode"] == "transaction"


def test_pgbouncer_refuses_wrong_password(bouncer):
    wrong = bouncer.url("postgres").replace(bouncer.password, "not-the-password")

    # PgBouncer words it "SASL authentication failed", PostgreSQL "password authentication failed"
    with pytest.raises(psycopg2.OperationalError, match="authentication failed"):
        psycopg2.connect(wrong, connect_timeout=5)


def test_missing_dependency_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match="no frobnicator"):
        servers.missing_dependency("no frobnicator")


def test_missing_dependency_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="no frobnicator"):
        servers.missing_dependency("no frobnicator")
