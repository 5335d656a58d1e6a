"""The proofs of taskcli.core.proofs and the database's checks of them agree.

The arithmetic exists twice, in Python (the client) and in migration 0004's SQL
functions (the database); these tests keep the two in step.
"""

from __future__ import annotations

import importlib.util
import uuid
from contextlib import closing

import psycopg2
import pytest

from taskcli.core import proofs, security
from tests.conftest import REPO
from tests.support.databases import admin_url

PASSWORD = "correct horse battery"


def _migration_0004():
    path = REPO / "migrations" / "versions" / "0004_database_isolation.py"
    spec = importlib.util.spec_from_file_location("migration_0004", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_group_and_the_setting_are_the_same_on_both_sides():
    migration = _migration_0004()
    assert migration.PRIME == proofs.P and migration.PRIME_HEX == proofs.GROUP_PRIME_HEX
    assert migration.SETTING_PREFIX == security.PASSWORD_SETTING
    # a safe prime: p and (p - 1) / 2 pass Miller-Rabin with fixed bases
    for n in (proofs.P, (proofs.P - 1) // 2):
        assert all(pow(a, n - 1, n) == 1 for a in (2, 3, 5, 7, 11, 13))


def test_a_login_proof_checks_out_in_python_and_only_untampered():
    password_hash = security.password_context().hash(PASSWORD)
    stored = proofs.verifier(password_hash)
    proof = proofs.login_proof(password_hash, email="a@example.com")
    assert proofs.check_login_proof(proof, stored_verifier=stored, email="a@example.com")
    assert not proofs.check_login_proof(proof, stored_verifier=stored, email="b@example.com")
    other = proofs.LoginProof(uuid.uuid4(), proof.ts, proof.r, proof.s)
    assert not proofs.check_login_proof(other, stored_verifier=stored, email="a@example.com")
    wrong = proofs.login_proof(security.password_context().hash("another password"),
                               email="a@example.com")  # fmt: skip
    assert not proofs.check_login_proof(wrong, stored_verifier=stored, email="a@example.com")


@pytest.mark.postgres
def test_the_database_checks_login_proofs_as_python_does(pg_app_url):
    password_hash = security.password_context().hash(PASSWORD)
    stored = proofs.verifier(password_hash)
    email = "a@example.com"
    good = proofs.login_proof(password_hash, email=email)
    cases = [
        (good, True),
        (proofs.LoginProof(good.nonce, good.ts + 1, good.r, good.s), False),
        (proofs.LoginProof(good.nonce, good.ts, good.r, good.s + 1), False),
        (proofs.LoginProof(uuid.uuid4(), good.ts, good.r, good.s), False),
    ]
    with closing(psycopg2.connect(admin_url(pg_app_url))) as conn, conn.cursor() as cursor:
        for proof, expected in cases:
            in_python = proofs.check_login_proof(proof, stored_verifier=stored, email=email)
            cursor.execute(
                "SELECT taskcli_check_login(%s, %s, %s, %s, %s, %s, '')",
                (stored, email, str(proof.nonce), proof.ts, str(proof.r), str(proof.s)),
            )
            assert cursor.fetchone()[0] is in_python is expected
        # and the verifier the database computes from a hash (migration 0004) is Python's
        cursor.execute(
            "SELECT taskcli_modexp(2, taskcli_bytes_to_numeric(taskcli_hmac(convert_to(%s,"
            " 'UTF8'), convert_to('taskcli login key', 'UTF8'))), taskcli_group_prime())::text",
            (password_hash,),
        )
        assert cursor.fetchone()[0] == stored
