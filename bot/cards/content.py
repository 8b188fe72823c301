"""What a card shows, as plain data: every string and number, already in the user's language.

Built from the same sources as the text result (the Recommendation, the flow's titles and option
labels, knowledge/modes.yaml and knowledge/ui.yaml, through bot.render.Renderer), so a picture
cannot say something the text does not. The dataclasses are frozen and hashable: a card's data is
its own cache key (same data -> same picture).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.links import QUIZ, start_link

if TYPE_CHECKING:   # imported where used: a card worker unpickles these dataclasses without loading the bot
    from bot.engine.recommend import Recommendation
    from bot.engine.spec import Flow
    from bot.kb.models import KnowledgeBase
    from bot.render import Renderer

MODES = ("full", "semi")
MAX_REASONS = 3


@dataclass(frozen=True)
class Footer:
    handle: str      # "@ModeAdvisorBot"
    cta: str         # "Take the test yourself:"
    link: str        # "https://t.me/ModeAdvisorBot?start=quiz"


@dataclass(frozen=True)
class Bar:
    """One answered factor: where it pushed (-1 full-managed .. +1 semi-managed)."""

    title: str       # the factor, e.g. "Capital"
    answer: str      # the chosen option's label, or "Not sure"
    value: float

    @property
    def side(self) -> str:
        return "semi" if self.value > 0 else "full" if self.value < 0 else "neutral"


@dataclass(frozen=True)
class ResultCard:
    lang: str
    app: str                     # the bot's name, "Mode Advisor"
    kind: str                    # "clear", "borderline" or "later" (full-managed now, semi-managed later)
    mode: str                    # the recommended (or leaning) mode: "full" or "semi"
    names: tuple[str, str]       # the two modes' names (full, semi)
    kicker: str                  # the small line above the verdict
    subline: str                 # under the verdict ("" when there is nothing to add)
    confidence: float            # 0..1
    confidence_text: str
    factors_title: str
    bars: tuple[Bar, ...]
    reasons_title: str
    reasons: tuple[tuple[str, str], ...]   # (side, text), strongest first
    footer: Footer


@dataclass(frozen=True)
class ModePanel:
    mode: str
    name: str
    lead: str                    # the summary's first clause
    points: tuple[str, ...]      # the rest, split at semicolons


@dataclass(frozen=True)
class CompareCard:
    lang: str
    app: str
    title: str
    panels: tuple[ModePanel, ...]
    footer: Footer


def quiz_link(bot_username: str) -> str:
    """The deep link that starts the questionnaire, printed on every card."""
    return start_link(bot_username, QUIZ) or ""


def max_weight(flow: Flow) -> int:
    """The strongest option weight in the questionnaire: a bar of full length."""
    return max((abs(o.weight) for s in flow.steps for o in s.options), default=1) or 1


def _footer(r: Renderer, lang: str, bot_username: str, cta_key: str, **values: object) -> Footer:
    name = bot_username.lstrip("@")
    return Footer(f"@{name}", r.raw(cta_key, lang, **values), quiz_link(name))


def result_card(kb: KnowledgeBase, flow: Flow, rec: Recommendation, lang: str, bot_username: str) -> ResultCard:
    """The result card's data; the same verdict, confidence and reasons as Renderer.result/result_card."""
    from bot.engine.spec import UNSURE
    from bot.render import Renderer
    r = Renderer(kb, flow)
    names = (r.mode_name("full", lang), r.mode_name("semi", lang))
    if rec.borderline:
        kind, kicker = "borderline", r.raw("card.kicker_borderline", lang)
        subline = r.raw("card.leans", lang, mode=r.mode_name(rec.mode, lang))
    elif rec.semi_later:
        kind, kicker = "later", r.raw("card.kicker", lang)
        subline = r.raw("card.later", lang, other=r.mode_name("semi", lang))
    else:
        kind, kicker, subline = "clear", r.raw("card.kicker", lang), ""
    strongest = max_weight(flow)
    by_step = {reason.step: reason for reason in rec.reasons}
    bars = []
    for step in flow.steps:                       # questionnaire order, one bar per answered factor
        reason = by_step.get(step.id)
        if reason is None:
            continue
        answer = flow.unsure.label(lang) if reason.option == UNSURE else r.option_label(step.id, reason.option, lang)
        bars.append(Bar(step.title(lang), answer, reason.weight / strongest))
    reasons = tuple((x.favours, x.text(lang)) for x in rec.reasons if x.favours != "neutral")[:MAX_REASONS]
    return ResultCard(
        lang=lang, app=r.raw("app.name", lang), kind=kind, mode=rec.mode, names=names, kicker=kicker,
        subline=subline, confidence=rec.confidence,
        confidence_text=r.raw("result.confidence", lang, pct=round(rec.confidence * 100)),
        factors_title=r.raw("card.factors", lang), bars=tuple(bars),
        reasons_title=r.raw("card.reasons_title", lang), reasons=reasons,
        footer=_footer(r, lang, bot_username, "card.cta"))


_LEAD = re.compile(r"[:：]\s*")
_POINTS = re.compile(r"[;；]\s*")


def _split_summary(summary: str) -> tuple[str, tuple[str, ...]]:
    """"Lead: point; point." -> ("Lead", ("Point", "Point.")); a summary without a colon is all lead."""
    parts = _LEAD.split(summary.strip(), maxsplit=1)
    if len(parts) == 1:
        return parts[0], ()
    points = tuple(p.strip() for p in _POINTS.split(parts[1]) if p.strip())
    return parts[0].strip(), tuple(p[:1].upper() + p[1:] for p in points)


def compare_card(kb: KnowledgeBase, flow: Flow, lang: str, bot_username: str) -> CompareCard:
    """The two modes side by side: each mode's summary from modes.yaml (as Renderer.compare_card)."""
    from bot.render import Renderer
    r = Renderer(kb, flow)
    full, semi = r.mode_name("full", lang), r.mode_name("semi", lang)
    panels = []
    for mode in MODES:
        lead, points = _split_summary(kb.modes[mode].summary(lang))
        panels.append(ModePanel(mode, r.mode_name(mode, lang), lead, points))
    return CompareCard(lang=lang, app=r.raw("app.name", lang),
                       title=r.raw("compare.title", lang, full=full, semi=semi), panels=tuple(panels),
                       footer=_footer(r, lang, bot_username, "card.compare_cta", n=len(flow.core_steps)))
