"""Configuration: broken files fail with one clear line and exit 2; secrets stay masked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scanner.cli import app
from scanner.settings import ConfigError, Settings, load_settings, masked_dict

ROOT = Path(__file__).resolve().parents[1]
BROKEN = Path(__file__).resolve().parent / "configs" / "broken"

# file name -> (key path that must be named, a phrase of the message)
CASES = {
    "unknown_key.yaml": ("engine.notional", "unknown key"),
    "wrong_type.yaml": ("engine.horizon_h", "valid number"),
    "negative_notional.yaml": ("engine.notional_usd", "greater than 0"),
    "unknown_venue.yaml": ("venues.enabled[1]", "unknown venue 'kraken'"),
    "invalid_yaml.yaml": ("line 3", "invalid YAML"),
    "secret_in_yaml.yaml": ("execution.api_secret", "secrets must not be written"),
    "invalid_storage_url.yaml": ("storage.url", "unsupported database driver"),
    "malformed_storage_url.yaml": ("storage.url", "not a database URL"),
    "webhook_url_in_yaml.yaml": ("alerts.channels[0].url", "secrets must not be written"),
    "password_in_storage_url.yaml": ("storage.url", "password"),
    "exposure_below_trade.yaml": ("execution", "max_total_exposure_usd"),
    "not_a_mapping.yaml": ("", "top level must be a mapping"),
    "unknown_alert_kind.yaml": ("alerts.channels[0].kind", "slack"),
}


def test_every_broken_file_has_a_case() -> None:
    assert sorted(p.name for p in BROKEN.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_check_rejects_broken_file(name: str) -> None:
    key_path, phrase = CASES[name]
    path = BROKEN / name
    result = CliRunner().invoke(app, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    line = lines[0]
    assert str(path) in line
    assert key_path in line
    assert phrase in line
    assert "Traceback" not in result.output


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = CliRunner().invoke(app, ["config", "check", "--config", str(missing)])
    assert result.exit_code == 2
    assert f"{missing}: config file not found" in result.output


def test_real_process_prints_one_line_without_traceback() -> None:
    """The console script, not just the in-process runner: stderr is one line, exit code 2."""
    path = BROKEN / "negative_notional.yaml"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from scanner.cli import main; main()",
            "config",
            "check",
            "-c",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "engine.notional_usd" in proc.stderr and "Traceback" not in proc.stderr


def test_shipped_config_is_valid_and_equals_defaults() -> None:
    """config.yaml documents the defaults: loading it must give exactly the embedded defaults."""
    shipped = load_settings(ROOT / "config.yaml", env={})
    assert shipped.model_dump() == Settings().model_dump()


def test_env_override_wins_and_is_validated(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("engine:\n  notional_usd: 1000\n")
    s = load_settings(cfg, env={"FUNDSCAN__ENGINE__NOTIONAL_USD": "2500"})
    assert s.engine.notional_usd == 2500.0
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={"FUNDSCAN__ENGINE__NOTIONAL_USD": "-1"})
    assert err.value.key_path == "engine.notional_usd"


def test_settings_are_frozen() -> None:
    s = load_settings(ROOT / "config.yaml", env={})
    with pytest.raises(Exception, match="frozen"):
        s.engine.notional_usd = 1.0  # type: ignore[misc]


def test_secrets_come_from_dotenv_and_are_masked(tmp_path: Path) -> None:
    secret_value = "S3cr3t-value-that-must-not-leak"
    cfg = tmp_path / "config.yaml"
    cfg.write_text("alerts:\n  channels:\n    - {kind: slack, url_env: MY_SLACK_URL}\n")
    (tmp_path / ".env").write_text(
        f"BYBIT_API_SECRET={secret_value}\nMY_SLACK_URL=https://x/{secret_value}\n"
    )
    s = load_settings(cfg, env=None)
    got = s.secret("BYBIT_API_SECRET")
    assert got is not None and got.get_secret_value() == secret_value
    assert secret_value not in repr(got)
    assert secret_value not in repr(s)
    shown = masked_dict(s)
    assert shown["secrets"]["BYBIT_API_SECRET"] == "**********"
    assert shown["secrets"]["MY_SLACK_URL"] == "**********"
    assert secret_value not in str(shown)
    result = CliRunner().invoke(app, ["config", "show", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert secret_value not in result.output
    assert "MY_SLACK_URL" in result.output


def test_with_base_url_points_every_venue_at_the_emulator() -> None:
    s = load_settings(ROOT / "config.yaml", env={}).with_base_url("http://127.0.0.1:9/")
    assert s.venues.get("okx").base_url == "http://127.0.0.1:9/okx"
    assert s.venues.get("bybit").base_url == "http://127.0.0.1:9/bybit"


def test_with_venue_roots_points_each_venue_at_its_own_server() -> None:
    base = load_settings(ROOT / "config.yaml", env={}).with_base_url("http://127.0.0.1:9")
    s = base.with_venue_roots({"okx": "http://127.0.0.1:7/", "gate": "http://127.0.0.1:8"})
    assert s.venues.get("okx").base_url == "http://127.0.0.1:7/okx"
    assert s.venues.get("gate").base_url == "http://127.0.0.1:8/gate"
    assert s.venues.get("bybit").base_url == "http://127.0.0.1:9/bybit"  # not named: kept


def test_database_passwords_never_reach_the_screen(tmp_path: Path) -> None:
    pw = "S3cretPW-never-shown"
    url = f"postgresql+psycopg://trader:{pw}@db.example:5432/fundscan"
    env = {"FUNDSCAN__STORAGE__URL": url}
    s = load_settings(None, env=env)
    assert s.storage.url == url  # the real URL is kept for connecting ...
    shown = masked_dict(s)
    assert pw not in str(shown) and "trader:***@db.example" in shown["storage"]["url"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("engine: {}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(bad, env={"FUNDSCAN__STORAGE__URL": f"postgresql//trader:{pw}@h/db"})
    assert pw not in str(err.value) and "storage.url" in str(err.value)


def test_redact_url_keeps_everything_but_the_password() -> None:
    from scanner.settings import redact_url

    assert redact_url("postgresql://u:p%40ss@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact_url("sqlite:///./data/x.db") == "sqlite:///./data/x.db"
    assert redact_url("postgresql://u@h/d") == "postgresql://u@h/d"
