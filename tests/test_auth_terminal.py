"""On a real terminal (a pseudo-terminal): email and hidden password prompts, confirmations."""

from __future__ import annotations

from tests.conftest import PASSWORD
from tests.support.terminal import TaskcliTerminal as Terminal
from tests.test_auth import as_owner, login, meta_values, new_email, rows, sessions, users


def test_register_asks_for_email_and_hidden_password_twice(backend):
    terminal = Terminal("register")
    terminal.expect("Email: ")
    terminal.type("  Typed@Example.COM ")
    terminal.expect("Password: ")
    terminal.type(PASSWORD)
    terminal.expect("Repeat for confirmation: ")
    terminal.type("a different password")
    terminal.expect("do not match")
    terminal.expect("Password: ")
    terminal.type(PASSWORD)
    terminal.expect("Repeat for confirmation: ")
    terminal.type(PASSWORD)
    assert terminal.finish() == 0, terminal.transcript

    assert "registered and logged in as typed@example.com" in terminal.transcript
    assert PASSWORD not in terminal.transcript, "the password was echoed"
    assert "a different password" not in terminal.transcript
    assert [row["email"] for row in rows(backend, users)] == ["typed@example.com"]


def test_register_refuses_a_short_password_before_asking_it_again(backend):
    terminal = Terminal("register", "--email", new_email())
    terminal.expect("Password: ")
    terminal.type("short")
    terminal.expect("error: password: must be 8 to 1024 characters")
    assert terminal.finish() == 5, terminal.transcript
    assert "Repeat" not in terminal.transcript
    assert rows(backend, users) == []


def test_login_asks_for_the_hidden_password(taskcli, user, backend):
    taskcli.ok("logout")
    terminal = Terminal("login", "--email", user)
    terminal.expect("Password: ")
    terminal.type(PASSWORD)
    assert terminal.finish() == 0, terminal.transcript
    assert f"logged in as {user}" in terminal.transcript
    assert PASSWORD not in terminal.transcript
    assert taskcli.ok("whoami", "--json").json()["email"] == user


def test_rotate_key_asks_first_on_a_terminal(taskcli, user, backend):
    before = meta_values(backend)
    terminal = Terminal(*as_owner("db", "rotate-key"))
    terminal.expect("Everyone must log in again.")
    terminal.type("n")
    assert terminal.finish() == 0, terminal.transcript
    assert "cancelled: nothing changed" in terminal.transcript
    assert meta_values(backend) == before
    assert taskcli.ok("whoami", "--json").json()["email"] == user

    terminal = Terminal(*as_owner("db", "rotate-key"))
    terminal.expect("Everyone must log in again.")
    terminal.type("y")
    assert terminal.finish() == 0, terminal.transcript
    assert "signing key replaced; 1 session(s) ended" in terminal.transcript
    assert meta_values(backend)["signing_key"] != before["signing_key"]
    assert all(row["revoked_at"] is not None for row in rows(backend, sessions))
    assert taskcli("whoami").exit_code == 3
    assert login(taskcli, user).exit_code == 0


def test_wrong_password_on_a_terminal_is_exit_3(user, backend):
    terminal = Terminal("login", "--email", new_email())
    terminal.expect("Password: ")
    terminal.type(PASSWORD)
    assert terminal.finish() == 3, terminal.transcript
    assert "error: wrong email or password" in terminal.transcript
    assert len(rows(backend, sessions)) == 1


# ---- the account lifecycle on a terminal (SPEC §18) ---------------------------------------

NEW_PASSWORD = "a brand new passphrase"


def test_passwd_asks_for_the_current_then_the_new_password_twice(taskcli, user):
    terminal = Terminal("passwd")
    terminal.expect("Current password: ")
    terminal.type(PASSWORD)
    terminal.expect("New password: ")
    terminal.type(NEW_PASSWORD)
    terminal.expect("Repeat for confirmation: ")
    terminal.type(NEW_PASSWORD)
    terminal.expect("password changed")
    assert terminal.finish() == 0
    assert PASSWORD not in terminal.transcript and NEW_PASSWORD not in terminal.transcript
    assert login(taskcli, user, NEW_PASSWORD).exit_code == 0


def test_account_delete_asks_before_it_asks_for_the_password(taskcli, user):
    declined = Terminal("account", "delete")
    declined.expect("[y/N]: ")
    declined.type("n")
    assert declined.finish() == 0
    assert "cancelled: nothing changed" in declined.transcript
    terminal = Terminal("account", "delete")
    terminal.expect("[y/N]: ")
    terminal.type("y")
    terminal.expect("Password: ")
    terminal.type(PASSWORD)
    terminal.expect("deleted the account")
    assert terminal.finish() == 0
    assert PASSWORD not in terminal.transcript
    assert login(taskcli, user).exit_code == 3


def test_auth_token_on_a_terminal_asks_first(user):
    declined = Terminal("auth", "token")
    declined.expect("[y/N]: ")
    declined.type("n")
    assert declined.finish() == 0
    assert "eyJ" not in declined.transcript  # no JWT shown
    shown = Terminal("auth", "token")
    shown.expect("[y/N]: ")
    shown.type("y")
    shown.expect("eyJ")
    assert shown.finish() == 0


def test_login_with_a_reset_code_asks_for_the_code_hidden(taskcli, user):
    code = taskcli.ok(*as_owner("db", "reset-password", user, "--json")).json()["code"]
    terminal = Terminal("login", "--email", user, "--reset-code")
    terminal.expect("Reset code: ")
    terminal.type(code)
    terminal.expect("New password: ")
    terminal.type(NEW_PASSWORD)
    terminal.expect("Repeat for confirmation: ")
    terminal.type(NEW_PASSWORD)
    terminal.expect("password set; logged in")
    assert terminal.finish() == 0
    assert code not in terminal.transcript.split("Reset code: ")[1]
