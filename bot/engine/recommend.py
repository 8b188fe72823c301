"""The recommendation: a pure function of the answers, with weights and rules from dialogs/*.yaml."""
from __future__ import annotations

from dataclasses import dataclass

from bot.engine.spec import SKIP, UNSURE, Flow, Gate, Rules
from bot.kb.models import Sourced, Text


@dataclass(frozen=True)
class Reason:
    step: str
    option: str
    favours: str        # "full", "semi" or "neutral"
    weight: int
    text: Text


@dataclass(frozen=True)
class Tipper:
    """An answer that, changed to `option`, would make the result `mode`."""

    step: str
    option: str
    mode: str


@dataclass(frozen=True)
class Recommendation:
    mode: str                       # "full" or "semi"
    borderline: bool
    confidence: float               # 0..1
    score: int                      # < 0 favours full, > 0 favours semi
    reasons: tuple[Reason, ...]     # one per answered step, strongest first
    unsure: tuple[str, ...]         # steps answered "not sure"
    blocked: bool                   # the score leaned semi but a gate is closed
    closed_gates: tuple[Gate, ...]  # what semi-managed would still need
    tippers: tuple[Tipper, ...]     # what would flip a borderline result
    tradeoffs: tuple[tuple[str, tuple[Sourced, ...]], ...]   # (mode, its gains and costs): both modes when borderline
    next_steps: tuple[Sourced, ...]
    caveats: tuple[Sourced, ...]
    semi_later: bool = False        # full-managed for now, with a path to semi-managed worth showing


def _score(flow: Flow, answers: dict[str, str]) -> tuple[int, list[Reason]]:
    reasons, score = [], 0
    for step in flow.steps:
        chosen = answers.get(step.id)
        if chosen in (None, SKIP):
            continue
        if chosen == UNSURE:
            text = Text(flow.unsure.reason.zh.format(question=step.prompt.zh),
                        flow.unsure.reason.en.format(question=step.prompt.en))
            reasons.append(Reason(step.id, UNSURE, "neutral", 0, text))
            continue
        option = step.option(chosen)
        if option is None:
            continue
        score += option.weight
        favours = "semi" if option.weight > 0 else "full" if option.weight < 0 else "neutral"
        reasons.append(Reason(step.id, option.id, favours, option.weight, option.reason))
    return score, reasons


def _decide(rules: Rules, answers: dict[str, str], score: int) -> tuple[str, bool, bool, tuple[Gate, ...]]:
    borderline = abs(score) <= rules.borderline_margin
    lean = "semi" if score > 0 else "full" if score < 0 else rules.tie_mode
    closed = tuple(g for g in rules.gates if answers.get(g.step) in g.closed)
    blocked = lean == "semi" and bool(closed)
    return ("full" if blocked else lean), borderline, blocked, closed


def recommend(flow: Flow, rules: Rules, answers: dict[str, str]) -> Recommendation:
    score, reasons = _score(flow, answers)
    mode, borderline, blocked, closed = _decide(rules, answers, score)
    confidence = min(rules.confidence_max, 0.5 + abs(score) / rules.confidence_scale)
    if borderline or blocked:
        confidence = min(confidence, 0.6)
    tippers = []
    if borderline:
        for step in flow.steps:
            current = answers.get(step.id)
            for option in step.options:
                if option.id == current:
                    continue
                trial = dict(answers, **{step.id: option.id})
                t_score, _ = _score(flow, trial)
                t_mode, t_border, _, _ = _decide(rules, trial, t_score)
                if t_mode != mode and not t_border:
                    tippers.append((abs(t_score), Tipper(step.id, option.id, t_mode)))
        tippers.sort(key=lambda pair: -pair[0])
    reasons.sort(key=lambda r: -abs(r.weight))
    pull = sum(r.weight for r in reasons if r.weight > 0)
    semi_later = mode == "full" and bool(closed) and (blocked or pull >= rules.semi_later_pull)
    return Recommendation(
        mode=mode, borderline=borderline, confidence=round(confidence, 2), score=score,
        reasons=tuple(reasons), unsure=tuple(r.step for r in reasons if r.option == UNSURE),
        blocked=blocked, closed_gates=closed if mode == "full" else (),
        tippers=tuple(t for _, t in tippers[:3]),
        tradeoffs=tuple((m, rules.tradeoffs[m]) for m in ((mode, "semi" if mode == "full" else "full")
                                                          if borderline else (mode,))),
        next_steps=rules.next_steps[mode], caveats=rules.caveats, semi_later=semi_later)
