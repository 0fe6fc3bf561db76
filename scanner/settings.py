"""config.yaml -> typed, frozen settings; secrets only from the environment.

Why so strict: a typo in a trading tool's config must be an error, not a silent default, and a
secret written into a file that gets committed or shared must be refused. So every model
forbids unknown keys, is frozen, and secrets are never fields of the YAML: the YAML names the
*environment variable* that holds each secret (``url_env: SLACK_WEBHOOK_URL``), and values are
read from the process environment or a ``.env`` file next to the config, wrapped in
``SecretStr`` so no repr or log line shows them.

Precedence: embedded defaults < config file < ``FUNDSCAN__SECTION__KEY=value`` env overrides
(values parsed as YAML scalars, e.g. ``FUNDSCAN__ENGINE__NOTIONAL_USD=5000``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from scanner.domain import VENUES

ENV_PREFIX = "FUNDSCAN__"
DEFAULT_CONFIG_NAME = "config.yaml"

VenueId = Literal["bybit", "binanceusdm", "okx", "bitget", "gate", "hyperliquid"]

# Keys that look like a secret value written straight into YAML. ``*_env`` keys (which hold the
# *name* of an environment variable) are allowed; ``tokens`` (plural) is a count, not a secret.
_SECRET_KEY = re.compile(
    r"(api_?key|api_?secret|secret|password|passphrase|token(?!s)|webhook)", re.I
)


class ConfigError(Exception):
    """A user error in configuration: names the file and the key path."""

    def __init__(self, source: str, key_path: str, message: str) -> None:
        self.source = source
        self.key_path = key_path
        self.message = message
        where = f"{source}: {key_path}" if key_path else source
        super().__init__(f"{where}: {message}")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VenueSettings(_Frozen):
    """Per-venue knobs. Fees in basis points (1 bp = 0.0001 of notional)."""

    base_url: str | None = None
    environment: Literal["mainnet", "testnet", "demo"] = "mainnet"
    taker_fee_bps: Annotated[float, Field(ge=0, le=100)] | None = None
    maker_fee_bps: Annotated[float, Field(ge=-10, le=100)] | None = None
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    recv_window_ms: Annotated[int, Field(gt=0, le=60_000)] = 5000
    max_concurrency: Annotated[int, Field(ge=1, le=64)] = 8

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8080/bybit")
        return v.rstrip("/") if v else v


class VenuesSettings(_Frozen):
    enabled: tuple[VenueId, ...] = VENUES  # type: ignore[assignment]
    bybit: VenueSettings = VenueSettings()
    binanceusdm: VenueSettings = VenueSettings()
    okx: VenueSettings = VenueSettings()
    bitget: VenueSettings = VenueSettings()
    gate: VenueSettings = VenueSettings()
    hyperliquid: VenueSettings = VenueSettings()

    def get(self, venue: str) -> VenueSettings:
        if venue not in VENUES:
            raise KeyError(venue)
        result: VenueSettings = getattr(self, venue)
        return result

    @field_validator("enabled")
    @classmethod
    def _unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError("lists a venue twice")
        return v


class UniverseSettings(_Frozen):
    settle: tuple[Literal["USDT", "USDC"], ...] = ("USDT", "USDC")
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_volume_24h_usd: Annotated[float, Field(ge=0)] = 0.0


class ScheduleSettings(_Frozen):
    scan_every_s: Annotated[int, Field(ge=5)] = 60
    prune_every_h: Annotated[float, Field(ge=0)] = 24.0


class CollectorSettings(_Frozen):
    deadline_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    book_depth: Annotated[int, Field(ge=1, le=1000)] = 50
    book_candidates: Annotated[int, Field(ge=0, le=1000)] = 40
    history_days: Annotated[int, Field(ge=1, le=3650)] = 30


class ConfidenceWeights(_Frozen):
    persistence: Annotated[float, Field(ge=0)] = 0.3
    stability: Annotated[float, Field(ge=0)] = 0.2
    liquidity: Annotated[float, Field(ge=0)] = 0.2
    freshness: Annotated[float, Field(ge=0)] = 0.15
    prediction: Annotated[float, Field(ge=0)] = 0.15


class EngineSettings(_Frozen):
    notional_usd: Annotated[float, Field(gt=0)] = 10_000.0
    horizon_h: Annotated[float, Field(gt=0, le=24 * 365)] = 72.0
    min_net_apr: float = 0.0
    max_slippage_bps: Annotated[float, Field(gt=0, le=1000)] = 30.0
    lookback_h: Annotated[float, Field(gt=0)] = 7 * 24.0
    persistence_points: Annotated[int, Field(ge=2)] = 24
    stale_after_s: Annotated[float, Field(gt=0)] = 120.0
    depth_band_bps: Annotated[float, Field(gt=0)] = 10.0
    max_price_gap_frac: Annotated[float, Field(gt=0, le=1)] = 0.05
    include_carry: bool = True
    confidence_weights: ConfidenceWeights = ConfidenceWeights()


class RetentionSettings(_Frozen):
    quotes_days: Annotated[int, Field(ge=1)] = 180
    books_days: Annotated[int, Field(ge=1)] = 30
    opportunities_days: Annotated[int, Field(ge=1)] = 180


class StorageSettings(_Frozen):
    url: str = "sqlite:///./data/fundscan.db"
    retention: RetentionSettings = RetentionSettings()

    @field_validator("url")
    @classmethod
    def _valid_url(cls, v: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(v)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {redact_url(v)!r}") from exc
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        return v


_ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


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
    min_net_apr: float = 0.2
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.5
    alert_unrated: bool = False
    cooldown_min: Annotated[float, Field(ge=0)] = 60.0
    realert_after_apr_change: Annotated[float, Field(ge=0)] = 0.25
    notify_closed: bool = False
    max_per_scan: Annotated[int, Field(ge=1, le=100)] = 5
    rate_per_s: Annotated[float, Field(gt=0, le=100)] = 1.0
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
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

    calls_per_run: Annotated[int, Field(ge=0)] = 20
    tokens_per_run: Annotated[int, Field(ge=0)] = 40_000
    calls_per_day: Annotated[int, Field(ge=0)] = 500
    tokens_per_day: Annotated[int, Field(ge=0)] = 1_000_000


class LlmSettings(_Frozen):
    """The optional second opinion from any OpenAI-compatible chat completions endpoint.

    ``mode``: ``off``; ``advisory`` (verdicts shown in scan and alerts); ``gate`` (the executor
    also needs a valid approve). The old ``enabled: true`` still reads as ``advisory``.
    """

    mode: Literal["off", "advisory", "gate"] = "off"
    base_url: str = "https://api.openai.com/v1"
    model: str = Field(default="gpt-4o-mini", min_length=1)
    api_key_env: str = Field(default="OPENAI_API_KEY", pattern=r"^[A-Z_][A-Z0-9_]*$")
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
    max_notional_usd: Annotated[float, Field(gt=0)] = 1000.0
    max_total_exposure_usd: Annotated[float, Field(gt=0)] = 5000.0
    max_open_pairs: Annotated[int, Field(ge=0)] = 3
    max_daily_loss_usd: Annotated[float, Field(gt=0)] = 200.0
    kill_switch_file: str = "./data/KILL"
    api_key_env: str = Field(default="BYBIT_API_KEY", pattern=r"^[A-Z_][A-Z0-9_]*$")
    api_secret_env: str = Field(default="BYBIT_API_SECRET", pattern=r"^[A-Z_][A-Z0-9_]*$")

    @model_validator(mode="after")
    def _exposure_covers_trade(self) -> ExecutionSettings:
        if self.max_total_exposure_usd < self.max_notional_usd:
            raise ValueError("max_total_exposure_usd must be >= max_notional_usd")
        return self


class BacktestSettings(_Frozen):
    """``fundscan backtest`` defaults beyond the engine's (notional, min net APR, horizon)."""

    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.5
    exit_net_apr: float = 0.0
    max_hold_h: Annotated[float, Field(gt=0, le=24 * 365)] = 168.0
    slippage_bps_per_walk: Annotated[float, Field(ge=0, le=1000)] = 2.0
    stale_after_h: Annotated[float, Field(gt=0, le=24 * 30)] = 24.0


