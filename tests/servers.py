"""Real PostgreSQL and PgBouncer servers for the test suite.

`PostgresCluster.start()` runs initdb and a throwaway server on a free port of
127.0.0.1; `ExternalServer` wraps the server named by TASKCLI_TEST_DATABASE_URL
instead. Both give `admin_url()`, `create_database(name) -> url`,
`drop_database(name)` and a context-manager form. `start_pgbouncer()` puts a
transaction-mode PgBouncer in front of either.

Auth: the superuser `postgres` has a random password (`cluster.password`);
TCP connections use scram-sha-256, so a wrong password is refused. The unix
socket in `cluster.socket_dir` trusts everyone. PgBouncer uses the same
user and password.

As root, the servers run as the `postgres` OS user (PostgreSQL and PgBouncer
refuse root). Every server dies with this process: on a normal exit via
atexit, on SIGKILL via the Linux parent-death signal. Start servers from the
main thread, since that signal follows the thread that started them.

The fixtures ``pg_server``, ``pg_url`` and ``pgbouncer`` in tests/conftest.py use them.
"""

import atexit
import ctypes
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, Self
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg2
import pytest
from psycopg2 import sql

EXTERNAL_URL_VARIABLE = "TASKCLI_TEST_DATABASE_URL"
PG_ROOT = Path("/usr/lib/postgresql")
SERVER_BINARIES = ("initdb", "postgres")
SUPERUSER = "postgres"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

# Appended to postgresql.conf: durability off for speed; room for 120 concurrent clients
# plus PgBouncer pools and admin connections.
FAST_SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = '{socket_dir}'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
jit = off
password_encryption = 'scram-sha-256'
"""

PGBOUNCER_INI = """\
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {auth_file}
; roles other than the admin (an application role a test creates) are looked up as it
auth_user = {user}
admin_users = {user}
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
"""


class ServerError(RuntimeError):
    """A test server could not be found, started or used."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def missing_dependency(reason: str) -> NoReturn:
    """Skip the calling test for reason, or fail it under CI=true, where every test must run."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this cannot be skipped)", pytrace=False)
    pytest.skip(reason)


def tool_path(name: str) -> Path | None:
    """An executable on PATH or in sbin (not on a normal user's PATH on Debian)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    return Path(found) if found else None


def tool_available(name: str) -> bool:
    return tool_path(name) is not None


def pgbouncer_available() -> bool:
    return tool_available("pgbouncer")


def find_pg_bindir(root: Path = PG_ROOT) -> Path | None:
    """The newest root/VERSION/bin holding the server binaries, else the PATH's, else None."""
    versions = [(_version_key(d.name), d / "bin") for d in root.glob("*")]
    complete = [(key, b) for key, b in versions if key and _has_server_binaries(b)]
    if complete:
        return max(complete)[1]
    initdb = shutil.which("initdb")  # Fedora, Homebrew: the server binaries are on PATH
    if initdb and _has_server_binaries(Path(initdb).parent):
        return Path(initdb).parent
    return None


def _version_key(name: str) -> tuple[int, ...]:
    parts = name.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else ()


def _has_server_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in SERVER_BINARIES)


