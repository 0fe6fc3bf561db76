"""The venue emulator: a local HTTP server speaking six venues' real wire formats.

Public API (used by tests, the collector's contract suite and ``fundscan demo``)::

    from emulator import Emulator, FaultPlan, FaultSpec

    async with Emulator(seed=1, stepped=True) as emu:       # or: await emu.start(port=0)
        emu.url                      # http://127.0.0.1:PORT
        emu.venue_url("okx")         # http://127.0.0.1:PORT/okx
        emu.market.funding_rate("bybit", "BTCUSDT")         # live rate per interval
        emu.market.next_funding_ms("bybit", "BTCUSDT")
        emu.market.interval_h("bybit", "BTCUSDT")
        emu.market.perpetual_symbols("gate")
        emu.clock.step(3_600_000)    # stepped mode; or ``await emu.advance(ms)``
        emu.faults.set("bybit", "/v5/market/tickers", FaultSpec("rate_limit", count=1))
        emu.faults.clear()

    with Emulator(seed=1).run_in_thread() as emu:           # for synchronous callers
        ...

``Emulator(seed=0, speed=1.0, faults=None, history_days=3, start_ms=None, stepped=False,
bybit_accounts=None, binance_accounts=None, clones=None, regime="normal", latency_ms=0)``
(``regime``: ``calm`` | ``normal`` | ``hot``, see ``model.REGIMES``); ``faults`` may be a
FaultPlan or its dict/list form (see faults.py); ``latency_ms`` is the fixed time from a venue
request's arrival to its answer (a network round trip, for benchmarks): the answer is computed
at arrival and leaves then, a fault's answer too; fault-plan latency comes on top.
"""

from emulator.faults import FaultConfigError, FaultPlan, FaultSpec
from emulator.server import Emulator

__all__ = ["Emulator", "FaultConfigError", "FaultPlan", "FaultSpec"]
