"""taskcli on a 3-node Citus cluster (SPEC §17): `db distribute`, every command through the
application role with users whose shards are on different workers, the isolation of §12
attacked as that role, concurrency and a large import.

The cluster (tests/citus/cluster.py) needs the Citus extension in the PostgreSQL
installation; without it the module is skipped, also under CI=true (CI machines cannot
build Citus: the one skip the suite allows).
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from tests.citus.cluster import CitusCluster, citus_available
from tests.conftest import PASSWORD, Taskcli, run_process
from tests.servers import admin_cursor

pytestmark = [
    pytest.mark.citus,
    pytest.mark.skipif(
        not citus_available(), reason="Citus is not installed in the PostgreSQL installation"
    ),
]

APP_ROLE = "taskcli_app"
APP_PASSWORD = "app-password-of-the-test"


@dataclass
class Deployment:
    cluster: CitusCluster
    owner_url: str
    app_url: str
    home: Path
    first_distribute: str

    def env(self, user: str) -> dict[str, str]:
        return {
            "TASKCLI_DATABASE_URL": self.app_url,
            "TASKCLI_CONFIG_DIR": str(self.home / user / "config"),
            "TASKCLI_DATA_DIR": str(self.home / user / "data"),
        }

    def owner(self, query: str, parameters: tuple = ()) -> list[tuple]:
        with admin_cursor(self.owner_url) as cursor:
            cursor.execute(query, parameters)
            return cursor.fetchall() if cursor.description else []

    def worker_of(self, email: str) -> int:
        """The port of the worker that holds the user's shard of every per-user table."""
        ((port,),) = self.owner(
            "SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) "
            "WHERE p.shardid = get_shard_id_for_distribution_column('tasks', "
            "(SELECT id FROM users WHERE email = %s))",
            (email,),
        )
        return port


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    cluster = CitusCluster.start(tmp_path_factory.mktemp("citus"))
    try:
        with admin_cursor(cluster.admin_url()) as cursor:
            cursor.execute(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'")
        owner_url = cluster.create_database("taskcli")
        cluster.authorize("taskcli", APP_ROLE, APP_PASSWORD)
        taskcli = Taskcli()
        owner = ["--database-url", owner_url]
        taskcli.ok("db", "migrate", *owner)
        taskcli.ok("db", "grant", APP_ROLE, *owner)
        first = taskcli.ok("db", "distribute", *owner).stdout
        app_url = cluster.coordinator.url_as(owner_url, APP_ROLE, APP_PASSWORD)
        yield Deployment(cluster, owner_url, app_url, tmp_path_factory.mktemp("homes"), first)
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def users(deployment) -> dict[str, str]:
    """Two users whose shards are on different workers: name -> email."""
    taskcli, seen = Taskcli(), {}
    for name in ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"):
        email = f"{name}@example.com"
        taskcli.ok(
            "register", "--email", email, "--password-stdin",
            input=PASSWORD, env=deployment.env(name),
        )  # fmt: skip
        seen.setdefault(deployment.worker_of(email), (name, email))
        if len(seen) == 2:
            break
    assert len(seen) == 2, "every user landed on one worker"
    return dict(seen.values())


def as_user(deployment: Deployment, name: str):
    taskcli = Taskcli()

    def run(*args: str, input: str | None = None, ok: bool = True):
        result = taskcli(*args, input=input, env=deployment.env(name))
        if ok:
            assert result.exit_code == 0, (name, args, result.stdout, result.stderr)
        return result

    return run


# ---- db distribute ------------------------------------------------------------------------


def test_distribute_converts_the_schema_and_a_second_run_finds_nothing_to_do(deployment):
    first = deployment.first_distribute
    assert "tasks: distributed by user_id, co-located with sessions" in first
    assert "users: reference table" in first and "meta: reference table" in first
    assert "revoked EXECUTE on assign_distributed_transaction_id from PUBLIC" in first
    assert "revoked EXECUTE on run_command_on_workers from PUBLIC" in first
    again = Taskcli().ok("db", "distribute", "--json", "--database-url", deployment.owner_url)
    document = again.json()
    assert document["done"] == []
    assert "assign_distributed_transaction_id: not executable by PUBLIC" in document["found"]
    assert "get_all_active_transactions: not executable by PUBLIC" in document["found"]
    placement = dict(
        deployment.owner(
            "SELECT logicalrelid::text, partmethod::text || repmodel::text FROM pg_dist_partition"
        )
    )
    per_user = ("tasks", "sessions", "counters", "contexts", "journal", "journal_tasks")
    assert {table: placement[table] for table in per_user} == dict.fromkeys(per_user, "hs")
    assert placement["users"] == placement["meta"] == "nt"
    assert "spent_nonces" not in placement and "login_failures" not in placement
    colocation = {
        row[0]
        for row in deployment.owner(
            "SELECT colocationid FROM pg_dist_partition WHERE logicalrelid::text = ANY(%s)",
            (list(per_user),),
        )
    }
    assert len(colocation) == 1


def test_the_application_role_may_not_distribute(deployment):
    result = Taskcli()("db", "distribute", "--database-url", deployment.app_url)
    assert result.exit_code == 8
    assert result.stderr.count("\n") == 1


# ---- every command, through the application role ------------------------------------------


def test_every_command_works_for_users_on_different_workers(deployment, users, tmp_path):
    (first, second) = users
    assert deployment.worker_of(users[first]) != deployment.worker_of(users[second])
    for name in users:
        run = as_user(deployment, name)
        run("add", f"plan of {name}", "--priority", "high", "--tag", "work")
        run("add", f"errand of {name}", "--project", "home")
        titles = [t["title"] for t in run("list", "--json").json()]
        assert titles == [f"plan of {name}", f"errand of {name}"]
        run("show", "1")
        run("update", "2", "--priority", "low")
        run("start", "2")
        run("stop", "2")
        run("done", "1")
        run("reopen", "1")
        run("done", "1")
        run("delete", "2", "--yes")
        steps = run("history", "--json").json()
        assert [step["command"] for step in steps][:3] == ["delete", "done", "reopen"]
        run("undo", "--yes")  # the delete
        assert len(run("list", "--all", "--json").json()) == 2
        run("stats")
        run("context", "define", "chores", "--project", "home")
        run("context", "use", "chores")
        assert [t["title"] for t in run("list", "--json").json()] == [f"errand of {name}"]
        run("context", "use", "none")
        run("export", "--output", str(tmp_path / f"{name}.json"))
        run("whoami")
        run("sessions")
    # each sees exactly their own tasks, whatever worker holds them
    for name in users:
        titles = {t["title"] for t in as_user(deployment, name)("list", "--all", "--json").json()}
        assert titles == {f"plan of {name}", f"errand of {name}"}
    # one user imports the other's export: the same task ids, their own rows
    run = as_user(deployment, first)
    assert "created 2" in run("import", str(tmp_path / f"{second}.json")).stdout
    assert len(run("list", "--all", "--json").json()) == 4
    assert len(as_user(deployment, second)("list", "--all", "--json").json()) == 2


def test_account_and_administrator_commands_work_on_the_cluster(deployment, users):
    owner = ["--database-url", deployment.owner_url]
    name = "ivan"
    run = as_user(deployment, name)
    run("register", "--email", "ivan@example.com", "--password-stdin", input=PASSWORD)
    run("add", "kept")
    run("passwd", "--password-stdin", input=f"{PASSWORD}\nanother password\n")
    run("logout")
    run("login", "--email", "ivan@example.com", "--password-stdin", input="another password\n")
    wrong = run(
        "login", "--email", "ivan@example.com", "--password-stdin", input="nope\n", ok=False
    )
    assert wrong.exit_code == 3
    run("account", "email", "ivan2@example.com", "--password-stdin", input="another password\n")
    accounts = {a["email"]: a for a in Taskcli().ok("db", "users", "--json", *owner).json()}
    assert accounts["ivan2@example.com"]["task_count"] == 1
    Taskcli().ok("db", "lock", "ivan2@example.com", *owner)
    assert run("list", ok=False).exit_code == 3
    Taskcli().ok("db", "unlock", "ivan2@example.com", *owner)
    code = Taskcli().ok("db", "reset-password", "ivan2@example.com", "--json", *owner).json()
    reset = f"{code['code']}\nreset password 1\n"
    run("login", "--reset-code", "--email", "ivan2@example.com", "--password-stdin", input=reset)
    assert [t["title"] for t in run("list", "--json").json()] == ["kept"]
    run("account", "delete", "--yes", "--password-stdin", input="reset password 1\n")
    assert deployment.owner("SELECT count(*) FROM tasks WHERE title = 'kept'") == [(0,)]
    # rotate-key ends every session, on every worker
    Taskcli().ok("db", "rotate-key", "--yes", *owner)
    for other in users:
        assert as_user(deployment, other)("list", ok=False).exit_code == 3
        as_user(deployment, other)(
            "login", "--email", users[other], "--password-stdin", input=PASSWORD
        )


# ---- isolation, attacked as the application role ------------------------------------------


def _connect(url: str):
    connection = psycopg2.connect(url)
    connection.autocommit = False
    return connection


def _victim(deployment: Deployment, users: dict[str, str]) -> tuple[str, str]:
    name = next(iter(users))
    ((user_id, session_id),) = deployment.owner(
        "SELECT u.id, s.id FROM users u JOIN sessions s ON s.user_id = u.id "
        "WHERE u.email = %s AND s.revoked_at IS NULL ORDER BY s.created_at DESC LIMIT 1",
        (users[name],),
    )
    return str(user_id), str(session_id)


def test_the_application_role_alone_sees_and_changes_nothing(deployment, users):
    victim, _session = _victim(deployment, users)
    with _connect(deployment.app_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tasks")
        assert cursor.fetchone() == (0,)
        cursor.execute("SELECT count(*) FROM tasks WHERE user_id = %s", (victim,))
        assert cursor.fetchone() == (0,)
        cursor.execute("UPDATE tasks SET title = 'defaced' WHERE user_id = %s", (victim,))
        assert cursor.rowcount == 0
        cursor.execute("DELETE FROM tasks WHERE user_id = %s", (victim,))
        assert cursor.rowcount == 0
        with pytest.raises(psycopg2.Error, match="row-level security"):
            cursor.execute(
                "INSERT INTO tasks (id, user_id, number, title, status, priority, tags, "
                "created_at, updated_at) VALUES (gen_random_uuid(), %s, 99, 'forged', "
                "'pending', 'medium', '{}', now(), now())",
                (victim,),
            )
    assert deployment.owner("SELECT count(*) FROM tasks WHERE title IN ('forged', 'defaced')") == [
        (0,)
    ]


def test_a_node_identity_copied_into_another_transaction_is_worthless(deployment, users):
    victim, session = _victim(deployment, users)
    # A value that was valid: the owner computes it as taskcli_present would, bound to the
    # owner's own distributed transaction.
    with admin_cursor(deployment.owner_url) as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT count(*) FROM sessions")
        cursor.execute(
            "SELECT %s || '/' || %s || '/' || taskcli_node_mac(%s || '/' || %s || '/' "
            "|| taskcli_txid())",
            (victim, session, victim, session),
        )
        (value,) = cursor.fetchone()
        cursor.execute("COMMIT")
    with _connect(deployment.app_url) as connection, connection.cursor() as cursor:
        cursor.execute("SET LOCAL citus.propagate_set_commands = 'local'")
        cursor.execute("SELECT set_config('taskcli.node_identity', %s, true)", (value,))
        cursor.execute("SET LOCAL taskcli.node_identity = %s", (value,))
        cursor.execute("SELECT count(*) FROM tasks WHERE user_id = %s", (victim,))
        assert cursor.fetchone() == (0,)
        cursor.execute("SELECT count(*) FROM tasks")
        assert cursor.fetchone() == (0,)


def test_the_application_role_cannot_assign_a_distributed_transaction_id(deployment):
    with _connect(deployment.app_url) as connection, connection.cursor() as cursor:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute("SELECT assign_distributed_transaction_id(0, 12345, now())")


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM run_command_on_workers('SELECT 1')",
        "SELECT * FROM run_command_on_all_nodes('SELECT 1')",
        "SELECT * FROM run_command_on_coordinator('SELECT 1')",
        "SELECT * FROM run_command_on_shards('tasks', 'SELECT count(*) FROM %s')",
        "SELECT * FROM run_command_on_placements('tasks', 'SELECT count(*) FROM %s')",
        "SELECT * FROM run_command_on_colocated_placements('tasks', 'contexts', 'SELECT 1')",
        "SELECT * FROM master_run_on_worker(ARRAY['localhost'], ARRAY[5432], "
        "ARRAY['SELECT 1'], false)",
        "SELECT * FROM get_all_active_transactions()",
        "SELECT * FROM get_global_active_transactions()",
    ],
)
def test_the_application_role_cannot_run_sql_on_the_workers_or_watch_transactions(
    deployment, statement
):
    """Through these the role ran SQL on the workers (where a copied node identity plus an
    adopted transaction id read and changed another user's rows) and saw every live
    transaction's id and time."""
    with _connect(deployment.app_url) as connection, connection.cursor() as cursor:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute(statement)


