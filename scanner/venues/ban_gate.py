"""One ban gate per venue adapter: what a 403/418/429 means there, and silence during a ban.

Why one class for both adapters: the ccxt adapter and our Bybit client used to keep their own
ban state (monotonic seconds in one, injected wall-clock ms in the other), always 10 minutes,
for any 403 from any venue. A 403 is an IP ban on Bybit but a firewall refusal on Binance
(whose ban is 418, with a ``Retry-After`` saying when it lifts); silencing a venue for 10
minutes on a 403 it does not mean as a ban cost whole scans of data. So the meaning of each
status comes from the venue's spec (``VenueSpec.statuses``, with its sources), the ban length
from the venue's own header when it sends one, and time from an injected ``Clock``
(``monotonic_ms``: a ban is a duration) so a test can prove the ban lifts.
"""

from __future__ import annotations

from collections.abc import Mapping

from scanner.clock import SYSTEM_CLOCK, Clock
from scanner.units import MS_PER_S
from scanner.venues.base import RateLimited, VenueError, VenueUnavailable
from scanner.venues.specs.model import LiftHeader, StatusMeaning


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (ccxt hands a plain dict in the server's spelling)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def lift_wait_s(
    meaning: StatusMeaning, headers: Mapping[str, str], now_ms: int
) -> tuple[float, str | None]:
    """Seconds to stay away, and the header that said so (None: the spec's default)."""
    for lift in meaning.lift_headers:
        wait = _header_wait_s(lift, _header(headers, lift.name), now_ms)
        if wait is not None:
            return wait, lift.name
    return meaning.default_wait_s, None


def _header_wait_s(lift: LiftHeader, raw: str | None, now_ms: int) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    if lift.unit == "epoch_ms":
        return max(0.0, (value - now_ms) / MS_PER_S)
    return max(0.0, value)


class BanGate:
    """Per-venue: classify an HTTP status by its documented meaning; keep a ban's silence.

    ``check`` raises ``RateLimited(ban=True)`` while a ban holds (nothing is sent);
    ``classify`` turns a status the spec knows into the matching error and, for an IP ban,
    starts the silence. Statuses the spec does not list return None (the caller's own mapping
    handles them: 5xx, 401 ...).
    """

    def __init__(
        self, venue: str, statuses: Mapping[int, StatusMeaning], clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.venue = venue
        self.statuses = statuses
        self.clock = clock
        self._banned_until_mono_ms = 0.0
        self._ban_status: int | None = None

    def __repr__(self) -> str:
        return f"BanGate({self.venue!r}, banned_for_ms={self.banned_for_ms():.0f})"

    def banned_for_ms(self) -> float:
        """Milliseconds the current ban still holds (0 when none)."""
        return max(0.0, self._banned_until_mono_ms - self.clock.monotonic_ms())

    def check(self, what: str = "request") -> None:
        """Raise ``RateLimited(ban=True)`` instead of sending while a ban holds."""
        left_ms = self.banned_for_ms()
        if left_ms > 0:
            raise RateLimited(
                self.venue,
                f"{what}: IP ban in force for {left_ms / MS_PER_S:.0f} s more, not sending",
                retry_after_s=left_ms / MS_PER_S,
                code=self._ban_status,
                ban=True,
            )

    def classify(self, status: int, headers: Mapping[str, str], where: str) -> VenueError | None:
        """The error for ``status`` by this venue's documented meaning (None: not listed)."""
        meaning = self.statuses.get(status)
        if meaning is None:
            return None
        wait_s, header = lift_wait_s(meaning, headers, self.clock.now_ms())
        said = f"{header} says {wait_s:.0f} s" if header else f"default {wait_s:.0f} s"
        text = f"{where}: HTTP {status} ({meaning.why})"
        if meaning.kind == "ip_ban":
            self._ban(status, wait_s)
            return RateLimited(
                self.venue,
                f"{text}; sending nothing for {wait_s:.0f} s ({said})",
                retry_after_s=wait_s,
                code=status,
                ban=True,
            )
        if meaning.kind == "rate_limit":
            return RateLimited(self.venue, f"{text}; {said}", retry_after_s=wait_s, code=status)
        return VenueUnavailable(self.venue, f"{text}; not an IP ban", code=status)

    def _ban(self, status: int, wait_s: float) -> None:
        until = self.clock.monotonic_ms() + wait_s * MS_PER_S
        if until > self._banned_until_mono_ms:
            self._banned_until_mono_ms = until
            self._ban_status = status
