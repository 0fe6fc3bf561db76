"""config.yaml -> typed, frozen settings; secrets only from the environment.

Why so strict: a typo in a trading tool's config must be an error, not a silent default, and a
secret written into a file that gets committed or shared must be refused. So every model
forbids unknown keys and is frozen; every number is finite and inside a range the code can use
(the bounds are documented in config.yaml); and secrets are never fields of the YAML: the YAML
names the *environment variable* that holds each secret (``url_env: SLACK_WEBHOOK_URL``), and
only those declared variables are read, from the process environment or a ``.env`` file next
to the config, kept as ``SecretStr`` so no repr or log line shows them.

Sources, lowest precedence first: embedded defaults < config file (``scanner.strict_yaml``:
no aliases, no duplicate keys, bounded nesting) < ``.env`` < process environment. Environment
overrides are ``FUNDSCAN__SECTION__KEY=value`` (pydantic-settings' env source: prefix
``FUNDSCAN__``, nested delimiter ``__``); a value is parsed as the field's type, not as YAML
(``#`` is an ordinary character), lists and mappings are JSON. Every error names where the
value came from: the file and key path, or the environment variable.
"""

from __future__ import annotations

import os
import re
from collections import ChainMap
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from scanner import strict_yaml
from scanner.db_url import check_url, has_password, redact_url
from scanner.venues.specs import UnknownVenueError, venue_ids

__all__ = ["ConfigError", "Settings", "load_settings", "masked_dict", "redact_url"]

ENV_PREFIX = "FUNDSCAN__"
DEFAULT_CONFIG_NAME = "config.yaml"


def _known_venue(venue: str) -> str:
    """A venue id must be in the venue registry (``scanner.venues.specs``) when validated."""
    if venue not in venue_ids():
        raise ValueError(f"unknown venue {venue!r}; known venues: {', '.join(venue_ids())}")
    return venue


VenueId = Annotated[str, AfterValidator(_known_venue)]
"""A registered venue id. Checked against the registry at validation time, not frozen into a
Literal, so the registry is the only list of venues."""

# Keys that look like a secret value written straight into YAML. ``*_env`` keys (which hold the
# *name* of an environment variable) are allowed.
# ``tokens`` (plural) is a count, not a secret.
_SECRET_KEY = re.compile(
    r"(api_?key|api_?secret|secret|password|passphrase|token(?!s)|webhook)", re.I
)
_ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


class ConfigError(Exception):
    """A user error in configuration: names the file (or variable) and the key path."""

    def __init__(self, source: str, key_path: str, message: str) -> None:
        self.source = source
        self.key_path = key_path
        self.message = message
        where = f"{source}: {key_path}" if key_path else source
        super().__init__(f"{where}: {message}")


def _not_bool(value: Any) -> Any:
    """YAML ``true`` is a bool, and pydantic would take it as 1: say what was expected."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    return value


Num = BeforeValidator(_not_bool)
"""Marker for numeric fields: ``Annotated[float, Num, Field(ge=..., le=...)]``."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class VenueSettings(_Frozen):
    """Per-venue knobs. Fees in basis points (1 bp = 0.0001 of notional)."""

    base_url: str | None = None
    environment: Literal["mainnet", "testnet", "demo"] = "mainnet"
    taker_fee_bps: Annotated[float, Num, Field(ge=0, le=100)] | None = None
    maker_fee_bps: Annotated[float, Num, Field(ge=-10, le=100)] | None = None
    timeout_s: Annotated[float, Num, Field(gt=0, le=120)] = 10.0
    recv_window_ms: Annotated[int, Num, Field(gt=0, le=60_000)] = 5000
    max_concurrency: Annotated[int, Num, Field(ge=1, le=64)] = 64

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8080/bybit")
        return v.rstrip("/") if v else v


