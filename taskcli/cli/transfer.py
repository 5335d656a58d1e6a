"""import and export."""

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from taskcli.cli import output, terminal
from taskcli.cli.helptext import command
from taskcli.cli.options import (
    DueBefore,
    FilterTags,
    Json,
    NoProject,
    Overdue,
    Priority,
    ProjectFilter,
    Reverse,
    Search,
    Sort,
    Statuses,
    task_filter,
)  # fmt: skip
from taskcli.cli.session import logged_in
from taskcli.core.enums import TaskSort

FORMAT_NAMES = "json, jsonl, csv, taskwarrior or todotxt"
Format = Annotated[
    str | None,
    typer.Option(
        "--format", "-f", metavar="FORMAT", help=f"{FORMAT_NAMES} (detected when omitted)."
    ),
]


app = typer.Typer()


def _checked_format(fmt: str) -> str:
    from taskcli.core.formats import FORMATS

    if fmt not in FORMATS:
        from taskcli.core.errors import UsageError

        raise UsageError(f"unknown format {fmt!r}: use {FORMAT_NAMES}")
    return fmt


def _open_source(source: str):
    """A seekable text stream decoded as UTF-8 (a BOM dropped) whatever the locale: the
    file, or the bytes of stdin, a pipe or a process substitution spooled (to disk past
    8 MiB)."""
    import io

    from taskcli.core.errors import InvalidInputError

    try:
        raw = sys.stdin.buffer if source == "-" else open(source, "rb")
        if not raw.seekable():
            import shutil
            import tempfile

            spool = tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+b")
            with raw if source != "-" else contextlib.nullcontext():
                shutil.copyfileobj(raw, spool)
            spool.seek(0)
            raw = spool
    except OSError as error:
        raise InvalidInputError(f"cannot read {source}: {error.strerror}") from None
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


@command(
    app,
    "import",
    "taskcli import tasks.json --dry-run",
    "task export | taskcli import - --format taskwarrior",
)
def import_command(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FILE|-", help="File to import, - for stdin.")],
    fmt: Format = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count everything, write nothing.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Import tasks, all or nothing; tasks already imported (same UUID) are updated."""
    from taskcli.core import transfer

    if fmt is not None:
        _checked_format(fmt)
    stream = _open_source(source)
    fmt = fmt or transfer.detect_format(stream, None if source == "-" else source)
    with (
        logged_in(ctx, journaled=not dry_run) as session,
        output.progress(None, f"importing {fmt}") as bar,
    ):
        try:
            report = transfer.import_file(
                session.conn, user_id=session.identity.user_id, stream=stream, fmt=fmt,
                dry_run=dry_run, on_progress=bar.advance,
            )  # fmt: skip
        except transfer.ImportRejected as rejected:
            _print_report(rejected.report, as_json, dry_run, rejected=True)
            raise
    _print_report(report, as_json, dry_run)


def _print_report(report, as_json: bool, dry_run: bool, rejected: bool = False) -> None:
    """Counts on stdout (the JSON report even when records were rejected); rejections
    one per line on stderr."""
    if as_json:
        output.print_json(report.as_dict())
        return
    for item in report.rejected:
        output.message(f"rejected {item['record']}: {item['error']}")
    if rejected:
        return
    prefix = "dry run: would have " if dry_run else ""
    output.print_line(
        f"{prefix}created {report.created}, updated {report.updated}, skipped {report.skipped}"
    )


@command(
    app,
    "export",
    "taskcli export --format csv -o tasks.csv",
    "taskcli export --project work --format todotxt",
)
def export_command(
    ctx: typer.Context,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="FORMAT", help=FORMAT_NAMES)
    ] = "json",
    out: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to FILE (complete or not at all); - is stdout.",
        ),
    ] = None,
    status: Statuses = None,
    priority: Priority = None,
    project: ProjectFilter = None,
    no_project: NoProject = False,
    tag: FilterTags = None,
    due_before: DueBefore = None,
    overdue: Overdue = False,
    search: Search = None,
    sort: Sort = TaskSort.number,
    reverse: Reverse = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help='Errors as JSON; with -o, print {"exported", "output"} on stdout.'
        ),
    ] = False,
) -> None:
    """Stream every matching task (completed ones included) in a format."""
    from taskcli.core import formats, transfer

    _checked_format(fmt)
    flt = task_filter(
        status=status, include_all=True, priority=priority, project=project,
        no_project=no_project, tag=tag,
        due_before=due_before, overdue=overdue, search=search, sort=sort, reverse=reverse,
        limit=0, offset=0,
    )  # fmt: skip
    with logged_in(ctx) as session:
        arguments = {"user_id": session.identity.user_id, "flt": flt, "fmt": fmt}
        if out is None or str(out) == "-":
            stream = sys.stdout
            if terminal.current().stdout_is_tty():
                is_json = fmt in formats.JSON_FORMATS
                stream = output.TerminalSafeWriter(sys.stdout, is_json=is_json)
            transfer.export_tasks(session.conn, out=stream, **arguments)
            return
        count = _export_to_file(session.conn, out, arguments)
    if as_json:
        output.print_json({"exported": count, "output": str(out)})
    else:
        output.message(f"exported {count} task(s) to {out}")


def _export_to_file(conn, path: Path, arguments: dict) -> int:
    """The file appears complete or not at all (see :func:`taskcli.core.files.replacing`)."""
    from taskcli.core import transfer
    from taskcli.core.errors import InvalidInputError
    from taskcli.core.files import replacing
    from taskcli.core.listing import count_tasks

    total = None
    if terminal.current().stderr_is_tty():
        total = count_tasks(conn, user_id=arguments["user_id"], flt=arguments["flt"])
    try:
        with (
            replacing(path) as handle,
            output.progress(total, f"exporting to {path}") as bar,
        ):
            return transfer.export_tasks(conn, out=handle, on_progress=bar.advance, **arguments)
    except OSError as error:
        raise InvalidInputError(f"cannot write {path}: {error.strerror}") from None
