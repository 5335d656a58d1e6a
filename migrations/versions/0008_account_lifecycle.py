"""the account lifecycle: password change, sessions, email change, deletion, lock, reset

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

``users`` gains ``locked_at`` (a locked account cannot log in), ``last_login_at``, and
an administrator's one-time reset code (``reset_code_hash``, its SHA-256, and
``reset_expires_at``); ``sessions`` gains ``ended_reason``, so a session that a password
change, a revoke, a lock or a reset ended says so.

On PostgreSQL, what a user does to the account goes through SECURITY DEFINER functions
that act on the session presented in the transaction only: ``taskcli_passwd``,
``taskcli_change_email`` and ``taskcli_delete_account`` demand a proof of the current
password (the login's, bound to what it authorises, throttled like a login),
``taskcli_sessions`` lists the account's live sessions and ``taskcli_revoke_sessions``
ends some of them. ``taskcli_reset_login`` exchanges a reset code, presented masked as a
session secret is, for a new password. ``taskcli_new_session`` refuses a locked account
(after the password was found right, so a stranger learns nothing) and notes the login;
``taskcli_present`` names why a session ended. Roles that hold the application
functions already get the new ones.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMP = sa.DateTime(timezone=True)
FREE_FAILURES = 5  # as 0004's login
MAX_LOCK = 60

# The application role's new functions (taskcli.core.roles.APPLICATION_FUNCTIONS has them).
PUBLIC_FUNCTIONS = (
    'taskcli_passwd(uuid, bigint, text, text, text, text)',
    'taskcli_change_email(uuid, bigint, text, text, text, text, text)',
    'taskcli_delete_account(uuid, bigint, text, text)',
    'taskcli_sessions()',
    'taskcli_revoke_sessions(uuid[])',
    'taskcli_reset_login(text, uuid, bigint, text, text, text, text, integer)',
)
HELPERS = (
    'taskcli_wait_for(text)',
    'taskcli_count_failure(text)',
    'taskcli_unmask(bytea, bytea, text)',
    'taskcli_confirm_password(uuid, bigint, text, text, text)',
)
# Why a session ended, as taskcli_present and taskcli.core.authentication word it.
ENDED_MESSAGE = """CASE live.ended_reason
            WHEN 'password' THEN 'your session ended (the account''s password was changed)'
            WHEN 'revoked' THEN 'your session ended (revoked with taskcli sessions revoke)'
            WHEN 'locked' THEN 'your session ended (the account is locked)'
            WHEN 'reset' THEN 'your session ended (the password was reset)'
            ELSE 'your session was logged out' END"""

FUNCTIONS = [
    # seconds until the throttle of an email lets a password check through (0: now)
    """
CREATE FUNCTION taskcli_wait_for(throttle text) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    locked timestamptz;
BEGIN
    SELECT f.locked_until INTO locked FROM login_failures f
    WHERE f.email_key = throttle FOR UPDATE;
    IF locked > statement_timestamp() THEN
        RETURN ceil(extract(epoch FROM locked - statement_timestamp()))::integer;
    END IF;
    RETURN 0;
END $$
""",
    # a wrong password (or reset code) for an email, counted as 0004's login counts it
    f"""
CREATE FUNCTION taskcli_count_failure(throttle text) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO login_failures AS f (email_key, failures, last_failure_at)
    VALUES (throttle, 1, statement_timestamp())
    ON CONFLICT (email_key) DO UPDATE SET
        failures = CASE WHEN f.last_failure_at < statement_timestamp() - interval '1 day'
                        THEN 1 ELSE f.failures + 1 END,
        last_failure_at = statement_timestamp(),
        locked_until = CASE WHEN f.failures + 1 >= {FREE_FAILURES}
            AND f.last_failure_at >= statement_timestamp() - interval '1 day'
            THEN statement_timestamp() + least(2 ^ (f.failures + 1 - {FREE_FAILURES}),
                                               {MAX_LOCK}) * interval '1 second' END;