class VenuesSettings(_Frozen):
    """``venues:`` - which venues to collect, and one ``VenueSettings`` per registered venue.

    In YAML each venue is a key next to ``enabled`` (``venues.okx.timeout_s``); in the model
    they are ``by_venue: dict[VenueId, VenueSettings]``, filled for every registered venue, so
    a venue added to the registry needs no field here.
    """

    enabled: tuple[VenueId, ...] = Field(default_factory=venue_ids)
    by_venue: dict[VenueId, VenueSettings] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _venue_keys(cls, data: Any) -> Any:
        """``{enabled, <venue>: {...}}`` (the YAML shape) -> ``{enabled, by_venue}``."""
        if not isinstance(data, Mapping) or "by_venue" in data:
            return data
        given = {k: v for k, v in data.items() if k != "enabled"}
        out: dict[str, Any] = {"by_venue": {v: {} for v in venue_ids()} | given}
        if "enabled" in data:
            out["enabled"] = data["enabled"]
        return out

    @model_serializer(mode="wrap")
    def _flat(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Dump in the YAML shape again (``config show``): venues next to ``enabled``."""
        data: dict[str, Any] = handler(self)
        per_venue = data.pop("by_venue", {})
        return {**data, **per_venue}

    def get(self, venue: str) -> VenueSettings:
        """The settings of ``venue`` (defaults when not configured); ``UnknownVenueError``
        naming the known venues when it is not registered."""
        if venue not in venue_ids():
            raise UnknownVenueError(venue)
        return self.by_venue.get(venue) or VenueSettings()

    def with_venue(self, venue: str, settings: VenueSettings) -> VenuesSettings:
        """A copy with ``venue``'s settings replaced."""
        self.get(venue)
        return self.model_copy(update={"by_venue": {**self.by_venue, venue: settings}})

    @field_validator("enabled")
    @classmethod
    def _unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError(f"no venue enabled; name at least one of: {', '.join(venue_ids())}")
        if len(set(v)) != len(v):
            raise ValueError("lists a venue twice")
        return v


class UniverseSettings(_Frozen):
    settle: tuple[Literal["USDT", "USDC"], ...] = ("USDT", "USDC")
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_volume_24h_usd: Annotated[float, Num, Field(ge=0, le=1e12)] = 0.0


class ScheduleSettings(_Frozen):
    scan_every_s: Annotated[int, Num, Field(ge=5, le=86_400)] = 60
    prune_every_h: Annotated[float, Num, Field(ge=0, le=8_760)] = 24.0
    pre_settlement_s: Annotated[int, Num, Field(ge=0, le=3000)] = 60
    """One extra scan this many seconds before each coming settlement of a collected symbol,
    so the last predicted rate before the payment is captured (0 = off)."""


class CollectorSettings(_Frozen):
    deadline_s: Annotated[float, Num, Field(ge=1, le=600)] = 30.0
    book_depth: Annotated[int, Num, Field(ge=1, le=1000)] = 50
    book_candidates: Annotated[int, Num, Field(ge=0, le=1000)] = 40
    history_days: Annotated[int, Num, Field(ge=1, le=3650)] = 30
    instruments_refresh_s: Annotated[float, Num, Field(ge=0, le=86_400)] = 3600.0


class ConfidenceWeights(_Frozen):
    persistence: Annotated[float, Num, Field(ge=0, le=100)] = 0.1
    stability: Annotated[float, Num, Field(ge=0, le=100)] = 0.4
    liquidity: Annotated[float, Num, Field(ge=0, le=100)] = 0.2
    freshness: Annotated[float, Num, Field(ge=0, le=100)] = 0.15
    prediction: Annotated[float, Num, Field(ge=0, le=100)] = 0.15


class EngineSettings(_Frozen):
    notional_usd: Annotated[float, Num, Field(gt=0, le=1e9)] = 10_000.0
    horizon_h: Annotated[float, Num, Field(gt=0, le=24 * 365)] = 72.0
    min_net_apr: Annotated[float, Num, Field(ge=-100, le=100)] = 0.0
    max_slippage_bps: Annotated[float, Num, Field(gt=0, le=1000)] = 30.0
    lookback_h: Annotated[float, Num, Field(ge=1, le=24 * 365 * 5)] = 7 * 24.0
    persistence_points: Annotated[int, Num, Field(ge=2, le=10_000)] = 24
    min_history_points: Annotated[int, Num, Field(ge=2, le=10_000)] = 8
    stale_after_s: Annotated[float, Num, Field(gt=0, le=7 * 86_400)] = 120.0
    depth_band_bps: Annotated[float, Num, Field(gt=0, le=10_000)] = 10.0
    max_price_gap_frac: Annotated[float, Num, Field(gt=0, le=1)] = 0.05
    include_carry: bool = True
    confidence_weights: ConfidenceWeights = ConfidenceWeights()


class RetentionSettings(_Frozen):
    quotes_days: Annotated[int, Num, Field(ge=1, le=36_500)] = 180
    books_days: Annotated[int, Num, Field(ge=1, le=36_500)] = 30
    opportunities_days: Annotated[int, Num, Field(ge=1, le=36_500)] = 180


class StorageSettings(_Frozen):
    url: str = "sqlite:///./data/fundscan.db"
    retention: RetentionSettings = RetentionSettings()

    @field_validator("url")
    @classmethod
    def _valid_url(cls, v: str) -> str:
        problem = check_url(v)
        if problem:
            raise ValueError(problem)
        return v


class AlertChannel(_Frozen):
    """One destination. Its URL (and Telegram chat id, webhook secret) live in the environment
    variables named here, never in the file: ``url_env`` holds the full webhook URL (Slack,
    Discord, webhook), the bot's base URL with its token (Telegram:
    ``https://api.telegram.org/bot<token>``) or an Apprise URL (``apprise``)."""

    kind: Literal["slack", "discord", "telegram", "webhook", "apprise"]
    url_env: str = Field(pattern=_ENV_NAME)
    chat_id_env: str | None = Field(default=None, pattern=_ENV_NAME)
    secret_env: str | None = Field(default=None, pattern=_ENV_NAME)
    name: str | None = Field(default=None, pattern=r"^[a-z0-9_-]{1,32}$")

    @model_validator(mode="after")
    def _telegram_needs_chat(self) -> AlertChannel:
        if self.kind == "telegram" and self.chat_id_env is None:
            raise ValueError("a telegram channel needs chat_id_env (the variable with the chat id)")
        if self.secret_env is not None and self.kind != "webhook":
            raise ValueError("secret_env (HMAC signature) applies to kind: webhook only")
        return self

    @property
    def label(self) -> str:
        """How the channel is named in logs, status and the alert log (never its URL)."""
        return self.name or self.kind


class AlertSettings(_Frozen):
    enabled: bool = False
    min_net_apr: Annotated[float, Num, Field(ge=-100, le=100)] = 0.2
    min_confidence: Annotated[float, Num, Field(ge=0, le=1)] = 0.5
    alert_unrated: bool = False
    cooldown_min: Annotated[float, Num, Field(ge=0, le=525_600)] = 60.0
    realert_after_apr_change: Annotated[float, Num, Field(ge=0, le=100)] = 0.25
    notify_closed: bool = False
    max_per_scan: Annotated[int, Num, Field(ge=1, le=100)] = 5
    digest_every_min: Annotated[float, Num, Field(ge=0, le=10_080)] = 0.0
    digest_top: Annotated[int, Num, Field(ge=1, le=25)] = 10
    rate_per_s: Annotated[float, Num, Field(gt=0, le=100)] = 1.0
    max_attempts: Annotated[int, Num, Field(ge=1, le=20)] = 5
    timeout_s: Annotated[float, Num, Field(gt=0, le=120)] = 10.0
    channels: tuple[AlertChannel, ...] = ()

    @field_validator("channels")
    @classmethod
    def _unique_labels(cls, v: tuple[AlertChannel, ...]) -> tuple[AlertChannel, ...]:
        labels = [c.label for c in v]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(
                f"two channels are both called {dup[0]!r}; give each a distinct name: ..."
            )
        return v


class LlmBudget(_Frozen):
    """Spending limits: calls and tokens per run (one scan) and per UTC day (all runs)."""

    calls_per_run: Annotated[int, Num, Field(ge=0, le=1_000_000)] = 20
    tokens_per_run: Annotated[int, Num, Field(ge=0, le=10**10)] = 40_000
    calls_per_day: Annotated[int, Num, Field(ge=0, le=1_000_000)] = 500
    tokens_per_day: Annotated[int, Num, Field(ge=0, le=10**10)] = 1_000_000


class LlmSettings(_Frozen):
    """The optional second opinion from any OpenAI-compatible chat completions endpoint.

    ``mode``: ``off``; ``advisory`` (verdicts shown in scan and alerts); ``gate`` (the executor
    also needs a valid approve). The old ``enabled: true`` still reads as ``advisory``.
    """

    mode: Literal["off", "advisory", "gate"] = "off"
    base_url: str = "https://api.openai.com/v1"
    model: str = Field(default="gpt-4o-mini", min_length=1)
    api_key_env: str = Field(default="OPENAI_API_KEY", pattern=_ENV_NAME)
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 20.0
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.0
    max_tokens: Annotated[int, Field(ge=16, le=8192)] = 400
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    scan_budget_s: Annotated[float, Field(gt=0, le=600)] = 60.0
    max_concurrency: Annotated[int, Field(ge=1, le=16)] = 2
    cache_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 60.0
    gate_min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.5
    budget: LlmBudget = LlmBudget()

    @model_validator(mode="before")
    @classmethod
    def _legacy_enabled(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("mode") is False:
            data = {**data, "mode": "off"}  # YAML reads an unquoted `off` as false
        if isinstance(data, dict) and "enabled" in data:
            data = dict(data)
            enabled = data.pop("enabled")
            if not isinstance(enabled, bool):
                raise ValueError("enabled: must be true or false (prefer mode: off|advisory|gate)")
            data.setdefault("mode", "advisory" if enabled else "off")
        return data

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/@]+(/\S*)?$", v):
            raise ValueError(
                "must be an http(s) URL without credentials, such as https://api.openai.com/v1 "
                "or http://127.0.0.1:8080/v1 (the key goes in the api_key_env variable)"
            )
        return v.rstrip("/")


class ExecutionSettings(_Frozen):
    mode: Literal["dry-run", "paper", "testnet", "demo", "live"] = "dry-run"
    max_notional_usd: Annotated[float, Num, Field(gt=0, le=1e9)] = 1000.0
    max_total_exposure_usd: Annotated[float, Num, Field(gt=0, le=1e10)] = 5000.0
    max_open_pairs: Annotated[int, Num, Field(ge=0, le=1000)] = 3
    max_daily_loss_usd: Annotated[float, Num, Field(gt=0, le=1e9)] = 200.0
    kill_switch_file: str = "./data/KILL"
    auto: bool = False
    min_net_apr: Annotated[float, Num, Field(ge=-100, le=100)] = 0.2
    min_confidence: Annotated[float, Num, Field(ge=0, le=1)] = 0.5
    exit_below_apr: Annotated[float, Num, Field(ge=-100, le=100)] = 0.02
    max_hold_h: Annotated[float, Num, Field(gt=0, le=24 * 365)] = 168.0
    basis_stop_frac: Annotated[float, Num, Field(gt=0, le=1)] = 0.01
    leverage: Annotated[int, Num, Field(ge=1, le=10)] = 1
    unwind_timeout_s: Annotated[float, Num, Field(gt=0, le=600)] = 30.0
    api_key_env: str = Field(default="BYBIT_API_KEY", pattern=_ENV_NAME)
    api_secret_env: str = Field(default="BYBIT_API_SECRET", pattern=_ENV_NAME)
    binance_api_key_env: str = Field(default="BINANCE_API_KEY", pattern=_ENV_NAME)
    binance_api_secret_env: str = Field(default="BINANCE_API_SECRET", pattern=_ENV_NAME)

    @model_validator(mode="after")
    def _exposure_covers_trade(self) -> ExecutionSettings:
        if self.max_total_exposure_usd < self.max_notional_usd:
            raise ValueError("max_total_exposure_usd must be >= max_notional_usd")
        return self


class BacktestSettings(_Frozen):
    """``fundscan backtest`` defaults beyond the engine's (notional, min net APR, horizon)."""

    min_confidence: Annotated[float, Num, Field(ge=0, le=1)] = 0.5
    exit_net_apr: Annotated[float, Num, Field(ge=-100, le=100)] = 0.0
    max_hold_h: Annotated[float, Num, Field(gt=0, le=24 * 365)] = 168.0
    slippage_bps_per_walk: Annotated[float, Num, Field(ge=0, le=1000)] = 2.0
    stale_after_h: Annotated[float, Num, Field(gt=0, le=24 * 30)] = 24.0


_NO_SECRETS: tuple[tuple[str, SecretStr], ...] = ()
"""Secrets are kept as a tuple of pairs: immutable, and copies (model_copy) share nothing."""


class Settings(BaseSettings):
    """The whole configuration. ``Settings()`` is the embedded defaults and reads nothing;
    ``load_settings`` adds the file and the environment. ``Settings(env=...)`` takes the
    secrets the config declares (its ``*_env`` names) from a mapping: tests, the demo."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_parse_none_str="null",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )

    venues: VenuesSettings = VenuesSettings()
    universe: UniverseSettings = UniverseSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    collector: CollectorSettings = CollectorSettings()
    engine: EngineSettings = EngineSettings()
    storage: StorageSettings = StorageSettings()
    alerts: AlertSettings = AlertSettings()
    llm: LlmSettings = LlmSettings()
    execution: ExecutionSettings = ExecutionSettings()
    backtest: BacktestSettings = BacktestSettings()

    _source: str = PrivateAttr(default="<defaults>")
    _secrets: tuple[tuple[str, SecretStr], ...] = PrivateAttr(default=_NO_SECRETS)

    def __init__(self, env: Mapping[str, str] | None = None, **values: Any) -> None:
        super().__init__(**values)
        if env:
            _set_private(self, "_secrets", _declared_secrets(self, env))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the constructor's values: the file and the environment are read, with their
        own error messages, by ``load_settings`` and never implicitly."""
        return (init_settings,)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"Settings are frozen; cannot set {name!r} (use model_copy(update=...))")

    def __delattr__(self, name: str) -> None:
        raise TypeError(f"Settings are frozen; cannot delete {name!r}")

    @property
    def source(self) -> str:
        """Where the settings came from: the config file, or ``<defaults>``."""
        return self._source

    def secret_names(self) -> tuple[str, ...]:
        """Every environment variable the config declares as holding a secret (``*_env``)."""
        return tuple(dict.fromkeys(_env_names(self)))

    def secret(self, env_name: str) -> SecretStr | None:
        """The secret held in environment variable ``env_name`` (or ``.env``), masked.

        Only variables the config declares (``secret_names``) are ever read; asking for any
        other is a programming error.
        """
        if env_name not in self.secret_names():
            raise KeyError(f"{env_name} is not named by any *_env key of the config")
        return dict(self._secrets).get(env_name)

    def secret_text(self, env_name: str) -> str | None:
        """The plain value of a declared secret, for the one call that must send it (an alert
        channel's URL); everything else keeps the masked ``secret``."""
        value = self.secret(env_name)
        return value.get_secret_value() if value is not None else None

    def without_secrets(self) -> Settings:
        """The same settings with no secret set (the demo never uses the user's keys)."""
        return self.with_env({})

    def with_env(self, env: Mapping[str, str]) -> Settings:
        """The same settings with the declared secrets taken from ``env`` (tests, emulator)."""
        copy = self.model_copy()
        _set_private(copy, "_secrets", _declared_secrets(copy, env))
        return copy

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Any:
        """As pydantic's, but an unknown key is an error (pydantic would add an attribute)."""
        unknown = set(update or {}) - set(type(self).model_fields)
        if unknown:
            raise TypeError(f"Settings has no field {sorted(unknown)} (secrets: with_env())")
        return super().model_copy(update=update, deep=deep)

    def with_section(self, section: str, **values: Any) -> Settings:
        """A copy with ``values`` changed in ``section``, validated like the file (command-line
        overrides such as ``--notional`` obey the same bounds). Raises ``ConfigError``."""
        current = getattr(self, section)
        try:
            updated = type(current).model_validate({**current.model_dump(), **values})
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = _format_loc((section, *err["loc"]))
            raise ConfigError("", loc, _message(err, loc)) from None
        return self.model_copy(update={section: updated})

    def with_base_url(self, base_url: str) -> Settings:
        """Point every venue at one URL prefix (the emulator): ``{base_url}/{venue}``."""
        return self.with_venue_roots({v: base_url for v in venue_ids()})

    def with_venue_roots(self, roots: Mapping[str, str]) -> Settings:
        """Point each venue of ``roots`` at ``{root}/{venue}`` (an emulator per venue, as the
        benchmark runs them: six venues' servers are six processes there); others unchanged."""
        venues = {
            v: self.venues.get(v).model_copy(update={"base_url": f"{root.rstrip('/')}/{v}"})
            for v, root in roots.items()
        }
        by_venue = {**self.venues.by_venue, **venues}
        return self.model_copy(
            update={"venues": self.venues.model_copy(update={"by_venue": by_venue})}
        )


