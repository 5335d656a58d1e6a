"""isolation enforced by PostgreSQL: row-level security, login and sessions inside the database

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Passwords: ``users.password_hash`` becomes ``password_setting`` (the argon2 salt and
parameters) and ``password_verifier`` (``g^x mod p``, where ``x`` derives from the hash
string; see ``taskcli.core.proofs``). Existing passwords keep working: the verifier is
computed from the stored hash.

On PostgreSQL, the application role may no longer read ``users``, ``sessions`` or
``meta``: register, login, session checks, logout and key rotation are SECURITY DEFINER
functions, and ``tasks`` and ``counters`` are under row-level security keyed by the
session presented in the transaction. ``spent_nonces`` keeps the single-use proofs of
the last half hour, ``login_failures`` the throttling of failed logins per email.

Downgrading below this revision keeps every account and task but not the passwords
(a verifier cannot be turned back into a hash): users cannot log in with 0003.
"""

import hashlib
import hmac
import re
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMP = sa.DateTime(timezone=True)
# RFC 7919 ffdhe2048 (taskcli.core.proofs.GROUP_PRIME_HEX; a test keeps them equal)
PRIME_HEX = (
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695A9E13641146433FB"
    "CC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617AD3DF1ED5D5FD65612433F51F5F066ED0"
    "856365553DED1AF3B557135E7F57C935984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE735"
    "30ACCA4F483A797ABC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F619172FE9CE98583FF"
    "8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005C58EF1837D1683B2C6F34A26C1B2EFFA"
    "886B423861285C97FFFFFFFFFFFFFFFF"
)
PRIME = int(PRIME_HEX, 16)
SETTING_PREFIX = '$argon2id$v=19$m=65536,t=3,p=4$'
PROOF_WINDOW = 600  # seconds a proof's timestamp may differ from the database's clock
NONCE_KEEP = "30 minutes"  # > 2 * PROOF_WINDOW: a spent nonce outlives every proof using it
FREE_FAILURES = 5
MAX_LOCK = 60  # seconds

PER_USER = {'tasks': 'user_id', 'counters': 'user_id'}
PRIVATE = ('users', 'sessions', 'spent_nonces', 'login_failures')

# Functions the application role may call (db grant gives it EXECUTE on these only).
PUBLIC_FUNCTIONS = (
    'taskcli_uid()',
    'taskcli_password_setting(text)',
    'taskcli_register(text, text, text, text, integer)',
    'taskcli_login(text, uuid, bigint, text, text, text, integer, text, text)',
    'taskcli_spend(uuid)',
    'taskcli_present(uuid, uuid, uuid, bigint, text, text)',
    'taskcli_whoami()',
    'taskcli_logout(boolean)',
)
DEFINER_FUNCTIONS = PUBLIC_FUNCTIONS + ('taskcli_rotate_key()',)

