"""``fundscan run`` with execution.auto in paper mode, over an accelerated emulator clock:
it opens the best pair, holds it through funding settlements (recorded per leg) and closes it."""

from __future__ import annotations

from pathlib import Path

from exec_helpers import BKEY, BSECRET, KEY, SECRET
from typer.testing import CliRunner

from emulator import Emulator
from emulator.binance_account import BinanceAccountConfig
from emulator.bybit_account import BybitAccount
from scanner.cli import app
from storage.db import open_database
from storage.execution_events import ExecutionEventStore
from storage.execution_store import ExecutionStore
from storage.tables import positions

CONFIG = """\
schedule: {{scan_every_s: 5, prune_every_h: 0}}
storage: {{url: "sqlite:///{db}"}}
venues: {{enabled: [bybit, binanceusdm]}}
universe: {{include: [BTC, ETH, SOL, XRP, DOGE]}}
engine: {{notional_usd: 900, min_net_apr: -100}}  # every pair (few clear fees now)
execution:
  mode: paper
  auto: true
  min_net_apr: -100       # any executable pair: the test is about the lifecycle
  min_confidence: 0
  exit_below_apr: -100    # never decays ...
  basis_stop_frac: 1      # ... nor stops: only the max-hold clock closes
  max_hold_h: 12          # 12 emulated hours = 12 s at speed 3600
  max_open_pairs: 1
  kill_switch_file: "{kill}"
"""


def test_auto_opens_holds_through_settlements_and_closes(tmp_path: Path) -> None:
    db_file = tmp_path / "auto.db"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(db=db_file, kill=tmp_path / "KILL"), encoding="utf-8")
    env = {"BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET,
           "BINANCE_API_KEY": BKEY, "BINANCE_API_SECRET": BSECRET}  # fmt: skip
    emu = Emulator(
        seed=5, speed=3600, bybit_accounts=[BybitAccount(KEY, SECRET)],
        binance_accounts=[BinanceAccountConfig(BKEY, BSECRET)],
    )  # fmt: skip
    with emu.run_in_thread():
        result = CliRunner().invoke(
            app, ["run", "-c", str(cfg), "--emulator", emu.url, "--max-scans", "4"], env=env
        )
    assert result.exit_code == 0, result.output
    assert "execute: opened" in result.output, result.output
    assert "execute: closed" in result.output and "max hold" in result.output, result.output
    db = open_database(f"sqlite:///{db_file}", create=False)
    try:
        store, events = ExecutionStore(db), ExecutionEventStore(db)
        with db.read() as conn:
            rows = list(conn.execute(positions.select().order_by(positions.c.id)))
        first = rows[0]
        assert first.state == "closed" and first.realised_pnl_usd is not None
        legs = store.legs_for_position(first.id)
        assert all(leg.fees_usd and leg.fees_usd > 0 for leg in legs)
        assert any(leg.funding_usd for leg in legs), "funding settled while the pair was held"
        assert any(e.kind == "exit" for e in events.for_position(first.id))
    finally:
        db.dispose()
