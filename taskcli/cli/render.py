"""How tasks look: a rich table or panel on a TTY, tab-separated lines when piped, JSON.

One renderer per result kind; commands hand over records (plain dicts) and never format
fields themselves.
"""

from collections.abc import Iterable
from datetime import datetime

from taskcli.cli import output

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


def _due_cell(record: dict, now: datetime) -> str:
    from rich.markup import escape

    from taskcli.core.dates import describe_relative

    due = record["due"]
    if due is None:
        return ""
    text = escape(describe_relative(due, now=now))
    if due < now and record["status"] != "completed":
        return f"[bold red]{text}[/]"
    return text


def task_table(records: list[dict]):
    from rich.console import JustifyMethod
    from rich.table import Table

    from taskcli.core.dates import utc_now

    now = utc_now()
    table = Table(box=None, header_style="bold", pad_edge=False)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("#", "right"),
        ("Status", "left"),
        ("Pri", "left"),
        ("Due", "left"),
        ("Project", "left"),
        ("Tags", "left"),
        ("Title", "left"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold" if name == "Title" else "ellipsis")
    for record in records:
        table.add_row(
            str(record["number"]),
            record["status"].replace("_", " "),
            f"[{PRIORITY_STYLE[record['priority']]}]{record['priority']}[/]"
            if PRIORITY_STYLE[record["priority"]]
            else record["priority"],
            _due_cell(record, now),
            _cell(record["project"] or ""),
            _cell(",".join(record["tags"])),
            _cell(record["title"]),
            style=STATUS_STYLE[record["status"]] or None,
        )
    return table


def task_list(records: Iterable[dict], *, as_json: bool, jsonl: bool, total: int | None) -> None:
    """``list``: JSON array, JSON lines, a table on a TTY, or TSV when piped.

    ``records`` may be a stream: everything but the table is written as it comes.
    """
    if as_json:
        output.print_json_array(_json(record) for record in records)
    elif jsonl:
        output.print_json_lines(_json(record) for record in records)
    elif output.stdout_is_tty():
        records = list(records)
        if records:
            output.console().print(task_table(records))
        else:
            output.message("no tasks")
        if total is not None and total > len(records):
            output.message(f"showing {len(records):,} of {total:,} (use --limit 0 for all)")
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
    if not output.stdout_is_tty():
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
    elif output.stdout_is_tty():
        output.print_line(f"created task {record['number']}")
    else:
        output.print_line(str(record["number"]))