def _set_private(settings: Settings, name: str, value: Any) -> None:
    """Construction-time only: private state lives outside the frozen fields."""
    private = settings.__pydantic_private__
    assert private is not None
    private[name] = value


def _env_names(node: Any) -> list[str]:
    """Values of every ``*_env`` field, walking nested models and tuples of models."""
    names: list[str] = []
    if isinstance(node, BaseModel):
        for field_name in type(node).model_fields:
            value = getattr(node, field_name)
            if field_name.endswith("_env") and isinstance(value, str):
                names.append(value)
            else:
                names += _env_names(value)
    elif isinstance(node, tuple | list):
        for item in node:
            names += _env_names(item)
    return names


def _declared_secrets(
    settings: Settings, env: Mapping[str, str | None]
) -> tuple[tuple[str, SecretStr], ...]:
    found = {n: env.get(n) for n in settings.secret_names()}
    return tuple((n, SecretStr(v)) for n, v in found.items() if v)


def _scan_for_secrets(node: Any, path: str, source: str) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else str(key)
            in_alerts = sub.startswith("alerts.") and key == "url"
            if (
                isinstance(key, str)
                and (_SECRET_KEY.search(key) or in_alerts)
                and not key.endswith("_env")
            ):
                raise ConfigError(
                    source,
                    sub,
                    "secrets must not be written in the config file; name an environment "
                    "variable instead (e.g. url_env: MY_WEBHOOK_URL) and set it in the "
                    "environment or .env",
                )
            if sub == "storage.url" and isinstance(value, str) and has_password(value):
                raise ConfigError(
                    source,
                    sub,
                    "a password in the storage URL is a secret: drop it from the file and set "
                    "PGPASSWORD, or pass the whole URL as FUNDSCAN__STORAGE__URL",
                )
            _scan_for_secrets(value, sub, source)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _scan_for_secrets(item, f"{path}[{i}]", source)


