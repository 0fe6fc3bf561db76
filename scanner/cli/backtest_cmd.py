"""``fundscan backtest``: the scanner's entry and exit rules replayed over stored history.

Why a command and not only a notebook: a trader asks "what would this threshold have earned
after fees?" from the shell; the answer must come from the same database and the same rule
(``strategies.backtest``), read only through ``storage.queries``. ``--json`` writes one object
to stdout alone (notices go to stderr).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from scanner.cli.common import ConfigOption, console, err_console, fail, settings_or_exit
from scanner.cli.db_cmd import open_db_or_exit
from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.units import MS_PER_DAY, MS_PER_H

if TYPE_CHECKING:  # pandas, storage and the engine load only when the command runs
    import pandas as pd

    from scanner.settings import Settings
    from strategies.backtest import BacktestParams, BacktestResult
    from strategies.costs import FeeSchedule

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([dh])$")
_SUMMARY_FIELDS = ("trades", "net_pnl_usd", "funding_pnl_usd", "fees_usd", "slippage_usd",
                   "max_drawdown_usd", "win_rate", "pairs_traded")  # fmt: skip


def parse_moment(text: str, option: str, now_ms: int) -> int:
    """``30d`` / ``12h`` before now, epoch ms, or an ISO date (UTC if naive) -> epoch ms."""
    from storage.maintenance import ExportError, parse_since

    stripped = text.strip()
    rel = _RELATIVE.match(stripped)
    if rel:
        unit = MS_PER_DAY if rel[2] == "d" else MS_PER_H
        return now_ms - int(float(rel[1]) * unit)
    try:
        return parse_since(stripped)
    except ExportError as exc:
        message = str(exc).replace("--since", option, 1)
        raise fail(f"{message}; or a span before now such as 30d or 12h") from None


def _params(settings: Settings, overrides: dict[str, float | None]) -> BacktestParams:
    from strategies.backtest import BacktestParams
    from strategies.confidence import ConfidenceWeights

    eng, bt = settings.engine, settings.backtest
    values: dict[str, Any] = {
        "notional_usd": eng.notional_usd, "horizon_h": eng.horizon_h,
        "min_net_apr": eng.min_net_apr, "min_confidence": bt.min_confidence,
        "exit_net_apr": bt.exit_net_apr, "max_hold_h": bt.max_hold_h,
        "slippage_bps_per_walk": bt.slippage_bps_per_walk, "stale_after_h": bt.stale_after_h,
        "persistence_points": eng.persistence_points, "lookback_h": eng.lookback_h,
        "confidence_weights": ConfidenceWeights.from_any(eng.confidence_weights),
    }  # fmt: skip
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return BacktestParams(**values)
    except ValueError as exc:
        raise fail(str(exc).replace("BacktestParams.", "backtest: ")) from None


def _bases(raw: str | None) -> set[str] | None:
    if raw is None:
        return None
    bases = {b.strip().upper() for b in raw.split(",") if b.strip()}
    if not bases:
        raise fail("--symbols: expected bases such as BTC,ETH")
    return bases


def _only(frame: pd.DataFrame, bases: set[str] | None) -> pd.DataFrame:
    from strategies.spread import perp_parts

    if bases is None or frame.empty:
        return frame
    base = frame["canonical"].map(lambda c: (perp_parts(c) or ("",))[0])
    return frame[base.isin(bases)]


def _load(
    settings: Settings, since_ms: int, until_ms: int, lookback_ms: int, bases: set[str] | None,
    with_quotes: bool,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:  # fmt: skip
    from storage.db import StorageError
    from storage.queries import Queries

    start = since_ms - lookback_ms
    quotes = None
    with open_db_or_exit(settings) as db:
        queries = Queries(db)
        try:
            settled = _only(queries.settlements(since_ms=start, until_ms=until_ms), bases)
            if with_quotes:
                quotes = _only(queries.quotes(since_ms=start, until_ms=until_ms), bases)
        except StorageError as exc:
            raise fail(f"storage: {exc}") from None
    return settled, quotes


def _priced_venues_only(
    settled: pd.DataFrame, live: pd.DataFrame | None, fees: FeeSchedule
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Drop venues without a taker fee (imported research data such as HTX or dYdX): a trade
    there cannot be costed, so it is not replayed; the skipped venues are named on stderr."""
    unpriced = []
    for venue in sorted(set(settled["venue"])):
        try:
            fees.taker_of(str(venue))
        except KeyError:
            unpriced.append(str(venue))
    if not unpriced:
        return settled, live
    err_console.print(
        f"skipped venues without a taker fee (not tradable here): {', '.join(unpriced)}",
        highlight=False,
    )
    settled = settled[~settled["venue"].isin(unpriced)]
    if live is not None:
        live = live[~live["venue"].isin(unpriced)]
    return settled, live


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _json(result: BacktestResult, params: BacktestParams, since_ms: int, until_ms: int) -> str:
    summary = {
        **result.summary, "since_ms": since_ms, "until_ms": until_ms,
        "notional_usd": params.notional_usd, "min_net_apr": params.min_net_apr,
        "min_confidence": params.min_confidence, "max_hold_h": params.max_hold_h,
    }  # fmt: skip
    trades = json.loads(result.trades.to_json(orient="records"))
    return json.dumps({"summary": summary, "trades": trades}, allow_nan=False)


