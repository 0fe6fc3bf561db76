"""Tables that fit the terminal they are printed in, without ever cutting a number.

Why a module of its own: a scan table rendered by rich at its natural width (~190 columns)
in a 100-column terminal squeezed every cell (``139.…``), wrapped rows onto two lines and left
the numbers unreadable. Rather than let rich shrink cells, every table here is *fitted*:

1. every column is ``no_wrap``, so a cell is shown whole or not at all;
2. the table is measured at its natural width; if it is wider than the terminal, the compact
   cell formats are tried (``+139%`` for ``139.2%``, short venue names with a legend), then
   columns are dropped by their stated priority (highest number first) until it fits;
3. when even the essential columns (priority 0) do not fit, rows become stacked "cards";
4. a note under the table names what was hidden and how to see it (``--wide``, ``--columns``).

Colour only underlines what the text already says (a sign, a status word), so output reads the
same with ``NO_COLOR`` set (rich honours it) or on a light background.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

Row = Mapping[str, Any]
Justify = Literal["left", "right"]

WIDE_WIDTH = 10_000
"""Width used to measure a table's natural size (no terminal is this wide)."""


class ColumnsError(ValueError):
    """``--columns`` named a column the table does not have."""


@dataclass(frozen=True)
class Col:
    """One column: ``cell(row, compact)`` formats a value; ``priority`` 0 is never dropped,
    higher numbers are dropped first when the terminal is narrow."""

    key: str
    header: str
    cell: Callable[[Row, bool], str]
    priority: int = 0
    justify: Justify = "right"
    style: Callable[[Row], str] | None = None
    max_width: int | None = None
    """Only for free text (a failure reason): folded at this width instead of widening the table."""

    def render(self, row: Row, compact: bool) -> Text:
        text = Text(self.cell(row, compact))
        if self.style is not None:
            text.stylize(self.style(row))
        return text


@dataclass(frozen=True)
class Fitted:
    """What was printed: the renderable plus the decisions, so tests can check them."""

    renderable: RenderableType
    shown: tuple[str, ...]
    hidden: tuple[str, ...]
    compact: bool
    cards: bool


def select(cols: Sequence[Col], names: Sequence[str] | None) -> list[Col]:
    """Columns named by ``--columns`` (key or header, any case), in the order given."""
    if not names:
        return list(cols)
    by_name = {c.key.lower(): c for c in cols} | {c.header.lower(): c for c in cols}
    unknown = [n for n in names if n.strip().lower() not in by_name]
    if unknown:
        known = ", ".join(c.key for c in cols)
        raise ColumnsError(f"--columns: unknown column(s) {', '.join(unknown)}; known: {known}")
    return [by_name[n.strip().lower()] for n in names]


def _table(title: str | None, cols: Sequence[Col], rows: Sequence[Row], compact: bool) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for col in cols:
        table.add_column(
            col.header,
            justify=col.justify,
            no_wrap=col.max_width is None,
            overflow="fold",
            max_width=col.max_width,
        )
    for row in rows:
        table.add_row(*(c.render(row, compact) for c in cols))
    return table


def natural_width(renderable: RenderableType) -> int:
    """Columns the renderable needs to print without any wrapping or squeezing."""
    console = Console(width=WIDE_WIDTH, file=io.StringIO(), color_system=None)
    return console.measure(renderable).maximum


def _note(hidden: Sequence[str], compact: bool, legend: str | None, hint: str) -> Text | None:
    parts = []
    if legend and compact:
        parts.append(legend)
    if hidden:
        parts.append(f"hidden to fit the terminal: {', '.join(hidden)} ({hint})")
    return Text("\n".join(parts), style="italic") if parts else None


def _with_note(body: RenderableType, note: Text | None) -> RenderableType:
    return body if note is None else Group(body, note)


def fit(
    title: str | None,
    cols: Sequence[Col],
    rows: Sequence[Row],
    width: int,
    *,
    wide: bool = False,
    legend: Callable[[Sequence[Row]], str] | None = None,
    card: Callable[[Row, bool], str] | None = None,
    hint: str = "see them with --wide",
) -> Fitted:
    """The widest faithful rendering of ``rows`` within ``width`` columns (see module doc)."""
    legend_text = legend(rows) if legend else None
    full = _table(title, cols, rows, compact=False)
    if wide or natural_width(full) <= width:
        return Fitted(full, tuple(c.key for c in cols), (), False, False)
    kept = list(cols)
    # Columns of equal priority go together (a long rate is not shown without the short one).
    drop_order = sorted({c.priority for c in cols if c.priority > 0}, reverse=True)
    while True:
        table = _table(title, kept, rows, compact=True)
        if natural_width(table) <= width:
            hidden = tuple(c.key for c in cols if c not in kept)
            note = _note(hidden, True, legend_text, hint)
            return Fitted(_with_note(table, note), tuple(c.key for c in kept), hidden, True, False)
        if not drop_order:
            break
        level = drop_order.pop(0)
        kept = [c for c in kept if c.priority != level]
    return _cards(title, cols, rows, card, legend_text)


def _cards(
    title: str | None,
    cols: Sequence[Col],
    rows: Sequence[Row],
    card: Callable[[Row, bool], str] | None,
    legend: str | None,
) -> Fitted:
    """Stacked rows for very narrow terminals: ``header value`` pairs separated by spaces, so a
    line breaks between values and never inside one."""
    parts: list[RenderableType] = []
    if title:
        parts.append(Text(title, style="bold"))
    for row in rows:
        if card is not None:
            parts.append(Text(card(row, True)))
            continue
        fields = [f"{c.header}={c.cell(row, True)}" for c in cols]
        parts.append(Text("  ".join(fields)))
    note = _note((), True, legend, "")
    if note is not None:
        parts.append(note)
    return Fitted(Group(*parts), tuple(c.key for c in cols), (), True, True)