END $$
""",
    # a secret sent as secret XOR HMAC(key, message): the secret (taskcli.core.proofs)
    """
CREATE FUNCTION taskcli_unmask(key bytea, message bytea, masked text) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    secret bytea;
    mask bytea;
BEGIN
    IF masked IS NULL OR masked !~ '^([0-9a-f]{2}){1,64}$' THEN
        RETURN NULL;
    END IF;
    secret := decode(masked, 'hex');
    mask := taskcli_hmac(key, message || '\\x01'::bytea)
            || taskcli_hmac(key, message || '\\x02'::bytea);
    FOR i IN 0 .. length(secret) - 1 LOOP
        secret := set_byte(secret, i, get_byte(secret, i) # get_byte(mask, i));
    END LOOP;
    RETURN secret;
END $$
""",
    # The password of the session's account, proven as at login and bound to ``purpose``
    # (what the proof authorises): 'ok', 'wrong' or 'throttled' (with retry_after).
    """
CREATE FUNCTION taskcli_confirm_password(nonce uuid, ts bigint, r text, s text,
    purpose text, OUT account uuid, OUT session uuid, OUT address text, OUT status text,
    OUT retry_after integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    verifier text;
    throttle text;
BEGIN
    SELECT i.user_id, i.session_id INTO account, session FROM taskcli_identity() i;
    SELECT u.email, u.password_verifier INTO address, verifier FROM users u
    WHERE u.id = account;
    IF account IS NULL OR address IS NULL THEN
        RAISE EXCEPTION 'not logged in' USING ERRCODE = '28000';
    END IF;
    throttle := taskcli_email_key(address);
    retry_after := taskcli_wait_for(throttle);
    IF retry_after > 0 THEN
        status := 'throttled';
        RETURN;
    END IF;
    PERFORM taskcli_require_spent(nonce);
    PERFORM taskcli_check_clock(ts);
    IF NOT taskcli_check_login(verifier, address, nonce, ts, r, s, purpose) THEN
        PERFORM taskcli_count_failure(throttle);
        status := 'wrong';
        RETURN;
    END IF;
    DELETE FROM login_failures f WHERE f.email_key = throttle;
    status := 'ok';
END $$
""",
    # 0004's, refusing a locked account and noting the login
    """
CREATE OR REPLACE FUNCTION taskcli_new_session(account uuid, client text, days integer,
    OUT session_id uuid, OUT secret text, OUT expires_at timestamptz, OUT audience text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM users u WHERE u.id = account AND u.locked_at IS NOT NULL) THEN
        RAISE EXCEPTION 'this account is locked' USING ERRCODE = '28000',
            HINT = 'ask the database administrator to unlock it';
    END IF;
    UPDATE users u SET last_login_at = date_trunc('second', statement_timestamp())
    WHERE u.id = account;
    session_id := gen_random_uuid();
    secret := rtrim(translate(encode(taskcli_random_bytes(), 'base64'), '+/', '-_'), '=');
    expires_at := date_trunc('second', statement_timestamp())
        + least(greatest(coalesce(days, 30), 1), 3650) * interval '1 day';
    audience := taskcli_meta('database_id');
    INSERT INTO sessions (id, user_id, secret_hash, created_at, expires_at, client)
    VALUES (session_id, account, encode(sha256(convert_to(secret, 'UTF8')), 'hex'),
            date_trunc('second', statement_timestamp()), expires_at, left(client, 255));
END $$
""",
    # 0004's, naming why an ended session ended
    f"""
CREATE OR REPLACE FUNCTION taskcli_present(account uuid, session uuid, nonce uuid,
    ts bigint, proof text, audience text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    live sessions%ROWTYPE;
    secret bytea;
BEGIN
    PERFORM taskcli_require_spent(nonce);
    IF audience IS DISTINCT FROM taskcli_meta('database_id') THEN
        RAISE EXCEPTION 'the session token belongs to another database'
            USING ERRCODE = '28000';
    END IF;
    PERFORM taskcli_check_clock(ts);
    SELECT * INTO live FROM sessions s WHERE s.user_id = account AND s.id = session;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'your session has ended' USING ERRCODE = '28000';
    END IF;
    secret := taskcli_unmask(decode(live.secret_hash, 'hex'),
        convert_to('taskcli-session|' || account || '|' || session || '|' || nonce
                   || '|' || ts, 'UTF8'), proof);
    IF secret IS NULL OR encode(sha256(secret), 'hex') <> live.secret_hash THEN
        RAISE EXCEPTION 'the session token is not valid for this database'
            USING ERRCODE = '28000';
    END IF;
    IF live.revoked_at IS NOT NULL THEN
        IF extract(epoch FROM live.revoked_at)::text = taskcli_meta('key_rotated_at') THEN
            RAISE EXCEPTION 'your session ended (the signing key was rotated)'
                USING ERRCODE = '28000';
        END IF;
        RAISE EXCEPTION '%', {ENDED_MESSAGE} USING ERRCODE = '28000';
    END IF;
    IF live.expires_at <= statement_timestamp() THEN
        RAISE EXCEPTION 'your session has expired' USING ERRCODE = '28000';
    END IF;
    PERFORM set_config('taskcli.identity', account || '/' || session || '/'
                       || taskcli_identity_mac(account::text, session::text), true);
END $$
""",
    """
CREATE FUNCTION taskcli_passwd(nonce uuid, ts bigint, r text, s text, new_setting text,
    new_verifier text)
RETURNS TABLE (status text, retry_after integer, sessions_ended integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    me record;
    ended integer;
BEGIN
    SELECT * INTO me FROM taskcli_confirm_password(nonce, ts, r, s,
        'passwd|' || coalesce(new_setting, '') || '|' || coalesce(new_verifier, ''));
    IF me.status <> 'ok' THEN
        RETURN QUERY SELECT me.status, me.retry_after, 0;
        RETURN;
    END IF;
    PERFORM taskcli_check_setting(new_setting, new_verifier);
    UPDATE users u SET password_setting = new_setting, password_verifier = new_verifier,
                       updated_at = statement_timestamp()
    WHERE u.id = me.account;
    UPDATE sessions s SET revoked_at = statement_timestamp(), ended_reason = 'password'
    WHERE s.user_id = me.account AND s.id <> me.session AND s.revoked_at IS NULL;
    GET DIAGNOSTICS ended = ROW_COUNT;
    RETURN QUERY SELECT 'ok'::text, 0, ended;
END $$
""",
    """
CREATE FUNCTION taskcli_change_email(nonce uuid, ts bigint, r text, s text, new_email text,
    new_setting text, new_verifier text)
RETURNS TABLE (status text, retry_after integer, email text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    address text := lower(btrim(new_email));
    me record;
BEGIN
    IF address IS NULL OR length(address) > 320
       OR address !~ '^[^@[:space:][:cntrl:]]{1,64}@[^@[:space:][:cntrl:]]{1,255}$' THEN
        RAISE EXCEPTION 'email: % is not an email address', quote_literal(btrim(new_email))
            USING ERRCODE = '22023';
    END IF;
    SELECT * INTO me FROM taskcli_confirm_password(nonce, ts, r, s,
        'email|' || address || '|' || coalesce(new_setting, '') || '|'
        || coalesce(new_verifier, ''));
    IF me.status <> 'ok' THEN
        RETURN QUERY SELECT me.status, me.retry_after, me.address;
        RETURN;
    END IF;
    PERFORM taskcli_check_setting(new_setting, new_verifier);
    BEGIN
        UPDATE users u SET email = address, password_setting = new_setting,
                           password_verifier = new_verifier, updated_at = statement_timestamp()
        WHERE u.id = me.account;
    EXCEPTION WHEN unique_violation THEN
        RETURN QUERY SELECT 'taken'::text, 0, me.address;
        RETURN;
    END;
    RETURN QUERY SELECT 'ok'::text, 0, address;
END $$
""",
    """
CREATE FUNCTION taskcli_delete_account(nonce uuid, ts bigint, r text, s text)
RETURNS TABLE (status text, retry_after integer, tasks_deleted bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    me record;
    deleted bigint;
BEGIN
    SELECT * INTO me FROM taskcli_confirm_password(nonce, ts, r, s, 'delete-account');
    IF me.status <> 'ok' THEN
        RETURN QUERY SELECT me.status, me.retry_after, 0::bigint;
        RETURN;
    END IF;
    DELETE FROM tasks t WHERE t.user_id = me.account;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    -- the rest of the account's rows go with it (foreign keys ON DELETE CASCADE):
    -- counters, contexts, the journal, sessions
    DELETE FROM users u WHERE u.id = me.account;
    DELETE FROM login_failures f WHERE f.email_key = taskcli_email_key(me.address);
    RETURN QUERY SELECT 'ok'::text, 0, deleted;
END $$
""",
    """
CREATE FUNCTION taskcli_sessions()
RETURNS TABLE (id uuid, client text, created_at timestamptz, expires_at timestamptz,
               current boolean)
LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT s.id, s.client::text, s.created_at, s.expires_at, s.id = i.session_id
    FROM taskcli_identity() i
    JOIN sessions s ON s.user_id = i.user_id
    WHERE s.revoked_at IS NULL AND s.expires_at > statement_timestamp()
    ORDER BY s.created_at, s.id
$$
""",
    """
CREATE FUNCTION taskcli_revoke_sessions(ids uuid[]) RETURNS SETOF uuid
LANGUAGE sql VOLATILE SECURITY DEFINER AS $$
    UPDATE sessions s SET revoked_at = statement_timestamp(), ended_reason = 'revoked'
    FROM taskcli_identity() i
    WHERE s.user_id = i.user_id AND s.id = ANY (ids) AND s.revoked_at IS NULL
      AND s.expires_at > statement_timestamp()
    RETURNING s.id
$$
""",
    # A reset code, masked with its own SHA-256 as a session secret is; for an unknown
    # email, or one without a live code, the same work against a hash nothing matches.
    """
CREATE FUNCTION taskcli_reset_login(email text, nonce uuid, ts bigint, proof text,
    new_setting text, new_verifier text, client text, days integer)
RETURNS TABLE (status text, retry_after integer, user_id uuid, session_id uuid,
               secret text, expires_at timestamptz, audience text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    address text := lower(btrim(email));
    throttle text := taskcli_email_key(lower(btrim(email)));
    wait integer;
    account uuid;
    stored text;
    live boolean;
    code bytea;
    digest bytea;
    difference integer := 0;
BEGIN
    wait := taskcli_wait_for(throttle);
    IF wait > 0 THEN
        RETURN QUERY SELECT 'throttled'::text, wait, NULL::uuid, NULL::uuid, NULL::text,
                            NULL::timestamptz, NULL::text;
        RETURN;
    END IF;
    PERFORM taskcli_require_spent(nonce);
    PERFORM taskcli_check_clock(ts);
    SELECT u.id, u.reset_code_hash, u.reset_expires_at > statement_timestamp()
    INTO account, stored, live FROM users u WHERE u.email = address;
    IF stored IS NULL OR live IS NOT TRUE THEN
        live := false;
        stored := encode(sha256(convert_to('taskcli-no-code|' || address, 'UTF8')), 'hex');
    END IF;
    code := taskcli_unmask(decode(stored, 'hex'), convert_to('taskcli-reset|' || address
        || '|' || nonce || '|' || ts || '|' || coalesce(new_setting, '') || '|'
        || coalesce(new_verifier, ''), 'UTF8'), proof);
    digest := sha256(coalesce(code, ''::bytea));
    FOR i IN 0 .. 31 LOOP  -- every byte compared: the time says nothing of the code
        difference := difference | (get_byte(digest, i) # get_byte(decode(stored, 'hex'), i));
    END LOOP;
    IF NOT live OR difference <> 0 THEN
        PERFORM taskcli_count_failure(throttle);
        RETURN QUERY SELECT 'wrong'::text, 0, NULL::uuid, NULL::uuid, NULL::text,
                            NULL::timestamptz, NULL::text;
        RETURN;
    END IF;
    DELETE FROM login_failures f WHERE f.email_key = throttle;
    PERFORM taskcli_check_setting(new_setting, new_verifier);
    UPDATE users u SET password_setting = new_setting, password_verifier = new_verifier,
                       reset_code_hash = NULL, reset_expires_at = NULL,
                       updated_at = statement_timestamp()
    WHERE u.id = account;
    UPDATE sessions s SET revoked_at = statement_timestamp(), ended_reason = 'reset'
    WHERE s.user_id = account AND s.revoked_at IS NULL;
    RETURN QUERY SELECT 'ok'::text, 0, account, n.session_id, n.secret, n.expires_at,
                        n.audience
                 FROM taskcli_new_session(account, client, days) n;
END $$
""",
]


def _postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('locked_at', STAMP, nullable=True))
        batch.add_column(sa.Column('last_login_at', STAMP, nullable=True))
        batch.add_column(sa.Column('reset_code_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('reset_expires_at', STAMP, nullable=True))
    with op.batch_alter_table('sessions') as batch:
        batch.add_column(sa.Column('ended_reason', sa.String(length=16), nullable=True))
    if _postgres():
        for sql in FUNCTIONS:
            op.execute(sql)
        _fix_functions([*HELPERS, *PUBLIC_FUNCTIONS, 'taskcli_new_session(uuid, text, integer)',
                        'taskcli_present(uuid, uuid, uuid, bigint, text, text)'])
        _grant_to_application_roles()


def _fix_functions(functions: list[str]) -> None:
    """As 0004 does for its own: a search path fixed to this schema, pg_temp last, and no
    EXECUTE for PUBLIC (CREATE OR REPLACE resets the path)."""
    for function in functions:
        op.execute(f"DO $$ BEGIN EXECUTE format('ALTER FUNCTION {function} "
                   "SET search_path = %I, pg_temp', current_schema()); END $$")  # fmt: skip
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")


def _grant_to_application_roles() -> None:
    """Roles that `db grant` prepared (they may call taskcli_whoami) get the new functions
    without another `db grant`."""
    grants = "; ".join(
        f"EXECUTE format('GRANT EXECUTE ON FUNCTION {function} TO %I', role)"
        for function in PUBLIC_FUNCTIONS
    )
    op.execute(f"""
DO $$
DECLARE
    role text;
BEGIN
    FOR role IN SELECT r.rolname FROM pg_roles r
                WHERE r.rolname <> current_user
                  AND has_function_privilege(r.oid, 'taskcli_whoami()', 'EXECUTE') LOOP
        {grants};
    END LOOP;
END $$
""")


def _revision_0004():  # its text of the two functions this revision replaced
    return context.script.get_revision('0004').module


def downgrade() -> None:
    if _postgres():
        for function in (*PUBLIC_FUNCTIONS, *HELPERS):
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
        earlier = _revision_0004()
        replaced = ('FUNCTION taskcli_new_session(', 'FUNCTION taskcli_present(')
        for sql in earlier.HELPERS + earlier.DEFINERS:
            if any(name in sql for name in replaced):
                op.execute(sql.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION', 1))
        _fix_functions(['taskcli_new_session(uuid, text, integer)',
                        'taskcli_present(uuid, uuid, uuid, bigint, text, text)'])
    with op.batch_alter_table('sessions') as batch:
        batch.drop_column('ended_reason')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('reset_expires_at')
        batch.drop_column('reset_code_hash')
        batch.drop_column('last_login_at')
        batch.drop_column('locked_at')
