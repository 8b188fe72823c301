"""Loads content once and wires the layers: knowledge -> understanding -> dialogue. No channel code here."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.engine.dialogue import Dialogue
from bot.engine.spec import DIALOGS_DIR, Flow, ReadingRules, Rules, load_dialogs, load_reading
from bot.kb.learned import ADVICE as LEARNED_ADVICE
from bot.kb.loader import KNOWLEDGE_DIR, load_knowledge
from bot.kb.models import KnowledgeBase
from bot.nlu.answer import FaqAnswerer
from bot.nlu.content import Content, FaqDoc, Level, Slot
from bot.nlu.faq import ADVICE, OUT_OF_SCOPE
from bot.nlu.scope import SCOPE_FILE, ScopeReader, load_book
from bot.nlu.slots import UNSURE
from bot.nlu.understand import CACHE_DIR, Understanding
from bot.problems import ContentError, Problem
from bot.render import PLAIN, Markup, Renderer


@dataclass(frozen=True)
class Services:
    kb: KnowledgeBase
    flow: Flow
    rules: Rules
    reading: ReadingRules
    nlu: Understanding
    answerer: FaqAnswerer
    dialogue: Dialogue

    def renderer(self, markup: Markup = PLAIN) -> Renderer:
        return Renderer(self.kb, self.flow, markup, self.reading, self.nlu.scope.book)


def understanding_content(flow: Flow, reading: ReadingRules, kb: KnowledgeBase) -> Content:
    """The questionnaire and the knowledge base as understanding's training content."""
    learned = kb.learned            # labelled questions and typed answers learnt from too (bot.kb.learned)
    _check_typed(learned.typed, flow)
    slots = tuple(
        Slot(step.id,
             tuple(Level(o.id, (o.label.zh, o.label.en), o.examples, o.short,
                         learned.typed.get(step.id, {}).get(o.id, {})) for o in step.options),
             step.unsure_examples, step.core, learned.typed.get(step.id, {}).get(UNSURE, {}))
        for step in flow.steps)
    commands = {key: tuple(w for lang in per for w in per[lang]) for key, per in flow.words.items()}
    faq = tuple(FaqDoc(e.id, (e.title.zh, e.title.en), {"zh": e.questions_zh, "en": e.questions_en},
                       e.keywords_zh + e.keywords_en, e.related, learned.faq.get(e.id, {})) for e in kb.entries)
    faq_class = {"": OUT_OF_SCOPE, LEARNED_ADVICE: ADVICE}         # bot.kb.learned's targets -> the FAQ model's
    return Content(slots=slots, unsure=flow.unsure.examples, unsure_short=flow.unsure.short, other=reading.other,
                   commands=commands, amounts=reading.amounts, years=reading.years, lexicon=reading.lexicon,
                   faq=faq, out_of_scope=kb.out_of_scope, advice=kb.advice,
                   learned_out_of_scope=learned.out_of_scope, learned_advice=learned.advice,
                   concepts=tuple((g.id, g.terms) for g in kb.synonyms),
                   decided_questions=tuple(sorted({(text, faq_class.get(target, target))
                                                   for text, target in learned.decided_questions})),
                   decided_answers=tuple(sorted(set(learned.decided_answers))))


def _check_typed(typed: dict[str, dict[str, dict]], flow: Flow) -> None:
    """A learnt typed answer names a step and level the questionnaire has (or "unsure")."""
    levels = {step.id: {o.id for o in step.options} | {UNSURE} for step in flow.steps}
    wrong = [f"{step}: {level}" for step, per in typed.items() for level in per if level not in levels.get(step, ())]
    if wrong:
        raise ContentError([Problem("learned.yaml", "", "sets", f"typed answers name an unknown step or level: "
                                    f"{', '.join(sorted(wrong))}")])


def build_services(knowledge_dir: Path = KNOWLEDGE_DIR, dialogs_dir: Path = DIALOGS_DIR,
                   cache_dir: Path | None = CACHE_DIR) -> Services:
    """Load and validate all content (raises ContentError with every problem found)."""
    kb = load_knowledge(knowledge_dir)
    flow, rules = load_dialogs(dialogs_dir, source_ids=set(kb.sources))
    reading = load_reading(flow, dialogs_dir)
    scope = ScopeReader(load_book(knowledge_dir / SCOPE_FILE.name))
    nlu = Understanding(understanding_content(flow, reading, kb), cache_dir=cache_dir, scope=scope)
    answerer = FaqAnswerer(kb, nlu)
    return Services(kb, flow, rules, reading, nlu, answerer, Dialogue(flow, rules, nlu, answerer))


@lru_cache(maxsize=1)
def load_services() -> Services:
    return build_services()
