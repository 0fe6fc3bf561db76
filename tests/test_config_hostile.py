"""Hostile configuration (issue 11): files and variables a careless or malicious hand wrote.

Each case names the row of issue 11's table it covers. Every refusal must be one line, exit
code 2, naming the file and place or the environment variable, and never the password.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scanner.cli import app
from scanner.settings import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]


def _check(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``fundscan config check`` in a real process, bounded: a hang is a failure, not a stall."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FUNDSCAN")}
    return subprocess.run(
        [sys.executable, "-c", "from scanner.cli import main; main()", "config", "check"]
        + ["-c", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**full_env, **(env or {})},
        timeout=60,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[0]


def test_row1_alias_bomb_is_refused_at_once_naming_file_and_line(tmp_path: Path) -> None:
    levels = [f"  a0: &a0 [{', '.join(['x'] * 9)}]"]
    levels += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text("bomb:\n" + "\n".join(levels) + "\n")
    assert len(cfg.read_bytes()) < 600
    line = _one_line_error(_check(cfg))
    assert str(cfg) in line and "line 3" in line and "aliases" in line


def test_row9_deep_nesting_is_one_line_naming_the_place(tmp_path: Path) -> None:
    cfg = tmp_path / "deep.yaml"
    cfg.write_text("engine: " + "[" * 500 + "]" * 500 + "\n")
    line = _one_line_error(_check(cfg))
    assert str(cfg) in line and "line 1" in line and "nested deeper" in line


def test_row7_duplicate_keys_are_refused_naming_both_lines(tmp_path: Path) -> None:
    cfg = tmp_path / "dup.yaml"
    cfg.write_text(
        "engine:\n  notional_usd: 5\nvenues:\n  enabled: [okx]\nengine:\n  horizon_h: 1\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    text = str(err.value)
    assert str(cfg) in text and "duplicate key 'engine'" in text
    assert "line 5" in text and "first at line 1" in text
    nested = tmp_path / "dup2.yaml"
    nested.write_text("engine:\n  notional_usd: 5\n  notional_usd: 6\n")
    with pytest.raises(ConfigError, match="duplicate key 'notional_usd'"):
        load_settings(nested, env={})


@pytest.mark.parametrize(
    ("yaml_text", "key_path"),
    [
        ("engine:\n  lookback_h: .inf\n", "engine.lookback_h"),
        ("engine:\n  notional_usd: .nan\n", "engine.notional_usd"),
        ("engine:\n  min_net_apr: .nan\n", "engine.min_net_apr"),
        ("schedule:\n  scan_every_s: 1e20\n", "schedule.scan_every_s"),
        ("schedule:\n  prune_every_h: .inf\n", "schedule.prune_every_h"),
        ("collector:\n  deadline_s: 0.001\n", "collector.deadline_s"),
        ("storage:\n  retention: {quotes_days: 100000000}\n", "storage.retention.quotes_days"),
    ],
)
def test_row4_numbers_must_be_finite_and_in_a_usable_range(
    tmp_path: Path, yaml_text: str, key_path: str
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    assert err.value.key_path == key_path and str(cfg) in str(err.value)


def test_row4_every_numeric_knob_has_a_lower_and_an_upper_bound() -> None:
    """A bound per knob: no number anywhere in the settings schema is open-ended."""
    schema = Settings.model_json_schema()
    defs = schema.get("$defs", {})
    open_ended: list[str] = []

    def walk(node: dict[str, object], path: str) -> None:
        ref = node.get("$ref")
        if isinstance(ref, str):
            walk(defs[ref.rsplit("/", 1)[1]], path)
            return
        for option in node.get("anyOf", []):  # type: ignore[attr-defined]
            walk(option, path)
        if node.get("type") in ("number", "integer"):
            low = {"minimum", "exclusiveMinimum", "ge", "gt"} & node.keys()
            high = {"maximum", "exclusiveMaximum", "le", "lt"} & node.keys()
            if not (low and high):
                open_ended.append(path)
        for name, sub in node.get("properties", {}).items():  # type: ignore[attr-defined]
            walk(sub, f"{path}.{name}" if path else name)

    walk(schema, "")
    assert open_ended == []
    assert len(Settings.model_fields) >= 9


def test_row2_password_of_a_url_without_host_is_never_printed(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("engine: {}\n")
    proc = _check(cfg, {"FUNDSCAN__STORAGE__URL": "postgresql+psycopg://postgres:pw-789"})
    line = _one_line_error(proc)
    assert "pw-789" not in proc.stderr + proc.stdout
    assert "FUNDSCAN__STORAGE__URL" in line and "storage.url" in line


@pytest.mark.parametrize(
    "url", ["postgresql+asyncpg://u@h/db", "postgresql+pg8000://u@h/db", "mysql://u@h/db"]
)
def test_row5_only_installed_supported_drivers_pass(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, env={"FUNDSCAN__STORAGE__URL": url})
    assert "unsupported database driver" in str(err.value)


def test_row8_env_values_are_the_fields_type_and_a_hash_is_kept() -> None:
    s = load_settings(None, env={"FUNDSCAN__STORAGE__URL": "sqlite:////tmp/x #y.db"})
    assert s.storage.url == "sqlite:////tmp/x #y.db"
    # a YAML-looking value is a string, not a YAML document
    s = load_settings(None, env={"FUNDSCAN__LLM__MODEL": "[a, b]"})
    assert s.llm.model == "[a, b]"


def test_row13_env_errors_name_the_variable(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("engine: {notional_usd: 100}\n")
    line = _one_line_error(_check(cfg, {"FUNDSCAN__ENGINE__NOTIONAL_USD": "abc"}))
    assert "environment variable FUNDSCAN__ENGINE__NOTIONAL_USD" in line
    assert "engine.notional_usd" in line and str(cfg) not in line and "<defaults>" not in line
    with pytest.raises(ConfigError, match="variable FUNDSCAN__ENGINE__NOTIONAL"):
        load_settings(cfg, env={"FUNDSCAN__ENGINE__NOTIONAL": "1"})
    with pytest.raises(ConfigError, match="variable FUNDSCAN__ENGIN__NOTIONAL_USD"):
        load_settings(cfg, env={"FUNDSCAN__ENGIN__NOTIONAL_USD": "1"})


def test_row13_dotenv_errors_name_the_dotenv_variable(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("engine: {}\n")
    (tmp_path / ".env").write_text("FUNDSCAN__ENGINE__HORIZON_H=soon\n")
    line = _one_line_error(_check(cfg))
    assert ".env variable FUNDSCAN__ENGINE__HORIZON_H" in line and "engine.horizon_h" in line


def test_row15_an_empty_venue_list_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("venues:\n  enabled: []\n")
    line = _one_line_error(_check(cfg))
    assert "venues.enabled" in line and "no venue enabled" in line


@pytest.mark.parametrize(
    ("yaml_text", "phrase"),
    [
        ("schedule:\n  scan_every_s: true\n", "expected a number, got true"),
        ("storage:\n  url: ''\n", "is empty"),
        ("storage:\n  url: 'sqlite://'\n", "in-memory SQLite"),
        ("storage:\n  url: 'sqlite:///:memory:'\n", "in-memory SQLite"),
    ],
)
def test_row18_type_and_url_errors_say_what_was_expected(
    tmp_path: Path, yaml_text: str, phrase: str
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    result = CliRunner().invoke(app, ["config", "check", "-c", str(cfg)])
    assert result.exit_code == 2 and phrase in result.output, result.output


def test_only_declared_variables_are_read_and_secrets_cannot_be_changed() -> None:
    env = {"BYBIT_API_KEY": "k-1", "UNRELATED_TOKEN": "t", "PATH": "/bin"}
    s = load_settings(None, env=env)
    assert dict(s._secrets).keys() == {"BYBIT_API_KEY"}  # nothing else was copied
    with pytest.raises(KeyError):
        s.secret("UNRELATED_TOKEN")
    with pytest.raises(TypeError, match="frozen"):
        s._secrets = ()
    assert "k-1" not in repr(s) and "k-1" not in str(s.model_dump())


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ('"a\\nb": 1\n', "'a\\nb'"),
        ('collector:\n  "dead\\tline_s": 5\n', "collector.'dead\\tline_s'"),
    ],
)
def test_a_key_with_unprintable_characters_is_named_escaped_on_one_line(
    tmp_path: Path, doc: str, where: str
) -> None:
    """Found by the fuzz test: a key with a newline put a line break into the error."""
    path = tmp_path / "config.yaml"
    path.write_text(doc, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env={})
    message = str(exc.value)
    assert "\n" not in message and "\t" not in message, message
    assert f"{path}: {where}: unknown key" in message, message
