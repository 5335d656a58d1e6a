"""What row-level security costs: the same commands of one user among ten, with and
without it, in one run.

The database is set up as production runs it: tables owned by a role that is not a
superuser, commands run as the application role `db grant` prepared (under row-level
security). *Without* is the same user's token, the same commands and data, through the
server's superuser, whom PostgreSQL exempts from row-level security. Both present the
session proof (the client always does), so the difference is the policies' own cost.
"""

from __future__ import annotations

import json
import statistics
import uuid

from bench.context import Run
from bench.report import stats
from bench.runner import Sample
from bench.workloads import Taskcli, middle_targets, write_tasks

USERS = 10
COMMANDS = ("list", "add", "done", "export")


def _setup_roles(run: Run) -> tuple[str, str, str]:
    """(owner URL, application URL, superuser URL) of a new database owned by the owner."""
    cluster = run.cluster
    suffix = uuid.uuid4().hex[:8]
    owner, app, name = f"bench_owner_{suffix}", f"bench_app_{suffix}", f"bench_rls_{suffix}"
    passwords = {role: uuid.uuid4().hex for role in (owner, app)}
    cluster.create_role(owner, passwords[owner], "NOSUPERUSER CREATEROLE")
    cluster.create_role(app, passwords[app], "NOSUPERUSER")
    admin = cluster.create_database(name, owner=owner) + "?sslmode=disable"
    return (
        cluster.url_as(admin, owner, passwords[owner]),
        cluster.url_as(admin, app, passwords[app]),
        admin,
    )


def _token(tc: Taskcli) -> str:
    tokens = json.loads((tc.home / "data" / "tokens.json").read_text())["tokens"]
    return next(iter(tokens.values()))


def _login_timing(app_url: str, known: list[str]) -> dict[str, float]:
    """The database's time for a wrong login, for a known and an unknown email, alternating
    (each known email fails once, so throttling never starts)."""
    import time

    import psycopg2

    from taskcli.core import proofs, security

    conn = psycopg2.connect(app_url)
    conn.autocommit = True
    times: dict[str, list[float]] = {"known email": [], "unknown email": []}
    try:
        with conn.cursor() as cursor:
            for email in known:
                unknown = f"nobody-{uuid.uuid4().hex}@example.com"
                for kind, address in (("known email", email), ("unknown email", unknown)):
                    cursor.execute("SELECT taskcli_password_setting(%s)", (address,))
                    (setting,) = cursor.fetchone()
                    wrong = security.hash_with_setting("not the password", setting)
                    proof = proofs.login_proof(wrong, email=address)
                    began = time.perf_counter()
                    cursor.execute(
                        f"SELECT taskcli_spend('{proof.nonce}'); COMMIT; SELECT status FROM "
                        "taskcli_login(%s, %s, %s, %s, %s, 'bench', 1, NULL, NULL)",
                        (address, str(proof.nonce), proof.ts, str(proof.r), str(proof.s)),
                    )
                    assert cursor.fetchone() == ("wrong",)
                    times[kind].append((time.perf_counter() - began) * 1000)
    finally:
        conn.close()
    return {kind: round(statistics.median(values), 1) for kind, values in times.items()}


def section(run: Run) -> None:
    if run.cluster is None:
        return
    size = run.profile.sizes[-1]
    reps, timeout = run.profile.reps[size], run.profile.timeout
    others = max(size // 10, 100)
    run.log(f"row-level security: {size:,} tasks for one user, {others:,} for {USERS - 1} more")
    owner_url, app_url, admin_url = _setup_roles(run)
    owner = Taskcli("rls-owner", run.workdir / "rls-owner", owner_url)
    owner.run("db", "migrate", timeout=timeout)
    app_role = app_url.split("//", 1)[1].split(":", 1)[0]
    owner.run("db", "grant", app_role, timeout=timeout)

    measured = Taskcli("rls-user", run.workdir / "rls-user", app_url)
    measured.register("rls-user@example.com")
    dataset = write_tasks(run.workdir / "rls.json", size, seed=70)
    measured.run("import", str(dataset.path), timeout=timeout)
    crowd = write_tasks(run.workdir / "rls-others.json", others, seed=71)
    for index in range(USERS - 1):
        other = Taskcli(f"rls-{index}", run.workdir / f"rls-{index}", app_url)
        other.register(f"rls-{index}@example.com")
        other.run("import", str(crowd.path), timeout=timeout)

    plain = Taskcli("rls-off", run.workdir / "rls-off", admin_url)
    plain.env["TASKCLI_TOKEN"] = _token(measured)
    targets = iter(index + 1 for index in middle_targets(dataset, 2 * reps))
    samples: dict[str, dict[str, list[Sample]]] = {
        command: {"rls": [], "plain": []} for command in COMMANDS
    }
    for _ in range(reps):
        for command in COMMANDS:
            for variant, tc in (("rls", measured), ("plain", plain)):
                args = ("done", str(next(targets))) if command == "done" else {
                    "list": ("list",), "add": ("add", "benchmark task"), "export": ("export",),
                }[command]  # fmt: skip
                samples[command][variant].append(tc.run(*args, timeout=timeout))
    run.results["rls"] = {
        "size": size,
        "users": USERS,
        "login_ms": _login_timing(
            app_url, [f"rls-{index}@example.com" for index in range(USERS - 1)]
        ),
        "commands": {
            command: {variant: stats(s) for variant, s in by_variant.items()}
            for command, by_variant in samples.items()
        },
    }
    dataset.path.unlink()
    crowd.path.unlink()
