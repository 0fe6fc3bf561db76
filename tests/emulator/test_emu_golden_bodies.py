"""Every public answer the scanner asks for, pinned byte for byte.

The emulator's request path and its formatting are tuned for CPU (a steady bench cycle asks
six emulator processes for ~150 answers); the tuning must not move one byte of any answer.
``golden_bodies.json`` holds a digest (sha256 of status, content type and body) of each
answer in ``requests_at`` at each step of ``STEPS_MS``, recorded by ``record()`` from the
emulator as it was at commit a03e162 (before the CPU work on its request path, books and
formatting; regenerate only for a deliberate change of what a venue answers:
``python tests/emulator/test_emu_golden_bodies.py > tests/emulator/golden_bodies.json``).
The steps stay inside one minute and then cross minutes and an hour (new prices, rates, next
funding times, book seconds), so the cached and the freshly built paths are both pinned.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emu_helpers import START_MS, running  # noqa: E402

from emulator import Emulator  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden_bodies.json"
STEPS_MS = (0, 1_500, 2_500, 61_000, 3_600_000)
"""Steps of the stepped clock: the same second twice is not needed (each step moves it)."""
PICKS = (0, 1, 7, -1)
"""Positions of the listings sampled per venue (first, a few in, last)."""
HL_INFO = "/hyperliquid/info"


def _pick(emu: Emulator, venue: str) -> list[str]:
    symbols = [x.symbol for x in emu.market.venue_listings(venue) if x.perpetual]
    return list(dict.fromkeys(symbols[i] for i in PICKS))


Request = tuple[str, str, dict[str, Any] | None]


def requests_at(emu: Emulator) -> list[Request]:
    """(method, path, JSON body) of every pinned request: each venue's bulk quote and
    instrument endpoints, its funding endpoints, and books of depth 1, 5 and 50 (or the depths
    the venue takes) for a sample of symbols, plus a few error answers."""
    out: list[Request] = []
    for part in (_bybit, _binance, _okx, _gate, _bitget):
        out += [("GET", path, None) for path in part(emu)]
    return out + _hyperliquid(emu)


def _bybit(emu: Emulator) -> list[str]:
    out: list[str] = []
    get = out.append
    by = "/bybit/v5/market"
    get(f"{by}/time")
    get(f"{by}/instruments-info?category=linear")
    get(f"{by}/instruments-info?category=linear&limit=1000")
    get(f"{by}/instruments-info?category=linear&cursor=500")
    get(f"{by}/instruments-info?category=spot")
    get(f"{by}/tickers?category=linear")
    get(f"{by}/tickers?category=spot")
    get(f"{by}/orderbook?category=linear")
    get(f"{by}/orderbook?category=linear&symbol=NOPEUSDT&limit=50")
    get(f"{by}/orderbook?category=linear&symbol=BTCUSDT&limit=5000")
    for s in _pick(emu, "bybit"):
        get(f"{by}/tickers?category=linear&symbol={s}")
        get(f"{by}/funding/history?category=linear&symbol={s}&limit=200")
        for depth in (1, 5, 50):
            get(f"{by}/orderbook?category=linear&symbol={s}&limit={depth}")
    get(f"{by}/orderbook?category=spot&symbol=BTCUSDT&limit=50")
    return out


def _binance(emu: Emulator) -> list[str]:
    out: list[str] = []
    get = out.append
    bn = "/binanceusdm/fapi/v1"
    for path in ("time", "ping", "exchangeInfo", "premiumIndex", "fundingInfo"):
        get(f"{bn}/{path}")
    get(f"{bn}/ticker/24hr")
    get(f"{bn}/ticker/bookTicker")
    get(f"{bn}/depth?symbol=NOPE&limit=5")
    get(f"{bn}/depth?symbol=BTCUSDT&limit=7")
    for s in _pick(emu, "binanceusdm"):
        get(f"{bn}/premiumIndex?symbol={s}")
        get(f"{bn}/fundingRate?symbol={s}&limit=100")
        get(f"{bn}/ticker/bookTicker?symbol={s}")
        for depth in (5, 50):
            get(f"{bn}/depth?symbol={s}&limit={depth}")
    return out


def _okx(emu: Emulator) -> list[str]:
    out: list[str] = []
    get = out.append
    ok = "/okx/api/v5"
    get(f"{ok}/public/time")
    get(f"{ok}/public/instruments?instType=SWAP")
    get(f"{ok}/public/funding-rate?instId=ANY")
    get(f"{ok}/market/tickers?instType=SWAP")
    get(f"{ok}/market/books?instId=NOPE&sz=5")
    for s in _pick(emu, "okx"):
        get(f"{ok}/public/funding-rate?instId={s}")
        get(f"{ok}/public/funding-rate-history?instId={s}&limit=100")
        for depth in (1, 5, 50):
            get(f"{ok}/market/books?instId={s}&sz={depth}")
    return out


def _gate(emu: Emulator) -> list[str]:
    out: list[str] = []
    get = out.append
    ga = "/gate/api/v4/futures/usdt"
    get(f"{ga}/contracts")
    get(f"{ga}/tickers")
    get(f"{ga}/order_book?contract=NOPE&limit=5")
    get("/gate/api/v4/spot/currencies")
    for s in _pick(emu, "gate"):
        get(f"{ga}/contracts/{s}")
        get(f"{ga}/tickers?contract={s}")
        get(f"{ga}/funding_rate?contract={s}&limit=100")
        for depth in (1, 5, 50):
            get(f"{ga}/order_book?contract={s}&limit={depth}")
        get(f"{ga}/order_book?contract={s}&limit=50&with_id=true")
    return out


def _bitget(emu: Emulator) -> list[str]:
    out: list[str] = []
    get = out.append
    bg = "/bitget/api/v2/mix/market"
    get("/bitget/api/v2/public/time")
    get(f"{bg}/contracts?productType=USDT-FUTURES")
    get(f"{bg}/tickers?productType=USDT-FUTURES")
    get(f"{bg}/current-fund-rate?productType=USDT-FUTURES")
    get(f"{bg}/merge-depth?productType=USDT-FUTURES")
    for s in _pick(emu, "bitget"):
        q = f"productType=USDT-FUTURES&symbol={s}"
        get(f"{bg}/ticker?{q}")
        get(f"{bg}/current-fund-rate?{q}")
        get(f"{bg}/funding-time?{q}")
        get(f"{bg}/history-fund-rate?{q}&pageSize=100")
        for depth in (1, 5, 50):
            get(f"{bg}/merge-depth?{q}&limit={depth}")
    return out


def _hyperliquid(emu: Emulator) -> list[Request]:
    out: list[Request] = []
    for kind in ("meta", "metaAndAssetCtxs", "allMids", "perpDexs", "nope"):
        out.append(("POST", HL_INFO, {"type": kind}))
    for s in _pick(emu, "hyperliquid"):
        out.append(("POST", HL_INFO, {"type": "l2Book", "coin": s}))
        start = START_MS - 3 * 86_400_000
        out.append(("POST", HL_INFO, {"type": "fundingHistory", "coin": s, "startTime": start}))
    return out


def digest(r: httpx.Response) -> str:
    h = hashlib.sha256()
    h.update(f"{r.status_code} {r.headers.get('content-type')}\n".encode())
    h.update(r.content)
    return h.hexdigest()[:24]


def record() -> dict[str, str]:
    """``"step_ms METHOD path [body]"`` -> digest of the answer, along ``STEPS_MS``."""
    out: dict[str, str] = {}
    with running(seed=7) as emu, httpx.Client(base_url=emu.url, timeout=60) as c:
        wanted = requests_at(emu)
        at = 0
        for step in STEPS_MS:
            c.post(f"/_control/advance?ms={step}").raise_for_status()
            at += step
            for method, path, body in wanted:
                r = c.request(method, path, json=body)
                key = f"{at} {method} {path}" + (f" {json.dumps(body)}" if body else "")
                out[key] = digest(r)
    return out


def test_every_pinned_answer_is_byte_for_byte_the_recorded_one() -> None:
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = record()
    assert got.keys() == expected.keys()
    changed = sorted(k for k in expected if got[k] != expected[k])
    assert changed == [], f"{len(changed)} answers changed, e.g. {changed[:5]}"


def test_the_pins_cover_every_venue_ok_and_error_answers_and_moving_bodies() -> None:
    """The recording is not vacuous: every venue is in it, some answers are errors, and the
    bodies that depend on time differ between steps (the digest sees the body)."""
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    venues = {k.split(" ")[2].split("/")[1] for k in expected}
    assert venues == {"bybit", "binanceusdm", "okx", "gate", "bitget", "hyperliquid"}
    per_step: dict[str, dict[str, str]] = {}
    for key, value in expected.items():
        at, rest = key.split(" ", 1)
        per_step.setdefault(rest, {})[at] = value
    moving = [k for k, v in per_step.items() if len(set(v.values())) == len(STEPS_MS)]
    assert any("orderbook" in k and "limit=50" in k for k in moving)
    assert any(k.split("/")[-1] == "tickers?category=linear" for k in moving)
    assert len(set(expected.values())) > len(expected) // 2


if __name__ == "__main__":
    json.dump(record(), sys.stdout, indent=0, sort_keys=True)
    sys.stdout.write("\n")
