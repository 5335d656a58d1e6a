"""A throwaway Citus cluster (a coordinator and two workers) for tests marked ``citus``.

Each node is a `tests.servers.PostgresCluster` on a free port of 127.0.0.1, run as the
``postgres`` OS user when we are root, with ``shared_preload_libraries = 'citus'``. All nodes
share the coordinator's superuser password, and Citus reaches the other nodes with it through
``pg_dist_authinfo`` (TCP connections use scram-sha-256, as in the rest of the suite).

Citus metadata lives in each database: `CitusCluster.create_database(name)` creates the
database on every node, creates the extension in each and registers the workers in the
coordinator's copy; `authorize(database, role, password)` lets Citus open connections to the
workers as an application role. The cluster's own ``postgres`` database is prepared the same
way by `start()`.

As a production cluster's workers must, the workers admit only the other nodes: the
coordinator reaches each worker through its Unix socket (the worker is registered by its
socket directory), and a worker's pg_hba.conf rejects every role but the superuser over TCP;
``track_activities`` is off on the workers, so no role reads another backend's statement
there (the statements Citus sends carry the transactions' node identities).
So a client with the application role's URL can use the coordinator only; the application
role connected straight to a worker could adopt another transaction's distributed id and
write into a local shard past row-level security (SPEC §17).

The Citus extension must be installed in the PostgreSQL installation first (it is not
packaged by Debian); `citus_available()` says whether it is.

Smoke run: ``python -m tests.citus.cluster`` starts a cluster, lists the active workers and
stops it.
"""

import subprocess
import sys
from pathlib import Path
from typing import Self

import psycopg2
from psycopg2 import sql

from tests.servers import PostgresCluster, ServerError, admin_cursor, find_pg_bindir

# Appended to every node's postgresql.conf before the restart that loads Citus. Multi-shard
# writes commit with two-phase commit, which needs prepared transactions.
CITUS_SETTINGS = """
shared_preload_libraries = 'citus'
max_prepared_transactions = 100
"""
# On a worker, no role sees another backend's statement (pg_stat_activity): the statements
# Citus sends carry the node identities of the transactions (SPEC §17).
WORKER_SETTINGS = """
track_activities = off
"""
WORKERS = 2
HOST = "127.0.0.1"
# A worker's pg_hba.conf: the nodes (through the socket) and the superuser (over TCP: the
# tests' administration) only; the application role's TCP connections are refused.
WORKER_HBA = f"""local all all scram-sha-256
host all postgres {HOST}/32 scram-sha-256
host all all {HOST}/32 reject
"""


def citus_available(bindir: Path | None = None) -> bool:
    """Whether the PostgreSQL installation of bindir (default: the newest) has Citus."""
    bindir = bindir or find_pg_bindir()
    pg_config = bindir / "pg_config" if bindir else None
    if pg_config is None or not pg_config.is_file():
        return False
    answer = subprocess.run(
        [str(pg_config), "--pkglibdir", "--sharedir"], capture_output=True, text=True
    )
    if answer.returncode != 0:
        return False
    libdir, sharedir = answer.stdout.split("\n")[:2]
    return (Path(libdir) / "citus.so").is_file() and (
        Path(sharedir) / "extension/citus.control"
    ).is_file()


