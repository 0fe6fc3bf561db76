"""The scan table's verdict column: present only when the model was asked, dropped like conf."""

from __future__ import annotations

import io

import pandas as pd
from llm_helpers import row
from rich.console import Console

from scanner.cli.render import fit_opportunities
from scanner.llm_advisor import with_verdicts
from strategies.llm_verdict import LlmVerdict, abstain

VERDICTS = [
    LlmVerdict("approve", 0.82, ("ok",), (), valid=True),
    LlmVerdict("reject", 0.9, ("trap",), (), valid=True),
    abstain("timed out after 20 s"),
]


def _frame() -> pd.DataFrame:
    return pd.DataFrame([row(s) for s in ("A/USDT:USDT", "B/USDT:USDT", "C/USDT:USDT")])


def _text(df: pd.DataFrame, width: int) -> str:
    fitted = fit_opportunities(df, "t", width)
    out = io.StringIO()
    Console(width=width, file=out, color_system=None).print(fitted.renderable)
    return out.getvalue()


def test_verdicts_are_shown_in_full_when_there_is_room() -> None:
    text = _text(with_verdicts(_frame(), VERDICTS), 250)
    assert "llm verdict" in text
    assert "approve 0.82" in text and "reject 0.90" in text and "abstain" in text


def test_off_has_no_verdict_column() -> None:
    assert "llm verdict" not in _text(with_verdicts(_frame(), None), 250)


def test_narrow_terminals_drop_the_verdict_with_conf_and_keep_the_essentials() -> None:
    df = with_verdicts(_frame(), VERDICTS)
    fitted = fit_opportunities(df, "t", 60)
    assert "llm" in fitted.hidden or fitted.cards
    wide = fit_opportunities(df, "t", 250)
    assert "llm" in wide.shown and not wide.hidden