class _VariablesSource(EnvSettingsSource):
    """pydantic-settings' env source over a given mapping (os.environ, a .env file, a test's
    dict), looking only at ``FUNDSCAN__*`` names: the rest of the environment is never read."""

    def __init__(self, variables: Mapping[str, str | None], origin: str) -> None:
        self.variables = {
            k: v for k, v in variables.items() if k.upper().startswith(ENV_PREFIX) and v is not None
        }
        self.origin = origin
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        none = self.env_parse_none_str
        return {k.lower(): (None if v == none else v) for k, v in self.variables.items()}

    def path_of(self, name: str) -> tuple[str, ...]:
        return tuple(p.lower() for p in name[len(ENV_PREFIX) :].split("__"))

    def variable_for(self, loc: tuple[str, ...]) -> str | None:
        """The variable that supplied the value at ``loc`` (longest matching path; the
        model's own parts of a path, such as ``venues.by_venue``, are not in a name)."""
        loc = tuple(p for p in loc if p not in ("by_venue", "[key]"))
        best: tuple[int, str] | None = None
        for name in self.variables:
            path = self.path_of(name)
            if loc[: len(path)] == path and (best is None or len(path) > best[0]):
                best = (len(path), name)
        return best[1] if best else None

    def load(self) -> dict[str, Any]:
        """The nested values, with unknown section names refused (pydantic-settings only
        looks up known fields, so ``FUNDSCAN__ENGIN__X`` would otherwise vanish silently)."""
        for name in self.variables:
            section = self.path_of(name)[0]
            if section not in Settings.model_fields:
                raise ConfigError(
                    f"{self.origin} variable {name}", "", f"unknown section {section!r} in the name"
                )
        try:
            return self()
        except SettingsError as exc:
            field = str(exc).split('"')[1] if '"' in str(exc) else ""
            names = [n for n in self.variables if self.path_of(n)[0] == field] or ["?"]
            raise ConfigError(
                f"{self.origin} variable {names[0]}",
                "",
                'a list or mapping must be written as JSON, e.g. \'["bybit", "okx"]\'',
            ) from None


