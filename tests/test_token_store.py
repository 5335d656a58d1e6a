"""Where the session token is kept: OS keyring, a 0600 file as fallback, TASKCLI_TOKEN."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import SecretService, fail, null

from taskcli.core.errors import TokenStoreError
from taskcli.core.token_store import FALLBACK_NOTED_NAME, SERVICE, TokenStore
from tests.secret_service import require_secret_service

REPO = Path(__file__).resolve().parents[1]
DB = "postgresql://alice@db.example.com/tasks?sslmode=require"
OTHER_DB = "sqlite:////srv/other.db"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.payload-one.signature"
# The contract gives a hanging keyring 3 s; this only tells "gave up" from "hangs".
PATIENCE = 15.0


class MemoryKeyring(KeyringBackend):
    """A working keyring kept in a dict."""

    priority = -1  # never chosen by keyring's own discovery, only by set_keyring

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        from keyring.errors import PasswordDeleteError

        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


class HangingKeyring(KeyringBackend):
    """A keyring whose every call blocks, like a Secret Service waiting on a prompt."""

    priority = -1

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.calls: list[str] = []

    def _hang(self, name: str) -> None:
        self.calls.append(name)
        self.release.wait()

    def get_password(self, service, username):
        self._hang("get")

    def set_password(self, service, username, password):
        self._hang("set")

    def delete_password(self, service, username):
        self._hang("delete")


class BrokenKeyring(KeyringBackend):
    """A keyring that fails, carelessly quoting the secret in its error."""

    priority = -1

    def get_password(self, service, username):
        raise RuntimeError("D-Bus said no")

    def set_password(self, service, username, password):
        raise RuntimeError(f"could not store {password!r}")

    def delete_password(self, service, username):
        raise RuntimeError("D-Bus said no")


@pytest.fixture
def warnings() -> list[str]:
    return []


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "taskcli"


@pytest.fixture
def make_store(data_dir: Path, warnings: list[str]):
    def make(profile="default", database_key=DB, environ=None) -> TokenStore:
        return TokenStore(
            data_dir=data_dir,
            profile=profile,
            database_key=database_key,
            warn=warnings.append,
            environ={} if environ is None else environ,
        )

    return make


@pytest.fixture
def use_keyring():
    """Make a backend python-keyring's active one for this test."""
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


def token_file(data_dir: Path) -> Path:
    return data_dir / "tokens.json"


def file_entries(data_dir: Path) -> dict[str, str]:
    return json.loads(token_file(data_dir).read_text())["tokens"]


def call_within(seconds: float, function, *args):
    """Call function in a thread; fail (rather than hang the suite) if it takes longer."""
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(value=function(*args)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds} s"
    return outcome["value"]


# --- no usable keyring: the 0600 file ----------------------------------------------


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()], ids=["fail", "null"])
def test_without_keyring_the_token_goes_to_a_private_file(
    backend, use_keyring, make_store, data_dir, warnings
):
    use_keyring(backend)
    store = make_store()

    storage = store.save(TOKEN)

    path = token_file(data_dir)
    assert storage == f"file {path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert file_entries(data_dir) == {store.entry: TOKEN}
    assert len(warnings) == 1
    assert str(path) in warnings[0] and "no OS keyring backend" in warnings[0]
    assert TOKEN not in warnings[0]

    loaded = make_store().load()
    assert loaded is not None
    assert (loaded.token, loaded.storage) == (TOKEN, storage)
    assert len(warnings) == 1, "loading must not warn"


def test_the_fallback_warning_comes_once_per_data_directory(
    use_keyring, make_store, warnings, tmp_path
):
    use_keyring(fail.Keyring())
    store = make_store()
    store.save(TOKEN)
    store.save(TOKEN + "2")
    make_store(profile="work").save(TOKEN + "3")
    store.load()
    assert len(warnings) == 1
    assert store.load().token == TOKEN + "2"

    other = TokenStore(data_dir=tmp_path / "other", profile="default", database_key=DB,
                       warn=warnings.append, environ={})  # fmt: skip
    other.save(TOKEN)
    assert len(warnings) == 2


