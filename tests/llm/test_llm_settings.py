"""The ``llm:`` section: modes, the old ``enabled`` flag, URLs without credentials, no keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.settings import ConfigError, load_settings


def _load(tmp_path: Path, text: str):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text)
    return load_settings(cfg, env={})


@pytest.mark.parametrize(
    "text,mode",
    [
        ("llm: {mode: advisory}\n", "advisory"),
        ("llm: {mode: gate}\n", "gate"),
        ("llm: {mode: off}\n", "off"),  # YAML reads unquoted off as false
        ("llm: {enabled: true}\n", "advisory"),  # configs written before modes existed
        ("llm: {enabled: false}\n", "off"),
        ("llm: {}\n", "off"),
    ],
)
def test_modes(tmp_path: Path, text: str, mode: str) -> None:
    assert _load(tmp_path, text).llm.mode == mode


def test_budget_keys_are_counts_not_secrets(tmp_path: Path) -> None:
    s = _load(tmp_path, "llm: {budget: {tokens_per_run: 5000, tokens_per_day: 90000}}\n")
    assert (s.llm.budget.tokens_per_run, s.llm.budget.tokens_per_day) == (5000, 90000)


@pytest.mark.parametrize(
    "text,key,phrase",
    [
        ("llm: {mode: yolo}\n", "llm.mode", "'off', 'advisory' or 'gate'"),
        ("llm: {base_url: 'https://user:pw@api.example/v1'}\n", "llm.base_url", "credentials"),
        ("llm: {base_url: 'ftp://x'}\n", "llm.base_url", "http(s) URL"),
        ("llm: {api_key: sk-123}\n", "llm.api_key", "secrets must not be written"),
        ("llm: {budget: {calls_per_run: -1}}\n", "llm.budget.calls_per_run", "greater than"),
        ("llm: {enabled: maybe}\n", "llm", "true or false"),
        ("llm: {max_tokens: 4}\n", "llm.max_tokens", "greater than"),
    ],
)
def test_bad_llm_config_names_the_key(tmp_path: Path, text: str, key: str, phrase: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert err.value.key_path == key
    assert phrase in err.value.message


def test_the_key_comes_from_the_named_variable_and_is_masked(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("llm: {api_key_env: MY_LLM_KEY}\n")
    s = load_settings(cfg, env={"MY_LLM_KEY": "sk-live-abcdef"})
    key = s.secret(s.llm.api_key_env)
    assert key is not None and key.get_secret_value() == "sk-live-abcdef"
    assert "sk-live-abcdef" not in repr(s) and "sk-live-abcdef" not in repr(key)