def test_the_application_role_cannot_connect_to_a_worker(deployment):
    for worker in deployment.cluster.workers:
        url = worker.url_as(worker.database_url("taskcli"), APP_ROLE, APP_PASSWORD)
        with pytest.raises(psycopg2.OperationalError, match="pg_hba.conf rejects"):
            psycopg2.connect(url).close()


def test_a_message_replayed_on_the_workers_cannot_forge_a_row(deployment, users):
    """Citus 13.2 replays a client's whole message on the workers when it holds a SET LOCAL
    (with citus.propagate_set_commands = 'local'): the application role's own statements
    then run on a worker, where an INSERT ... SELECT into a local shard skips the
    policies' WITH CHECK. The insert guard refuses the row there, and no statement text of
    another backend (with its node identity) can be read on a worker."""
    victim, _session = _victim(deployment, users)
    forged = (
        "INSERT INTO tasks (id, user_id, number, title, status, priority, tags, created_at, "
        f"updated_at) SELECT gen_random_uuid(), '{victim}', 990 + g, 'forged by replay', "
        "'pending', 'medium', '{}', now(), now() FROM generate_series(1, 2) g"
    )
    message = (
        "BEGIN; SET LOCAL citus.allow_nested_distributed_execution = on; "
        "SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL taskcli.x = '1'; "
        f"{forged}; SELECT count(*) FROM tasks; COMMIT"
    )
    connection = psycopg2.connect(deployment.app_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor, pytest.raises(psycopg2.Error) as raised:
            cursor.execute(message)
    finally:
        connection.close()
    # the worker refuses it (Citus reports the worker's error as a failed connection)
    assert raised.value.pgcode is not None
    assert deployment.owner("SELECT count(*) FROM tasks WHERE title = 'forged by replay'") == [(0,)]
    for worker in deployment.cluster.workers:
        with admin_cursor(worker.database_url("taskcli")) as cursor:
            cursor.execute("SHOW track_activities")
            assert cursor.fetchone() == ("off",)


# ---- concurrency and volume ---------------------------------------------------------------


def test_twenty_concurrent_adders_lose_and_repeat_no_number(deployment, users):
    name = list(users)[1]
    before = {t["number"] for t in as_user(deployment, name)("list", "--all", "--json").json()}
    env = deployment.env(name)

    def add(index: int):
        return run_process("add", f"concurrent {index}", env=env, timeout=300)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(add, range(20)))
    assert [r.exit_code for r in results] == [0] * 20, [r.stderr for r in results if r.exit_code]
    tasks = as_user(deployment, name)("list", "--all", "--json").json()
    added = [t["number"] for t in tasks if t["number"] not in before]
    assert sorted(added) == list(range(max(before) + 1, max(before) + 21))
    assert sorted(t["title"] for t in tasks if t["number"] in added) == sorted(
        f"concurrent {index}" for index in range(20)
    )