def test_token_file_is_rewritten_private_and_leaves_no_temporary_files(
    use_keyring, make_store, data_dir
):
    use_keyring(fail.Keyring())
    data_dir.mkdir(parents=True)
    path = token_file(data_dir)
    path.write_text(json.dumps({"version": 1, "tokens": {"old:entry": "old"}}))
    path.chmod(0o644)

    make_store().save(TOKEN)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in data_dir.iterdir()) == [
        FALLBACK_NOTED_NAME,
        "tokens.json",
        "tokens.json.lock",
    ]
    assert stat.S_IMODE((data_dir / "tokens.json.lock").stat().st_mode) == 0o600
    assert file_entries(data_dir)["old:entry"] == "old"


@pytest.mark.parametrize("broken", ["token file", "lock file"])
def test_a_token_file_that_cannot_be_used_is_its_own_error(
    use_keyring, make_store, data_dir, broken
):
    """A directory where the file (or its lock) should be: one line naming it, exit 6."""
    use_keyring(fail.Keyring())
    store = make_store()
    path = token_file(data_dir) if broken == "token file" else data_dir / "tokens.json.lock"
    path.mkdir(parents=True)
    with pytest.raises(TokenStoreError) as raised:
        store.save(TOKEN)
    action = "read" if broken == "token file" else "lock"
    assert raised.value.message == f"cannot {action} {path}: Is a directory"
    assert raised.value.exit_code == 6


def test_profiles_and_databases_are_separate_entries(use_keyring, make_store, data_dir):
    use_keyring(fail.Keyring())
    stores = {
        "default on DB": make_store("default", DB),
        "work on DB": make_store("work", DB),
        "default on OTHER_DB": make_store("default", OTHER_DB),
    }
    for name, store in stores.items():
        store.save(f"token for {name}")

    assert len({store.entry for store in stores.values()}) == 3
    assert len(file_entries(data_dir)) == 3
    for name, store in stores.items():
        assert store.load().token == f"token for {name}"

    stores["work on DB"].delete()
    assert stores["work on DB"].load() is None
    assert stores["default on DB"].load().token == "token for default on DB"
    assert stores["default on OTHER_DB"].load().token == "token for default on OTHER_DB"


def test_entry_name_does_not_show_the_database(make_store):
    entry = make_store("work", DB).entry
    assert entry.startswith("work:")
    assert "db.example.com" not in entry


def test_delete_removes_the_file_and_a_missing_token_is_fine(
    use_keyring, make_store, data_dir, warnings
):
    use_keyring(fail.Keyring())
    store = make_store()
    store.delete()
    store.save(TOKEN)

    store.delete()
    store.delete()

    assert store.load() is None
    assert not token_file(data_dir).exists()
    assert len(warnings) == 1


def test_unreadable_token_file_is_reported_and_replaced(
    use_keyring, make_store, data_dir, warnings
):
    use_keyring(fail.Keyring())
    data_dir.mkdir(parents=True)
    token_file(data_dir).write_text("{not json")
    store = make_store()

    assert store.load() is None
    assert len(warnings) == 1
    assert warnings[0].startswith(f"ignoring unreadable token file {token_file(data_dir)}: ")
    store.save(TOKEN)
    assert file_entries(data_dir) == {store.entry: TOKEN}


def test_unreadable_token_file_is_removed_by_logout(use_keyring, make_store, data_dir, warnings):
    use_keyring(MemoryKeyring())
    data_dir.mkdir(parents=True)
    token_file(data_dir).write_text(json.dumps(["not", "a", "token", "file"]))

    make_store().delete()

    assert warnings == [f"ignoring token file {token_file(data_dir)}: unexpected content"]
    assert not token_file(data_dir).exists()


def test_stored_token_repr_hides_the_token(use_keyring, make_store):
    use_keyring(fail.Keyring())
    store = make_store()
    store.save(TOKEN)
    assert TOKEN not in repr(store.load())


