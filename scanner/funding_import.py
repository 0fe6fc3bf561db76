"""Real funding histories from files: the shared recordings' formats and one generic CSV.

Why a reader per format and no "smart" guessing inside rows: each recording was written by a
different tool with its own quirks (PROVENANCE.md next to the files lists them), and a quirk
copied into the database is a wrong number forever. So every format is read as it is, its
time-zone quirk is corrected here, with a test per quirk, and every settlement leaves with its
interval. Parsing happens before anything is written: a file with one bad row writes nothing
and the error names ``file:line``.

Formats (``FORMATS``; ``auto`` recognises each by extension and header):

==========================  ===================================================================
``generic``                 CSV ``venue,symbol,funding_time_ms,rate,interval_h`` (UTC epoch
                            ms; rate per interval as a fraction; interval in hours). The one
                            format for anybody's own data.
``binance-csv``             ``fundingTime,fundingRate`` (naive UTC text with sub-second
                            jitter); venue ``binanceusdm``, symbol from the file name
                            ``binance_usdm_<SYMBOL>_funding.csv``; interval from the gaps.
``btc-8h-csv``              ``Date,FundingRate`` (``DD/MM/YY H:MM``, UTC, newest first, CRLF):
                            an 8-hourly BTC perp whose venue the file does not name; stored
                            as ``binanceusdm BTCUSDT`` (values and schedule match it).
``hyperliquid-snapshots``   ``timestamp,symbol,funding_rate,mark_price``: *polled* hourly rates,
                            not settlements; stored as live quotes (``funding_quotes``) with
                            ``interval_h`` 1 and the next whole hour as their settlement.
``supervik``                ``Symbol,Date,Funding Rate`` per ``<BASE>-USDT_<venue>_*.csv``.
                            Binance, Bybit, HTX and MEXC were written in UTC+3 (settlements at
                            03/11/19 h) and KuCoin likewise (07/15/23 h for its 04/12/20 UTC
                            schedule): 3 h are subtracted. Gate and dYdX (hourly) are UTC.
``yuchengzhang``            JSON list of ``{coin, funding_rate, time}`` in
                            ``{binance,hl}_<COIN>_funding_rates.json``; UTC ms.
``zushen``                  Parquet with ``venue, venue_symbol, settlement_ts, rate_raw,
                            interval_hours`` (UTC); ``binance`` is ``binanceusdm``.
==========================  ===================================================================

Interval from the gaps (formats without one): a settlement at T paid for the hours since the
previous one, so its interval is ``T - previous`` when that is 1, 2, 4 or 8 h; otherwise (the
first row, or a gap where rows are missing) the file's most common such gap.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scanner.domain import FundingQuote, FundingSettlement, Kind, canonical_id
from scanner.units import MS_PER_H
from scanner.venues.base import settlement_time_ms, to_float
from scanner.venues.specs import SymbolError, parse_symbol

FORMATS: tuple[str, ...] = (
    "auto",
    "generic",
    "binance-csv",
    "btc-8h-csv",
    "hyperliquid-snapshots",
    "supervik",
    "yuchengzhang",
    "zushen",
)
GENERIC_HEADER: tuple[str, ...] = ("venue", "symbol", "funding_time_ms", "rate", "interval_h")
STANDARD_INTERVALS_H: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
MAX_INTERVAL_H = 24.0
MIN_TIME_MS = 1_262_304_000_000  # 2010-01-01: no perpetual settled funding before
MAX_TIME_MS = 4_102_444_800_000  # 2100-01-01
MAX_ABS_RATE = 1.0  # 100 % per interval: anything larger is a unit slip, not funding

SUPERVIK_UTC_OFFSET_H: dict[str, int] = {
    "binance": 3,
    "bybit": 3,
    "htx": 3,
    "mexc": 3,
    "kucoin": 3,
    "gate": 0,
    "dydx": 0,
}
"""Hours the supervik files are ahead of UTC, per venue (PROVENANCE.md; checked against each
venue's settlement schedule: Binance 00/08/16 UTC appears as 03/11/19)."""

_VENUE_ALIASES = {"binance": "binanceusdm", "hl": "hyperliquid"}
_SUPERVIK_SYMBOLS = {  # venues fundscan has no spec for: their own spelling
    "htx": "{b}-USDT",
    "kucoin": "{k}USDTM",
    "mexc": "{b}_USDT",
    "dydx": "{b}-USD",
}
_SUPERVIK_FILE = re.compile(r"^(?P<base>[A-Z0-9]+)-USDT_(?P<venue>[a-z]+)_")
_BINANCE_FILE = re.compile(r"^binance_usdm_(?P<symbol>[A-Z0-9]+)_funding\.csv$")
_YUCHENG_FILE = re.compile(r"^(?P<venue>binance|hl)_(?P<coin>[A-Z0-9]+)_funding_rates\.json$")


class FundingImportError(Exception):
    """A file that cannot be imported; the message names ``file[:line]`` and what is wrong."""


@dataclass
class ImportedFile:
    """What one file holds, parsed and corrected, ready to be written."""

    path: Path
    fmt: str
    settlements: list[FundingSettlement] = field(default_factory=list)
    quotes: list[FundingQuote] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.settlements) + len(self.quotes)