class Settings(_Frozen):
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
    source: str = Field(default="<defaults>", exclude=True)
    env: Mapping[str, str] = Field(default_factory=dict, exclude=True, repr=False)

    def secret(self, env_name: str) -> SecretStr | None:
        """The secret held in environment variable ``env_name`` (or ``.env``), masked."""
        value = self.env.get(env_name)
        return SecretStr(value) if value else None

    def with_base_url(self, base_url: str) -> Settings:
        """Point every venue at one URL prefix (the emulator): ``{base_url}/{venue}``."""
        root = base_url.rstrip("/")
        venues = {
            v: self.venues.get(v).model_copy(update={"base_url": f"{root}/{v}"}) for v in VENUES
        }
        return self.model_copy(update={"venues": self.venues.model_copy(update=venues)})


_URL_PASSWORD = re.compile(r"(^|//)([^/@:]*):([^/@]*)@")
"""``user:password@`` after ``//`` (or at the start), even in a URL too broken to parse."""


def _url_has_password(url: str) -> bool:
    return _URL_PASSWORD.search(url) is not None


def redact_url(url: str) -> str:
    """``scheme://user:secret@host/db`` -> ``scheme://user:***@host/db`` (also if unparsable)."""
    return _URL_PASSWORD.sub(r"\1\2:***@", url)


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
            if sub == "storage.url" and isinstance(value, str) and _url_has_password(value):
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