def test_keyring_backend_from_environment_variable_is_honoured(tmp_path, data_dir):
    """A real process: PYTHON_KEYRING_BACKEND picks the fail backend, the file is used."""
    env = isolated_env(tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    saved = run_store(env, data_dir, "save", stdin=TOKEN)
    assert saved["storage"] == f"file {token_file(data_dir)}"
    assert len(saved["warnings"]) == 1
    loaded = run_store(env, data_dir, "load")
    assert loaded == {"token": TOKEN, "storage": saved["storage"], "warnings": []}


def test_importing_the_token_store_does_not_import_keyring(tmp_path):
    code = "import sys, taskcli.core.token_store; print('keyring' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=isolated_env(tmp_path), capture_output=True, text=True
    )
    assert result.stdout.strip() == "False", result.stderr


# --- TASKCLI_TOKEN --------------------------------------------------------------------


def test_environment_token_overrides_keyring_and_file(use_keyring, make_store, data_dir):
    use_keyring(fail.Keyring())
    make_store().save(TOKEN)
    environ = {"TASKCLI_TOKEN": "from-the-environment"}
    store = make_store(environ=environ)

    loaded = store.load()
    assert (loaded.token, loaded.storage) == ("from-the-environment", "environment (TASKCLI_TOKEN)")

    store.delete()
    assert environ == {"TASKCLI_TOKEN": "from-the-environment"}
    assert not token_file(data_dir).exists()
    assert store.load().token == "from-the-environment"


def test_empty_environment_token_is_ignored(use_keyring, make_store):
    use_keyring(fail.Keyring())
    make_store().save(TOKEN)
    assert make_store(environ={"TASKCLI_TOKEN": ""}).load().token == TOKEN


# --- a working keyring ----------------------------------------------------------------


def test_working_keyring_holds_the_token_and_no_file_is_written(
    use_keyring, make_store, data_dir, warnings
):
    backend = MemoryKeyring()
    use_keyring(backend)
    store = make_store()

    storage = store.save(TOKEN)

    assert storage == f"keyring ({MemoryKeyring.name})"
    assert backend.entries == {(SERVICE, store.entry): TOKEN}
    assert not data_dir.exists()
    assert warnings == []
    loaded = store.load()
    assert (loaded.token, loaded.storage) == (TOKEN, storage)
    store.delete()
    assert backend.entries == {}
    assert store.load() is None


def test_logins_survive_the_keyring_coming_and_going(use_keyring, make_store, data_dir):
    backend = MemoryKeyring()
    store = make_store()

    use_keyring(fail.Keyring())
    store.save("saved while no keyring")
    use_keyring(backend)
    assert store.load().token == "saved while no keyring"

    store.save("saved in the keyring")
    assert not token_file(data_dir).exists(), "the file's older copy is dropped"
    use_keyring(fail.Keyring())
    store.save("saved while the keyring is gone again")
    use_keyring(backend)
    assert store.load().token == "saved while the keyring is gone again"

    store.delete()
    assert store.load() is None
    assert backend.entries == {}


def test_failing_keyring_falls_back_without_revealing_the_token(
    use_keyring, make_store, data_dir, warnings
):
    use_keyring(BrokenKeyring())
    store = make_store()

    assert store.save(TOKEN) == f"file {token_file(data_dir)}"
    assert len(warnings) == 1
    assert "RuntimeError: could not store '***'" in warnings[0]
    assert TOKEN not in warnings[0]
    assert store.load().token == TOKEN
    store.delete()
    assert store.load() is None


# --- a keyring that hangs -------------------------------------------------------------


@pytest.fixture
def hanging_keyring(use_keyring):
    backend = HangingKeyring()
    use_keyring(backend)
    yield backend
    backend.release.set()