# --- entry points ------------------------------------------------------------------------------


def files_under(target: Path) -> list[Path]:
    """``target`` itself, or every importable file below a directory (sorted)."""
    if not target.exists():
        raise FundingImportError(f"{target}: no such file or directory")
    if target.is_file():
        return [target]
    found = sorted(
        p
        for p in target.rglob("*")
        if p.is_file() and p.suffix.lower() in (".csv", ".json", ".parquet")
    )
    if not found:
        raise FundingImportError(f"{target}: no .csv, .json or .parquet files in it")
    return found


def read_file(path: Path, fmt: str = "auto") -> ImportedFile:
    """Parse one file in ``fmt`` (``auto``: detect it). Raises FundingImportError."""
    if fmt not in FORMATS:
        raise FundingImportError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    found = detect_format(path) if fmt == "auto" else fmt
    reader = _READERS[found]
    out = ImportedFile(path=path, fmt=found)
    reader(path, out)
    if not out.rows:
        raise FundingImportError(f"{path}: no data rows")
    return out


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return "zushen"
    if suffix == ".json":
        return "yuchengzhang"
    header = _header(path)
    by_header = {
        GENERIC_HEADER: "generic",
        ("fundingtime", "fundingrate"): "binance-csv",
        ("date", "fundingrate"): "btc-8h-csv",
        ("timestamp", "symbol", "funding_rate", "mark_price"): "hyperliquid-snapshots",
        ("symbol", "date", "funding rate"): "supervik",
    }
    key = tuple(h.strip().lower() for h in header)
    if key in by_header:
        return by_header[key]
    raise FundingImportError(
        f"{path}:1: unrecognised header {','.join(header)!r}; expected the generic CSV "
        f"({','.join(GENERIC_HEADER)}) or give --format ({', '.join(FORMATS[1:])})"
    )


# --- helpers -----------------------------------------------------------------------------------


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return next(csv.reader(fh), [])


