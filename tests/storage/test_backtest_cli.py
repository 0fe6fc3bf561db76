"""``fundscan backtest`` through the real typer app, on SQLite and PostgreSQL.

The stored history is the constant-differential case of tests/strategies/test_backtest.py:
okx 0.0001/8h and gate 0.0006/8h, hand-computed there: one trade long okx / short gate,
entered D0+1h, held 48 h, funding 30 USD, fees 20, slippage 4 (1 bp per walk), net 6.
"""

from __future__ import annotations

import json
from pathlib import Path

from _storage_helpers import Backend
from typer.testing import CliRunner

from scanner.cli import app
from scanner.domain import FundingSettlement
from storage.repository import Repository

runner = CliRunner()
H = 3_600_000
D0 = 486_112 * H
BTC = "BTC/USDT:USDT"


def _config(tmp_path: Path, backend: Backend) -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"storage:\n  url: {backend.url_with_search_path}\n"
        "backtest:\n  slippage_bps_per_walk: 1.0\n",
        encoding="utf-8",
    )
    return cfg


def _store(backend: Backend) -> None:
    rows = [FundingSettlement("okx", "BTC-USDT-SWAP", BTC, D0 + h * H, 0.0001, 8.0)
            for h in range(0, 73, 8)]  # fmt: skip
    rows += [FundingSettlement("gate", "BTC_USDT", BTC, D0 + h * H, 0.0006, 8.0)
             for h in range(0, 73, 8)]  # fmt: skip
    with backend.open() as db:
        Repository(db).write_settlements(rows)


def _invoke(cfg: Path, *args: str):
    return runner.invoke(app, ["backtest", "--config", str(cfg), *args])


def test_json_has_the_summary_and_trades_with_the_hand_computed_pnl(
    backend: Backend, tmp_path: Path
) -> None:
    cfg = _config(tmp_path, backend)
    _store(backend)
    result = _invoke(cfg, "--since", str(D0), "--until", str(D0 + 50 * H), "--min-net-apr",
                     "0.1", "--min-confidence", "0.5", "--max-hold-h", "48", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    summary = out["summary"]
    assert summary["trades"] == 1
    assert abs(summary["net_pnl_usd"] - 6.0) < 1e-9
    assert abs(summary["funding_pnl_usd"] - 30.0) < 1e-9
    assert abs(summary["fees_usd"] - 20.0) < 1e-9
    assert abs(summary["max_drawdown_usd"] - 12.0) < 1e-9
    (trade,) = out["trades"]
    want = {"symbol": BTC, "long_venue": "okx", "short_venue": "gate",
            "long_symbol": "BTC-USDT-SWAP", "short_symbol": "BTC_USDT", "entry_ms": D0 + H,
            "exit_ms": D0 + 49 * H, "notional_usd": 10_000.0}  # fmt: skip
    assert {k: trade[k] for k in want} == want
    for key, value in (("funding_pnl_usd", 30.0), ("fees_usd", 20.0), ("slippage_usd", 4.0),
                       ("net_pnl_usd", 6.0)):  # fmt: skip
        assert abs(trade[key] - value) < 1e-9, key


def test_table_output_and_symbol_filter(backend: Backend, tmp_path: Path) -> None:
    cfg = _config(tmp_path, backend)
    _store(backend)
    shown = _invoke(cfg, "--since", str(D0), "--until", str(D0 + 50 * H), "--max-hold-h", "48",
                    "--min-net-apr", "0.1")  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "1 trades" in shown.stdout and "okx BTC-USDT-SWAP" in shown.stdout
    other = _invoke(cfg, "--since", str(D0), "--until", str(D0 + 50 * H), "--symbols", "ETH")
    assert other.exit_code == 2
    assert "no funding settlements stored for ETH" in other.stderr


def test_an_empty_database_is_a_clear_error(backend: Backend, tmp_path: Path) -> None:
    result = _invoke(_config(tmp_path, backend), "--since", "30d", "--json")
    assert result.exit_code == 2
    assert "no funding settlements stored" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


def test_bad_arguments_exit_2_with_one_line(backend: Backend, tmp_path: Path) -> None:
    cfg = _config(tmp_path, backend)
    bad_since = _invoke(cfg, "--since", "yesterday")
    assert bad_since.exit_code == 2 and "--since 'yesterday'" in bad_since.stderr
    bad_until = _invoke(cfg, "--until", "1700000000")
    assert bad_until.exit_code == 2 and "--until '1700000000'" in bad_until.stderr
    backwards = _invoke(cfg, "--since", "2026-02-01", "--until", "2026-01-01")
    assert backwards.exit_code == 2 and "must be before" in backwards.stderr
    hold = _invoke(cfg, "--since", "2026-01-01", "--until", "2026-02-01", "--max-hold-h", "0")
    assert hold.exit_code == 2 and "max_hold_h" in hold.stderr
    for r in (bad_since, bad_until, backwards, hold):
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.output


def test_imported_venues_without_fees_are_skipped_by_name(backend: Backend, tmp_path: Path) -> None:
    cfg = _config(tmp_path, backend)
    _store(backend)
    research_only = [FundingSettlement("htx", "BTC-USDT", BTC, D0 + h * H, 0.0009, 8.0)
                     for h in range(0, 73, 8)]  # fmt: skip
    with backend.open() as db:
        Repository(db).write_settlements(research_only)
    result = _invoke(cfg, "--since", str(D0), "--until", str(D0 + 50 * H), "--min-net-apr",
                     "0.1", "--max-hold-h", "48", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "skipped venues without a taker fee (not tradable here): htx" in result.stderr
    (trade,) = json.loads(result.stdout)["trades"]  # the same okx/gate trade as without htx
    assert (trade["long_venue"], trade["short_venue"]) == ("okx", "gate")
