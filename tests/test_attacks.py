"""The attacker's view: a raw SQL client holding the application role's URL, directly and
through PgBouncer, against a database where two users, A and B, keep tasks.

Nothing here goes through taskcli's commands except to set the scene; every attack is a
statement typed into psycopg2 as anyone with the URL could type it. What must hold
(SPEC §12): without a valid session proof no row of any taskcli table is read or
changed; with user A's proof only A's rows; no client-set value is trusted; nothing
copied from ``pg_stat_activity`` is worth replaying. Each user also keeps a context and an
annotation, so the planning tables and columns are attacked too.
"""

from __future__ import annotations

import os
import secrets
import uuid
from contextlib import closing
from dataclasses import dataclass

import psycopg2
import pytest
from psycopg2 import errors

from taskcli.core import pgsessions, proofs, security
from taskcli.core.db import SCHEMA_HEAD
from taskcli.core.models import SQLModel
from tests import servers
from tests.conftest import Taskcli
from tests.support.accounts import PASSWORD, create_logged_in_user, new_email
from tests.support.databases import admin_url
from tests.test_auth import stored_token

PRIVATE = ("users", "sessions", "meta", "spent_nonces", "login_failures")
PER_USER = ("tasks", "counters", "contexts", "journal", "journal_tasks")
CONTEXT = "private"  # both users define a context of this name


@dataclass
class Victim:
    email: str
    token: str
    claims: security.Claims
    task_id: str


@dataclass
class Scene:
    url: str  # what the attacker connects to: the application role, maybe pooled
    direct: str  # the application role, not pooled
    admin: str  # the superuser's URL of the same database, to check what really happened
    a: Victim
    b: Victim


def _victim(taskcli: Taskcli, data_dir) -> Victim:
    env = {"TASKCLI_DATA_DIR": str(data_dir)}
    email = create_logged_in_user(new_email(), env=env)
    title = f"secret of {email}"
    assert taskcli("add", title, "-d", "for my eyes only", env=env).exit_code == 0
    assert taskcli("annotate", "1", f"note of {email}", env=env).exit_code == 0
    defined = taskcli("context", "define", CONTEXT, "--search", title, env=env)
    assert defined.exit_code == 0, defined.stderr
    document = taskcli("show", "1", "--json", env=env).json()
    token = stored_token(data_dir)
    return Victim(email, token, security.unverified_claims(token), document["id"])


@pytest.fixture(params=["direct", "pgbouncer"])
def scene(request, taskcli, pg_app_url, tmp_path, monkeypatch) -> Scene:
    monkeypatch.setenv("TASKCLI_DATABASE_URL", pg_app_url)
    a, b = _victim(taskcli, tmp_path / "a"), _victim(taskcli, tmp_path / "b")
    url = pg_app_url
    if request.param == "pgbouncer":
        url = servers.through_pooler(pg_app_url, request.getfixturevalue("pgbouncer"))
    return Scene(url, pg_app_url, admin_url(pg_app_url), a, b)


def _connect(url: str):
    conn = psycopg2.connect(url)
    conn.autocommit = True  # as taskcli sends its statements
    return closing(conn)


def _run(url: str, statement: str, params=None) -> list[tuple]:
    with _connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _as(victim: Victim, statement: str) -> str:
    """``statement`` with a fresh proof of the victim's session in front, as taskcli sends it."""
    return pgsessions.Presenter(victim.claims).rewrite(statement, executemany=False)


def _snapshot(admin: str) -> dict[str, list[tuple]]:
    tables = ("users", "sessions", "meta", *PER_USER)
    return {table: sorted(map(repr, _run(admin, f"SELECT * FROM {table}"))) for table in tables}


def _refused(url: str, statement: str, params=None) -> str:
    """The SQLSTATE with which the database refuses ``statement``."""
    with pytest.raises(psycopg2.Error) as refused:
        _run(url, statement, params)
    return refused.value.pgcode


# ---- without a token ----------------------------------------------------------------------