class Server:
    """A PostgreSQL server on which tests create and drop their own databases."""

    def admin_url(self) -> str:
        raise NotImplementedError

    def database_url(self, name: str) -> str:
        """admin_url() with the database replaced; user, password and parameters are kept."""
        parts = urlsplit(self.admin_url())
        return urlunsplit(parts._replace(path="/" + quote(name, safe="")))

    def create_database(self, name: str, *, owner: str | None = None) -> str:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if owner:
            statement += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
        with admin_cursor(self.admin_url()) as cursor:
            cursor.execute(statement)
        return self.database_url(name)

    def create_role(self, name: str, password: str, attributes: str = "") -> None:
        """A LOGIN role; ``attributes`` are SQL keywords such as ``CREATEROLE``."""
        statement = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} " + attributes)
        with admin_cursor(self.admin_url()) as cursor:
            cursor.execute(statement.format(sql.Identifier(name), sql.Literal(password)))

    def drop_role(self, name: str) -> None:
        with admin_cursor(self.admin_url()) as cursor:
            cursor.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))

    def url_as(self, database_url: str, user: str, password: str) -> str:
        """``database_url`` with another user and password."""
        parts = urlsplit(database_url)
        host = parts.netloc.rpartition("@")[2]
        credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
        return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))

    def drop_database(self, name: str) -> None:
        """Drop the database if it exists, disconnecting its clients (PostgreSQL 13+)."""
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        with admin_cursor(self.admin_url()) as cursor:
            cursor.execute(statement.format(sql.Identifier(name)))

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class ExternalServer(Server):
    """A server someone else runs (TASKCLI_TEST_DATABASE_URL); its URL must be a superuser's."""

    def __init__(self, url: str):
        self.url = url

    def admin_url(self) -> str:
        return self.url

    def stop(self) -> None:
        """Nothing to do: the server is not ours to stop."""


class PostgresCluster(Server):
    """A throwaway PostgreSQL cluster run by this process; start it with `start()`."""

    def __init__(self, *, bindir: Path, workdir: Path, account: pwd.struct_passwd | None):
        self.bindir = bindir
        self.datadir = workdir / "data"
        self.socket_dir = workdir
        self.password = secrets.token_urlsafe(18)
        self._daemon = _Daemon(
            name="postgres",
            workdir=workdir,
            account=account,
            argv=lambda port: [str(bindir / "postgres"), "-D", str(self.datadir), "-p", str(port)],
            probe_url=lambda port: self.admin_url(),
            stop_signal=signal.SIGINT,  # fast shutdown: disconnect clients, then stop
        )

    @classmethod
    def start(cls, base_dir: Path | None = None, *, bindir: Path | None = None) -> Self:
        """initdb and start a cluster in a new directory under base_dir (default: the temp dir)."""
        bindir = bindir or find_pg_bindir()
        if bindir is None or not _has_server_binaries(bindir):
            where = bindir or f"{PG_ROOT}/*/bin or on PATH"
            raise ServerError(
                f"PostgreSQL server binaries ({', '.join(SERVER_BINARIES)}) not found in {where};"
                " install the distribution's postgresql package"
            )
        account = _service_account()
        cluster = cls(
            bindir=bindir, workdir=_make_workdir(base_dir, "taskcli-pg-", account), account=account
        )
        try:
            cluster._initdb()
            cluster._daemon.launch(new_port=True)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @property
    def port(self) -> int:
        return self._daemon.port

    @property
    def pid(self) -> int | None:
        return self._daemon.pid

    def admin_url(self) -> str:
        password = quote(self.password, safe="")
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/postgres"

    def restart(self) -> None:
        """Stop and start the server on the same port; data and password are kept."""
        self._daemon.halt()
        self._daemon.launch(new_port=False)

    def stop(self) -> None:
        """Stop the server and delete its directory; safe to call again."""
        self._daemon.remove()

    def _initdb(self) -> None:
        workdir = self._daemon.workdir
        password_file = workdir / "password"
        _write_private(password_file, self.password + "\n", self._daemon.account)
        argv = [
            str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", SUPERUSER,
            f"--pwfile={password_file}", "--auth-local=trust", "--auth-host=scram-sha-256",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        ]  # fmt: skip
        self._daemon.run_to_completion(argv, "initdb")
        password_file.unlink()
        socket_dir = str(self.socket_dir).replace("'", "''")
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write(FAST_SETTINGS.format(socket_dir=socket_dir))


