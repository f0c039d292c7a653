"""The impact prompt of a change (life guide §6.3): what it does to the policy, with its figures.

The texts are data (data/impact_prompts.yaml, a default for the insurer to review); the figures come
from the quote and the policy's values on the day of the quote. The customer acknowledges the prompt
of exactly this quote; its SHA-256 goes into the evidence.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from epolicy.common.money import fmt_cny
from epolicy.rules.life import ITEM_NAMES, ChangeQuote, PolicyState, PolicyValues

PROMPTS_PATH = Path(__file__).with_name("data") / "impact_prompts.yaml"
PLACEHOLDERS = frozenset(
    {
        "item_name",
        "effective_date",
        "pay",
        "receive",
        "premiums_paid",
        "sum_assured",
        "surrender_value",
        "shortfall",
        "shortfall_sentence",
        "debt",
    }
)


@dataclass(frozen=True)
class ImpactPrompt:
    item: str
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.sentences)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def as_json(self) -> dict[str, Any]:
        return {"item": self.item, "sentences": list(self.sentences), "sha256": self.sha256}


@cache
def _templates(path: str) -> dict[str, tuple[str, ...]]:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    templates = {item: tuple(str(s) for s in sentences) for item, sentences in raw.items()}
    missing = sorted(set(ITEM_NAMES) - set(templates))
    if missing:
        raise ValueError(f"impact prompts missing for {missing}")
    for item, sentences in templates.items():
        for sentence in sentences:
            names = {f for _, f, _, _ in string.Formatter().parse(sentence) if f}
            if names - PLACEHOLDERS:
                raise ValueError(
                    f"impact prompt of {item}: unknown placeholders {sorted(names - PLACEHOLDERS)}"
                )
    return templates


def _yuan(amount: Decimal) -> str:
    return fmt_cny(amount)


def impact_prompt(*, quote: ChangeQuote, state: PolicyState, values: PolicyValues | None) -> ImpactPrompt:
    """The prompt of `quote`, its placeholders filled from the quote, the state and the day's values."""
    receive = quote.amount_to_receive
    shortfall = max(state.premiums_paid - receive, Decimal(0))
    figures = {
        "item_name": quote.item_name_zh,
        "effective_date": f"{quote.effective_date:%Y年%m月%d日}",
        "pay": _yuan(quote.amount_to_pay),
        "receive": _yuan(receive),
        "premiums_paid": _yuan(state.premiums_paid),
        "sum_assured": _yuan(state.sum_assured),
        "surrender_value": _yuan(values.surrender_value) if values is not None else "—",
        "shortfall": _yuan(shortfall),
        "shortfall_sentence": (
            f"可领取金额比已交保险费少 {_yuan(shortfall)} 元，退保可能造成经济损失。" if shortfall > 0 else ""
        ),
        "debt": _yuan(values.debt) if values is not None else "—",
    }
    sentences = tuple(s.format_map(figures).strip() for s in _templates(str(PROMPTS_PATH))[quote.item])
    if quote.manual_review and quote.manual_review_reason_zh:
        sentences += (
            f"本次申请须经人工审核：{quote.manual_review_reason_zh}",
            "审核通过当日按当日的保单状况重新计算后办理，应交或可领金额可能与本次试算不同"
            "（例如按日计算的利息），以审核结果通知为准；审核未通过的，变更不生效。",
        )
    return ImpactPrompt(item=quote.item, sentences=tuple(s for s in sentences if s))