def test_the_scene_is_real(scene):
    titles = [row[0] for row in _run(scene.admin, "SELECT title FROM tasks ORDER BY title")]
    assert titles == sorted([f"secret of {scene.a.email}", f"secret of {scene.b.email}"])
    owners = _run(scene.admin, "SELECT user_id FROM contexts WHERE name = %s", (CONTEXT,))
    assert sorted(owner for (owner,) in owners) == sorted(
        [str(scene.a.claims.user_id), str(scene.b.claims.user_id)]
    )
    assert _run(scene.url, "SELECT rolsuper, rolbypassrls FROM pg_roles "
                "WHERE rolname = current_user") == [(False, False)]  # fmt: skip


def test_without_a_token_every_table_reads_nothing_or_is_denied(scene):
    names = set(SQLModel.metadata.tables)
    assert names == {*PRIVATE, *PER_USER}, "a new table needs its attack here"
    for table in PER_USER:
        assert _run(scene.url, f"SELECT count(*) FROM {table}") == [(0,)]
    for table in PRIVATE:
        assert _refused(scene.url, f"SELECT * FROM {table}") == "42501"
    assert _run(scene.url, "SELECT * FROM alembic_version") == [(SCHEMA_HEAD,)]


WRITES = [
    "INSERT INTO tasks (id, user_id, number, title, status, priority, tags, created_at,"
    " updated_at) VALUES (gen_random_uuid(), %(a)s, 99, 'planted', 'pending', 'medium', '{}',"
    " now(), now())",
    "UPDATE tasks SET title = 'defaced'",
    "DELETE FROM tasks",
    "UPDATE counters SET next_task_number = 1",
    "UPDATE tasks SET annotations = NULL, depends = ARRAY[id]",
    "INSERT INTO contexts (user_id, name, filters, created_at, updated_at)"
    " VALUES (%(a)s, 'planted', '{}', now(), now())",
    "UPDATE contexts SET filters = 'defaced'",
    "DELETE FROM contexts",
    "TRUNCATE contexts",
    "INSERT INTO counters (user_id, next_task_number) VALUES (gen_random_uuid(), 1)",
    "UPDATE users SET password_verifier = '2'",
    "INSERT INTO sessions (id, user_id, secret_hash, created_at, expires_at)"
    " VALUES (gen_random_uuid(), %(a)s, 'x', now(), now() + interval '1 day')",
    "UPDATE sessions SET revoked_at = NULL",
    "UPDATE meta SET value = 'mine' WHERE key = 'signing_key'",
    "DELETE FROM spent_nonces",
    "DELETE FROM login_failures",
    "SELECT taskcli_rotate_key()",
    "TRUNCATE tasks",
    "INSERT INTO journal (user_id, step, at, command, client)"
    " VALUES (%(a)s, 99, now(), 'planted', 'x')",
    "UPDATE journal SET undone_at = now()",
    "DELETE FROM journal",
    "DELETE FROM journal_tasks",
    "TRUNCATE journal CASCADE",
    # a change that names its command: the trigger finds no user, so journals nothing
    "SELECT set_config('taskcli.command', 'add', false); UPDATE tasks SET title = 'x'",
]


def test_without_a_token_nothing_changes(scene):
    before = _snapshot(scene.admin)
    for statement in WRITES:
        try:
            _run(scene.url, statement, {"a": str(scene.a.claims.user_id)})
        except psycopg2.Error as refused:
            assert refused.pgcode == "42501", (statement, refused)
    assert _snapshot(scene.admin) == before


