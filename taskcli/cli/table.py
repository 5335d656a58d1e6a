"""The task table on a terminal: the title gets the width, rows are printed a page at a time.

rich lays a Table out from all of its rows at once, which for 100k tasks means the
memory of 100k rows. Here the column widths come from the first page and the terminal
width, and every page is a Table of its own with those fixed widths, so the pages line
up and memory stays bounded by one page.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Literal

PAGE_ROWS = 200
GAP = 2  # rich's padding between two columns of a box-less table
# Widest a column other than the title may get (content past it ends in "…").
CAPS = {"Due": 32, "Project": 16, "Tags": 20}
# On a narrow terminal these go first, in this order, until the title has room.
DROP_ORDER = ("Tags", "Project", "Status", "Due", "Pri")
TITLE_ROOM = 24  # what the title should keep, or half the terminal when that is less


@dataclass(frozen=True)
class Column:
    name: str
    width: int
    justify: Literal["left", "right"] = "left"


def print_rows(console, header: tuple[str, ...], rows: Iterable[tuple]) -> int:
    """Print rows of rich Text cells (the last one the title); return how many there were."""
    pages = _pages(iter(rows))
    first = next(pages, [])
    if not first:
        return 0
    columns = layout(header, first, console.width)
    count = 0
    for number, page in enumerate(_chain([first], pages)):
        console.print(_page_table(columns, header, page, show_header=number == 0))
        count += len(page)
    return count


def layout(header: tuple[str, ...], rows: list[tuple], width: int) -> list[Column]:
    """Fixed widths: each column what its content needs (an empty one none), the rest
    to the title; on a narrow terminal whole columns give way before the title does."""
    needed = {
        name: max((cell.cell_len for cell in cells), default=0)
        for name, cells in zip(header, zip(*rows, strict=True), strict=True)
    }
    columns = [
        Column(name, min(max(len(name), needed[name]), CAPS.get(name, width)),
               "right" if name == "#" else "left")
        for name in header[:-1]
        if needed[name] or name == "#"
    ]  # fmt: skip
    room = min(TITLE_ROOM, width // 2)
    for name in DROP_ORDER:
        if _title_width(columns, width) >= room:
            break
        columns = [column for column in columns if column.name != name]
    return [*columns, Column(header[-1], max(_title_width(columns, width), 1))]


def _title_width(columns: list[Column], width: int) -> int:
    return width - sum(column.width + GAP for column in columns)


def _page_table(columns: list[Column], header: tuple[str, ...], page, *, show_header: bool):
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False, show_header=show_header)
    for column in columns:
        last = column.name == header[-1]
        table.add_column(
            column.name, width=column.width, justify=column.justify,
            no_wrap=not last, overflow="fold" if last else "ellipsis",
        )  # fmt: skip
    shown = [header.index(column.name) for column in columns]
    for cells in page:
        table.add_row(*(cells[index] for index in shown))
    return table


def _pages(rows: Iterator[tuple]) -> Iterator[list[tuple]]:
    while page := list(islice(rows, PAGE_ROWS)):
        yield page


def _chain(*parts):
    for part in parts:
        yield from part
