"""The SQL that `taskcli db distribute` installs on a Citus coordinator (SPEC §17), beside
the tables' conversion (taskcli.core.citus). Citus propagates each function to every node.

Why each differs from its plain PostgreSQL original (migrations 0004, 0007, 0009):

- Row-level security is evaluated on the worker that holds the shard, as the application
  role, in a shard query. There the coordinator's identity (``taskcli.identity``, set
  with ``set_config``, bound to the coordinator's backend and transaction start) is
  absent, and reading ``meta`` through a Citus query is refused. So ``taskcli_present``
  also issues ``SET LOCAL taskcli.node_identity``, which Citus replays in every remote
  transaction once ``citus.propagate_set_commands`` is ``local``; its MAC covers Citus's
  distributed transaction id (``get_current_transaction_id()``: the same on every node of
  one distributed transaction, never repeated), so a copied value is worthless in any
  other transaction. The key is the signing key of ``meta``, a reference table: each node
  reads its own replica (``citus.allow_nested_distributed_execution`` lets a function in
  a shard query do it; a reference table's local replica is complete).
- A policy on a distributed table may not hold a subquery: ``user_id = taskcli_uid()``.
- The journal's statement triggers fire on the workers, once per shard, where a statement
  cannot read the transition table in a query that Citus plans (``executor could not find
  named tuplestore``): the rows are read into a jsonb value first. The trigger keeps only
  the rows of the verified user, so what it writes does not depend on the policy.
- An ``INSERT ... SELECT`` from a temporary table is written into the shards with COPY,
  which PostgreSQL refuses under row-level security: the import inserts its stage in
  batches of ``INSERT ... VALUES`` (one user: one shard), built inside the function, so
  the rows do not travel in a statement text that pg_stat_activity shows.
"""

from __future__ import annotations

IMPORT_BATCH = 1000  # rows per INSERT ... VALUES of an import

# Citus's distributed transaction id, as text; NULL before the transaction reached a worker.
TXID = """
CREATE OR REPLACE FUNCTION taskcli_txid() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT initiator_node_identifier || '/' || transaction_number || '/'
           || extract(epoch FROM transaction_stamp)
    FROM get_current_transaction_id() WHERE transaction_number <> 0
$$
"""

# The MAC of a node identity: two SHA-256 over the signing key (no length extension), cheap
# enough for a policy that is checked row by row.
NODE_MAC = """
CREATE OR REPLACE FUNCTION taskcli_node_mac(message text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(m.value, 'UTF8')
                         || sha256(convert_to(m.value || '|' || message, 'UTF8'))), 'hex')
    FROM meta m WHERE m.key = 'signing_key'
$$
"""

# Called by taskcli_present once the session checked out: the identity for the workers,
# and the journal's settings, which the client sets with set_config (not replayed). Only a
# SET LOCAL run by EXECUTE in a function is safe to replay: for one sent by a client,
# Citus 13.2 replays the client's whole message on the workers.
PRESENT_NODE = """
CREATE OR REPLACE FUNCTION taskcli_present_node(account uuid, session uuid) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    txid text := taskcli_txid();
BEGIN
    IF txid IS NULL THEN  -- taskcli_present read sessions: a worker was reached
        RAISE EXCEPTION 'no distributed transaction to bind the session to'
            USING ERRCODE = '28000';
    END IF;
    PERFORM set_config('citus.propagate_set_commands', 'local', true);
    EXECUTE format('SET LOCAL taskcli.node_identity = %L', account || '/' || session || '/'
                   || taskcli_node_mac(account || '/' || session || '/' || txid));
    -- the command the journal's triggers (on the workers) record the changes under
    EXECUTE format('SET LOCAL taskcli.command = %L',
                   coalesce(current_setting('taskcli.command', true), ''));
    EXECUTE format('SET LOCAL taskcli.client = %L',
                   coalesce(current_setting('taskcli.client', true), ''));
END $$
"""
PRESENT_NODE_CALL = "PERFORM taskcli_present_node(account, session);"
# where taskcli_present gets the call: before it sets the coordinator's identity
PRESENT_ANCHOR = "PERFORM set_config('taskcli.identity'"