def test_without_a_token_the_functions_reveal_nothing(scene):
    known = _run(scene.url, "SELECT taskcli_password_setting(%s)", (scene.a.email,))[0][0]
    unknown = _run(scene.url, "SELECT taskcli_password_setting(%s)", (new_email(),))[0][0]
    again = _run(scene.url, "SELECT taskcli_password_setting(%s)", (scene.a.email,))[0][0]
    # a salt for any email, the same each time, of the same form: nothing says which exist
    assert known == again and known != unknown
    assert known.startswith(security.PASSWORD_SETTING) and unknown.startswith(
        security.PASSWORD_SETTING
    )
    assert len(known) == len(unknown) and security.SETTING_RE.match(unknown)
    assert _run(scene.url, "SELECT * FROM taskcli_whoami()") == []
    assert _refused(scene.url, "SELECT taskcli_logout(true)") == "28000"
    assert _run(scene.url, "SELECT taskcli_uid()") == [(None,)]
    # register says only whether the email is taken
    setting, verifier = security.new_password(PASSWORD)
    taken = _run(scene.url, "SELECT status, user_id FROM taskcli_register(%s, %s, %s, 'x', 1)",
                 (scene.a.email, setting, verifier))  # fmt: skip
    assert taken == [("taken", None)]


def test_an_emails_salt_does_not_change_when_it_registers(scene, taskcli, tmp_path):
    email = new_email()
    before = _run(scene.url, "SELECT taskcli_password_setting(%s)", (email,))
    env = {"TASKCLI_DATA_DIR": str(tmp_path / "newcomer")}
    registered = taskcli("register", "-e", email, "--password-stdin", input=PASSWORD, env=env)
    assert registered.exit_code == 0, registered.stderr
    assert _run(scene.url, "SELECT taskcli_password_setting(%s)", (email,)) == before
    stored = _run(scene.admin, "SELECT password_setting FROM users WHERE email = %s", (email,))
    assert stored == before


# ---- with A's token -------------------------------------------------------------------------


def test_with_a_token_only_its_own_rows(scene):
    a = scene.a
    rows = _run(scene.url, _as(a, "SELECT user_id, title, description FROM tasks"))
    assert rows == [(str(a.claims.user_id), f"secret of {a.email}", "for my eyes only")]
    assert _run(scene.url, _as(a, "SELECT user_id FROM counters")) == [(str(a.claims.user_id),)]
    assert _run(scene.url, _as(a, "SELECT user_id, name FROM contexts")) == [
        (str(a.claims.user_id), CONTEXT)
    ]
    notes = _run(scene.url, _as(a, "SELECT annotations FROM tasks WHERE annotations LIKE %s"),
                 ("%note of%",))  # fmt: skip
    assert len(notes) == 1 and a.email in notes[0][0] and scene.b.email not in notes[0][0]
    for table in PRIVATE:
        assert _refused(scene.url, _as(a, f"SELECT * FROM {table}")) == "42501"


def test_with_a_token_another_users_contexts_are_out_of_reach(scene):
    a, b = scene.a, scene.b
    before = _snapshot(scene.admin)
    plant = ("INSERT INTO contexts (user_id, name, filters, created_at, updated_at) "
             "VALUES (%s, %s, '{}', now(), now())")  # fmt: skip
    for name in (CONTEXT, "planted"):
        assert _refused(scene.url, _as(a, plant), (str(b.claims.user_id), name)) == "42501"
    move = "UPDATE contexts SET user_id = %s WHERE name = %s"
    assert _refused(scene.url, _as(a, move), (str(b.claims.user_id), CONTEXT)) == "42501"
    others = "WHERE user_id = %s RETURNING name"
    for statement in (f"UPDATE contexts SET filters = '{{}}' {others}",
                      f"UPDATE contexts SET user_id = user_id {others}",
                      f"DELETE FROM contexts {others}"):  # fmt: skip
        assert _run(scene.url, _as(a, statement), (str(b.claims.user_id),)) == [], statement
    probe = "SELECT count(*) FROM contexts WHERE user_id = %s OR filters LIKE %s"
    assert _run(scene.url, _as(a, probe), (str(b.claims.user_id), f"%{b.email}%")) == [(0,)]
    assert _snapshot(scene.admin) == before