def test_an_import_of_50k_tasks(deployment, tmp_path, capsys):
    name = "judy"
    run = as_user(deployment, name)
    run("register", "--email", "judy@example.com", "--password-stdin", input=PASSWORD)
    count = 50_000
    records = [
        {"id": str(uuid.uuid4()), "title": f"imported {i}", "status": "pending", "tags": ["bulk"]}
        for i in range(count)
    ]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(records))
    started = time.perf_counter()
    result = run("import", str(path))
    elapsed = time.perf_counter() - started
    assert f"created {count}" in result.stdout
    assert deployment.owner(
        "SELECT count(*), count(DISTINCT number), max(number) FROM tasks "
        "WHERE user_id = (SELECT id FROM users WHERE email = 'judy@example.com')"
    ) == [(count, count, count)]
    with capsys.disabled():
        print(f"\n  import of {count} tasks on the cluster: {elapsed:.1f} s")  # noqa: T201 - the figure for the report
    run("undo", "--yes")  # the import is one journal step
    assert run("list", "--all", "--json").json() == []


# ---- a migration after distribution -------------------------------------------------------


def test_migrations_apply_to_the_distributed_schema_and_distribute_puts_back_its_variants(
    deployment, users, tmp_path
):
    """0009 downgraded and applied again through `db downgrade` / `db migrate` (Citus
    propagates the DDL to the shards and the functions to every node); the revision's
    plain taskcli_insert_staged replaces the Citus variant, which the next distribute puts
    back (and only that)."""
    owner = ["--database-url", deployment.owner_url]
    taskcli = Taskcli()
    taskcli.ok("db", "downgrade", "0008", "--yes", *owner)
    taskcli.ok("db", "migrate", *owner)
    again = taskcli.ok("db", "distribute", "--json", *owner).json()
    assert again["done"] == ["installed the Citus variant of taskcli_insert_staged"]
    name = list(users)[0]
    run = as_user(deployment, name)
    path = tmp_path / "one.json"
    path.write_text(json.dumps([{"title": "after the migration", "status": "pending"}]))
    assert "created 1" in run("import", str(path)).stdout
