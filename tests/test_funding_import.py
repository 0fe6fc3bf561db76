"""``fundscan import funding``: each recorded format as it is, its time-zone quirk corrected.

Hand-written files pin each quirk to a known answer (a supervik Binance row written at 03:00 is
the 00:00 UTC settlement); the real files in ../shared/data check that, after correction,
every venue settles on its own published schedule.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scanner.cli import app
from scanner.funding_import import FundingImportError, detect_format, read_file
from storage.db import open_database
from storage.queries import Queries

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"
SUPERVIK = SHARED / "multi-venue-funding" / "supervik"
H = 3_600_000
runner = CliRunner()


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _config(tmp_path: Path) -> tuple[Path, str]:
    url = f"sqlite:///{tmp_path / 'imp.db'}"
    cfg = _write(tmp_path / "config.yaml", f"storage:\n  url: {url}\n")
    return cfg, url


def _import(cfg: Path, *args: str):
    return runner.invoke(app, ["import", "funding", *args, "--config", str(cfg)])


# --- the generic CSV ------------------------------------------------------------------------


def test_generic_csv_is_stored_with_its_interval_and_a_second_import_adds_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    _write(
        data / "mine.csv",
        "venue,symbol,funding_time_ms,rate,interval_h\n"
        f"bybit,BTCUSDT,{_ms('2025-01-01 08:00:00') + 7},0.0001,8\n"
        f"hyperliquid,kPEPE,{_ms('2025-01-01 09:00:00')},-2.5e-05,1\n"
        f"somevenue,ETH-USDC,{_ms('2025-01-01 04:00:00')},0.0003,4\n",
    )
    cfg, url = _config(tmp_path)
    first = _import(cfg, str(data))
    assert first.exit_code == 0, first.output
    assert "3 rows, 3 new" in first.stdout
    with open_database(url, create=False) as db:
        got = Queries(db).settlements().set_index("venue")
    assert got.loc["bybit", "funding_time_ms"] == _ms("2025-01-01 08:00:00")  # jitter rounded
    assert got.loc["bybit", "canonical"] == "BTC/USDT:USDT"
    assert got.loc["hyperliquid", "canonical"] == "PEPE/USDC:USDC"
    assert got.loc["hyperliquid", "rate_per_h"] == pytest.approx(-2.5e-05)
    assert got.loc["somevenue", "canonical"] == "ETH/USDC:USDC"
    assert got.loc["somevenue", "interval_h"] == 4.0
    second = _import(cfg, str(data))
    assert second.exit_code == 0, second.output
    assert "3 rows, 0 new" in second.stdout


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("bybit,BTCUSDT,1735718400000,abc,8", "rate 'abc' is not a number"),
        ("bybit,BTCUSDT,1735718400,0.0001,8", "a 10-digit value is seconds"),
        ("bybit,BTCUSDT,2025-01-01,0.0001,8", "is not an integer"),
        ("bybit,BTCUSDT,1735718400000,0.0001,0", "interval_h '0' must be hours"),
        ("bybit,BTCUSDT,1735718400000,0.0001", "4 fields, expected 5"),
        ("bybit,BTCUSDT,1735718400000,1.5,8", "over 100 % per interval"),
    ],
)
def test_a_bad_row_is_named_by_file_and_line_exit_2_and_nothing_is_written(
    tmp_path: Path, row: str, expected: str
) -> None:
    good = "bybit,BTCUSDT,1735689600000,0.0001,8"
    path = _write(
        tmp_path / "bad.csv", f"venue,symbol,funding_time_ms,rate,interval_h\n{good}\n{row}\n"
    )
    cfg, url = _config(tmp_path)
    result = _import(cfg, str(path))
    assert result.exit_code == 2
    assert f"{path}:3:" in result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    with open_database(url) as db:
        assert Queries(db).count("funding_settlements") == 0


def test_unknown_header_and_missing_path_are_user_errors(tmp_path: Path) -> None:
    cfg, _ = _config(tmp_path)
    odd = _write(tmp_path / "odd.csv", "when,what\n1,2\n")
    result = _import(cfg, str(odd))
    assert result.exit_code == 2
    assert f"{odd}:1: unrecognised header" in result.output
    missing = _import(cfg, str(tmp_path / "nope"))
    assert missing.exit_code == 2
    assert "no such file or directory" in missing.output
    wrong = _import(cfg, str(odd), "--format", "excel")
    assert wrong.exit_code == 2
    assert "unknown format 'excel'" in wrong.output


# --- supervik: five venues written 3 h ahead of UTC ------------------------------------------


@pytest.mark.parametrize(
    ("venue", "written", "utc", "stored_venue", "symbol"),
    [
        ("binance", "2021-01-01 03:00:00.000", "2021-01-01 00:00:00", "binanceusdm", "BTCUSDT"),
        ("bybit", "2021-01-01 11:00:00", "2021-01-01 08:00:00", "bybit", "BTCUSDT"),
        ("htx", "2021-01-01 19:00:00", "2021-01-01 16:00:00", "htx", "BTC-USDT"),
        ("mexc", "2021-01-01 03:00:00", "2021-01-01 00:00:00", "mexc", "BTC_USDT"),
        ("kucoin", "2021-01-01 07:00:00", "2021-01-01 04:00:00", "kucoin", "XBTUSDTM"),
        ("gate", "2021-01-01 08:00:00", "2021-01-01 08:00:00", "gate", "BTC_USDT"),
        ("dydx", "2021-01-01 05:00:00", "2021-01-01 05:00:00", "dydx", "BTC-USD"),
    ],
)
def test_supervik_times_are_corrected_to_utc_per_venue(
    tmp_path: Path, venue: str, written: str, utc: str, stored_venue: str, symbol: str
) -> None:
    path = _write(
        tmp_path / f"BTC-USDT_{venue}_2021-01-01_2024-01-01_funding_history.csv",
        f"Symbol,Date,Funding Rate\nBTC-USDT,{written},0.0001\n",
    )
    got = read_file(path)
    assert got.fmt == "supervik"
    (s,) = got.settlements
    assert (s.venue, s.venue_symbol, s.funding_time_ms) == (stored_venue, symbol, _ms(utc))
    assert s.interval_h == (1.0 if venue == "dydx" else 8.0)


@pytest.mark.parametrize(
    ("venue", "hours"),
    [
        ("binance", {0, 8, 16}),
        ("bybit", {0, 8, 16}),
        ("mexc", {0, 8, 16}),
        ("gate", {0, 8, 16}),
        ("kucoin", {4, 12, 20}),
        ("htx", {0, 8, 16}),
    ],
)
def test_real_supervik_files_settle_on_each_venues_utc_schedule(
    venue: str, hours: set[int]
) -> None:
    (path,) = SUPERVIK.glob(f"BTC-USDT_{venue}_*.csv")
    got = read_file(path).settlements
    at = Counter((s.funding_time_ms // H) % 24 for s in got)
    on_schedule = sum(n for h, n in at.items() if h in hours)
    assert on_schedule / len(got) > 0.995  # HTX has a handful of off-schedule rows, as recorded
    assert {s.interval_h for s in got} == {8.0} or venue == "htx"


def test_real_supervik_dydx_is_hourly_utc() -> None:
    (path,) = SUPERVIK.glob("ETH-USDT_dydx_*.csv")
    got = read_file(path).settlements
    assert got[0].funding_time_ms == _ms("2022-01-01 00:00:00")
    assert got[-1].funding_time_ms == _ms("2023-12-31 23:00:00")  # the requested range's end
    assert {s.interval_h for s in got} == {1.0}
    assert got[0].canonical == "ETH/USD:USDC"


# --- the other recorded formats -----------------------------------------------------------


def test_binance_csv_intervals_come_from_the_gaps_and_jitter_is_rounded(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "binance_usdm_1000RATSUSDT_funding.csv",
        "fundingTime,fundingRate\n"
        "2025-01-02 08:00:00.003000,0.0001\n"
        "2025-01-02 16:00:00,0.0002\n"
        "2025-01-02 20:00:00.001000,0.0003\n"
        "2025-01-03 00:00:00,0.0004\n"
        "2025-01-03 12:00:00,0.0005\n",  # 12 h: rows missing, not a 12 h interval
    )
    got = read_file(path)
    assert got.fmt == "binance-csv"
    times = [s.funding_time_ms for s in got.settlements]
    assert times[0] == _ms("2025-01-02 08:00:00")
    assert [s.interval_h for s in got.settlements] == [4.0, 8.0, 4.0, 4.0, 4.0]
    assert got.settlements[0].canonical == "RATS/USDT:USDT"


def test_btc_8h_csv_reads_day_first_dates_newest_first_with_crlf(tmp_path: Path) -> None:
    path = tmp_path / "btc.csv"
    path.write_bytes(b"Date,FundingRate\r\n15/03/23 8:00,0.0001\r\n15/03/23 0:00,-0.0002\r\n")
    got = read_file(path)
    assert got.fmt == "btc-8h-csv"
    assert [(s.funding_time_ms, s.rate_per_interval) for s in got.settlements] == [
        (_ms("2023-03-15 00:00:00"), -0.0002),
        (_ms("2023-03-15 08:00:00"), 0.0001),
    ]
    assert {(s.venue, s.venue_symbol, s.interval_h) for s in got.settlements} == {
        ("binanceusdm", "BTCUSDT", 8.0)
    }


def test_hyperliquid_snapshots_are_live_quotes_not_settlements(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "hl.csv",
        "timestamp,symbol,funding_rate,mark_price\n"
        "2026-02-04T21:19:43.348876+00:00,kPEPE,1.25e-05,0.0041\n",
    )
    got = read_file(path)
    assert got.fmt == "hyperliquid-snapshots" and not got.settlements
    (q,) = got.quotes
    assert q.canonical == "PEPE/USDC:USDC" and q.multiplier == 1000.0
    assert (q.interval_h, q.is_settled, q.rate_per_interval) == (1.0, False, 1.25e-05)
    assert q.next_funding_ms == _ms("2026-02-04 22:00:00")


def test_yuchengzhang_json_rounds_jitter_and_knows_each_venues_interval(tmp_path: Path) -> None:
    t0 = _ms("2024-01-01 00:00:00")
    rows = [
        {"coin": "ETH", "funding_rate": "0.0001", "time": t0 + 151},
        {"coin": "ETH", "funding_rate": "-0.00002", "time": t0 + H + 6},
    ]
    hl = _write(tmp_path / "hl_ETH_funding_rates.json", json.dumps(rows))
    got = read_file(hl)
    assert [s.funding_time_ms % H for s in got.settlements] == [0, 0]
    assert {(s.venue, s.venue_symbol, s.canonical, s.interval_h) for s in got.settlements} == {
        ("hyperliquid", "ETH", "ETH/USDC:USDC", 1.0)
    }
    bad = _write(tmp_path / "binance_ETH_funding_rates.json", json.dumps([{"coin": "ETH"}]))
    with pytest.raises(FundingImportError, match="item 0: expected an object with time"):
        read_file(bad)


def test_zushen_parquet_maps_binance_to_binanceusdm_and_fills_a_missing_interval() -> None:
    path = SHARED / "multi-venue-funding" / "zushen" / "bybit.parquet"
    got = read_file(path)
    inj = [s for s in got.settlements if s.venue_symbol == "INJUSDT"]
    assert all(s.interval_h in (1.0, 2.0, 4.0, 8.0) for s in inj)
    assert any("INJUSDT" in n for n in got.notes)
    assert detect_format(SHARED / "multi-venue-funding" / "zushen" / "binance.parquet") == "zushen"


def test_the_shared_funding_history_imports_idempotently(tmp_path: Path) -> None:
    cfg, url = _config(tmp_path)
    first = _import(cfg, str(SHARED / "funding-history"))
    assert first.exit_code == 0, first.output
    with open_database(url, create=False) as db:
        q = Queries(db)
        settled, quotes = q.count("funding_settlements"), q.count("funding_quotes")
        intervals = q.settlements()["interval_h"]
    assert settled > 9000 and quotes == 2508
    assert intervals.notna().all()
    second = _import(cfg, str(SHARED / "funding-history"))
    assert second.exit_code == 0, second.output
    assert "0 new rows" in second.stderr
