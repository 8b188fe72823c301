"""FAQ answers for the channels: a Reading's best entry, or an honest fallback with the closest
entries (the same Answer shape `ask --json` has always printed)."""
from __future__ import annotations

from dataclasses import dataclass

from bot.kb.models import FaqEntry, KnowledgeBase
from bot.nlu.understand import Reading, Understanding


@dataclass(frozen=True)
class Answer:
    query: str
    lang: str
    entry: FaqEntry | None
    score: float
    fallback: bool
    suggestions: tuple[FaqEntry, ...]

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "lang": self.lang,
            "answer": self.entry.answer(self.lang) if self.entry is not None else None,
            "entry": self.entry.id if self.entry is not None else None,
            "score": round(self.score, 4),
            "fallback": self.fallback,
            "suggestions": [{"id": e.id, "title": e.title(self.lang)} for e in self.suggestions],
        }


class FaqAnswerer:
    """`ask(text, lang)`: what bot.tg.inline, groups and the CLI call."""

    def __init__(self, kb: KnowledgeBase, understanding: Understanding):
        self.kb, self.nlu = kb, understanding
        self.entries = tuple(kb.entries)

    def ask(self, text: object, lang: str = "en") -> Answer:
        return self.answer(self.nlu.read(text, lang=lang))

    def answer(self, reading: Reading) -> Answer:
        ranked = [self.kb.by_id[h.id] for h in reading.faq if h.id in self.kb.by_id]
        if reading.answerable and ranked:
            entry = ranked[0]
            return Answer(reading.text, reading.lang, entry, reading.faq_probability, False,
                          self._related(entry, ranked[1:]))
        return Answer(reading.text, reading.lang, None, reading.faq_probability, True,
                      tuple(self._pad(ranked[:3])))

    def _related(self, entry: FaqEntry, rest: list[FaqEntry]) -> tuple[FaqEntry, ...]:
        out: list[FaqEntry] = []
        seen = {entry.id}
        for e in [self.kb.by_id[r] for r in entry.related if r in self.kb.by_id] + rest:
            if len(out) >= 3:
                break
            if e.id not in seen:
                out.append(e)
                seen.add(e.id)
        return tuple(self._pad(out, seen))

    def _pad(self, chosen: list[FaqEntry], seen: set[str] | None = None) -> list[FaqEntry]:
        """Fill up to three suggestions with one entry per topic, in knowledge-base order."""
        seen = set(seen or ()) | {e.id for e in chosen}
        out = list(chosen)
        topics_done = {e.topic for e in out}
        for pass_topics in (True, False):
            for e in self.entries:
                if len(out) >= 3:
                    return out
                if e.id in seen or (pass_topics and e.topic in topics_done):
                    continue
                out.append(e)
                seen.add(e.id)
                topics_done.add(e.topic)
        return out
