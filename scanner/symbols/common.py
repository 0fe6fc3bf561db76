"""Pieces every venue mapping shares: the error, multiplier prefixes, field reading, dates.

Why one place: the 1000PEPE / kPEPE / SHIB1000 rules and the "parse every number from its
string" rule must be the same for all six venues, or the same asset ends up under two
canonical ids (or the same id with two scales). Pure code: no I/O, no ccxt, no httpx.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from scanner.domain import Kind, canonical_id


class SymbolError(ValueError):
    """A venue row or symbol we cannot map; names the venue, the symbol and the field."""

    def __init__(self, venue: str, symbol: str, field: str, problem: str) -> None:
        self.venue = venue
        self.symbol = symbol
        self.field = field
        super().__init__(f"{venue} symbol {symbol!r}: field {field!r}: {problem}")


@dataclass(frozen=True, slots=True)
class SymbolParts:
    """What a venue symbol *string* says on its own (no instrument row needed).

    ``expiry_ms`` of a dated contract parsed from a symbol is midnight UTC of the date in the
    name: symbols carry a date, not a time of day (the instrument row has the exact time).
    """

    base: str
    quote: str
    settle: str
    kind: Kind = Kind.PERPETUAL
    multiplier: int = 1
    expiry_ms: int | None = None

    @property
    def canonical(self) -> str:
        return canonical_id(self.base, self.quote, self.settle, self.kind, self.expiry_ms)


# --- assets and multipliers --------------------------------------------------------------

ASSET_ALIASES: Mapping[str, str] = {"XBT": "BTC"}
"""Venue spellings of one asset. None of our six venues says XBT today; KuCoin and BitMEX do."""

_KILO_PREFIX = re.compile(r"^k(?=[A-Z0-9])")
_MEGA_PREFIX = re.compile(r"^1M(?=[A-Z]{2})")
_POWER_PREFIX = re.compile(r"^(10{3,9})(?=[A-Z])")
_POWER_SUFFIX = re.compile(r"^([A-Z]{2,})(10{3,9})$")


def canonical_asset(code: str) -> str:
    """Venue asset code -> canonical code (``XBT`` -> ``BTC``); otherwise unchanged."""
    return ASSET_ALIASES.get(code, code)


def split_multiplier(venue_base: str) -> tuple[str, int]:
    """``1000PEPE`` -> ``("PEPE", 1000)``; the canonical base and how many of it one unit is.

    Rules, checked against every name in the shared fixtures (see tests/test_symbols.py):

    - ``k`` prefix (Hyperliquid): a *lower-case* ``k`` followed by an upper-case letter or a
      digit means 1000 (``kPEPE``, ``kBONK``, ``kSHIB``). Upper-case ``K`` is part of the name
      (``KAS``, ``KAITO``, ``KSM`` stay as they are).
    - ``1M`` prefix followed by at least two letters means 1,000,000 (Binance ``1MBABYDOGE``).
    - a leading run of digits that is exactly ``1`` followed by 3 to 9 zeros, followed by a
      letter, is a multiplier (``1000PEPE``, ``10000SATS``, ``1000000MOG``, ``1000X``). Any
      other digit run is part of the name: ``1INCH``, ``0G``, ``2Z``, ``4`` are assets.
    - a trailing power of ten after at least two letters is a multiplier too: Bybit's
      ``SHIB1000`` (``SHIB1000USDT``, ``SHIB1000PERP``) is 1000 SHIB.

    Venue base fields do not settle the question by themselves (Bybit's ``baseCoin`` is
    ``1000PEPE``, Binance's ``baseAsset`` is ``1000SHIB``), so the rule is applied to every
    venue's own base field. ``XBT`` is mapped to ``BTC`` afterwards.
    """
    if _KILO_PREFIX.match(venue_base):
        return canonical_asset(venue_base[1:]), 1000
    if _MEGA_PREFIX.match(venue_base):
        return canonical_asset(venue_base[2:]), 1_000_000
    prefix = _POWER_PREFIX.match(venue_base)
    if prefix:
        return canonical_asset(venue_base[prefix.end() :]), int(prefix.group(1))
    suffix = _POWER_SUFFIX.match(venue_base)
    if suffix:
        return canonical_asset(suffix.group(1)), int(suffix.group(2))
    return canonical_asset(venue_base), 1


VENUE_BASE_SPELLINGS: Mapping[str, Mapping[tuple[str, int], str]] = {
    "bybit": {("SHIB", 1000): "SHIB1000"},
    "binanceusdm": {("BABYDOGE", 1_000_000): "1MBABYDOGE"},
}
"""Scaled bases a venue spells differently from the default ``<multiplier><BASE>``.

Quirks as data: each entry was seen in a real payload (Bybit instruments ``SHIB1000PERP``,
Binance premiumIndex ``1MBABYDOGEUSDT``). Parsing does not need this table
(``split_multiplier`` reads both spellings); only ``venue_symbol`` does.
"""


def venue_base(venue: str, base: str, multiplier: int) -> str:
    """Canonical base and multiplier -> the venue's spelling (inverse of ``split_multiplier``)."""
    special = VENUE_BASE_SPELLINGS.get(venue, {}).get((base, multiplier))
    if special is not None:
        return special
    if multiplier == 1:
        return base
    if venue == "hyperliquid":
        if multiplier == 1000:
            return f"k{base}"
        raise SymbolError(venue, base, "multiplier", f"{multiplier} has no Hyperliquid form")
    text = str(multiplier)
    if not re.fullmatch(r"10{3,9}", text):
        raise SymbolError(venue, base, "multiplier", f"{multiplier} is not 10**3..10**9")
    return f"{text}{base}"


def to_multiplier(value: int | Decimal, venue: str, base: str) -> int:
    """Accept ``Instrument.multiplier`` (Decimal) or an int; multipliers are whole numbers."""
    if isinstance(value, Decimal) and value != value.to_integral_value():
        raise SymbolError(venue, base, "multiplier", f"{value} is not a whole number")
    number = int(value)
    if number < 1:
        raise SymbolError(venue, base, "multiplier", f"{value} is below 1")
    return number


def power_of_ten(decimals: int) -> Decimal:
    """``3`` -> ``Decimal('0.001')``: a step expressed as a number of decimal places."""
    return Decimal(1).scaleb(-decimals)


# --- reading raw rows --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowReader:
    """Reads fields of one raw row; every failure names venue, symbol and field.

    Numbers are parsed with ``Decimal(str(x))`` whether the venue sent a string or a JSON
    number; ``""``, ``null`` and a missing key all mean "not given".
    """

    venue: str
    symbol: str
    row: Mapping[str, Any]

    def error(self, field: str, problem: str) -> SymbolError:
        return SymbolError(self.venue, self.symbol, field, problem)

    def get(self, path: str) -> Any:
        """Value at a dotted path (``priceFilter.tickSize``); None when any step is missing."""
        node: Any = self.row
        for key in path.split("."):
            if not isinstance(node, Mapping):
                return None
            node = node.get(key)
        return node

    def text(self, path: str) -> str:
        value = self.get(path)
        if not isinstance(value, str) or not value:
            raise self.error(path, f"expected a non-empty string, got {value!r}")
        return value

    def optional_text(self, path: str) -> str | None:
        value = self.get(path)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.error(path, f"expected a string, got {value!r}")
        return value

    def decimal(self, path: str) -> Decimal | None:
        value = self.get(path)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise self.error(path, f"expected a number, got {value!r}")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.error(path, f"not a number: {value!r}") from None
        if not number.is_finite():
            raise self.error(path, f"not a finite number: {value!r}")
        return number

    def integer(self, path: str) -> int | None:
        number = self.decimal(path)
        if number is None:
            return None
        if number != number.to_integral_value():
            raise self.error(path, f"expected a whole number, got {self.get(path)!r}")
        return int(number)

    def positive(self, path: str) -> Decimal | None:
        """A step or size: must be > 0 when given (a zero tick would make rounding divide by 0)."""
        number = self.decimal(path)
        if number is not None and number <= 0:
            raise self.error(path, f"expected a positive number, got {self.get(path)!r}")
        return number

    def as_float(self, path: str) -> float | None:
        number = self.decimal(path)
        return None if number is None else float(number)


def row_reader(venue: str, row: Any, symbol_field: str) -> RowReader:
    """A reader for ``row`` that already knows the row's symbol (or ``'?'``) for messages."""
    if not isinstance(row, Mapping):
        raise SymbolError(venue, "?", "<row>", f"expected an object, got {type(row).__name__}")
    symbol = row.get(symbol_field)
    return RowReader(venue, symbol if isinstance(symbol, str) and symbol else "?", row)


# --- dates in symbols ----------------------------------------------------------------------

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_CODES = "FGHJKMNQUVXZ"
"""CME month letters (F = January ... Z = December), used by Bybit inverse futures."""


def utc_date(expiry_ms: int) -> date:
    return datetime.fromtimestamp(expiry_ms / 1000, tz=UTC).date()


def midnight_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


def format_ddmmmyy(day: date) -> str:
    """``25DEC26`` (Bybit linear futures); month names fixed, not locale-dependent."""
    return f"{day.day:02d}{_MONTHS[day.month - 1]}{day.year % 100:02d}"


def parse_ddmmmyy(text: str) -> date | None:
    match = re.fullmatch(r"(\d{1,2})([A-Z]{3})(\d{2})", text)
    if not match or match.group(2) not in _MONTHS:
        return None
    return _safe_date(2000 + int(match.group(3)), _MONTHS.index(match.group(2)) + 1, match[1])


def format_month_code(day: date) -> str:
    """``H26`` for March 2026 (Bybit inverse futures ``BTCUSDH26``)."""
    return f"{_MONTH_CODES[day.month - 1]}{day.year % 100:02d}"


def parse_digits_date(text: str) -> date | None:
    """``YYMMDD`` (Binance, OKX, Bitget) or ``YYYYMMDD`` (Gate delivery)."""
    if re.fullmatch(r"\d{6}", text):
        return _safe_date(2000 + int(text[:2]), int(text[2:4]), text[4:])
    if re.fullmatch(r"\d{8}", text):
        return _safe_date(int(text[:4]), int(text[4:6]), text[6:])
    return None


def _safe_date(year: int, month: int, day: str) -> date | None:
    try:
        return date(year, month, int(day))
    except ValueError:
        return None


def coin_or_quote_parts(
    venue: str, symbol: str, field: str, base_raw: str, quote_raw: str, date_raw: str | None
) -> SymbolParts:
    """Parts of a ``BASE<sep>QUOTE[<sep>DATE]`` contract name (OKX, Gate).

    A USD-quoted contract is coin-margined (inverse): it settles in the base coin. No date means
    a perpetual; a YYMMDD/YYYYMMDD date means a dated future expiring at that UTC midnight.
    """
    base, multiplier = split_multiplier(base_raw)
    quote = canonical_asset(quote_raw)
    settle = base if quote == "USD" else quote
    if date_raw is None:
        return SymbolParts(base, quote, settle, Kind.PERPETUAL, multiplier)
    day = parse_digits_date(date_raw)
    if day is None:
        raise SymbolError(venue, symbol, field, f"bad date {date_raw!r}")
    return SymbolParts(base, quote, settle, Kind.DATED, multiplier, midnight_ms(day))


def require_coin_or_quote_settle(venue: str, venue_base_name: str, parts: SymbolParts) -> None:
    """The inverse of ``coin_or_quote_parts``'s settle rule, for writing a name back."""
    expected = parts.base if parts.quote == "USD" else parts.quote
    if parts.settle != expected:
        raise SymbolError(
            venue,
            venue_base_name,
            "settle",
            f"{parts.quote}-quoted contracts settle in {expected}, not {parts.settle}",
        )