class CitusCluster:
    """A coordinator and its workers; start it with `start()`, stop it with `stop()`."""

    def __init__(self, coordinator: PostgresCluster, workers: list[PostgresCluster]):
        self.coordinator = coordinator
        self.workers = workers

    @classmethod
    def start(cls, base_dir: Path | None = None, *, workers: int = WORKERS) -> Self:
        """Start the nodes, load Citus in each and register the workers (database postgres)."""
        nodes: list[PostgresCluster] = []
        try:
            for _ in range(1 + workers):
                nodes.append(PostgresCluster.start(base_dir))
            cluster = cls(nodes[0], nodes[1:])
            for node in nodes:
                node.password = cluster._share_password(node)
                with open(node.datadir / "postgresql.conf", "a") as conf:
                    conf.write(CITUS_SETTINGS)
                    if node is not cluster.coordinator:
                        conf.write(WORKER_SETTINGS)
                if node is not cluster.coordinator:
                    (node.datadir / "pg_hba.conf").write_text(WORKER_HBA)
                node.restart()
            cluster._prepare("postgres")
        except BaseException:
            for node in nodes:
                node.stop()
            raise
        return cluster

    @property
    def nodes(self) -> list[PostgresCluster]:
        return [self.coordinator, *self.workers]

    @property
    def password(self) -> str:
        """The superuser's password, the same on every node."""
        return self.coordinator.password

    def admin_url(self) -> str:
        """The coordinator's superuser URL (database postgres)."""
        return self.coordinator.admin_url()

    def database_url(self, name: str) -> str:
        return self.coordinator.database_url(name)

    def create_database(self, name: str, *, owner: str | None = None) -> str:
        """Create database name on every node, Citus in each, workers registered; its URL.

        Citus does not propagate CREATE DATABASE by default, hence one per node. The owner
        role must exist: create it on the coordinator (Citus propagates roles to the workers).
        """
        for node in self.nodes:
            node.create_database(name, owner=owner)
        self._prepare(name)
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        for node in self.nodes:
            node.drop_database(name)

    def authorize(self, database: str, role: str, password: str) -> None:
        """Let Citus connect to every node as role (for the statements role runs)."""
        for node in self.nodes:
            with admin_cursor(node.database_url(database)) as cursor:
                _store_authinfo(cursor, role, password)

    def active_workers(self, database: str = "postgres") -> list[tuple[str, int]]:
        """citus_get_active_worker_nodes() as seen by the coordinator."""
        with admin_cursor(self.database_url(database)) as cursor:
            cursor.execute("SELECT * FROM citus_get_active_worker_nodes() ORDER BY 2")
            return [(name, port) for name, port in cursor.fetchall()]

    def stop(self) -> None:
        """Stop every node and delete its directory; safe to call again."""
        for node in reversed(self.nodes):
            node.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _share_password(self, node: PostgresCluster) -> str:
        """Give node the coordinator's superuser password; return it."""
        if node is not self.coordinator:
            with admin_cursor(node.admin_url()) as cursor:
                cursor.execute(
                    sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(self.password))
                )
        return self.password

    def _prepare(self, database: str) -> None:
        """Citus in database on every node; the coordinator knows itself and the workers."""
        for node in self.nodes:
            with admin_cursor(node.database_url(database)) as cursor:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS citus")
                _store_authinfo(cursor, "postgres", self.password)
        with admin_cursor(self.database_url(database)) as cursor:
            cursor.execute(
                "SELECT citus_set_coordinator_host(%s, %s)", (HOST, self.coordinator.port)
            )
            for worker in self.workers:
                cursor.execute(
                    "SELECT citus_add_node(%s, %s)", (str(worker.socket_dir), worker.port)
                )


def _store_authinfo(cursor: psycopg2.extensions.cursor, role: str, password: str) -> None:
    """The password Citus uses to reach any node (nodeid 0) as role."""
    cursor.execute(
        "INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, %s, %s)"
        " ON CONFLICT (nodeid, rolename) DO UPDATE SET authinfo = excluded.authinfo",
        (role, "password=" + _conninfo_quote(password)),
    )


def _conninfo_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def main() -> int:
    if not citus_available():
        _say("Citus is not installed in the PostgreSQL installation")
        return 1
    try:
        with CitusCluster.start() as cluster:
            ports = ", ".join(str(node.port) for node in cluster.nodes)
            _say(f"coordinator and workers on 127.0.0.1 ports {ports}")
            with admin_cursor(cluster.admin_url()) as cursor:
                cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
                (version,) = cursor.fetchone() or ("none",)
                _say(f"citus {version}")
            _say("citus_get_active_worker_nodes():")
            for name, port in cluster.active_workers():
                _say(f"  {name} {port}")
    except (ServerError, psycopg2.Error) as exc:
        _say(f"citus cluster failed: {exc}")
        return 1
    _say("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