@pytest.mark.slow  # three keyring timeouts
def test_hanging_keyring_is_abandoned_and_the_file_used(
    hanging_keyring, make_store, data_dir, warnings
):
    store = make_store()
    limit = PATIENCE

    storage = call_within(limit, store.save, TOKEN)

    assert storage == f"file {token_file(data_dir)}"
    assert hanging_keyring.calls == ["set"]
    assert len(warnings) == 1 and "no answer within 3 s" in warnings[0]
    assert call_within(limit, store.load).token == TOKEN
    assert hanging_keyring.calls == ["set"], "a token in the file needs no keyring call"
    call_within(limit, store.delete)
    assert call_within(limit, store.load) is None
    assert hanging_keyring.calls == ["set", "delete", "get"]


# --- a real Secret Service (gnome-keyring on a private D-Bus) -------------------------


@pytest.fixture
def secret_service_keyring(secret_service, use_keyring, monkeypatch):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
    use_keyring(SecretService.Keyring())
    return secret_service


def test_secret_service_holds_the_token(secret_service_keyring, make_store, data_dir, warnings):
    store = make_store()

    assert store.save(TOKEN) == "keyring (SecretService Keyring)"

    assert secret_service_keyring.lookup(service=SERVICE, username=store.entry) == TOKEN
    assert not data_dir.exists()
    assert warnings == []
    loaded = make_store().load()
    assert (loaded.token, loaded.storage) == (TOKEN, "keyring (SecretService Keyring)")
    store.delete()
    assert secret_service_keyring.lookup(service=SERVICE, username=store.entry) is None
    assert store.load() is None
    store.delete()


def test_secret_service_is_found_by_a_fresh_process(secret_service, tmp_path, data_dir):
    env = isolated_env(tmp_path, **secret_service.env)

    saved = run_store(env, data_dir, "save", stdin=TOKEN)
    assert saved == {"storage": "keyring (SecretService Keyring)", "warnings": []}
    entry = make_entry_name()
    assert secret_service.lookup(service=SERVICE, username=entry) == TOKEN
    assert not data_dir.exists()

    loaded = run_store(env, data_dir, "load")
    assert loaded == {"token": TOKEN, "storage": saved["storage"], "warnings": []}
    run_store(env, data_dir, "delete")
    assert secret_service.lookup(service=SERVICE, username=entry) is None


def test_locked_secret_service_falls_back_to_the_file(
    use_keyring, monkeypatch, make_store, data_dir, warnings
):
    with require_secret_service() as service:  # its own: locking would spoil the shared one
        service.lock()
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
        use_keyring(SecretService.Keyring())
        store = make_store()

        storage = call_within(PATIENCE, store.save, TOKEN)

        assert storage == f"file {token_file(data_dir)}"
        assert len(warnings) == 1 and "KeyringLocked" in warnings[0]
        assert service.lookup(service=SERVICE, username=store.entry) is None
        assert store.load().token == TOKEN


# --- helpers for real processes -------------------------------------------------------

_STORE_SCRIPT = """
import json, sys
from pathlib import Path
from taskcli.core.token_store import TokenStore

action, data_dir, database_key = sys.argv[1:]
warnings = []
store = TokenStore(data_dir=Path(data_dir), profile="default", database_key=database_key,
                   warn=warnings.append)
if action == "save":
    result = {"storage": store.save(sys.stdin.read())}
elif action == "load":
    found = store.load()
    result = {"token": found and found.token, "storage": found and found.storage}
else:
    store.delete()
    result = {}
print(json.dumps({**result, "warnings": warnings}))
"""


def make_entry_name() -> str:
    return TokenStore(data_dir=Path("."), profile="default", database_key=DB, warn=print).entry


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's environment without keyring settings of its own, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHON_KEYRING_BACKEND", "TASKCLI_TOKEN", "DBUS_SESSION_BUS_ADDRESS"}
    }
    home = tmp_path / "home"
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    env.update(extra)
    return env


def run_store(env: dict[str, str], data_dir: Path, action: str, stdin: str = "") -> dict:
    """Run one TokenStore action in a new process (the token travels on stdin, never argv)."""
    result = subprocess.run(
        [sys.executable, "-c", _STORE_SCRIPT, action, str(data_dir), DB],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
