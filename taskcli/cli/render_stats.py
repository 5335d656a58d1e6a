"""How ``stats`` looks: counts and a bar chart of the weeks on a TTY, plain lines when
piped, the document itself with --json (see the README for each)."""

from taskcli.cli import output, terminal

NO_PROJECT = "(no project)"
WEEK_WIDTH = len("2026-W48")
BARS = {"created": ("█", "cyan"), "completed": ("▒", "green")}
LONGEST_BAR = 50  # a wider terminal leaves the rest empty: longer bars read no better


def stats(document: dict, *, as_json: bool, no_pager: bool) -> None:
    """``stats``: ``{"counts", "weeks"}`` as JSON, as a table and chart, or as lines."""
    if as_json:
        output.print_json(document)
    elif terminal.current().stdout_is_tty():
        with output.paging(no_pager=no_pager) as console:
            console.print(_count_table(document["counts"]))
            for line in _chart(document["weeks"], console.width):
                console.print(line, no_wrap=True, overflow="crop")
    else:
        for line in plain_lines(document):
            output.print_line(line)


def _count_rows(counts: dict) -> list[tuple[str, int | None]]:
    """(label, count) of each count, the parts of a whole indented under it."""
    rows = [("tasks", counts["total"])]
    rows += [(f"  {status.replace('_', ' ')}", n) for status, n in counts["by_status"].items()]
    rows.append(("open", counts["open"]))
    rows += [(f"  {priority}", n) for priority, n in counts["open_by_priority"].items()]
    rows += [(name, counts[name]) for name in ("overdue", "waiting", "blocked")]
    if counts["open_by_project"]:
        rows.append(("open by project", None))
    for item in counts["open_by_project"]:
        name = NO_PROJECT if item["name"] is None else output.visible(item["name"])
        rows.append((f"  {name}", item["open"]))
    return rows


def _count_table(counts: dict):
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, overflow="ellipsis")
    table.add_column(justify="right", no_wrap=True)
    for label, count in _count_rows(counts):
        style = "" if label.startswith(" ") else "bold"
        number = "" if count is None else str(count)
        table.add_row(Text(label, style=style), Text(number, style=style))
    return table


def _chart(weeks: list[dict], width: int) -> list:
    """A line per week: its label and a bar of the tasks created and one of those
    completed, on one scale, each followed by its number; a header line names them."""
    from rich.text import Text

    peak = max((week[kind] for week in weeks for kind in BARS), default=0)
    digits = len(str(peak))
    fixed = WEEK_WIDTH + len(BARS) * (2 + 1 + digits)  # the gaps and the numbers
    bar_width = max(1, min(LONGEST_BAR, (width - fixed) // len(BARS)))
    header = Text("\n" + "week".ljust(WEEK_WIDTH), style="bold")
    for kind in BARS:
        header.append("  " + kind.ljust(bar_width + 1 + digits))
    lines = [header]
    for week in weeks:
        line = Text(week["week"].ljust(WEEK_WIDTH))
        for kind, (mark, style) in BARS.items():
            count = week[kind]
            length = max(1, round(count * bar_width / peak)) if count else 0
            line.append("  ")
            line.append(mark * length, style=style)
            line.append(" " * (bar_width - length) + " " + str(count).rjust(digits))
        lines.append(line)
    return lines


def plain_lines(document: dict) -> list[str]:
    """Tab-separated lines: ``NAME<TAB>COUNT`` for a count, ``status``/``priority``/
    ``project`` lines with the value in between (an empty project: none), and
    ``week<TAB>LABEL<TAB>CREATED<TAB>COMPLETED``, the oldest week first."""
    counts = document["counts"]
    lines = [f"total\t{counts['total']}"]
    lines += [f"status\t{status}\t{n}" for status, n in counts["by_status"].items()]
    lines.append(f"open\t{counts['open']}")
    lines += [f"priority\t{priority}\t{n}" for priority, n in counts["open_by_priority"].items()]
    projects = counts["open_by_project"]
    lines += [f"project\t{item['name'] or ''}\t{item['open']}" for item in projects]
    lines += [f"{name}\t{counts[name]}" for name in ("overdue", "waiting", "blocked")]
    lines += [f"week\t{w['week']}\t{w['created']}\t{w['completed']}" for w in document["weeks"]]
    return lines