def _apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        if not keys:
            continue
        node = data
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        try:
            node[keys[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError:
            node[keys[-1]] = raw
    return data


def _first_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    loc = ""
    for part in err["loc"]:
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling against config.yaml's comments)"
    elif err["type"] == "literal_error" and "enabled" in loc:
        msg = f"unknown venue {err.get('input')!r}; known venues: {', '.join(VENUES)}"
    return loc, msg


def _read_yaml(path: Path) -> dict[str, Any]:
    source = str(path)
    if not path.exists():
        raise ConfigError(source, "", "config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(source, where, f"invalid YAML: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"cannot read: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(source, "", "top level must be a mapping of sections")
    return data


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load and validate settings.

    ``path`` None means ``./config.yaml`` if it exists, else the embedded defaults.
    ``env`` None means ``os.environ`` merged over a ``.env`` file next to the config.
    Raises ``ConfigError`` (a user error, exit code 2) with the file and key path.
    """
    cfg_path = Path(path) if path is not None else Path(DEFAULT_CONFIG_NAME)
    explicit = path is not None
    data: dict[str, Any] = {}
    source = "<defaults>"
    if explicit or cfg_path.exists():
        data = _read_yaml(cfg_path)
        source = str(cfg_path)
        _scan_for_secrets(data, "", source)
    if env is None:
        dot = cfg_path.parent / ".env" if source != "<defaults>" else Path(".env")
        file_env = (
            {k: v for k, v in dotenv_values(dot).items() if v is not None} if dot.exists() else {}
        )
        env = {**file_env, **os.environ}
    data = _apply_env_overrides(data, env)
    try:
        return Settings.model_validate({**data, "source": source, "env": dict(env)})
    except ValidationError as exc:
        loc, msg = _first_error(exc)
        raise ConfigError(source, loc, msg) from None


def masked_dict(settings: Settings) -> dict[str, Any]:
    """Settings as plain data for display, with which secrets are set (never their values)."""
    data = settings.model_dump(mode="json")
    data["storage"]["url"] = redact_url(settings.storage.url)
    names = [
        settings.execution.api_key_env,
        settings.execution.api_secret_env,
        settings.llm.api_key_env,
    ]
    names += [c.url_env for c in settings.alerts.channels]
    names += [c.chat_id_env for c in settings.alerts.channels if c.chat_id_env]
    names += [c.secret_env for c in settings.alerts.channels if c.secret_env]
    data["secrets"] = {n: ("**********" if settings.env.get(n) else "(not set)") for n in names}
    return data