def _show(result: BacktestResult, since_ms: int, until_ms: int, top: int) -> None:
    s = result.summary
    console.print(
        f"backtest {_iso(since_ms)} -> {_iso(until_ms)} UTC, {s['decisions']} hourly decisions: "
        f"{s['trades']} trades on {s['pairs_traded']} pairs", highlight=False,
    )  # fmt: skip
    line = "  ".join(f"{k} {s[k]:,.2f}" for k in _SUMMARY_FIELDS[1:6])
    console.print(line, highlight=False)
    table = Table(title=f"trades (first {top})" if len(result.trades) > top else "trades")
    for name in ("symbol", "long leg", "short leg", "entry (UTC)", "hold h", "exit",
                 "funding $", "fees $", "slip $", "net $"):  # fmt: skip
        table.add_column(name, justify="right" if name.endswith(("$", "h")) else "left")
    for t in result.trades.head(top).itertuples(index=False):
        table.add_row(
            str(t.symbol), f"{t.long_venue} {t.long_symbol}", f"{t.short_venue} {t.short_symbol}",
            _iso(int(t.entry_ms)), f"{t.hold_h:.0f}", str(t.exit_reason),
            f"{t.funding_pnl_usd:,.2f}", f"{t.fees_usd:,.2f}", f"{t.slippage_usd:,.2f}",
            f"{t.net_pnl_usd:,.2f}",
        )  # fmt: skip
    console.print(table)


_Moment = Annotated[str | None, typer.Option(help="30d / 12h before now, epoch ms or ISO date.")]
_Quotes = Annotated[
    bool,
    typer.Option("--quotes", help="Also use stored live (predicted) rates between settlements."),
]
_Json = Annotated[bool, typer.Option("--json", help='Print {"summary": ..., "trades": [...]}.')]


def backtest(
    config: ConfigOption = None,
    since: _Moment = None,
    until: _Moment = None,
    symbols: Annotated[str | None, typer.Option(help="Only these bases, e.g. BTC,ETH.")] = None,
    min_net_apr: Annotated[
        float | None, typer.Option(help="Enter at or above (0.1 = 10 %).")
    ] = None,
    min_confidence: Annotated[float | None, typer.Option(min=0.0, max=1.0)] = None,
    max_hold_h: Annotated[float | None, typer.Option(help="Exit after this many hours.")] = None,
    notional: Annotated[float | None, typer.Option(help="Notional per leg in USD.")] = None,
    quotes: _Quotes = False,
    top: Annotated[int, typer.Option(min=1, help="Trades shown in the table.")] = 30,
    as_json: _Json = False,
) -> None:
    """Replay the entry/exit rule over stored settlements: trades, PnL after fees, drawdown.

    --since defaults to collector.history_days before --until (default now); thresholds and
    notional default to the engine and backtest sections of the config.
    """
    settings = settings_or_exit(config)
    _run(settings, SYSTEM_CLOCK, since, until, symbols, quotes, top, as_json,
         {"min_net_apr": min_net_apr, "min_confidence": min_confidence,
          "max_hold_h": max_hold_h, "notional_usd": notional})  # fmt: skip


def _run(
    settings: Settings, clock: Clock, since: str | None, until: str | None, symbols: str | None,
    with_quotes: bool, top: int, as_json: bool, overrides: dict[str, float | None],
) -> None:  # fmt: skip
    from scanner.pipeline import fee_schedule
    from strategies.backtest import run_backtest

    now_ms = clock.now_ms()
    until_ms = parse_moment(until, "--until", now_ms) if until else now_ms
    default_since = until_ms - settings.collector.history_days * MS_PER_DAY
    since_ms = parse_moment(since, "--since", now_ms) if since else default_since
    if since_ms >= until_ms:
        raise fail(f"--since ({_iso(since_ms)}) must be before --until ({_iso(until_ms)})")
    params = _params(settings, overrides)
    bases = _bases(symbols)
    lookback_ms = int(math.ceil(max(params.lookback_h, params.stale_after_h))) * MS_PER_H
    settled, live = _load(settings, since_ms, until_ms, lookback_ms, bases, with_quotes)
    if settled.empty:
        which = f" for {symbols}" if symbols else ""
        raise fail(
            f"no funding settlements stored{which} between {_iso(since_ms - lookback_ms)} and "
            f"{_iso(until_ms)} UTC; collect history first (fundscan scan / run)"
        )
    fees = fee_schedule(settings)
    settled, live = _priced_venues_only(settled, live, fees)
    if not as_json:
        err_console.print(f"replaying {len(settled)} settlements ...", highlight=False)
    result = run_backtest(settled, fees, params, since_ms, until_ms, live)
    if as_json:
        typer.echo(_json(result, params, since_ms, until_ms))
    else:
        _show(result, since_ms, until_ms, top)


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