def test_with_a_token_another_users_journal_is_out_of_reach(scene):
    a, b = scene.a, scene.b
    before = _snapshot(scene.admin)
    assert _run(scene.admin, "SELECT count(*) FROM journal_tasks WHERE user_id = %s",
                (str(b.claims.user_id),)) == [(2,)]  # B's add and annotate  # fmt: skip
    for table in ("journal", "journal_tasks"):
        assert _run(scene.url, _as(a, f"SELECT count(*) FROM {table} WHERE user_id = %s"),
                    (str(b.claims.user_id),)) == [(0,)]  # fmt: skip
    plants = [
        ("INSERT INTO journal (user_id, step, at, command, client) "
         "VALUES (%s, 99, now(), 'planted', 'x')", (str(b.claims.user_id),)),
        ("INSERT INTO journal_tasks (user_id, step, id, existed, number, title) "
         "VALUES (%s, 1, %s, true, 1, 'planted')", (str(b.claims.user_id), b.task_id)),
        ("UPDATE journal SET user_id = %s", (str(b.claims.user_id),)),
    ]  # fmt: skip
    for statement, params in plants:
        assert _refused(scene.url, _as(a, statement), params) in ("42501", "23503"), statement
    for statement in ("UPDATE journal SET undone_at = now() WHERE user_id = %s RETURNING step",
                      "DELETE FROM journal_tasks WHERE user_id = %s RETURNING step",
                      "DELETE FROM journal WHERE user_id = %s RETURNING step"):  # fmt: skip
        assert _run(scene.url, _as(a, statement), (str(b.claims.user_id),)) == [], statement
    # A's own change, journaled as taskcli journals it, lands in A's journal only, even
    # when A claims a step number of B's
    change = ("SELECT set_config('taskcli.command', 'update', true), "
              "set_config('taskcli.step', '1', true); "
              "UPDATE tasks SET title = 'mine' WHERE id = %s RETURNING id")  # fmt: skip
    try:
        _run(scene.url, _as(a, change), (a.task_id,))
    except psycopg2.Error as refused:
        assert refused.pgcode in ("42501", "23503", "23505")
    after = _snapshot(scene.admin)
    for table in ("journal", "journal_tasks", "users", "sessions", "contexts"):
        theirs = [row for row in after[table] if str(b.claims.user_id) in row]
        assert theirs == [row for row in before[table] if str(b.claims.user_id) in row], table


def test_a_dependency_on_another_users_task_never_blocks_or_reveals_it(scene, taskcli, tmp_path):
    a, b = scene.a, scene.b
    as_a, as_b = ({"TASKCLI_DATA_DIR": str(tmp_path / name)} for name in ("a", "b"))

    def urgency(env) -> float:
        [task] = taskcli("next", "--json", env=env).json()
        return task["urgency"]

    urgencies = urgency(as_a), urgency(as_b)
    # A points its task at B's task id behind taskcli's back: the row is A's to write
    point = "UPDATE tasks SET depends = ARRAY[%s]::uuid[] WHERE id = %s RETURNING id"
    assert _run(scene.url, _as(a, point), (b.task_id, a.task_id)) == [(a.task_id,)]
    for env in (as_a, as_b):
        assert taskcli("list", "--blocked", "--json", env=env).json() == []
        assert [t["number"] for t in taskcli("list", "--ready", "--json", env=env).json()] == [1]
    # neither blocked (A) nor blocking (B): both urgencies are what they were
    assert (urgency(as_a), urgency(as_b)) == pytest.approx(urgencies, abs=0.01)
    # naming B's task id answers as an id that exists nowhere does
    for command in (["update", "1", "--add-depends"], ["add", "probe", "--depends"]):
        known = taskcli(*command, b.task_id, env=as_a)
        unknown_id = str(uuid.uuid4())
        unknown = taskcli(*command, unknown_id, env=as_a)
        assert known.exit_code == unknown.exit_code == 4, known.stderr
        assert known.stderr.replace(b.task_id, "ID") == unknown.stderr.replace(unknown_id, "ID")
    assert len(taskcli("list", "--json", env=as_a).json()) == 1


