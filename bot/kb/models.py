"""Frozen dataclasses for the bilingual knowledge base."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Text:
    """One piece of user-facing text in both languages."""

    zh: str
    en: str

    def __call__(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Source:
    id: str
    title: Text
    ref: str
    url: str | None = None
    uncertain: bool = False
    market: str | None = None


@dataclass(frozen=True)
class Sourced:
    """A text with the source ids it rests on (knowledge/sources.yaml): a mode's caveat, a scope fact, a
    recommendation's trade-off, next step or caveat."""

    text: Text
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Mode:
    id: str
    name: Text
    summary: Text
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Dimension:
    id: str
    title: Text
    full: Text
    semi: Text
    sources: tuple[str, ...]
    caveats: tuple[Sourced, ...] = ()


@dataclass(frozen=True)
class Topic:
    id: str
    title: Text


@dataclass(frozen=True)
class FaqEntry:
    id: str
    topic: str
    title: Text
    questions_zh: tuple[str, ...]
    questions_en: tuple[str, ...]
    answer: Text
    sources: tuple[str, ...]
    keywords_zh: tuple[str, ...] = ()
    keywords_en: tuple[str, ...] = ()
    related: tuple[str, ...] = ()


@dataclass(frozen=True)
class SynonymGroup:
    id: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Learned:
    """Labelled questions learnt from as examples beside the entries' own (bot.kb.learned)."""

    faq: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)   # entry -> lang -> questions
    out_of_scope: dict[str, tuple[str, ...]] = field(default_factory=dict)     # lang -> questions
    sets: tuple[str, ...] = ()
    # Choosing questions no single entry answers ("is semi worth it for a 2-person team?"): asked for advice
    advice: dict[str, tuple[str, ...]] = field(default_factory=dict)                # lang -> questions
    # Typed answers: step -> level (or "unsure") -> lang -> texts, learnt by that step's model only.
    typed: dict[str, dict[str, dict[str, tuple[str, ...]]]] = field(default_factory=dict)
    # Of the above, those of the sets of review decisions (knowledge/reviewed/), read as decided word for word:
    # (text, entry id, "" for out of scope or "advice") and (step, level, text).
    decided_questions: tuple[tuple[str, str], ...] = ()
    decided_answers: tuple[tuple[str, str, str], ...] = ()

    def count(self) -> int:
        return sum(len(qs) for per in self.faq.values() for qs in per.values()) \
            + sum(len(qs) for qs in self.out_of_scope.values()) \
            + sum(len(qs) for qs in self.advice.values()) \
            + sum(len(ts) for levels in self.typed.values() for per in levels.values() for ts in per.values())


@dataclass(frozen=True)
class KnowledgeBase:
    sources: dict[str, Source]
    modes: dict[str, Mode]
    dimensions: tuple[Dimension, ...]
    topics: tuple[Topic, ...]
    entries: tuple[FaqEntry, ...]
    synonyms: tuple[SynonymGroup, ...]
    ui: dict[str, Text]
    by_id: dict[str, FaqEntry] = field(default_factory=dict)
    out_of_scope: dict[str, tuple[str, ...]] = field(default_factory=dict)   # questions it does not answer
    advice: dict[str, tuple[str, ...]] = field(default_factory=dict)   # asking which mode fits, no one entry answers
    neutral_words: frozenset[str] = frozenset()    # Latin words that show no language (bot.kb.lang.written_lang)
    learned: Learned = field(default_factory=lambda: Learned())   # labelled questions learnt from (bot.kb.learned)

    def entry(self, entry_id: str) -> FaqEntry | None:
        return self.by_id.get(entry_id)

    def entries_in(self, topic_id: str) -> list[FaqEntry]:
        return [e for e in self.entries if e.topic == topic_id]

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)
