"""Reading typed answers: a number, an option's label or alias, or several answers in one message."""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot import LANGS
from bot.engine.spec import Flow, Option, Step
from bot.kb.textnorm import normalize

_WORD = re.compile(r"[a-z0-9']+")


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@dataclass(frozen=True)
class _Phrase:
    text: str
    step: str
    option: str
    negated_form: bool   # the phrase itself starts with a negation ("没做过跨境", "no experience")


class AnswerReader:
    """Everything needed to read answers from text, precomputed once per flow."""

    def __init__(self, flow: Flow):
        self.flow = flow
        self.negations = {lang: tuple(normalize(w) for w in flow.negations[lang]) for lang in LANGS}
        self.words = {key: {normalize(w) for lang in LANGS for w in per[lang]} for key, per in flow.words.items()}
        neg_all = self.negations["zh"] + self.negations["en"]
        phrases = []
        for step in flow.steps:
            for option in step.options:
                for lang in LANGS:
                    for alias in option.aliases.get(lang, ()):
                        norm = normalize(alias)
                        phrases.append(_Phrase(norm, step.id, option.id, norm.startswith(neg_all)))
        # Longest first, so "没有工厂" wins over "工厂" and "low budget" over "low".
        self.phrases = sorted(phrases, key=lambda p: -len(p.text))
        # Per step: every normalised name a whole message may use for each choice (computed once).
        self.names: dict[str, list[tuple[set[str], Option]]] = {}
        for step in flow.steps:
            table = []
            for option in flow.choices(step):
                names = [option.label.zh, option.label.en]
                for lang in LANGS:
                    names += option.aliases.get(lang, ()) + option.local.get(lang, ())
                table.append(({normalize(n) for n in names}, option))
            self.names[step.id] = table

    def command(self, text: str) -> str | None:
        """'back', 'restart', 'skip', 'finish', 'yes' or 'no' when the whole message is such a word."""
        norm = normalize(text).strip(" .!。！")
        return next((key for key, words in self.words.items() if norm in words), None)

    def option(self, step: Step, text: str) -> Option | None:
        """The option a whole message names at this step: its number, label, alias or short answer."""
        norm = normalize(text).strip(" .!。！、")
        choices = self.flow.choices(step)
        if norm.isdigit():
            n = int(norm)
            return choices[n - 1] if 1 <= n <= len(choices) else None
        return next((option for names, option in self.names[step.id] if norm in names), None)

    def _negated(self, norm: str, start: int) -> bool:
        before = norm[:start].rstrip()
        if _is_cjk(norm[max(0, start - 1):start + 1]):
            return before.endswith(self.negations["zh"]) or before[-3:-1].endswith(self.negations["zh"])
        words = _WORD.findall(before)[-2:]
        return any(w in self.negations["en"] for w in words)

    def extract(self, text: str) -> dict[str, str]:
        """Every answer recognisable in free text, one per step; negated phrases are ignored."""
        norm = normalize(text)
        taken: list[tuple[int, int]] = []
        found: dict[str, str] = {}
        for p in self.phrases:
            start = norm.find(p.text)
            while start != -1:
                end = start + len(p.text)
                ascii_phrase = not _is_cjk(p.text)
                bounded = not ascii_phrase or (
                    (start == 0 or not norm[start - 1].isalnum()) and (end == len(norm) or not norm[end].isalnum()))
                free = all(end <= a or start >= b for a, b in taken)
                if bounded and free and p.step not in found and (p.negated_form or not self._negated(norm, start)):
                    found[p.step] = p.option
                    taken.append((start, end))
                    break
                start = norm.find(p.text, start + 1)
        return found
