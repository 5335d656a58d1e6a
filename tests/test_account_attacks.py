"""The attacker's view of the account lifecycle (SPEC §18 through §12): a raw SQL client with
the application role's URL calls migration 0008's functions with whatever arguments it
likes. None of them may act on an account other than the one whose session is presented
in the transaction, with a proof of that account's current password.

Users A and B each have a task and a session; the attacker holds A's session (it is A) or
nothing, and sometimes B's password or B's old token.
"""

from __future__ import annotations

import secrets
import uuid
from contextlib import closing
from dataclasses import dataclass

import psycopg2
import pytest

from taskcli.core import pgsessions, proofs, security
from tests.conftest import Taskcli
from tests.support.accounts import PASSWORD, create_logged_in_user, new_email
from tests.support.databases import admin_url, owner_url
from tests.test_auth import stored_token

pytestmark = pytest.mark.postgres

NEW = "the attacker's choice"


@dataclass
class Account:
    email: str
    claims: security.Claims
    env: dict


@dataclass
class Scene:
    url: str
    admin: str
    a: Account
    b: Account


def _account(taskcli: Taskcli, data_dir) -> Account:
    env = {"TASKCLI_DATA_DIR": str(data_dir)}
    email = create_logged_in_user(new_email(), env=env)
    assert taskcli("add", f"task of {email}", env=env).exit_code == 0
    return Account(email, security.unverified_claims(stored_token(data_dir)), env)


@pytest.fixture
def scene(taskcli, pg_app_url, tmp_path, monkeypatch) -> Scene:
    monkeypatch.setenv("TASKCLI_DATABASE_URL", pg_app_url)
    a, b = _account(taskcli, tmp_path / "a"), _account(taskcli, tmp_path / "b")
    return Scene(pg_app_url, admin_url(pg_app_url), a, b)