def _format_loc(loc: tuple[Any, ...]) -> str:
    """``collector.deadline_s``, ``alerts.channels[0].kind``: where in the YAML a value was.

    A key with characters that do not print (a newline, a tab) is shown quoted and escaped, so
    the error stays one line and names the key exactly as the file spells it.
    """
    out = ""
    for part in loc:
        if part in ("by_venue", "[key]"):  # venues.<id> in the YAML shape
            continue
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = str(part) if str(part).isprintable() else repr(str(part))
        out += f".{text}" if out else text
    return out


def _message(err: Any, loc: str) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return "unknown key (check the spelling against config.yaml's comments)"
    if err["type"] == "literal_error" and "enabled" in loc:
        return f"unknown venue {err.get('input')!r}; known venues: {', '.join(venue_ids())}"
    if err["type"] == "finite_number":
        return "must be a finite number (not inf or nan)"
    return msg


def _deep_merge(low: dict[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(low)
    for key, value in high.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    source = str(path)
    if not path.exists():
        raise ConfigError(source, "", "config file not found")
    try:
        data = strict_yaml.load(path.read_text(encoding="utf-8"))
    except strict_yaml.StrictYamlError as exc:
        raise ConfigError(source, exc.where, exc.problem) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"cannot read: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(source, "", "top level must be a mapping of sections")
    return data


def _dotenv(path: Path) -> Mapping[str, str | None]:
    try:
        return dotenv_values(path) if path.is_file() else {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc}") from None


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load and validate settings.

    ``path`` None means ``./config.yaml`` if it exists, else the embedded defaults.
    ``env`` None means the process environment over a ``.env`` file next to the config; a
    mapping replaces both (tests). Raises ``ConfigError`` (a user error, exit code 2) naming
    the file and key path, or the environment variable, that is wrong.
    """
    cfg_path = Path(path) if path is not None else Path(DEFAULT_CONFIG_NAME)
    data: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None or cfg_path.exists():
        data = _read_yaml(cfg_path)
        source = str(cfg_path)
        _scan_for_secrets(data, "", source)
    if env is None:
        dotenv = _dotenv(cfg_path.parent / ".env" if source != "<defaults>" else Path(".env"))
        layers = [_VariablesSource(dotenv, ".env"), _VariablesSource(os.environ, "environment")]
        lookup: Mapping[str, str | None] = ChainMap(os.environ, dict(dotenv))  # type: ignore[arg-type]
    else:
        layers = [_VariablesSource(env, "environment")]
        lookup = env
    merged = data
    for layer in layers:
        merged = _deep_merge(merged, layer.load())
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise _config_error(exc, source, layers) from None
    _set_private(settings, "_source", source)
    _set_private(settings, "_secrets", _declared_secrets(settings, lookup))
    return settings


def _config_error(exc: ValidationError, source: str, layers: list[_VariablesSource]) -> ConfigError:
    err = exc.errors()[0]
    loc = tuple(str(p) if not isinstance(p, int) else p for p in err["loc"])
    where = _format_loc(loc)
    message = _message(err, where)
    str_loc = tuple(str(p) for p in loc)
    for layer in reversed(layers):  # the highest-precedence layer that set it
        name = layer.variable_for(str_loc)
        if name is not None:
            return ConfigError(f"{layer.origin} variable {name}", where, message)
    return ConfigError(source, where, message)


def masked_dict(settings: Settings) -> dict[str, Any]:
    """Settings as plain data for display, with which secrets are set (never their values)."""
    data = settings.model_dump(mode="json")
    data["storage"]["url"] = redact_url(settings.storage.url)
    data["secrets"] = {
        n: ("**********" if settings.secret(n) else "(not set)") for n in settings.secret_names()
    }
    return data