class PgBouncer:
    """A PgBouncer in transaction mode run by this process; start it with start_pgbouncer()."""

    def __init__(self, *, upstream_url: str, workdir: Path, account: pwd.struct_passwd | None):
        upstream = urlsplit(upstream_url)
        self.user = unquote(upstream.username or "")
        self.password = unquote(upstream.password or "")
        self._upstream = upstream
        self._daemon = _Daemon(
            name="pgbouncer",
            workdir=workdir,
            account=account,
            argv=self._command,
            probe_url=lambda port: self.url(unquote(upstream.path.lstrip("/")) or "postgres"),
            stop_signal=signal.SIGTERM,  # immediate shutdown; SIGINT would wait for clients
        )

    @property
    def port(self) -> int:
        return self._daemon.port

    @property
    def pid(self) -> int | None:
        return self._daemon.pid

    def url(self, dbname: str) -> str:
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql://{credentials}@127.0.0.1:{self.port}/{quote(dbname, safe='')}"

    def stop(self) -> None:
        """Stop PgBouncer and delete its directory; safe to call again."""
        self._daemon.remove()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _command(self, port: int) -> list[str]:
        workdir, account = self._daemon.workdir, self._daemon.account
        auth_file, config = workdir / "userlist.txt", workdir / "pgbouncer.ini"
        quoted_user, quoted_password = (v.replace('"', '""') for v in (self.user, self.password))
        _write_private(auth_file, f'"{quoted_user}" "{quoted_password}"\n', account)
        settings = PGBOUNCER_INI.format(
            host=self._upstream.hostname or "127.0.0.1",
            port=self._upstream.port or 5432,
            listen_port=port,
            auth_file=auth_file,
            user=self.user,
        )
        _write_private(config, settings, account)
        return [str(tool_path("pgbouncer")), str(config)]


def start_pgbouncer(server: Server, base_dir: Path | None = None) -> PgBouncer:
    """Start PgBouncer on a free port of 127.0.0.1 in front of server, for any database on it.

    Clients log in with the server's admin user and password (scram-sha-256).
    Servers that require TLS are not supported.
    """
    if not pgbouncer_available():
        raise ServerError("pgbouncer not found; install the distribution's pgbouncer package")
    account = _service_account()
    workdir = _make_workdir(base_dir, "taskcli-pgbouncer-", account)
    bouncer = PgBouncer(upstream_url=server.admin_url(), workdir=workdir, account=account)
    try:
        bouncer._daemon.launch(new_port=True)
    except BaseException:
        bouncer.stop()
        raise
    return bouncer


def through_pooler(database_url: str, bouncer: PgBouncer) -> str:
    """``database_url`` (its user, password and database) reached through ``bouncer``."""
    parts = urlsplit(database_url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{bouncer.port}"))


class _Daemon:
    """One server process run by this process on 127.0.0.1, with its private directory."""

    def __init__(
        self,
        *,
        name: str,
        workdir: Path,
        account: pwd.struct_passwd | None,
        argv: Callable[[int], list[str]],
        probe_url: Callable[[int], str],
        stop_signal: signal.Signals,
    ):
        self.name = name
        self.workdir = workdir
        self.account = account
        self.log_path = workdir / f"{name}.log"
        self.port = 0
        self._argv = argv
        self._probe_url = probe_url
        self._stop_signal = stop_signal
        self._process: subprocess.Popen | None = None
        _live_daemons.add(self)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def run_to_completion(self, argv: list[str], what: str) -> None:
        process = self._spawn(argv, die_with_parent=False)
        try:
            process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise ServerError(f"{what} did not finish within {START_TIMEOUT:.0f}s") from None
        if process.returncode != 0:
            raise ServerError(
                f"{what} failed with exit code {process.returncode}{self._log_tail()}"
            )

    def launch(self, *, new_port: bool) -> None:
        """Start the process and wait until it answers; on a port race, retry on a new port."""
        if not self.workdir.is_dir():
            raise ServerError(f"{self.name} was stopped; start a new one")
        attempts = 5 if new_port else 1
        for attempt in range(1, attempts + 1):
            if new_port:
                self.port = _free_port()
            log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            self._process = self._spawn(self._argv(self.port), die_with_parent=True)
            try:
                self._wait_until_ready()
                return
            except ServerError:
                self.halt()
                if attempt == attempts or not self._port_was_taken(log_offset):
                    raise

    def halt(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        for sig, timeout in ((self._stop_signal, STOP_TIMEOUT), (signal.SIGKILL, 10.0)):
            process.send_signal(sig)
            try:
                process.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                continue

    def remove(self) -> None:
        self.halt()
        shutil.rmtree(self.workdir, ignore_errors=True)
        _live_daemons.discard(self)

    def _spawn(self, argv: list[str], *, die_with_parent: bool) -> subprocess.Popen:
        account = self.account
        with open(self.log_path, "ab") as log:
            try:
                return subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    env=_child_env(account),
                    user=account.pw_uid if account else None,
                    group=account.pw_gid if account else None,
                    extra_groups=[] if account else None,
                    start_new_session=True,  # Ctrl-C reaches pytest, which stops us in order
                    preexec_fn=self._die_with_parent if die_with_parent else None,
                )
            except OSError as exc:
                raise ServerError(f"cannot run {argv[0]}: {exc}") from exc

    def _die_with_parent(self) -> None:
        """In the child before exec: have Linux send the stop signal if this process dies,
        even by SIGKILL, so that no server outlives the test run."""
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, self._stop_signal)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with code {self._process.returncode} while starting"
                    f"{self._log_tail()}"
                )
            if _answers(self._probe_url(self.port)):
                return
            time.sleep(0.05)
        raise ServerError(
            f"{self.name} did not answer within {START_TIMEOUT:.0f}s{self._log_tail()}"
        )

    def _port_was_taken(self, log_offset: int) -> bool:
        with open(self.log_path, "rb") as log:
            log.seek(log_offset)
            return b"Address already in use" in log.read()

    def _log_tail(self, lines: int = 20) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"; last lines of {self.log_path}:\n" + "\n".join(tail)