def _run(url: str, statement: str, params=None) -> list[tuple]:
    with closing(psycopg2.connect(url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []


def _refused(url: str, statement: str, params=None) -> str:
    with pytest.raises(psycopg2.Error) as refused:
        _run(url, statement, params)
    return refused.value.pgcode


def _as(account: Account, statement: str, *also_spend: object) -> str:
    """``statement`` with a fresh proof of the account's session in front, as taskcli sends
    it (and other proofs' nonces spent with it)."""
    presenter = pgsessions.Presenter(account.claims)
    presenter.also_spend.extend(also_spend)
    return presenter.rewrite(statement, executemany=False)


def _setting(url: str, email: str) -> str:
    return _run(url, "SELECT taskcli_password_setting(%s)", (email,))[0][0]


def _password_call(url: str, email: str, password: str, bound: str, call: str, *rest) -> tuple:
    """(nonce, the statement text with its arguments) of a password-proven call."""
    proof = pgsessions.password_proof(password, _setting(url, email), email=email, bound=bound)
    arguments = ", ".join(["%s"] * (4 + len(rest)))
    values = (str(proof.nonce), proof.ts, str(proof.r), str(proof.s), *rest)
    return proof.nonce, f"SELECT * FROM {call}({arguments})", values


def _new_verifier(url: str, email: str, password: str) -> tuple[str, str]:
    setting = _setting(url, email)
    return setting, proofs.verifier(security.hash_with_setting(password, setting))


def _works(taskcli: Taskcli, account: Account) -> bool:
    return taskcli("list", env=account.env).exit_code == 0


def _can_log_in(taskcli: Taskcli, account: Account, password: str = PASSWORD) -> bool:
    env = {"TASKCLI_DATA_DIR": account.env["TASKCLI_DATA_DIR"] + "-login"}
    return taskcli("login", "-e", account.email, "--password-stdin", input=f"{password}\n",
                   env=env).exit_code == 0  # fmt: skip


# ---- without a session --------------------------------------------------------------------


def test_without_a_session_every_account_function_does_nothing(taskcli, scene):
    b = scene.b
    assert _run(scene.url, "SELECT * FROM taskcli_sessions()") == []
    assert _run(scene.url, "SELECT * FROM taskcli_revoke_sessions(%s::uuid[])",
                ([str(b.claims.session_id)],)) == []  # fmt: skip
    setting, verifier = _new_verifier(scene.url, b.email, NEW)
    # even knowing B's password, no session: no change of B's account
    for call, bound, rest in (
        ("taskcli_passwd", f"passwd|{setting}|{verifier}", (setting, verifier)),
        ("taskcli_change_email", f"email|x@example.com|{setting}|{verifier}",
         ("x@example.com", setting, verifier)),
        ("taskcli_delete_account", "delete-account", ()),
    ):  # fmt: skip
        nonce, statement, values = _password_call(scene.url, b.email, PASSWORD, bound, call, *rest)
        assert _refused(scene.url, pgsessions.spent_first(nonce, statement), values) == "28000"
    assert _works(taskcli, b)
    assert _can_log_in(taskcli, b)


def test_the_helpers_and_the_account_columns_are_out_of_reach(scene):
    for statement in (
        "SELECT taskcli_confirm_password(gen_random_uuid(), 0, '1', '1', 'x')",
        "SELECT taskcli_count_failure('x')",
        "SELECT taskcli_wait_for('x')",
        "SELECT taskcli_unmask('\\x00'::bytea, '\\x00'::bytea, '00')",
        "SELECT taskcli_new_session(gen_random_uuid(), 'x', 1)",
        "SELECT reset_code_hash FROM users",
        "UPDATE users SET locked_at = NULL",
        "UPDATE sessions SET revoked_at = NULL, ended_reason = NULL",
    ):
        assert _refused(scene.url, statement) == "42501", statement


# ---- as A, against B ----------------------------------------------------------------------


def test_a_sees_and_revokes_only_its_own_sessions(taskcli, scene):
    a, b = scene.a, scene.b
    listed = _run(scene.url, _as(a, "SELECT id, current FROM taskcli_sessions()"))
    assert listed == [(str(a.claims.session_id), True)]
    revoked = _run(scene.url, _as(a, "SELECT * FROM taskcli_revoke_sessions(%s::uuid[])"),
                   ([str(b.claims.session_id)],))  # fmt: skip
    assert revoked == []
    assert _works(taskcli, b)


def test_a_cannot_change_or_delete_b_even_knowing_bs_password(taskcli, scene):
    """The functions check the password of the presented session's account (A's), so B's
    password, proven for B's email, is simply wrong for them."""
    a, b = scene.a, scene.b
    setting, verifier = _new_verifier(scene.url, b.email, NEW)
    cases = (
        ("taskcli_passwd", f"passwd|{setting}|{verifier}", (setting, verifier)),
        ("taskcli_delete_account", "delete-account", ()),
    )
    for call, bound, rest in cases:
        for password in (PASSWORD, NEW):  # B's password (A's is the same text: not B's proof)
            nonce, statement, values = _password_call(
                scene.url, b.email, password, bound, call, *rest
            )
            [row] = _run(scene.url, _as(a, statement, nonce), values)
            assert row[0] == "wrong", (call, row)
    assert _works(taskcli, a) and _works(taskcli, b)
    assert _can_log_in(taskcli, b)
    tasks = _run(scene.admin, "SELECT count(*) FROM tasks")
    assert tasks == [(2,)]


def test_a_cannot_take_bs_email(taskcli, scene):
    a, b = scene.a, scene.b
    setting, verifier = _new_verifier(scene.url, b.email, PASSWORD)
    bound = f"email|{b.email}|{setting}|{verifier}"
    nonce, statement, values = _password_call(
        scene.url, a.email, PASSWORD, bound, "taskcli_change_email", b.email, setting, verifier
    )
    [row] = _run(scene.url, _as(a, statement, nonce), values)
    assert row[0] == "taken"
    assert _can_log_in(taskcli, b)
    emails = _run(scene.admin, "SELECT email FROM users ORDER BY email")
    assert sorted([a.email, b.email]) == [email for (email,) in emails]


# ---- replays and bindings -----------------------------------------------------------------


def test_a_password_proof_is_single_use_and_bound_to_what_it_authorises(taskcli, scene):
    a = scene.a
    setting, verifier = _new_verifier(scene.url, a.email, NEW)
    other_setting, other_verifier = _new_verifier(scene.url, a.email, "yet another password")
    # proven for one new verifier, sent with another: wrong
    nonce, statement, values = _password_call(
        scene.url, a.email, PASSWORD, f"passwd|{setting}|{verifier}", "taskcli_passwd",
        other_setting, other_verifier,
    )  # fmt: skip
    assert _run(scene.url, _as(a, statement, nonce), values)[0][0] == "wrong"
    # proven for deletion, used to change the password: wrong
    nonce, statement, values = _password_call(
        scene.url, a.email, PASSWORD, "delete-account", "taskcli_passwd", setting, verifier
    )
    assert _run(scene.url, _as(a, statement, nonce), values)[0][0] == "wrong"
    # the real one works once; the same text again (as copied from pg_stat_activity) not
    nonce, statement, values = _password_call(
        scene.url, a.email, PASSWORD, f"passwd|{setting}|{verifier}", "taskcli_passwd",
        setting, verifier,
    )  # fmt: skip
    sent = _as(a, statement, nonce)
    assert _run(scene.url, sent, values)[0][0] == "ok"
    assert _refused(scene.url, sent, values) == "28000"
    replayed = pgsessions.Presenter(a.claims).rewrite(statement, executemany=False)
    assert _refused(scene.url, replayed, values) == "28000"  # its nonce was spent
    assert _can_log_in(taskcli, a, NEW)


def test_failed_password_checks_are_throttled(taskcli, scene):
    a = scene.a
    statuses = []
    for _ in range(5):
        nonce, statement, values = _password_call(
            scene.url, a.email, "not the password", "delete-account", "taskcli_delete_account"
        )
        statuses.append(_run(scene.url, _as(a, statement, nonce), values)[0][0])
    # the fifth failure locks the email (1 s, doubling after each further one, up to 60 s)
    assert statuses[:5] == ["wrong"] * 5
    _run(scene.admin, "UPDATE login_failures SET locked_until = now() + interval '1 minute'")
    nonce, statement, values = _password_call(
        scene.url, a.email, PASSWORD, "delete-account", "taskcli_delete_account"
    )
    assert _run(scene.url, _as(a, statement, nonce), values)[0][0] == "throttled"
    assert _works(taskcli, a)


# ---- ended, locked and reset --------------------------------------------------------------


def test_a_revoked_token_acts_on_nothing(taskcli, scene):
    b = scene.b
    assert taskcli("logout", env=b.env).exit_code == 0
    assert _refused(scene.url, _as(b, "SELECT * FROM taskcli_sessions()")) == "28000"
    setting, verifier = _new_verifier(scene.url, b.email, NEW)
    nonce, statement, values = _password_call(
        scene.url, b.email, PASSWORD, f"passwd|{setting}|{verifier}", "taskcli_passwd",
        setting, verifier,
    )  # fmt: skip
    assert _refused(scene.url, _as(b, statement, nonce), values) == "28000"
    assert _can_log_in(taskcli, b)


def test_a_locked_account_is_locked_for_the_functions_too(taskcli, scene):
    b = scene.b
    owner = ["--database-url", owner_url(scene.url)]
    assert taskcli("db", "lock", b.email, *owner).exit_code == 0
    assert _refused(scene.url, _as(b, "SELECT * FROM taskcli_sessions()")) == "28000"
    code = taskcli.ok("db", "reset-password", b.email, "--json", *owner).json()["code"]
    setting, verifier = _new_verifier(scene.url, b.email, NEW)
    proof = proofs.reset_proof(code.replace("-", ""), email=b.email, bound=f"{setting}|{verifier}")
    with pytest.raises(psycopg2.Error) as refused:
        _run(
            scene.url,
            pgsessions.spent_first(
                proof.nonce, "SELECT * FROM taskcli_reset_login(%s, %s, %s, %s, %s, %s, %s, %s)"
            ),
            (b.email, str(proof.nonce), proof.ts, proof.proof, setting, verifier, "x", 1),
        )
    assert refused.value.pgcode == "28000"
    assert "locked" in str(refused.value)
    assert not _can_log_in(taskcli, b, NEW)


def _reset_call(url: str, email: str, proof_hex: str, nonce: uuid.UUID, ts: int, bound):
    setting, verifier = bound
    return _run(url, pgsessions.spent_first(
        nonce, "SELECT status FROM taskcli_reset_login(%s, %s, %s, %s, %s, %s, %s, %s)"
    ), (email, str(nonce), ts, proof_hex, setting, verifier, "attacker", 1))  # fmt: skip


def test_a_reset_codes_hash_is_worth_nothing_without_the_code(taskcli, scene):
    """What an observer of the owner's statement could see is the code's SHA-256; a proof
    made from it without the code itself is wrong, and so is a replayed real one."""
    b = scene.b
    owner = ["--database-url", owner_url(scene.url)]
    code = taskcli.ok("db", "reset-password", b.email, "--json", *owner).json()["code"]
    [(stored,)] = _run(scene.admin, "SELECT reset_code_hash FROM users WHERE email = %s",
                       (b.email,))  # fmt: skip
    bound = _new_verifier(scene.url, b.email, NEW)
    guess = proofs.reset_proof(secrets.token_hex(12), email=b.email, bound="|".join(bound))
    assert _reset_call(scene.url, b.email, guess.proof, guess.nonce, guess.ts, bound) == [
        ("wrong",)
    ]
    # the stored hash itself, masked as the client masks a code: still not the code
    forged = proofs.reset_proof(stored, email=b.email, bound="|".join(bound))
    assert _reset_call(scene.url, b.email, forged.proof, forged.nonce, forged.ts, bound) == [
        ("wrong",)
    ]
    real = proofs.reset_proof(code.replace("-", ""), email=b.email, bound="|".join(bound))
    # bound to the new password: sent with another verifier it is wrong
    other = _new_verifier(scene.url, b.email, "a different new password")
    assert _reset_call(scene.url, b.email, real.proof, real.nonce, real.ts, other) == [("wrong",)]
    real = proofs.reset_proof(code.replace("-", ""), email=b.email, bound="|".join(bound))
    assert _reset_call(scene.url, b.email, real.proof, real.nonce, real.ts, bound) == [("ok",)]
    with pytest.raises(psycopg2.Error):  # the same message again: its nonce is spent
        _reset_call(scene.url, b.email, real.proof, real.nonce, real.ts, bound)
    again = proofs.reset_proof(code.replace("-", ""), email=b.email, bound="|".join(bound))
    assert _reset_call(scene.url, b.email, again.proof, again.nonce, again.ts, bound) == [
        ("wrong",)
    ]  # single use
    assert _can_log_in(taskcli, b, NEW)


def test_a_reset_code_is_only_good_for_its_own_email(taskcli, scene):
    a, b = scene.a, scene.b
    owner = ["--database-url", owner_url(scene.url)]
    code = taskcli.ok("db", "reset-password", b.email, "--json", *owner).json()["code"]
    bound = _new_verifier(scene.url, a.email, NEW)
    proof = proofs.reset_proof(code.replace("-", ""), email=a.email, bound="|".join(bound))
    assert _reset_call(scene.url, a.email, proof.proof, proof.nonce, proof.ts, bound) == [
        ("wrong",)
    ]
    assert _can_log_in(taskcli, a) and _works(taskcli, b)