def test_with_a_token_no_row_is_made_for_or_moved_to_another_user(scene):
    a, b = scene.a, scene.b
    before = _snapshot(scene.admin)
    plant = (
        "INSERT INTO tasks (id, user_id, number, title, status, priority, tags, created_at,"
        " updated_at) VALUES (gen_random_uuid(), %s, 77, 'planted', 'pending', 'medium', '{}',"
        " now(), now())"
    )
    assert _refused(scene.url, _as(a, plant), (str(b.claims.user_id),)) == "42501"
    move = "UPDATE tasks SET user_id = %s WHERE id = %s"
    assert _refused(scene.url, _as(a, move), (str(b.claims.user_id), a.task_id)) == "42501"
    steal = "UPDATE tasks SET user_id = %s WHERE id = %s"
    assert _run(scene.url, _as(a, steal + " RETURNING id"),
                (str(a.claims.user_id), b.task_id)) == []  # fmt: skip
    assert _run(scene.url, _as(a, "DELETE FROM tasks WHERE id = %s RETURNING id"),
                (b.task_id,)) == []  # fmt: skip
    reset = "UPDATE counters SET next_task_number = 1 WHERE user_id = %s RETURNING user_id"
    assert _run(scene.url, _as(a, reset), (str(b.claims.user_id),)) == []
    assert _snapshot(scene.admin) == before


def test_guessing_another_users_ids_and_numbers_reveals_nothing(scene):
    a, b = scene.a, scene.b
    probe = "SELECT count(*) FROM tasks WHERE id = %s OR number = %s"
    for target in (b.task_id, str(uuid.uuid4())):
        assert _run(scene.url, _as(a, probe), (target, 99)) == [(0,)]
    # number 1 exists for both: A sees exactly its own
    assert _run(scene.url, _as(a, "SELECT id FROM tasks WHERE number = 1")) == [(a.task_id,)]


# ---- tokens that must give nothing ---------------------------------------------------------


def _claims_with(victim: Victim, **changes) -> security.Claims:
    values = {**victim.claims.__dict__, **changes}
    return security.Claims(**values)


def _as_claims(claims: security.Claims, statement: str) -> str:
    return pgsessions.Presenter(claims).rewrite(statement, executemany=False)


def test_forged_expired_revoked_and_foreign_tokens_give_nothing(scene, taskcli, tmp_path):
    a, b = scene.a, scene.b
    count = "SELECT count(*) FROM tasks"
    forged = [
        _claims_with(a, secret=secrets.token_urlsafe(32)),  # the secret guessed
        _claims_with(a, user_id=b.claims.user_id),  # A's secret, B's name
        _claims_with(a, session_id=b.claims.session_id, user_id=b.claims.user_id),
        _claims_with(a, session_id=uuid.uuid4()),
        _claims_with(a, audience=str(uuid.uuid4())),  # another database's token
    ]
    for claims in forged:
        assert _refused(scene.url, _as_claims(claims, count)) == "28000"
    _run(scene.admin, "UPDATE sessions SET expires_at = now() - interval '1 hour' "
         "WHERE id = %s", (str(b.claims.session_id),))  # fmt: skip
    with pytest.raises(errors.InvalidAuthorizationSpecification, match="expired"):
        _run(scene.url, _as(b, count))
    assert taskcli("logout", env={"TASKCLI_DATA_DIR": str(tmp_path / "a")}).exit_code == 0
    with pytest.raises(errors.InvalidAuthorizationSpecification, match="logged out"):
        _run(scene.url, _as(a, count))


def test_an_identity_set_by_hand_is_not_trusted(scene):
    a, b = scene.a, scene.b
    claimed = f"{b.claims.user_id}/{b.claims.session_id}/{'0' * 64}"
    statement = "SELECT set_config('taskcli.identity', %s, false); SELECT count(*) FROM tasks"
    assert _run(scene.url, statement, (claimed,)) == [(0,)]
    # A's own genuine identity, carried out of its transaction into the next one
    with _connect(scene.url) as conn, conn.cursor() as cursor:
        cursor.execute(_as(a, "SELECT current_setting('taskcli.identity')"))
        (genuine,) = cursor.fetchone()
        assert genuine.startswith(str(a.claims.user_id))
        cursor.execute("SELECT current_setting('taskcli.identity', true)")
        assert cursor.fetchone()[0] != genuine  # transaction-local: gone
        cursor.execute(statement, (genuine,))
        assert cursor.fetchone() == (0,)


