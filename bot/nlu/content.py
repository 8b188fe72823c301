"""What understanding learns from, as plain data (no engine types: bot.services maps the
questionnaire and the knowledge base into these)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

Examples = dict[str, tuple[str, ...]]          # lang -> example messages


@dataclass(frozen=True)
class Level:
    id: str
    labels: tuple[str, ...]                    # its button labels, in both languages
    examples: Examples
    short: Examples = field(default_factory=dict)   # whole-message answers, only with the question on screen
    learned: Examples = field(default_factory=dict)  # typed answers learnt from (knowledge/learned.yaml)


@dataclass(frozen=True)
class Slot:
    """One questionnaire step: its levels and the step-specific ways of saying "not sure"."""

    step: str
    levels: tuple[Level, ...]
    unsure: Examples = field(default_factory=dict)
    core: bool = True
    learned_unsure: Examples = field(default_factory=dict)   # typed "not sure" answers learnt from


@dataclass(frozen=True)
class AmountRule:
    """Rule of thumb (ours): an amount below `below` CNY is `level`; the last has no bound."""

    step: str
    usd_rate: float
    bands: tuple[tuple[str, float | None], ...]


@dataclass(frozen=True)
class YearsRule:
    """Rule of thumb (ours): years selling cross-border -> a level of the experience step."""

    step: str
    bands: tuple[tuple[str, float | None], ...]     # (level, below years); last unbounded
    export_level: str                               # B2B export trade, whatever the years
    domestic_level: str                             # domestic e-commerce, whatever the years


@dataclass(frozen=True)
class Lexicon:
    """Word lists understanding uses beside the learned models (dialogs/reading.yaml)."""

    cross_border_platforms: tuple[str, ...]
    domestic_platforms: tuple[str, ...]
    cross_border_words: tuple[str, ...]
    export_words: tuple[str, ...]
    oem_words: tuple[str, ...]
    revenue_words: tuple[str, ...]
    question_words: tuple[str, ...]
    advice_words: tuple[str, ...]
    advice_entries: tuple[str, ...]
    # Clause cues (bot.nlu.cues): who a clause is about, whether it states a past state, filler words.
    other_person: tuple[str, ...] = ()
    past_state: tuple[str, ...] = ()
    future_plans: tuple[str, ...] = ()          # "plan to hire hosts next year": not the present state either
    hedge_words: tuple[str, ...] = ()           # "不确定", "not decided": a clause saying it is not sure
    dismissals: tuple[str, ...] = ()            # a clause that only says no to the one before ("brand? nah")
    # Where B2B export stops: beside export words, these (a team running shops or marketing abroad,
    # knowing the local consumers) make the years of export years of selling cross-border.
    overseas_operations: tuple[str, ...] = ()
    # OEM words beside one of these ("给大牌做OEM", "our factory does OEM") make the seller the maker:
    # (step, level) of `maker`, read by rule; OEM words alone are as often "a factory makes ours".
    maker_words: tuple[str, ...] = ()
    maker: tuple[str, str] | None = None
    # Hedge words that, about the step named here, state a fact rather than a doubt: "供应商还没定下来"
    # means no stable supply yet, not "I am not sure" (step, level of `unsettled`).
    unsettled_words: tuple[str, ...] = ()
    unsettled: tuple[str, str] | None = None
    # step -> the words that name it as a clause's topic ("资金这块...", "budget not decided").
    topics: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # (step, level, level, both): a message stating both levels means the third ("need cash flow,
    # also want a brand" is "a bit of both").
    both: tuple[tuple[str, str, str, str], ...] = ()
    # (step, no, yes, partial): a message saying no about one part and yes about another reads `partial`
    # ("short videos yes, lives no" is "some").
    partial: tuple[tuple[str, str, str, str], ...] = ()
    # Steps whose level is often named in passing, in a clause stating something else (the goods sold).
    in_passing: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaqDoc:
    id: str
    titles: tuple[str, ...]
    questions: Examples
    keywords: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    learned: Examples = field(default_factory=dict)     # labelled questions learnt from (knowledge/learned.yaml)

    def examples(self) -> Examples:
        """What the FAQ models learn this entry from: its own questions and the learned ones. (The step
        models take only its own as "says nothing about this step": a learned question often describes
        the asker first.)"""
        if not self.learned:
            return self.questions
        return {lang: tuple(self.questions.get(lang, ())) + tuple(self.learned.get(lang, ()))
                for lang in dict.fromkeys((*self.questions, *self.learned))}


@dataclass(frozen=True)
class Content:
    slots: tuple[Slot, ...]
    unsure: Examples                            # "not sure" in any wording, for any step
    unsure_short: Examples
    other: Examples                             # messages that answer nothing (greetings, chatter)
    commands: dict[str, tuple[str, ...]]        # command -> whole-message words, both languages
    amounts: AmountRule
    years: YearsRule
    lexicon: Lexicon
    faq: tuple[FaqDoc, ...]
    out_of_scope: Examples                      # questions the knowledge base does not answer
    concepts: tuple[tuple[str, tuple[str, ...]], ...]   # synonym groups
    advice: Examples = field(default_factory=dict)  # asking which mode fits, no one entry answers (FAQ models)
    learned_out_of_scope: Examples = field(default_factory=dict)   # learnt from, by the FAQ models only
    learned_advice: Examples = field(default_factory=dict)         # ...and those learnt (FAQ models)
    # Examples a person decided in review (the content overlay, bot.content; knowledge/reviewed/): learnt like
    # the rest (they are in the learned fields above too) and read as decided, word for word, by rule
    # (Understanding.rank_faq, SlotReader.exact), which one example among thousands does not make sure of.
    # Sorted, so that the overlay and the files it is exported to give the same content.
    decided_questions: tuple[tuple[str, str], ...] = ()     # (text, FAQ class: entry id, _out_of_scope or _advice)
    decided_answers: tuple[tuple[str, str, str], ...] = ()  # (step, level, text)

    def faq_out_of_scope(self) -> Examples:
        """The out-of-scope questions the FAQ models learn from: the file's and the learned ones."""
        return {lang: tuple(self.out_of_scope.get(lang, ())) + tuple(self.learned_out_of_scope.get(lang, ()))
                for lang in dict.fromkeys((*self.out_of_scope, *self.learned_out_of_scope))}

    def slot(self, step: str) -> Slot | None:
        return next((s for s in self.slots if s.step == step), None)

    def situations(self) -> Examples:
        """What sellers say about themselves: every level's examples that name no platform (a platform
        named in a question is a sign of a question about that platform), by language."""
        platforms = tuple(p.lower() for p in self.lexicon.cross_border_platforms + self.lexicon.domestic_platforms)
        out: dict[str, list[str]] = {}
        for slot in self.slots:
            for level in slot.levels:
                for lang, texts in level.examples.items():
                    out.setdefault(lang, []).extend(t for t in texts if not any(p in t.lower() for p in platforms))
        return {lang: tuple(texts) for lang, texts in out.items()}

    def digest(self, version: str) -> str:
        """A hash of everything the models learn from: the cache key."""
        blob = json.dumps([version, asdict(self)], ensure_ascii=False, sort_keys=True, default=list)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]
