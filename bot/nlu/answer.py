"""FAQ answers for the channels, respecting scope: what kind of question a Reading is and which
entries answer it (the same Answer every channel renders through bot.render.Renderer.faq_answer).

Handling, first that applies:
- other_platform: another platform's programme is the subject (named alone or beside TikTok, not just
  as the asker's history). What the sources say about that platform; TikTok's entry only labelled.
- other_mode: a TikTok mode or store type the knowledge base does not cover (POP, local or
  cross-border store). What the sources say; the entry only for a part about full/semi-managed.
- advice: asks which mode fits (a self-describing question, a choosing entry, or choosing and
  switching words): the choosing entry if any, and the questionnaire offer. Never "I don't know".
- answer: one entry, or one per part of a two-part question.
- fallback: an honest "I don't know" with the closest topics.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.kb.models import FaqEntry, KnowledgeBase
from bot.nlu.scope import Mode, Platform, Scope, ScopeBook
from bot.nlu.text import has_cjk, normalize
from bot.nlu.understand import Reading, Understanding

HANDLINGS = ("answer", "other_platform", "other_mode", "advice", "fallback")
CHOOSING_TOPIC = "choosing"
COVERED_MODES = ("full_managed", "semi_managed")
MAX_PARTS = 3
PART_MIN_PROBABILITY = 0.5       # a part's own entry, read from that part alone, at least this sure
# Where a question splits into parts: question marks, semicolons, and the words that add a question.
_PART_SPLIT = re.compile(r"[？?；;。\n]+|[，,](?=\s*(?:另外|还有|以及|顺便|再问|那|and|also|plus|what|how|who|when|where|"
                         r"which|is|are|do|does|can|will))|另外|还有就是|还有|顺便问一下|顺便问下|顺便问|再问一下|以及|"
                         r"\b(?:and also|also|plus|as well as|besides that|and)\b(?=\s+(?:what|how|who|when|where|which|"
                         r"is|are|do|does|can|will|should|the))")


@dataclass(frozen=True)
class Answer:
    query: str
    lang: str
    entry: FaqEntry | None              # the first entry answered (kept for older callers)
    score: float
    fallback: bool
    suggestions: tuple[FaqEntry, ...]
    handling: str = "answer"            # one of HANDLINGS
    entries: tuple[FaqEntry, ...] = ()  # every entry answered, in order (TikTok's, when labelled so)
    scope: Scope = Scope()
    platforms: tuple[Platform, ...] = ()   # other platforms it speaks about
    modes: tuple[Mode, ...] = ()           # TikTok's other modes it speaks about

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "lang": self.lang,
            "answer": self.entry.answer(self.lang) if self.entry is not None else None,
            "entry": self.entry.id if self.entry is not None else None,
            "entries": [e.id for e in self.entries],
            "handling": self.handling,
            "scope": self.scope.to_dict(),
            "score": round(self.score, 4),
            "fallback": self.fallback,
            "suggestions": [{"id": e.id, "title": e.title(self.lang)} for e in self.suggestions],
        }


class FaqAnswerer:
    """`ask(text, lang)` / `answer(reading)`: what the dialogue, bot.tg.inline, groups and the CLI call."""

    def __init__(self, kb: KnowledgeBase, understanding: Understanding):
        self.kb, self.nlu = kb, understanding
        self.entries = tuple(kb.entries)
        self.book: ScopeBook = understanding.scope.book
        self.choosing_entries = {e.id for e in kb.entries if e.topic == CHOOSING_TOPIC}

    def ask(self, text: object, lang: str = "en") -> Answer:
        return self.answer(self.nlu.read(text, lang=lang))

    def answer(self, reading: Reading) -> Answer:
        ranked = [self.kb.by_id[h.id] for h in reading.faq if h.id in self.kb.by_id]
        top = ranked[0] if reading.answerable and ranked else None
        scope, book = reading.scope, self.book
        others = [p for p in scope.platforms if p != book.home and p not in scope.background and p in book.platforms]
        modes = [book.modes[m] for m in scope.modes
                 if m in book.modes and not book.modes[m].covered and book.modes[m].platform in (book.home, None)]

        def make(handling: str, entries: list[FaqEntry], **kw) -> Answer:
            entries = list(dict.fromkeys(entries))
            first = entries[0] if entries else None
            rest = self._related(first, ranked[1:]) if first else tuple(self._pad(ranked[:3]))
            return Answer(reading.text, reading.lang, first, reading.faq_probability, handling == "fallback",
                          rest, handling, tuple(entries), scope, **kw)

        if others:
            return make("other_platform", [top] if top else [],
                        platforms=tuple(book.platforms[p] for p in others))
        if modes:
            covered_part = top is not None and any(m in scope.modes for m in COVERED_MODES)
            return make("other_mode", [top] if covered_part else [], modes=tuple(modes))
        norm = normalize(reading.text)
        routed = self.nlu.scope.choosing(norm)
        if reading.advice:
            return make("advice", [top] if top and top.id in self.choosing_entries else [])
        if top is not None:
            if top.id in self.choosing_entries:
                return make("advice", [top])
            if routed == "switch_modes" and routed in self.kb.by_id:     # "what is hard about moving to semi"
                return make("advice", [self.kb.by_id[routed]])
            return make("answer", [top] + self._other_parts(norm, top, scope))
        if routed is not None and routed in self.kb.by_id:
            return make("advice", [self.kb.by_id[routed]])
        return make("fallback", [])

    # -- two-part questions ------------------------------------------------------------------
    def parts(self, norm: str) -> list[str]:
        """The question parts of a message: split where a new question starts; a piece that asks
        nothing (context, "全托管，") joins the part after it."""
        pieces = [p.strip(" ,，") for p in _PART_SPLIT.split(norm) if p and p.strip(" ,，")]
        parts, carry = [], ""
        for p in pieces:
            text = f"{carry} {p}".strip() if carry else p
            if self.nlu.is_question(p) or "?" in p:
                parts.append(text)
                carry = ""
            else:
                carry = text
        if carry:
            if parts:
                parts[-1] = f"{parts[-1]} {carry}"
            else:
                parts.append(carry)
        return parts

    def _other_parts(self, norm: str, top: FaqEntry, scope: Scope) -> list[FaqEntry]:
        """Entries for the other parts of a two-part question, each read from its own part (with the
        message's one mode added to a part that names none)."""
        parts = self.parts(norm)
        if len(parts) < 2:
            return []
        covered = [m for m in scope.modes if m in COVERED_MODES]
        out: list[FaqEntry] = []
        for part in parts:
            text = part
            if len(covered) == 1 and not any(m in COVERED_MODES for m in self.nlu.scope.find(part).modes):
                text = f"{self.book.modes[covered[0]].name('zh' if has_cjk(part) else 'en')} {part}"
            hits, p, ok = self.nlu.rank_faq(text)
            if not ok or p < PART_MIN_PROBABILITY:
                continue
            entry = self.kb.by_id.get(self.nlu.content.faq[hits[0].entry].id)
            if entry is not None and entry.id != top.id and entry not in out:
                out.append(entry)
        return out[:MAX_PARTS - 1]

    # -- suggestions ---------------------------------------------------------------------------
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