def test_a_statement_copied_from_pg_stat_activity_cannot_be_replayed(scene):
    a = scene.a
    with _connect(scene.url) as victim, victim.cursor() as cursor:
        cursor.execute(_as(a, "SELECT title FROM tasks"))
        assert cursor.fetchall() == [(f"secret of {a.email}",)]
        # the idle victim connection (through the pooler, the server connection it used)
        # still shows its last statement to every session of the role
        seen = _run(scene.direct, "SELECT query FROM pg_stat_activity WHERE query LIKE "
                    "'%taskcli_present%' AND pid <> pg_backend_pid()")  # fmt: skip
    copied = [row[0] for row in seen]
    assert copied, "the victim's statement is visible in pg_stat_activity"
    for statement in copied:
        assert a.claims.secret not in statement
        assert _refused(scene.url, statement) == "28000"
        # the copy's proof in front of the attacker's own query: no better
        attack = statement.rsplit(";", 1)[0] + "; SELECT count(*) FROM tasks"
        assert _refused(scene.url, attack) == "28000"


def test_a_proof_whose_work_was_rolled_back_is_spent_all_the_same(scene):
    statement = _as(scene.a, "SELECT 1 / 0")
    assert _refused(scene.url, statement) == "22012"  # division by zero: the work failed
    retry = statement.replace("SELECT 1 / 0", "SELECT count(*) FROM tasks")
    assert _refused(scene.url, retry) == "28000"


# ---- the functions and the schema under attack ---------------------------------------------


def test_a_search_path_hijack_changes_nothing(scene):
    a = scene.a
    before = _run(scene.url, "SELECT taskcli_password_setting(%s)", (a.email,))
    hijack = """
        CREATE FUNCTION pg_temp.taskcli_meta(text) RETURNS text LANGUAGE sql
            AS $$ SELECT 'attacker' $$;
        CREATE FUNCTION pg_temp.taskcli_identity(OUT user_id uuid, OUT session_id uuid)
            LANGUAGE sql AS $$ SELECT %(b)s::uuid, %(b)s::uuid $$;
        CREATE FUNCTION pg_temp.sha256(bytea) RETURNS bytea LANGUAGE sql
            AS $$ SELECT '\\x00'::bytea $$;
        CREATE FUNCTION pg_temp.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;
        SET search_path = pg_temp, public;
    """
    with _connect(scene.url) as conn, conn.cursor() as cursor:
        cursor.execute(hijack, {"b": str(scene.b.claims.user_id)})
        cursor.execute("SELECT taskcli_password_setting(%s)", (a.email,))
        assert cursor.fetchall() == before
        cursor.execute("SELECT public.taskcli_uid(), count(*) FROM public.tasks")
        assert cursor.fetchone() == (None, 0)
        cursor.execute(_as(a, "SELECT count(*) FROM public.tasks"))
        assert cursor.fetchone() == (1,)