# The user of the node identity that this node's distributed transaction verifies.
UID = """
CREATE OR REPLACE FUNCTION taskcli_uid() RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
DECLARE
    claimed text[] := string_to_array(current_setting('taskcli.node_identity', true), '/');
BEGIN
    IF array_length(claimed, 1) = 3 AND claimed[3] = taskcli_node_mac(
            claimed[1] || '/' || claimed[2] || '/' || taskcli_txid()) THEN
        RETURN claimed[1]::uuid;
    END IF;
    RETURN NULL;
END $$
"""

# 0007's trigger, reading the transition table into jsonb first (see the module's text).
JOURNAL_ROWS = """
CREATE OR REPLACE FUNCTION taskcli_journal_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    command text := nullif(current_setting('taskcli.command', true), '');
    account uuid;
    step_no bigint := nullif(current_setting('taskcli.step', true), '')::bigint;
    changed jsonb;
BEGIN
    IF command IS NULL THEN
        RETURN NULL;
    END IF;
    account := taskcli_uid();
    IF account IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT jsonb_agg(jsonb_build_object('id', n.id, 'number', n.number)) INTO changed
        FROM new_rows n WHERE n.user_id = account;
    ELSE
        SELECT jsonb_agg(to_jsonb(o)) INTO changed FROM old_rows o WHERE o.user_id = account;
    END IF;
    IF changed IS NULL THEN
        RETURN NULL;
    END IF;
    IF step_no IS NULL THEN
        UPDATE counters SET next_journal_step = next_journal_step + 1
        WHERE user_id = account RETURNING next_journal_step - 1 INTO step_no;
        INSERT INTO journal (user_id, step, at, command, client)
        VALUES (account, step_no, statement_timestamp(), left(command, 255),
                left(coalesce(current_setting('taskcli.client', true), ''), 255));
        DELETE FROM journal WHERE user_id = account AND step <= step_no - %(keep)s;
        PERFORM set_config('taskcli.step', step_no::text, true);
    END IF;
    INSERT INTO journal_tasks (user_id, step, id, existed, %(columns)s)
    SELECT account, step_no, r.id, TG_OP <> 'INSERT', %(row_columns)s
    FROM jsonb_populate_recordset(NULL::journal_tasks, changed) r
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$
"""

# 0009's function, in batches of INSERT ... VALUES (see the module's text).
INSERT_STAGED = f"""
CREATE OR REPLACE FUNCTION taskcli_insert_staged(target text, columns text[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    names text := (SELECT string_agg(quote_ident(c), ', ') FROM unnest(columns) c);
    literals text := (SELECT string_agg(format('quote_nullable(s.%I::text)', c), ' || '','' || ')
                      FROM unnest(columns) c);
    stage text := 'taskcli_stage_' || target;
    batch text;
    inserted bigint := 0;
    count bigint;
BEGIN
    FOR batch IN EXECUTE format(
        'SELECT string_agg(''('' || %s || '')'', '','') FROM (SELECT s.*, '
        '(row_number() OVER () - 1) / {IMPORT_BATCH} AS batch FROM %I s) s GROUP BY batch',
        literals, stage) LOOP
        EXECUTE format('INSERT INTO %I (%s) VALUES %s', target, names, batch);
        GET DIAGNOSTICS count = ROW_COUNT;
        inserted := inserted + count;
    END LOOP;
    EXECUTE format('TRUNCATE %I', stage);
    RETURN inserted;
END $$
"""

# Rows written into a local shard on a worker by Citus's local execution of an
# INSERT ... SELECT skip the policies' WITH CHECK: every per-user table checks each new
# row itself (the owner's functions excepted).
INSERT_GUARD = """
CREATE OR REPLACE FUNCTION taskcli_insert_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.user_id IS DISTINCT FROM taskcli_uid() AND NOT pg_has_role(
            current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = TG_RELID),
            'USAGE') THEN
        RAISE EXCEPTION 'new row violates row-level security policy for table "%"',
            TG_TABLE_NAME USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END $$
"""
INSERT_GUARD_TRIGGER = "taskcli_insert_guard"

# The functions each needs besides a search path fixed to the schema (pg_temp last).
FUNCTION_SETTINGS = {
    "taskcli_node_mac(text)": ("citus.allow_nested_distributed_execution = on",),
}
