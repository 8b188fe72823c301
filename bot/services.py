"""Loads content once and wires the layers: knowledge -> answerer -> dialogue. No channel code here."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.engine.dialogue import Dialogue
from bot.engine.spec import Flow, Rules, load_dialogs
from bot.kb.loader import load_knowledge
from bot.kb.models import KnowledgeBase
from bot.kb.search import Answerer
from bot.render import PLAIN, Markup, Renderer


@dataclass(frozen=True)
class Services:
    kb: KnowledgeBase
    flow: Flow
    rules: Rules
    answerer: Answerer
    dialogue: Dialogue

    def renderer(self, markup: Markup = PLAIN) -> Renderer:
        return Renderer(self.kb, self.flow, markup)


@lru_cache(maxsize=1)
def load_services() -> Services:
    """Load and validate all content (raises ContentError with every problem found)."""
    kb = load_knowledge()
    flow, rules = load_dialogs(source_ids=set(kb.sources))
    answerer = Answerer(kb)
    return Services(kb, flow, rules, answerer, Dialogue(flow, rules, ask=answerer.ask))