def test_crafted_arguments_to_the_functions_change_nothing(scene):
    before = _snapshot(scene.admin)
    setting, verifier = security.new_password(PASSWORD)
    register = "SELECT * FROM taskcli_register(%s, %s, %s, 'x', 1)"
    refused = [
        ("not an email", setting, verifier),
        (new_email(), "$2b$04$weak", verifier),
        (new_email(), "$argon2id$v=19$m=8,t=1,p=1$" + setting[-22:], verifier),  # weak
        (new_email(), setting, "1"),
        (new_email(), setting, str(proofs.P)),
        (new_email(), setting, "1e9"),
        (new_email(), setting, "-5"),
    ]
    for params in refused:
        assert _refused(scene.url, register, params) == "22023", params
    for r, s in (("1", "0"), (str(proofs.P + 1), "5"), ("2", "9" * 700), ("'; --", "x")):
        nonce = uuid.uuid4()
        login = (
            f"SELECT taskcli_spend('{nonce}'); COMMIT; SELECT status FROM taskcli_login("
            "%s, %s, extract(epoch FROM now())::bigint, %s, %s, 'x', 3650, NULL, NULL)"
        )
        assert _run(scene.url, login, (scene.a.email, str(nonce), r, s)) == [("wrong",)]
    present = "SELECT taskcli_present(%s, %s, %s, 0, %s, %s)"
    args = (str(scene.a.claims.user_id), str(scene.a.claims.session_id), str(uuid.uuid4()),
            "zz' OR true --", scene.a.claims.audience)  # fmt: skip
    assert _refused(scene.url, present, args) == "28000"  # no spent nonce of this statement
    assert _snapshot(scene.admin) == before


def test_creating_objects_in_the_schema_is_refused(scene):
    for statement in (
        "CREATE TABLE public.planted (x int)",
        "CREATE FUNCTION public.taskcli_x() RETURNS uuid LANGUAGE sql AS $$ SELECT NULL $$",
        "CREATE VIEW public.all_tasks AS SELECT 1",
        "ALTER TABLE tasks DISABLE ROW LEVEL SECURITY",
        "DROP POLICY taskcli_user ON tasks",
        "ALTER FUNCTION taskcli_uid() SET search_path = pg_temp",
    ):  # fmt: skip
        assert _refused(scene.url, statement) == "42501", statement


def test_no_token_secret_or_verifier_shows_in_server_views(scene):
    _run(scene.url, _as(scene.a, "SELECT count(*) FROM tasks"))
    texts = [row[0] or "" for row in _run(scene.url, "SELECT query FROM pg_stat_activity")]
    settings = _run(scene.url, "SELECT name, setting FROM pg_settings WHERE name LIKE 'taskcli%%'")
    verifiers = [row[0] for row in _run(scene.admin, "SELECT password_verifier FROM users")]
    secrets_ = [scene.a.claims.secret, scene.b.claims.secret, *verifiers]
    for text in [*texts, *map(repr, settings)]:
        assert not any(secret in text for secret in secrets_)
    assert _run(scene.url, "SELECT current_setting('taskcli.identity', true)")[0][0] in (None, "")


# ---- throttling -----------------------------------------------------------------------------


def _login_attempt(url: str, email: str, password: str) -> tuple[str, tuple]:
    """A login statement and its parameters, ready to send (the argon2 work done)."""
    setting = _run(url, "SELECT taskcli_password_setting(%s)", (email,))[0][0]
    proof = proofs.login_proof(security.hash_with_setting(password, setting), email=email)
    return (
        f"SELECT taskcli_spend('{proof.nonce}'); COMMIT; SELECT status, retry_after FROM "
        "taskcli_login(%s, %s, %s, %s, %s, 'attacker', 1, NULL, NULL)",
        (email, str(proof.nonce), proof.ts, str(proof.r), str(proof.s)),
    )


def _login_status(url: str, email: str, password: str) -> tuple[str, int]:
    return _run(url, *_login_attempt(url, email, password))[0]


