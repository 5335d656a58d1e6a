"""How tasks look: a rich table or panel on a TTY, tab-separated lines when piped, JSON.

One renderer per result kind; commands hand over records (plain dicts) and never format
fields themselves.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import TextIO, cast

from taskcli.cli import output, terminal

PRIORITY_STYLE = {"high": "bold red", "medium": "", "low": "dim"}
STATUS_STYLE = {"pending": "", "in_progress": "cyan", "completed": "dim"}


def _json(record: dict) -> dict:
    from taskcli.core.formats import task_to_json

    return task_to_json(record)


def tsv_row(record: dict) -> str:
    """number, status, priority, due, project, tags (comma-joined), title."""
    from taskcli.core.dates import format_utc

    return "\t".join(
        [
            str(record["number"]),
            record["status"],
            record["priority"],
            format_utc(record["due"]) or "",
            output.visible(record["project"] or ""),
            output.visible(",".join(record["tags"])),
            output.visible(record["title"]),
        ]
    )


def _cell(text: str, *, keep: str = "") -> str:
    """Stored text for a rich table cell: no control character, no markup."""
    from rich.markup import escape

    return escape(output.visible(text, keep=keep))


TABLE_HEADER = ("#", "Status", "Pri", "Due", "Project", "Tags", "Title")


def _due_text(record: dict, now: datetime) -> str:
    """The local date (and time, unless it is the end of the day) and how far it is."""
    from taskcli.core.dates import describe_relative

    due = record["due"]
    if due is None:
        return ""
    local = due.astimezone()
    shown = local.strftime("%Y-%m-%d" if local.strftime("%H:%M:%S") == "23:59:59" else
                           "%Y-%m-%d %H:%M")  # fmt: skip
    return f"{shown} ({describe_relative(due, now=now)})"


def table_row(record: dict, now: datetime) -> tuple:
    """The cells of one task in the terminal table (rich Text: never read as markup)."""
    from rich.text import Text

    row_style = STATUS_STYLE[record["status"]]
    overdue = record["due"] is not None and record["due"] < now
    due_style = "bold red" if overdue and record["status"] != "completed" else ""
    return (
        Text(str(record["number"]), style=row_style),
        Text(record["status"].replace("_", " "), style=row_style),
        Text(record["priority"], style=PRIORITY_STYLE[record["priority"]] or row_style),
        Text(_due_text(record, now), style=due_style or row_style),
        Text(output.visible(record["project"] or ""), style=row_style),
        Text(output.visible(",".join(record["tags"])), style=row_style),
        Text(output.visible(record["title"]), style=row_style),
    )


def task_list(
    records: Iterable[dict], *, as_json: bool, jsonl: bool, total: int | None, no_pager: bool
) -> None:
    """``list``: JSON array, JSON lines, a table on a TTY (paged when taller than the
    screen), or TSV when piped. ``records`` may be a stream: it is written as it comes."""
    if as_json:
        output.print_json_array(_json(record) for record in records)
    elif jsonl:
        import sys

        from taskcli.core.formats.json_lines import write_jsonl

        # The export's writer; DEL and C1 escaped, as in every JSON document on stdout.
        write_jsonl(records, cast(TextIO, output.TerminalSafeWriter(sys.stdout, is_json=True)))
    elif terminal.current().stdout_is_tty():
        from taskcli.cli.table import print_rows
        from taskcli.core.dates import utc_now

        now, shown = utc_now(), None  # None: the user quit the pager before the end
        with output.paging(no_pager=no_pager) as console:
            shown = print_rows(console, TABLE_HEADER, (table_row(r, now) for r in records))
        if shown == 0:
            output.message("no tasks")
        if shown is not None and total is not None and total > shown:
            output.message(f"showing {shown:,} of {total:,} (use --limit 0 for all)")
    else:
        for record in records:
            output.print_line(tsv_row(record))


def task_detail(record: dict, *, as_json: bool) -> None:
    """``show``: every field."""
    if as_json:
        output.print_json(_json(record))
        return
    document = _json(record)
    document["tags"] = ",".join(document["tags"])
    if not terminal.current().stdout_is_tty():
        for key, value in document.items():
            output.print_line(f"{key}\t{output.visible('' if value is None else str(value))}")
        return
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in document.items():
        table.add_row(key, _cell("" if value is None else str(value), keep="\n\t"))
    output.console().print(table)


def task_changes(records: Iterable[dict], *, verb: str, as_json: bool, many: bool) -> None:
    """add/update/start/done/reopen/delete: the resulting task(s)."""
    records = list(records)
    if as_json:
        documents = [_json(record) for record in records]
        output.print_json(documents if many else documents[0])
        return
    for record in records:
        output.print_line(f"{verb} {record['number']}: {output.visible(record['title'])}")


def created(record: dict, *, as_json: bool) -> None:
    """``add``: the new number (the whole task with --json)."""
    if as_json:
        output.print_json(_json(record))
    elif terminal.current().stdout_is_tty():
        output.print_line(f"created task {record['number']}")
    else:
        output.print_line(str(record["number"]))