HELPERS = [
    f"""
CREATE FUNCTION taskcli_group_prime() RETURNS numeric LANGUAGE sql IMMUTABLE AS
$$ SELECT {PRIME}::numeric $$
""",
    """
CREATE FUNCTION taskcli_modexp(base numeric, exponent numeric, modulus numeric)
RETURNS numeric LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    result numeric := 1;
    square numeric := mod(base, modulus);
    rest numeric := exponent;
BEGIN
    WHILE rest > 0 LOOP
        IF mod(rest, 2) = 1 THEN
            result := mod(result * square, modulus);
        END IF;
        square := mod(square * square, modulus);
        rest := div(rest, 2);
    END LOOP;
    RETURN result;
END $$
""",
    """
CREATE FUNCTION taskcli_bytes_to_numeric(bytes bytea) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    result numeric := 0;
BEGIN
    FOR i IN 0 .. length(bytes) - 1 LOOP
        result := result * 256 + get_byte(bytes, i);
    END LOOP;
    RETURN result;
END $$
""",
    """
CREATE FUNCTION taskcli_hmac(key bytea, message bytea) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    block bytea := key;
    inner_key bytea;
    outer_key bytea;
BEGIN
    IF length(block) > 64 THEN
        block := sha256(block);
    END IF;
    block := block || decode(repeat('00', 64 - length(block)), 'hex');
    inner_key := block;
    outer_key := block;
    FOR i IN 0 .. 63 LOOP
        inner_key := set_byte(inner_key, i, get_byte(block, i) # 54);
        outer_key := set_byte(outer_key, i, get_byte(block, i) # 92);
    END LOOP;
    RETURN sha256(outer_key || sha256(inner_key || message));
END $$
""",
    """
CREATE FUNCTION taskcli_random_bytes() RETURNS bytea LANGUAGE sql VOLATILE AS $$
    SELECT decode(replace(gen_random_uuid()::text, '-', '')
                  || replace(gen_random_uuid()::text, '-', ''), 'hex')
$$
""",
    """
CREATE FUNCTION taskcli_meta(name text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT value FROM meta WHERE key = name
$$
""",
    # What ties the identity setting to this backend and this transaction: a copy of
    # the setting's value is worthless in any other transaction.
    """
CREATE FUNCTION taskcli_identity_mac(account text, session text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT encode(taskcli_hmac(convert_to(taskcli_meta('signing_key'), 'UTF8'),
        convert_to(account || '/' || session || '/' || pg_backend_pid() || '/'
                   || extract(epoch FROM transaction_timestamp()), 'UTF8')), 'hex')
$$
""",
    """
CREATE FUNCTION taskcli_identity(OUT user_id uuid, OUT session_id uuid)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    claimed text[] := string_to_array(current_setting('taskcli.identity', true), '/');
BEGIN
    IF array_length(claimed, 1) = 3
       AND claimed[3] = taskcli_identity_mac(claimed[1], claimed[2]) THEN
        user_id := claimed[1]::uuid;
        session_id := claimed[2]::uuid;
    END IF;
END $$
""",
    """
CREATE FUNCTION taskcli_email_key(email text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT encode(taskcli_hmac(convert_to(taskcli_meta('salt_key'), 'UTF8'),
                               convert_to('email|' || email, 'UTF8')), 'hex')
$$
""",
    """
CREATE FUNCTION taskcli_require_spent(nonce uuid) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- spent (and committed) earlier in this very message, by this very backend
    IF NOT EXISTS (SELECT 1 FROM spent_nonces s WHERE s.nonce = taskcli_require_spent.nonce
                   AND s.backend = pg_backend_pid() AND s.at = statement_timestamp()) THEN
        RAISE EXCEPTION 'the session token is not valid for this database'
            USING ERRCODE = '28000', DETAIL = 'proof not spent in this statement';
    END IF;
END $$
""",
    f"""
CREATE FUNCTION taskcli_check_clock(ts bigint) RETURNS void LANGUAGE plpgsql STABLE AS $$
DECLARE
    drift bigint := ts - extract(epoch FROM statement_timestamp())::bigint;
BEGIN
    IF abs(drift) > {PROOF_WINDOW} THEN
        RAISE EXCEPTION 'this computer''s clock is % s % the database''s',
            abs(drift), CASE WHEN drift > 0 THEN 'ahead of' ELSE 'behind' END
            USING ERRCODE = '28000', HINT = 'set the clock right (for instance with NTP)';
    END IF;
END $$
""",
    """
CREATE FUNCTION taskcli_new_session(account uuid, client text, days integer,
    OUT session_id uuid, OUT secret text, OUT expires_at timestamptz, OUT audience text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
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
    """
CREATE FUNCTION taskcli_valid_number(value text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT value ~ '^[1-9][0-9]*$' AND length(value) <= 700
$$
""",
    """
CREATE FUNCTION taskcli_check_login(verifier text, email text, nonce uuid, ts bigint,
    r text, s text, replacement text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
    p numeric := taskcli_group_prime();
    y numeric := p - 3;  -- an unknown email costs the same as a known one
    c numeric;
BEGIN
    IF NOT (taskcli_valid_number(r) AND taskcli_valid_number(s)) THEN
        RETURN false;
    END IF;
    IF r::numeric >= p OR s::numeric >= 2::numeric ^ 640 THEN
        RETURN false;
    END IF;
    IF taskcli_valid_number(verifier) THEN
        y := verifier::numeric;
    END IF;
    c := taskcli_bytes_to_numeric(substring(sha256(convert_to(
        'taskcli-login|' || email || '|' || nonce || '|' || ts || '|' || r || '|'
        || replacement, 'UTF8')) FROM 1 FOR 16));
    RETURN taskcli_modexp(2, s::numeric, p) = mod(r::numeric * taskcli_modexp(y, c, p), p)
        AND verifier IS NOT NULL;
END $$
""",
    f"""
CREATE FUNCTION taskcli_check_setting(setting text, verifier text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF setting IS NULL OR left(setting, {len(SETTING_PREFIX)}) <> '{SETTING_PREFIX}'
       OR substr(setting, {len(SETTING_PREFIX) + 1}) !~ '^[A-Za-z0-9+/]{{22}}$' THEN
        RAISE EXCEPTION 'password: the setting is not this database''s scheme'
            USING ERRCODE = '22023';
    END IF;
    IF NOT taskcli_valid_number(verifier) OR verifier::numeric >= taskcli_group_prime() - 1
       OR verifier::numeric < 2 THEN
        RAISE EXCEPTION 'password: the verifier is out of range' USING ERRCODE = '22023';
    END IF;
END $$
""",
]

DEFINERS = [
    """
CREATE FUNCTION taskcli_uid() RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT user_id FROM taskcli_identity()
$$
""",
    f"""
CREATE FUNCTION taskcli_password_setting(email text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    address text := lower(btrim(email));
    stored text;
BEGIN
    SELECT u.password_setting INTO stored FROM users u WHERE u.email = address;
    -- an unknown email gets a salt of its own, the same on every call
    RETURN coalesce(stored, '{SETTING_PREFIX}' || rtrim(encode(substring(taskcli_hmac(
        convert_to(taskcli_meta('salt_key'), 'UTF8'), convert_to('salt|' || address, 'UTF8'))
        FROM 1 FOR 16), 'base64'), '='));
END $$
""",
    """
CREATE FUNCTION taskcli_register(email text, setting text, verifier text, client text,
    days integer)
RETURNS TABLE (status text, user_id uuid, session_id uuid, secret text,
               expires_at timestamptz, audience text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    address text := lower(btrim(email));
    account uuid;
BEGIN
    IF address IS NULL OR length(address) > 320
       OR address !~ '^[^@[:space:][:cntrl:]]{1,64}@[^@[:space:][:cntrl:]]{1,255}$' THEN
        RAISE EXCEPTION 'email: % is not an email address', quote_literal(btrim(email))
            USING ERRCODE = '22023';
    END IF;
    PERFORM taskcli_check_setting(setting, verifier);
    INSERT INTO users AS u (id, email, password_setting, password_verifier, created_at,
                            updated_at)
    VALUES (gen_random_uuid(), address, setting, verifier, statement_timestamp(),
            statement_timestamp())
    ON CONFLICT (email) DO NOTHING
    RETURNING u.id INTO account;
    IF account IS NULL THEN
        RETURN QUERY SELECT 'taken'::text, NULL::uuid, NULL::uuid, NULL::text,
                            NULL::timestamptz, NULL::text;
        RETURN;
    END IF;
    INSERT INTO counters (user_id, next_task_number) VALUES (account, 1);
    RETURN QUERY SELECT 'ok'::text, account, n.session_id, n.secret, n.expires_at,
                        n.audience
                 FROM taskcli_new_session(account, client, days) n;
END $$
""",
    f"""
CREATE FUNCTION taskcli_login(email text, nonce uuid, ts bigint, r text, s text,
    client text, days integer, new_setting text, new_verifier text)
RETURNS TABLE (status text, retry_after integer, user_id uuid, session_id uuid,
               secret text, expires_at timestamptz, audience text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    address text := lower(btrim(email));
    throttle text := taskcli_email_key(lower(btrim(email)));
    locked timestamptz;
    account uuid;
    verifier text;
    replacement text := CASE WHEN new_setting IS NULL THEN ''
                             ELSE new_setting || '|' || coalesce(new_verifier, '') END;
BEGIN
    SELECT f.locked_until INTO locked FROM login_failures f
    WHERE f.email_key = throttle FOR UPDATE;
    IF locked > statement_timestamp() THEN
        RETURN QUERY SELECT 'throttled'::text,
            ceil(extract(epoch FROM locked - statement_timestamp()))::integer,
            NULL::uuid, NULL::uuid, NULL::text, NULL::timestamptz, NULL::text;
        RETURN;
    END IF;
    PERFORM taskcli_require_spent(nonce);
    PERFORM taskcli_check_clock(ts);
    SELECT u.id, u.password_verifier INTO account, verifier FROM users u
    WHERE u.email = address;
    IF NOT taskcli_check_login(verifier, email, nonce, ts, r, s, replacement) THEN
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
        IF random() < 0.01 THEN
            DELETE FROM login_failures
            WHERE last_failure_at < statement_timestamp() - interval '1 day';
        END IF;
        RETURN QUERY SELECT 'wrong'::text, 0, NULL::uuid, NULL::uuid, NULL::text,
                            NULL::timestamptz, NULL::text;
        RETURN;
    END IF;
    DELETE FROM login_failures f WHERE f.email_key = throttle;
    IF new_setting IS NOT NULL THEN
        PERFORM taskcli_check_setting(new_setting, new_verifier);
        UPDATE users u SET password_setting = new_setting, password_verifier = new_verifier,
                           updated_at = statement_timestamp()
        WHERE u.id = account;
    END IF;
    RETURN QUERY SELECT 'ok'::text, 0, account, n.session_id, n.secret, n.expires_at,
                        n.audience
                 FROM taskcli_new_session(account, client, days) n;
END $$
""",
    f"""
CREATE FUNCTION taskcli_spend(nonce uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
BEGIN
    INSERT INTO spent_nonces (nonce, backend, at)
    VALUES (nonce, pg_backend_pid(), statement_timestamp())
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the session token is not valid for this database'
            USING ERRCODE = '28000', DETAIL = 'proof already used';
    END IF;
    IF random() < 0.01 THEN
        DELETE FROM spent_nonces WHERE at < statement_timestamp() - interval '{NONCE_KEEP}';
    END IF;
END $$
""",
    """
CREATE FUNCTION taskcli_present(account uuid, session uuid, nonce uuid, ts bigint,
    proof text, audience text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    live sessions%ROWTYPE;
    secret bytea;
    key bytea;
    message bytea;
    mask bytea;
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
    IF proof !~ '^([0-9a-f]{2}){1,64}$' THEN
        RAISE EXCEPTION 'the session token is not valid for this database'
            USING ERRCODE = '28000';
    END IF;
    secret := decode(proof, 'hex');
    key := decode(live.secret_hash, 'hex');
    message := convert_to('taskcli-session|' || account || '|' || session || '|' || nonce
                          || '|' || ts, 'UTF8');
    mask := taskcli_hmac(key, message || '\\x01'::bytea)
            || taskcli_hmac(key, message || '\\x02'::bytea);
    FOR i IN 0 .. length(secret) - 1 LOOP
        secret := set_byte(secret, i, get_byte(secret, i) # get_byte(mask, i));
    END LOOP;
    IF encode(sha256(secret), 'hex') <> live.secret_hash THEN
        RAISE EXCEPTION 'the session token is not valid for this database'
            USING ERRCODE = '28000';
    END IF;
    IF live.revoked_at IS NOT NULL THEN
        IF extract(epoch FROM live.revoked_at)::text = taskcli_meta('key_rotated_at') THEN
            RAISE EXCEPTION 'your session ended (the signing key was rotated)'
                USING ERRCODE = '28000';
        END IF;
        RAISE EXCEPTION 'your session was logged out' USING ERRCODE = '28000';
    END IF;
    IF live.expires_at <= statement_timestamp() THEN
        RAISE EXCEPTION 'your session has expired' USING ERRCODE = '28000';
    END IF;
    PERFORM set_config('taskcli.identity', account || '/' || session || '/'
                       || taskcli_identity_mac(account::text, session::text), true);
END $$
""",
    """
CREATE FUNCTION taskcli_whoami()
RETURNS TABLE (user_id uuid, email text, session_id uuid, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT u.id, u.email::text, s.id, s.expires_at
    FROM taskcli_identity() i
    JOIN sessions s ON s.user_id = i.user_id AND s.id = i.session_id
    JOIN users u ON u.id = s.user_id
$$
""",
    """
CREATE FUNCTION taskcli_logout(everywhere boolean) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    me record;
    ended integer;
BEGIN
    SELECT * INTO me FROM taskcli_identity();
    IF me.user_id IS NULL THEN
        RAISE EXCEPTION 'not logged in' USING ERRCODE = '28000';
    END IF;
    UPDATE sessions s SET revoked_at = statement_timestamp()
    WHERE s.user_id = me.user_id AND (everywhere OR s.id = me.session_id)
      AND s.revoked_at IS NULL;
    GET DIAGNOSTICS ended = ROW_COUNT;
    RETURN ended;
END $$
""",
    """
CREATE FUNCTION taskcli_rotate_key() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
#variable_conflict use_column
DECLARE
    ended integer;
BEGIN
    UPDATE meta SET value = encode(taskcli_random_bytes(), 'hex') WHERE key = 'signing_key';
    UPDATE meta SET value = extract(epoch FROM statement_timestamp())::text
    WHERE key = 'key_rotated_at';
    UPDATE sessions SET revoked_at = statement_timestamp() WHERE revoked_at IS NULL;
    GET DIAGNOSTICS ended = ROW_COUNT;
    RETURN ended;
END $$
""",
]

# In SQL so that `db migrate --sql` carries it too (the same rule as taskcli.core.proofs).
CONVERT_PASSWORDS_SQL = """
UPDATE users SET
    password_setting = CASE WHEN password_hash LIKE '$2%' THEN left(password_hash, 29)
                            ELSE regexp_replace(password_hash, '\\$[^$]*$', '') END,
    password_verifier = taskcli_modexp(2, taskcli_bytes_to_numeric(taskcli_hmac(
        convert_to(password_hash, 'UTF8'), convert_to('taskcli login key', 'UTF8'))),
        taskcli_group_prime())::text
"""


def _sqlite_convert_passwords() -> None:
    if op.get_context().as_sql:
        op.execute("-- run online: existing password hashes are converted in Python")
        return
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, password_hash FROM users")).all()
    for user_id, password_hash in rows:
        digest = hmac.new(password_hash.encode(), b"taskcli login key", hashlib.sha256)
        verifier = pow(2, int.from_bytes(digest.digest(), "big"), PRIME)
        bcrypt = password_hash.startswith("$2")
        setting = password_hash[:29] if bcrypt else re.sub(r"\$[^$]*$", "", password_hash)
        conn.execute(
            sa.text("UPDATE users SET password_setting = :s, password_verifier = :v "
                    "WHERE id = :id"),
            {"s": setting, "v": str(verifier), "id": user_id},
        )  # fmt: skip


def _users_0003() -> sa.MetaData:
    shapes = sa.MetaData()
    sa.Table('users', shapes,
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('password_hash', sa.String(length=512), nullable=False),
        sa.Column('password_setting', sa.String(length=160), nullable=True),
        sa.Column('password_verifier', sa.Text(), nullable=True),
        sa.Column('created_at', STAMP, nullable=False),
        sa.Column('updated_at', STAMP, nullable=False),
        sa.PrimaryKeyConstraint('id', name='users_pkey'),
        sa.UniqueConstraint('email'),
    )  # fmt: skip
    return shapes


def _postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table('spent_nonces',
        sa.Column('nonce', sa.Uuid(), nullable=False),
        sa.Column('backend', sa.Integer(), nullable=False),
        sa.Column('at', STAMP, nullable=False),
        sa.PrimaryKeyConstraint('nonce'),
    )  # fmt: skip
    op.create_index('ix_spent_nonces_at', 'spent_nonces', ['at'])
    op.create_table('login_failures',
        sa.Column('email_key', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', STAMP, nullable=False),
        sa.Column('locked_until', STAMP, nullable=True),
        sa.PrimaryKeyConstraint('email_key'),
    )  # fmt: skip
    op.add_column('users', sa.Column('password_setting', sa.String(length=160), nullable=True))
    op.add_column('users', sa.Column('password_verifier', sa.Text(), nullable=True))
    if _postgres():
        _postgres_upgrade()
    else:
        _sqlite_convert_passwords()
    with op.batch_alter_table('users', copy_from=None if _postgres() else
                              _users_0003().tables['users']) as batch:  # fmt: skip
        batch.alter_column('password_setting', existing_type=sa.String(160), nullable=False)
        batch.alter_column('password_verifier', existing_type=sa.Text(), nullable=False)
        batch.drop_column('password_hash')


def _postgres_upgrade() -> None:
    op.execute(
        "INSERT INTO meta (key, value) VALUES ('salt_key', "
        "encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, "
        "'UTF8')), 'hex')), ('key_rotated_at', '')"
    )
    for sql in HELPERS + DEFINERS:
        op.execute(sql)
    op.execute(CONVERT_PASSWORDS_SQL)
    # Every function runs with a search path fixed to this schema (pg_temp last, so a
    # temporary object cannot stand in for one of ours), and none is anyone's to call
    # until `db grant` says so.
    _each_function(
        "EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());"
        " EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);"
    )
    for table, column in PER_USER.items():
        _row_security(table)
        op.execute(
            f"CREATE POLICY taskcli_user ON {table} "
            f"USING ({column} = (SELECT taskcli_uid())) "
            f"WITH CHECK ({column} = (SELECT taskcli_uid()))"
        )
    for table in PRIVATE:
        _row_security(table)  # no policy for anyone but the owner: nothing to see


def _each_function(statements: str) -> None:
    """Run ``statements`` (PL/pgSQL, the function as ``f``) for each taskcli function."""
    op.execute(f"""
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_proc p
             WHERE p.pronamespace = current_schema()::regnamespace
               AND p.proname LIKE 'taskcli\\_%' LOOP
        {statements}
    END LOOP;
END $$
""")


def _row_security(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    # The owner (migrations, the SECURITY DEFINER functions) sees every row.
    op.execute(f"CREATE POLICY taskcli_owner ON {table} TO CURRENT_USER "
               "USING (true) WITH CHECK (true)")  # fmt: skip


def downgrade() -> None:
    """Accounts and tasks stay; passwords do not (see the module's text)."""
    if _postgres():
        for table in (*PER_USER, *PRIVATE):
            op.execute(f"DROP POLICY IF EXISTS taskcli_user ON {table}")
            op.execute(f"DROP POLICY IF EXISTS taskcli_owner ON {table}")
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('password_hash', sa.String(length=512), nullable=True))
    # a hash no password has: the account is kept, its password is not
    op.execute(
        "UPDATE users SET password_hash = CASE WHEN password_setting LIKE '$2%' "
        "THEN password_setting || '...............................' "
        "ELSE password_setting || '$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' END"
    )
    with op.batch_alter_table('users') as batch:
        batch.alter_column('password_hash', existing_type=sa.String(512), nullable=False)
        batch.drop_column('password_verifier')
        batch.drop_column('password_setting')
    if _postgres():
        _each_function("EXECUTE format('DROP FUNCTION %s', f);")
    op.execute("DELETE FROM meta WHERE key IN ('salt_key', 'key_rotated_at')")
    op.drop_index('ix_spent_nonces_at', table_name='spent_nonces')
    op.drop_table('login_failures')
    op.drop_table('spent_nonces')