@pytest.mark.parametrize("known", [True, False], ids=["known-email", "unknown-email"])
def test_guessing_is_throttled_per_email_and_the_lock_is_short(scene, known):
    email = scene.a.email if known else new_email()
    # the right password's proof is made first: the first lock lasts 1 s, less than an
    # argon2 hash takes on a busy machine
    right = _login_attempt(scene.url, email, PASSWORD)
    guesses = [_login_attempt(scene.url, email, f"guess number {n}") for n in range(5)]
    statuses = [_run(scene.url, *guess)[0][0] for guess in guesses]
    assert statuses == ["wrong"] * 5
    status, wait = _run(scene.url, *right)[0]  # even the right password
    assert (status, 0 < wait <= 1) == ("throttled", True)
    # a stranger keeps failing: the lock grows, but never past a minute
    for _ in range(20):
        _run(scene.admin, "UPDATE login_failures SET locked_until = NULL")
        _login_status(scene.url, email, "stranger's guess")
    (longest,) = _run(scene.admin, "SELECT extract(epoch FROM max(locked_until - "
                      "last_failure_at)) FROM login_failures")[0]  # fmt: skip
    assert 30 < longest <= 60
    # another email is not affected, and once the lock passes the owner gets in
    assert _login_status(scene.url, scene.b.email, PASSWORD)[0] == "ok"
    _run(scene.admin, "UPDATE login_failures SET locked_until = now() - interval '1 s'")
    expected = "ok" if known else "wrong"
    assert _login_status(scene.url, email, PASSWORD)[0] == expected


def test_a_login_proof_cannot_be_replayed_or_altered(scene):
    email = scene.a.email
    setting = _run(scene.url, "SELECT taskcli_password_setting(%s)", (email,))[0][0]
    proof = proofs.login_proof(security.hash_with_setting(PASSWORD, setting), email=email)
    statement = (
        f"SELECT taskcli_spend('{proof.nonce}'); COMMIT; SELECT status FROM "
        "taskcli_login(%s, %s, %s, %s, %s, 'x', 1, %s, %s)"
    )
    args = [email, str(proof.nonce), proof.ts, str(proof.r), str(proof.s), None, None]
    assert _run(scene.url, statement, args) == [("ok",)]
    assert _refused(scene.url, statement, args) == "28000"  # the nonce is spent
    # a fresh nonce with the old proof, or the proof with a verifier of the attacker's
    other = uuid.uuid4()
    args[1] = str(other)
    assert _run(scene.url, statement.replace(str(proof.nonce), str(other)), args) == [("wrong",)]
    third = uuid.uuid4()
    new_setting, new_verifier = security.new_password("attacker's password")
    args[1], args[5], args[6] = str(third), new_setting, new_verifier
    assert _run(scene.url, statement.replace(str(proof.nonce), str(third)), args) == [("wrong",)]


# ---- the pooler -----------------------------------------------------------------------------


def test_a_pooled_server_connection_never_carries_an_identity_over(
    taskcli, pg_app_url, pgbouncer, tmp_path, monkeypatch
):
    monkeypatch.setenv("TASKCLI_DATABASE_URL", pg_app_url)
    a = _victim(taskcli, tmp_path / "a")
    pooled = servers.through_pooler(pg_app_url, pgbouncer)
    same_backend = 0
    with _connect(pooled) as victim, _connect(pooled) as attacker:
        for _ in range(10):
            with victim.cursor() as cursor:
                cursor.execute(_as(a, "SELECT pg_backend_pid(), count(*) FROM tasks"))
                victim_pid, seen = cursor.fetchone()
            assert seen == 1
            with attacker.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid(), current_setting('taskcli.identity', "
                               "true), taskcli_uid(), count(*) FROM tasks")  # fmt: skip
                pid, identity, uid, count = cursor.fetchone()
            assert (identity or "", uid, count) == ("", None, 0)
            same_backend += pid == victim_pid
    assert same_backend, "the two clients never shared a server connection"


def test_owner_only_functions_refuse_the_application_role(scene):
    assert _refused(scene.url, "SELECT taskcli_rotate_key()") == "42501"
    for helper in ("taskcli_hmac('a', 'b')", "taskcli_meta('signing_key')",
                   "taskcli_new_session(gen_random_uuid(), 'x', 1)"):  # fmt: skip
        assert _refused(scene.url, f"SELECT {helper}") == "42501", helper


@pytest.fixture(autouse=True)
def _only_with_postgres():
    if os.environ.get("CI") != "true" and servers.find_pg_bindir() is None:
        pytest.skip("PostgreSQL is not installed")
