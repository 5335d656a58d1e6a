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
    """``show``: every field; annotations one a line, numbered as denotate counts them."""
    if as_json:
        output.print_json(_json(record))
        return
    document = _json(record)
    for key in ("tags", "depends"):
        document[key] = ",".join(document[key])
    notes = [f"{index}. {note['entry']} {note['text']}"
             for index, note in enumerate(document.pop("annotations"), 1)]  # fmt: skip
    if not terminal.current().stdout_is_tty():
        for key, value in document.items():
            output.print_line(f"{key}\t{output.visible('' if value is None else str(value))}")
        for note in notes:
            output.print_line(f"annotation\t{output.visible(note)}")
        return
    document["annotations"] = "\n".join(notes) or None
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


def completed(done, *, as_json: bool) -> None:
    """``done``: the completed tasks (the JSON array of them), and on a line each the next
    occurrence of a recurring one."""
    task_changes(done.completed, verb="completed", as_json=as_json, many=True)
    if as_json:
        return
    from taskcli.core.dates import utc_now

    now = utc_now()
    for record in done.completed:
        following = done.next_occurrences.get(record["number"])
        if following is not None:
            title = output.visible(following["title"])
            output.print_line(f"next {following['number']}: {title} (due "
                              f"{_due_text(following, now)})")  # fmt: skip


def next_list(records: list[dict], *, as_json: bool, no_pager: bool) -> None:
    """``next``: task objects with their ``urgency``; on a TTY the table with an Urg
    column; piped, the list's tab-separated line with the urgency at its end."""
    if as_json:
        output.print_json([{**_json(record), "urgency": record["urgency"]} for record in records])
    elif terminal.current().stdout_is_tty():
        from rich.text import Text

        from taskcli.cli.table import print_rows
        from taskcli.core.dates import utc_now

        now = utc_now()
        rows = ((*table_row(r, now), Text(f"{r['urgency']:.1f}")) for r in records)
        with output.paging(no_pager=no_pager) as console:
            shown = print_rows(console, (*TABLE_HEADER, "Urg"), rows)
        if shown == 0:
            output.message("no ready tasks")
    else:
        for record in records:
            output.print_line(f"{tsv_row(record)}\t{record['urgency']}")


def name_counts(rows: list[dict], *, as_json: bool, what: str) -> None:
    """``projects`` and ``tags``: each name with its open and total task counts."""
    if as_json:
        output.print_json(rows)
    elif terminal.current().stdout_is_tty():
        from rich.text import Text

        from taskcli.cli.table import print_rows

        cells = ((Text(output.visible(r["name"])), Text(str(r["open"])), Text(str(r["total"])))
                 for r in rows)  # fmt: skip
        if print_rows(output.console(), (what.capitalize(), "Open", "Total"), cells) == 0:
            output.message(f"no {what}s")
    else:
        for row in rows:
            output.print_line(f"{output.visible(row['name'])}\t{row['open']}\t{row['total']}")


def filters_text(filters: dict) -> str:
    """A context's filters as the list options that give them."""
    words = []
    for key, value in filters.items():
        option = "--" + key.replace("_", "-")
        if key == "tags":
            option = "--tag"
        if value is True:
            words.append(option)
        elif isinstance(value, list):
            words += [f"{option} {item}" for item in value]
        else:
            words.append(f"{option} {value}")
    return output.visible(" ".join(words))


def context_list(items: list[dict], *, active: str | None, as_json: bool) -> None:
    """``context list``: name and filters of each; the one in use is marked."""
    if as_json:
        output.print_json([{**item, "active": item["name"] == active} for item in items])
        return
    if not items and terminal.current().stdout_is_tty():
        output.message("no contexts (taskcli context define NAME [list filters])")
    for item in items:
        mark = "*" if item["name"] == active else " "
        output.print_line(f"{mark} {item['name']}\t{filters_text(item['filters'])}")


def context_shown(item: dict | None, *, as_json: bool) -> None:
    """``context show``: the context in use and its filters (JSON null for none)."""
    if as_json:
        output.print_json(item)
    elif item is None:
        output.print_line("none")
    else:
        output.print_line(f"{item['name']}\t{filters_text(item['filters'])}")


def done_message(text: str, *, as_json: bool, document: object = None) -> None:
    """A change that has no task to show (context use/define/delete): a line, or JSON."""
    if as_json:
        output.print_json(document)
    else:
        output.print_line(text)


def _entry_json(entry: dict) -> dict:
    from taskcli.core.dates import format_utc

    return {
        **entry,
        "when": format_utc(entry["when"]),
        "undone_at": format_utc(entry["undone_at"]) if entry["undone_at"] else None,
        "tasks": [{"number": t["number"], "id": str(t["id"])} for t in entry["tasks"]],
    }


def _entry_line(entry: dict) -> str:
    """step, when (local), command, task count, the first numbers, client."""
    numbers = ",".join(str(t["number"]) for t in entry["tasks"][:10])
    if entry["count"] > 10:
        numbers += ",…"
    state = "\tundone" if entry["undone_at"] else ""
    return output.visible(
        f"{entry['step']}\t{_local_time(entry['when'])}\t{entry['command']}\t"
        f"{entry['count']}\t{numbers}\t{entry['client']}{state}",
        keep="\t",
    )


def _local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def history(entries: list[dict], *, as_json: bool) -> None:
    """``history``: one line a change (JSON: the entries), newest first."""
    if as_json:
        output.print_json([_entry_json(entry) for entry in entries])
        return
    if not entries and terminal.current().stdout_is_tty():
        output.message("no changes yet")
    for entry in entries:
        output.print_line(_entry_line(entry))


def _entry_summary(entry: dict) -> str:
    count = entry["count"]
    tasks = f"{count} task{'s' if count != 1 else ''}"
    numbers = ", ".join(str(t["number"]) for t in entry["tasks"][:10])
    more = ", …" if count > 10 else ""
    return output.visible(
        f"`{entry['command']}` of {_local_time(entry['when'])} on {entry['client']} "
        f"({tasks}: {numbers}{more})"
    )


def undo_question(entry: dict | None) -> str:
    if entry is None:
        return "Nothing to undo. Continue?"
    return f"Undo {_entry_summary(entry)}?"


def undone(entry: dict, *, as_json: bool) -> None:
    """``undo``: what was reverted."""
    if as_json:
        output.print_json(_entry_json(entry))
    else:
        output.print_line(f"undid {_entry_summary(entry)}")
