"""The live view behind ``fundscan watch``: what ``fundscan run`` writes, from 80 x 24 up.

Why Textual: a live view needs keys (sort, filter, pause) and a layout that resizes; Textual
gives both over SSH and a test pilot that drives the real app headlessly. It reads only the
database (see ``scanner.dashboard``), so it can watch any number of collectors.

Keys: ``s`` cycles the sort (net APR, trend, gross APR, confidence), ``f`` filters by symbol or
venue (Enter applies, Esc clears), ``p`` pauses/resumes refreshing, ``r`` refreshes now,
``q`` quits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import pandas as pd
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Input, Static

from scanner.clock import Clock, SystemClock
from scanner.dashboard import SORT_KEYS, Snapshot, view
from scanner.units import MS_PER_S

OPP_COLUMNS = ("#", "symbol", "long", "short", "net APR", "trend", "conf", "flags")
OPP_WIDTHS = {"symbol": 11, "net APR": 8, "trend": 7, "flags": 13}
"""Fixed widths of the columns whose text has no bound (a long ticker, every flag at once, a
trend of thousands of points): with the rest at their widest (``#`` 3, a leg 8, ``conf`` 4)
and two cells of padding each, the table is 78 cells, so it fits 80 beside the scrollbar
whatever the market shows; a longer text is cut at the column's edge."""


def _pct(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    v = float(x) * 100
    return f"{v:+.0f}%" if abs(v) >= 10 else f"{v:+.1f}%"


def _trend(x: Any) -> str:
    """``▲+3.1`` / ``▼-0.4`` points of APR since the previous scan; ``new`` for a new pair."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "new"
    v = float(x) * 100
    arrow = "▲" if v > 0.05 else "▼" if v < -0.05 else "="
    return f"{arrow}{v:+.0f}" if abs(v) >= 10 else f"{arrow}{v:+.1f}"


def _age(now_ms: int, then_ms: int | None) -> str:
    if then_ms is None:
        return "-"
    s = max(0, (now_ms - then_ms) // MS_PER_S)
    return f"{s}s" if s < 120 else f"{s // 60}m"


def _symbol(canonical: str) -> str:
    """``BTC`` for a USDT perp, ``BTC/USDC`` otherwise: the quote only when it is not USDT."""
    pair = canonical.split(":")[0]
    base, _, quote = pair.partition("/")
    return base if quote == "USDT" else pair


def opportunity_cells(df: pd.DataFrame) -> list[tuple[str, ...]]:
    """Compact cells for the live table (the scan table's formats; see ``render``)."""
    from scanner.cli.render import _flags, _leg, _net_cell

    rows: list[tuple[str, ...]] = []
    for i, row in enumerate(df.to_dict("records"), start=1):
        conf = row.get("confidence")
        rows.append(
            (
                str(i),
                _symbol(str(row["symbol"])),
                _leg(row, "long", True),
                _leg(row, "short", True),
                _net_cell(row, True),
                _trend(row.get("trend_apr")),
                "n/a" if conf is None or not math.isfinite(conf) else f"{conf:.2f}",
                _flags(row, True),
            )
        )
    return rows


class WatchApp(App[None]):
    """The live view. ``load`` returns a fresh snapshot (a database read)."""

    CSS = """
    #status { height: 1; }
    #opps { height: 1fr; scrollbar-size-vertical: 1; }
    #lower { height: 9; }
    #venues { width: 1fr; }
    #alerts { width: 1fr; }
    #positions { height: auto; max-height: 6; }
    #filter { dock: bottom; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("q", "quit", "quit"),
        Binding("s", "cycle_sort", "sort"),
        Binding("f", "filter", "filter"),
        Binding("p", "toggle_pause", "pause"),
        Binding("r", "refresh_now", "refresh"),
        Binding("escape", "clear_filter", "clear", show=False),
    ]

    def __init__(
        self,
        load: Callable[[], Snapshot],
        refresh_s: float = 2.0,
        clock: Clock | None = None,
        source: str = "",
    ) -> None:
        super().__init__()
        self._load = load
        self.refresh_s = refresh_s
        self.clock = clock or SystemClock()
        self.source = source
        self.sort_key = SORT_KEYS[0]
        self.needle = ""
        self.paused = False
        self.snapshot: Snapshot | None = None
        self.refreshes = 0

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        yield DataTable(id="opps", zebra_stripes=True, cursor_type="row")
        with Horizontal(id="lower"):
            yield DataTable(id="venues")
            yield DataTable(id="alerts")
        yield DataTable(id="positions")
        yield Input(placeholder="filter: symbol or venue, Enter applies, Esc clears", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        opps = self.query_one("#opps", DataTable)
        for label in OPP_COLUMNS:
            opps.add_column(label, width=OPP_WIDTHS.get(label))
        self.query_one("#venues", DataTable).add_columns("venue", "status", "ms")
        self.query_one("#alerts", DataTable).add_columns("UTC", "channel", "pair", "status")
        self.query_one("#positions", DataTable).add_columns("pair", "notional", "state")
        self.query_one("#filter", Input).display = False
        self.refresh_data()
        self.set_interval(self.refresh_s, self._tick)

    def _tick(self) -> None:
        if not self.paused:
            self.refresh_data()

    def refresh_data(self) -> None:
        self.snapshot = self._load()
        self.refreshes += 1
        self._render()

    def _render(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        self._render_status(snap)
        self._render_opportunities(snap)
        self._render_lower(snap)

    def _render_status(self, snap: Snapshot) -> None:
        if snap.empty:
            text = f"no finished scan yet in {self.source}: start `fundscan run`"
        else:
            shown = len(self._rows(snap))
            text = (
                f"scan #{snap.scan_id} {_age(self.clock.now_ms(), snap.finished_ms)} ago · "
                f"{shown}/{len(snap.opportunities)} rows · sort {self.sort_key}"
                + (f" · filter '{self.needle}'" if self.needle else "")
                + (" · PAUSED" if self.paused else "")
            )
        self.query_one("#status", Static).update(text)

    def _rows(self, snap: Snapshot) -> pd.DataFrame:
        return view(snap.opportunities, self.sort_key, self.needle)

    def _render_opportunities(self, snap: Snapshot) -> None:
        table = self.query_one("#opps", DataTable)
        table.clear()
        if snap.empty:
            return
        for cells in opportunity_cells(self._rows(snap)):
            table.add_row(*cells)

    def _render_lower(self, snap: Snapshot) -> None:
        venues = self.query_one("#venues", DataTable)
        venues.clear()
        for h in snap.venues:
            ms = "-" if h.latency_ms is None else f"{h.latency_ms:.0f}"
            venues.add_row(h.venue, h.status, ms)
        alerts = self.query_one("#alerts", DataTable)
        alerts.clear()
        for a in snap.alerts.to_dict("records"):
            when = datetime.fromtimestamp(int(a["sent_ms"]) / 1000, tz=UTC).strftime("%H:%M")
            pair = str(a["pair_key"]).split("|")[0] if isinstance(a["pair_key"], str) else "(test)"
            alerts.add_row(when, str(a["channel"]), pair, str(a["status"]))
        positions = self.query_one("#positions", DataTable)
        positions.clear()
        positions.display = not snap.positions.empty
        for p in snap.positions.to_dict("records"):
            positions.add_row(str(p["pair_key"]), f"{float(p['notional_usd']):,.0f}", p["state"])

    # -- keys ------------------------------------------------------------------------------

    def action_cycle_sort(self) -> None:
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self._render()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self._render()

    def action_refresh_now(self) -> None:
        self.refresh_data()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.needle = ""
        self.query_one("#opps", DataTable).focus()
        self._render()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.needle = event.value
        event.input.display = False
        self.query_one("#opps", DataTable).focus()
        self._render()