_live_daemons: set[_Daemon] = set()


@atexit.register
def _stop_all() -> None:
    for daemon in list(_live_daemons):
        daemon.remove()


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _service_account() -> pwd.struct_passwd | None:
    """As root, the OS account to run servers as (they refuse root); otherwise None: ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise ServerError(
            f"running as root, but there is no {SUPERUSER!r} OS user to run the servers as"
        ) from None


def _make_workdir(base_dir: Path | None, prefix: str, account: pwd.struct_passwd | None) -> Path:
    """A new directory under base_dir owned by account. pytest's base temp dir is mode 0700,
    so as root the postgres user cannot reach it: fall back to the system temp dir then."""
    candidates = [base_dir] if base_dir else []
    candidates += [Path(tempfile.gettempdir()), Path("/tmp")]
    for parent in candidates:
        parent.mkdir(parents=True, exist_ok=True)
        if account is None or _reachable(parent, account):
            workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
            if account:
                os.chown(workdir, account.pw_uid, account.pw_gid)
            return workdir
    raise ServerError(f"no directory among {candidates} is reachable by the {SUPERUSER} user")


def _reachable(path: Path, account: pwd.struct_passwd) -> bool:
    test = shutil.which("test") or "/usr/bin/test"
    probe = subprocess.run(
        [test, "-x", str(path)], user=account.pw_uid, group=account.pw_gid, extra_groups=[]
    )
    return probe.returncode == 0


def _write_private(path: Path, text: str, account: pwd.struct_passwd | None) -> None:
    path.write_text(text)
    path.chmod(0o600)
    if account:
        os.chown(path, account.pw_uid, account.pw_gid)


def _child_env(account: pwd.struct_passwd | None) -> dict[str, str]:
    """Our environment without PG* variables, which would steer initdb and the servers."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    if account:
        env.update(HOME=account.pw_dir, USER=account.pw_name, LOGNAME=account.pw_name)
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=2).close()  # 2 s is libpq's least
    except psycopg2.OperationalError:
        return False
    return True


@contextmanager
def admin_cursor(url: str) -> Iterator[psycopg2.extensions.cursor]:
    connection = psycopg2.connect(url, connect_timeout=10)
    try:
        connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()
