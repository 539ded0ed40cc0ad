"""Go's ``text/tabwriter`` layout, as kubectl uses it for ``get`` tables and ``describe`` output.
Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# kubectl's tabwriter settings for `get` (printers.GetNewTabWriter): min width 6, padding 3.
TABLE_MIN_WIDTH = 6
TABLE_PADDING = 3


def tabwrite(text: str, minwidth: int = 0, padding: int = 1) -> str:
    """Go's ``text/tabwriter`` (flags 0, space padding).

    Tab-terminated cells of consecutive lines form a column as wide as its widest cell plus
    ``padding`` (at least ``minwidth``); the text after a line's last tab belongs to no column and
    is never padded. A line with fewer cells ends the columns it lacks.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    widths: list[int] = []
    out: list[str] = []

    def write(line0: int, line1: int) -> None:
        for cells in lines[line0:line1]:
            last = len(cells) - 1
            out.append("".join(c.ljust(widths[j]) if j < last else c for j, c in enumerate(cells)))

    def layout(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            layout(line0, this)
            widths.pop()
            line0 = this
        write(line0, line1)

    layout(0, len(lines))
    return "\n".join(out)


def format_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, no_headers: bool = False
) -> str:
    """kubectl's table: each column as wide as its widest cell + 3 spaces; ends with a newline."""
    body = [] if no_headers else [list(headers)]
    body.extend(list(r) for r in rows)
    text = "".join("\t".join(cells) + "\n" for cells in body)
    return tabwrite(text, TABLE_MIN_WIDTH, TABLE_PADDING)