def _csv_rows(path: Path, expected: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; the header must be ``expected`` (any case)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        if [h.lower() for h in header] != [e.lower() for e in expected]:
            raise FundingImportError(
                f"{path}:1: header {','.join(header)!r}, expected {','.join(expected)!r}"
            )
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise FundingImportError(
                    f"{path}:{line}: {len(row)} fields, expected {len(header)} ({','.join(header)})"
                )
            yield line, {k.lower(): v.strip() for k, v in zip(header, row, strict=True)}


def _rate(text: Any, where: str) -> float:
    try:
        value = to_float(text)
    except ValueError:
        value = None
    if value is None:
        raise FundingImportError(f"{where}: rate {text!r} is not a number")
    if abs(value) > MAX_ABS_RATE:
        raise FundingImportError(
            f"{where}: rate {text!r} is over 100 % per interval; rates are fractions "
            "(0.0001 = 0.01 %)"
        )
    return value


def _checked_ms(ms: int, where: str) -> int:
    if not MIN_TIME_MS <= ms <= MAX_TIME_MS:
        raise FundingImportError(
            f"{where}: time {ms} is outside 2010..2100 in epoch milliseconds "
            "(a 10-digit value is seconds: multiply by 1000)"
        )
    return ms


def _naive_utc_ms(text: str, where: str, fmt: str | None = None, ahead_h: int = 0) -> int:
    """Epoch ms of a naive date-time written ``ahead_h`` hours ahead of UTC."""
    try:
        moment = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
    except ValueError:
        want = fmt or "an ISO date-time such as 2024-07-20 08:00:00"
        raise FundingImportError(f"{where}: time {text!r} is not {want}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment -= timedelta(hours=ahead_h)
    return _checked_ms(int(moment.timestamp() * 1000), where)


def _intervals_from_gaps(times_ms: Sequence[int]) -> list[float]:
    """Interval of each settlement (sorted times) from the gap to the previous one."""
    gaps = [(b - a) / MS_PER_H for a, b in zip(times_ms, times_ms[1:], strict=False)]
    standard = [g for g in gaps if g in STANDARD_INTERVALS_H]
    usual = Counter(standard).most_common(1)[0][0] if standard else 8.0
    out = [usual]
    out.extend(g if g in STANDARD_INTERVALS_H else usual for g in gaps)
    return out


def _canonical(venue: str, symbol: str, where: str) -> str:
    try:
        parts = parse_symbol(venue, symbol)
    except SymbolError as exc:
        raise FundingImportError(f"{where}: symbol {symbol!r} on {venue}: {exc}") from None
    return canonical_id(parts.base, parts.quote, parts.settle, parts.kind, parts.expiry_ms)


def _series(
    out: ImportedFile,
    venue: str,
    symbol: str,
    canonical: str,
    rows: list[tuple[int, float]],
    where: str,
    interval_h: float | None = None,
) -> None:
    """Settlements of one symbol: de-duplicated by (rounded) time, intervals from the gaps."""
    by_time: dict[int, float] = {}
    for ts, rate in rows:
        t = settlement_time_ms(ts)
        if t in by_time and by_time[t] != rate:
            raise FundingImportError(
                f"{where}: {venue} {symbol} has two different rates at {t} "
                f"({by_time[t]} and {rate})"
            )
        by_time[t] = rate
    times = sorted(by_time)
    intervals = [interval_h] * len(times) if interval_h else _intervals_from_gaps(times)
    out.settlements.extend(
        FundingSettlement(venue, symbol, canonical, t, by_time[t], h)
        for t, h in zip(times, intervals, strict=True)
    )


# --- readers -----------------------------------------------------------------------------------


def _read_generic(path: Path, out: ImportedFile) -> None:
    seen: dict[tuple[str, str, int], float] = {}
    for line, row in _csv_rows(path, GENERIC_HEADER):
        where = f"{path}:{line}"
        venue, symbol = row["venue"], row["symbol"]
        if not venue or not symbol:
            raise FundingImportError(f"{where}: venue and symbol must not be empty")
        try:
            ts = int(row["funding_time_ms"])
        except ValueError:
            raise FundingImportError(
                f"{where}: funding_time_ms {row['funding_time_ms']!r} is not an integer "
                "(UTC epoch milliseconds)"
            ) from None
        ts = settlement_time_ms(_checked_ms(ts, where))
        rate = _rate(row["rate"], where)
        interval = to_float(row["interval_h"]) if _is_number(row["interval_h"]) else None
        if interval is None or not 0 < interval <= MAX_INTERVAL_H:
            raise FundingImportError(
                f"{where}: interval_h {row['interval_h']!r} must be hours in (0, 24]"
            )
        key = (venue, symbol, ts)
        if key in seen and seen[key] != rate:
            raise FundingImportError(f"{where}: {venue} {symbol} {ts} appears twice, rates differ")
        seen[key] = rate
        canonical = _generic_canonical(venue, symbol, where)
        out.settlements.append(FundingSettlement(venue, symbol, canonical, ts, rate, interval))


def _is_number(text: str) -> bool:
    try:
        return to_float(text) is not None
    except ValueError:
        return False


def _generic_canonical(venue: str, symbol: str, where: str) -> str:
    """Known venues: the venue's own symbol rules; others: ``BASE-QUOTE`` / ``BASE_QUOTE`` /
    ``BASE/QUOTE`` spelled out, read as a linear perp settled in the quote."""
    try:
        return _canonical(venue, symbol, where)
    except FundingImportError:
        pass
    m = re.fullmatch(r"([A-Za-z0-9]+)[-_/]([A-Za-z]+)", symbol)
    if not m:
        raise FundingImportError(
            f"{where}: cannot tell the asset of {symbol!r} on {venue!r}; for a venue fundscan "
            "does not know, write the symbol as BASE-QUOTE (BTC-USDT)"
        )
    base, quote = m[1].upper(), m[2].upper()
    return canonical_id(base, quote, quote, Kind.PERPETUAL)


def _read_binance_csv(path: Path, out: ImportedFile) -> None:
    m = _BINANCE_FILE.match(path.name)
    if not m:
        raise FundingImportError(
            f"{path}: binance-csv files are named binance_usdm_<SYMBOL>_funding.csv"
        )
    symbol = m["symbol"]
    canonical = _canonical("binanceusdm", symbol, str(path))
    rows = [
        (_naive_utc_ms(r["fundingtime"], f"{path}:{n}"), _rate(r["fundingrate"], f"{path}:{n}"))
        for n, r in _csv_rows(path, ("fundingTime", "fundingRate"))
    ]
    _series(out, "binanceusdm", symbol, canonical, rows, str(path))


def _read_btc_8h(path: Path, out: ImportedFile) -> None:
    rows = [
        (
            _naive_utc_ms(r["date"], f"{path}:{n}", "%d/%m/%y %H:%M"),
            _rate(r["fundingrate"], f"{path}:{n}"),
        )
        for n, r in _csv_rows(path, ("Date", "FundingRate"))
    ]
    _series(out, "binanceusdm", "BTCUSDT", "BTC/USDT:USDT", rows, str(path), interval_h=8.0)
    out.notes.append("venue not stated in the file: stored as binanceusdm BTCUSDT")


def _read_hl_snapshots(path: Path, out: ImportedFile) -> None:
    for n, r in _csv_rows(path, ("timestamp", "symbol", "funding_rate", "mark_price")):
        where = f"{path}:{n}"
        ts = _naive_utc_ms(r["timestamp"], where)
        symbol = r["symbol"]
        try:
            parts = parse_symbol("hyperliquid", symbol)
        except SymbolError as exc:
            raise FundingImportError(f"{where}: hyperliquid coin {symbol!r}: {exc}") from None
        mark = to_float(r["mark_price"]) if _is_number(r["mark_price"]) else None
        out.quotes.append(
            FundingQuote(
                venue="hyperliquid",
                venue_symbol=symbol,
                canonical=canonical_id(parts.base, parts.quote, parts.settle),
                rate_per_interval=_rate(r["funding_rate"], where),
                interval_h=1.0,
                ts_ms=ts,
                next_funding_ms=(ts // MS_PER_H + 1) * MS_PER_H,
                mark_price=mark,
                multiplier=float(parts.multiplier),
            )
        )
    out.notes.append("polled rates, not settlements: stored as live quotes")


def _read_supervik(path: Path, out: ImportedFile) -> None:
    m = _SUPERVIK_FILE.match(path.name)
    if not m or m["venue"] not in SUPERVIK_UTC_OFFSET_H:
        raise FundingImportError(
            f"{path}: supervik files are named <BASE>-USDT_<venue>_..._funding_history.csv "
            f"with venue one of {', '.join(SUPERVIK_UTC_OFFSET_H)}"
        )
    base, source = m["base"], m["venue"]
    ahead_h = SUPERVIK_UTC_OFFSET_H[source]
    venue = _VENUE_ALIASES.get(source, source)
    if source in _SUPERVIK_SYMBOLS:
        symbol = _SUPERVIK_SYMBOLS[source].format(b=base, k="XBT" if base == "BTC" else base)
        settle = "USDC" if source == "dydx" else "USDT"
        canonical = canonical_id(base, "USD" if source == "dydx" else "USDT", settle)
    else:
        symbol = f"{base}_USDT" if venue == "gate" else f"{base}USDT"
        canonical = _canonical(venue, symbol, str(path))
    rows = []
    for n, r in _csv_rows(path, ("Symbol", "Date", "Funding Rate")):
        where = f"{path}:{n}"
        if r["symbol"] != f"{base}-USDT":
            raise FundingImportError(f"{where}: symbol {r['symbol']!r} in a {base}-USDT file")
        rows.append(
            (_naive_utc_ms(r["date"], where, ahead_h=ahead_h), _rate(r["funding rate"], where))
        )
    _series(out, venue, symbol, canonical, rows, str(path), 1.0 if source == "dydx" else None)
    if ahead_h:
        out.notes.append(f"times written {ahead_h} h ahead of UTC: corrected")


def _read_yuchengzhang(path: Path, out: ImportedFile) -> None:
    m = _YUCHENG_FILE.match(path.name)
    if not m:
        raise FundingImportError(
            f"{path}: yuchengzhang files are named {{binance,hl}}_<COIN>_funding_rates.json"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FundingImportError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, list):
        raise FundingImportError(f"{path}: expected a JSON list of settlements")
    venue = _VENUE_ALIASES[m["venue"]]
    coin = m["coin"]
    symbol = f"{coin}USDT" if venue == "binanceusdm" else coin
    canonical = _canonical(venue, symbol, str(path))
    rows = []
    for i, item in enumerate(data):
        where = f"{path}: item {i}"
        if not isinstance(item, dict) or "time" not in item or "funding_rate" not in item:
            raise FundingImportError(f"{where}: expected an object with time and funding_rate")
        if item.get("coin", coin) != coin:
            raise FundingImportError(f"{where}: coin {item.get('coin')!r} in a {coin} file")
        try:
            ts = int(item["time"])
        except (TypeError, ValueError):
            raise FundingImportError(f"{where}: time {item['time']!r} is not epoch ms") from None
        rows.append((_checked_ms(ts, where), _rate(item["funding_rate"], where)))
    _series(out, venue, symbol, canonical, rows, str(path), 1.0 if venue == "hyperliquid" else None)


_ZUSHEN_COLUMNS = ("venue", "venue_symbol", "settlement_ts", "rate_raw", "interval_hours")


def _read_zushen(path: Path, out: ImportedFile) -> None:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=list(_ZUSHEN_COLUMNS))
    except Exception as exc:  # pyarrow raises several kinds for a wrong or broken file
        raise FundingImportError(f"{path}: not a zushen parquet file: {exc}") from None
    frame = table.to_pandas()
    if frame["settlement_ts"].dt.tz is None:
        raise FundingImportError(f"{path}: settlement_ts has no time zone (expected UTC)")
    ms = frame["settlement_ts"].dt.tz_convert("UTC").astype("int64") // 1000  # us -> ms
    if str(frame["settlement_ts"].dtype).startswith("datetime64[ns"):
        ms = ms // 1000
    frame = frame.assign(ms=ms)
    for (source, symbol), group in frame.groupby(["venue", "venue_symbol"], sort=True):
        where = f"{path}: {source} {symbol}"
        venue = _VENUE_ALIASES.get(str(source), str(source))
        if venue == "hyperliquid-xyz":
            coin = str(symbol).partition(":")[2] or str(symbol)
            canonical = canonical_id(coin, "USDC", "USDC")
        else:
            canonical = _canonical(venue, str(symbol), where)
        group = group.sort_values("ms")
        times = [settlement_time_ms(_checked_ms(int(ts), where)) for ts in group["ms"]]
        stated = group["interval_hours"].to_numpy(dtype=float)
        from_gaps = _intervals_from_gaps(times)
        intervals = [
            g if math.isnan(h) else float(h) for h, g in zip(stated, from_gaps, strict=True)
        ]
        bad = [h for h in intervals if not 0 < h <= MAX_INTERVAL_H]
        if bad:
            raise FundingImportError(f"{where}: interval_hours {bad[0]!r} is not in (0, 24]")
        if any(math.isnan(h) for h in stated):
            out.notes.append(f"{source} {symbol}: missing interval_hours taken from the gaps")
        for t, rate, h in zip(times, group["rate_raw"], intervals, strict=True):
            out.settlements.append(
                FundingSettlement(venue, str(symbol), canonical, t, _rate(rate, where), h)
            )


_READERS = {
    "generic": _read_generic,
    "binance-csv": _read_binance_csv,
    "btc-8h-csv": _read_btc_8h,
    "hyperliquid-snapshots": _read_hl_snapshots,
    "supervik": _read_supervik,
    "yuchengzhang": _read_yuchengzhang,
    "zushen": _read_zushen,
}
