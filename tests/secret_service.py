"""A real, private Secret Service for tests: dbus-daemon plus an unlocked gnome-keyring.

Nothing of the user's session is touched: the bus is a new ``dbus-daemon`` with its own
configuration (no service activation, so a missing daemon or an unlock prompt fails at
once instead of starting the desktop's programs), and ``gnome-keyring-daemon`` runs with
``HOME``, ``XDG_RUNTIME_DIR``, ``XDG_DATA_HOME``, ``XDG_CONFIG_HOME`` and
``XDG_CACHE_HOME`` in a temporary directory. Its login keyring is created and unlocked
with a throwaway password given on stdin (``--unlock``), and the service is proven with a
``secret-tool store`` / ``lookup`` round trip before it is handed out.

Programs (Debian packages): ``dbus-daemon`` (dbus-daemon), ``gnome-keyring-daemon``
(gnome-keyring), ``secret-tool`` (libsecret-tools).

Intended fixture (``tests/conftest.py``); :func:`require_secret_service` skips with the
reason when no Secret Service can be started, and fails instead under ``CI=true``::

    import pytest
    from tests.secret_service import require_secret_service

    @pytest.fixture(scope="session")
    def secret_service():
        with require_secret_service() as service:
            yield service

    def test_something(secret_service, monkeypatch):
        # in-process: python-keyring's SecretService backend reads the bus address
        # from the environment on every call
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
        # a subprocess: env={**os.environ, **secret_service.env}
        assert secret_service.lookup(service="taskcli", username="...") == "..."
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

PROGRAMS = {
    "dbus-daemon": "dbus-daemon",
    "gnome-keyring-daemon": "gnome-keyring",
    "secret-tool": "libsecret-tools",
}
START_TIMEOUT = 10.0
_COMMAND_TIMEOUT = 5.0

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={socket_dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class SecretServiceUnavailable(RuntimeError):
    """The private Secret Service could not be started; the message says why."""


def secret_service_available() -> tuple[bool, str]:
    """Whether the programs are installed (cheap: starts nothing); the reason if not."""
    missing = [
        f"{program} ({package})"
        for program, package in PROGRAMS.items()
        if shutil.which(program) is None
    ]
    if missing:
        return False, "not installed: " + ", ".join(missing)
    return True, "dbus-daemon, gnome-keyring-daemon and secret-tool found"


def require_secret_service() -> SecretService:
    """A started service; otherwise skip the test with the reason (fail it under CI=true)."""
    import pytest

    available, reason = secret_service_available()
    try:
        if not available:
            raise SecretServiceUnavailable(reason)
        return SecretService.start()
    except SecretServiceUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"a Secret Service is required under CI=true: {exc}", pytrace=False)
        pytest.skip(f"no Secret Service: {exc}")


class SecretService:
    """A running private bus and keyring daemon; use as a context manager or call close()."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.address = ""
        self._processes: list[subprocess.Popen[bytes]] = []

    @classmethod
    def start(cls, *, password: str = "taskcli-tests") -> SecretService:
        """Start bus and daemon, check a secret round-trips; raise SecretServiceUnavailable."""
        # Under /tmp rather than pytest's tmp_path: socket paths must stay under 108 bytes.
        service = cls(Path(tempfile.mkdtemp(prefix="taskcli-secrets-")))
        try:
            service._start_bus()
            service._start_keyring(password)
            service._wait_until_ready()
        except BaseException:
            service.close()
            raise
        return service

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs, to be merged over its environment."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def secret_tool(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run ``secret-tool`` against this service."""
        return subprocess.run(
            ["secret-tool", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self._daemon_env(),
            timeout=_COMMAND_TIMEOUT,
            check=False,
        )

    def lookup(self, **attributes: str) -> str | None:
        """The secret stored with exactly these attributes, or None."""
        result = self.secret_tool("lookup", *_pairs(attributes))
        return result.stdout if result.returncode == 0 else None

    def lock(self) -> None:
        """Lock the default keyring, as a screen lock does; unlocking it needs a prompt.

        Through secretstorage rather than ``secret-tool lock``, which (libsecret 0.20)
        locks the collection but then never returns.
        """
        from jeepney.io.blocking import open_dbus_connection
        from secretstorage import get_default_collection

        with open_dbus_connection(self.address) as connection:
            get_default_collection(connection).lock()

    def close(self) -> None:
        """Stop the daemon, then the bus, and remove the temporary directory."""
        for process in reversed(self._processes):
            _stop(process)
        self._processes.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SecretService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _daemon_env(self) -> dict[str, str]:
        # Built from scratch so no DISPLAY, session bus or keyring of the user leaks in.
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.root / "home"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
            "XDG_DATA_HOME": str(self.root / "data"),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_CACHE_HOME": str(self.root / "cache"),
        }
        if self.address:
            env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        return env

    def _start_bus(self) -> None:
        for name in ("home", "run", "data", "config", "cache"):
            (self.root / name).mkdir(mode=0o700)
        config = self.root / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket_dir=self.root / "run"), encoding="utf-8")
        bus = self._spawn(
            ["dbus-daemon", "--nofork", f"--config-file={config}", "--print-address=1"],
            log_name="dbus-daemon.log",
            stdout=subprocess.PIPE,
        )
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()  # printed once it listens
        bus.stdout.close()
        if not address:
            raise SecretServiceUnavailable(f"dbus-daemon gave no address: {self._log_tail()}")
        self.address = address

    def _start_keyring(self, password: str) -> None:
        daemon = self._spawn(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            log_name="gnome-keyring-daemon.log",
            stdin=subprocess.PIPE,
        )
        assert daemon.stdin is not None
        daemon.stdin.write(password.encode())  # no newline: it would be part of the password
        daemon.stdin.close()

    def _wait_until_ready(self) -> None:
        """Store and read back a probe secret; retry while the daemon claims its bus name."""
        deadline = time.monotonic() + START_TIMEOUT
        probe = {"service": "taskcli-test-probe"}
        while True:
            stored = self.secret_tool("store", "--label=probe", *_pairs(probe), stdin="ok")
            if stored.returncode == 0 and self.lookup(**probe) == "ok":
                self.secret_tool("clear", *_pairs(probe))
                return
            for process in self._processes:
                if process.poll() is not None:
                    raise SecretServiceUnavailable(
                        f"{process.args[0]} exited with {process.returncode}: {self._log_tail()}"
                    )
            if time.monotonic() > deadline:
                raise SecretServiceUnavailable(
                    f"no working Secret Service after {START_TIMEOUT:g} s: "
                    f"{stored.stderr.strip()} {self._log_tail()}"
                )
            time.sleep(0.05)

    def _spawn(self, args: list[str], *, log_name: str, **kwargs) -> subprocess.Popen[bytes]:
        with (self.root / log_name).open("wb") as log:
            try:
                process = subprocess.Popen(
                    args,
                    env=self._daemon_env(),
                    stderr=log,
                    stdout=kwargs.pop("stdout", log),
                    start_new_session=True,  # a Ctrl-C in the test run is not theirs
                    **kwargs,
                )
            except OSError as exc:
                raise SecretServiceUnavailable(f"cannot run {args[0]}: {exc}") from exc
        self._processes.append(process)
        return process

    def _log_tail(self) -> str:
        tails = []
        for log in sorted(self.root.glob("*.log")):
            text = log.read_text(errors="replace").strip()
            if text:
                tails.append(f"[{log.name}] {text[-500:]}")
        return " ".join(tails)


def _pairs(attributes: dict[str, str]) -> list[str]:
    return [part for item in attributes.items() for part in item]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=_COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
