"""CardMaker: the one object channels use to get picture cards, drawn once per content.

    cards = CardMaker.for_services(services)          # fonts are looked for once, here
    png = cards.result_png(recommendation, lang, "ModeAdvisorBot")     # drawn in this process
    if png is None: ...                               # no font for that language: send the text result

The bot itself does not draw in its process: it takes `result_content` / `compare_content` (the key
and what the card shows) and has bot.cards.worker draw it in another process. `result_png` and
`compare_png` draw here, for `make cards`, the benchmark and tests.

`result_key` / `compare_key` give a stable hash of what a card shows without drawing it, so a
channel can keep the file_id of an uploaded card under it and reuse that file_id after a restart.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from bot.cards import draw
from bot.cards.content import CompareCard, ResultCard, compare_card, result_card
from bot.cards.fonts import CJK_PACKAGES, SETTING, FontSet, card_font_setting, find_fonts
from bot.engine.recommend import Recommendation
from bot.engine.spec import Flow
from bot.kb.models import KnowledgeBase

log = logging.getLogger(__name__)

#: Bump when the drawing changes, so cached file_ids of older pictures are not reused.
LAYOUT_VERSION = 1
_told: set[str] = set()      # languages whose missing font was logged (once per process)
# One drawing at a time in the process: makers share FontSets (find_fonts is cached), and a FreeType
# face must not be used by two threads at once. A draw takes ~20 ms; cached cards do not wait on it long.
_DRAWING = threading.Lock()


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    size: int
    max_size: int


def _tell_once(fonts: FontSet, lang: str) -> None:
    if lang in _told:
        return
    _told.add(lang)
    reason = fonts.reasons.get(lang, "no font")
    if reason.startswith(SETTING):
        log.info("Picture cards are off (%s); results are sent as text", reason)
    elif lang == "zh":
        log.warning("No CJK font found, so Chinese results are sent as text instead of picture cards. To get "
                    "them, install %s on Debian/Ubuntu (macOS has PingFang/Hiragino/STHeiti already), or set "
                    "%s=/path/to/a/CJK/font, and restart.", CJK_PACKAGES, SETTING)
    else:
        log.warning("No font found for %s picture cards (%s); results are sent as text. Install fonts-dejavu-core "
                    "or set %s=/path/to/a/font.", lang, reason, SETTING)


class CardMaker:
    """Draws result and comparison cards from the knowledge base and the questionnaire."""

    def __init__(self, kb: KnowledgeBase, flow: Flow, fonts: FontSet, *, cache_size: int = 128):
        self.kb, self.flow, self.fonts = kb, flow, fonts
        self.max_size = max(1, cache_size)
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._hits = self._misses = 0
        self._font_ids = fonts.describe()
        for lang in fonts.choices:
            if not fonts.supports(lang):
                _tell_once(fonts, lang)

    @classmethod
    def for_services(cls, services, *, font_setting: str | None = None, cache_size: int = 128) -> "CardMaker":
        """A maker for the loaded content; fonts from CARD_FONT (environment or .env) or the system."""
        setting = card_font_setting() if font_setting is None else font_setting
        return cls(services.kb, services.flow, find_fonts(setting), cache_size=cache_size)

    def can_draw(self, lang: str) -> bool:
        """False when there is no font for `lang`: send the text result instead."""
        return self.fonts.supports(lang)

    # -- what a card shows, and its key ----------------------------------------------------
    def _result(self, rec: Recommendation, lang: str, bot_username: str) -> ResultCard:
        return result_card(self.kb, self.flow, rec, lang, bot_username)

    def _compare(self, lang: str, bot_username: str) -> CompareCard:
        return compare_card(self.kb, self.flow, lang, bot_username)

    def result_content(self, rec: Recommendation, lang: str, bot_username: str) -> tuple[str, ResultCard] | None:
        """(key, what the result card shows), to draw elsewhere (bot.cards.worker); None without a font."""
        if not self.can_draw(lang):
            _tell_once(self.fonts, lang)
            return None
        card = self._result(rec, lang, bot_username)
        return self._key(card), card

    def compare_content(self, lang: str, bot_username: str) -> tuple[str, CompareCard] | None:
        if not self.can_draw(lang):
            _tell_once(self.fonts, lang)
            return None
        card = self._compare(lang, bot_username)
        return self._key(card), card

    def key_of(self, card: ResultCard | CompareCard) -> str:
        return self._key(card)

    def _key(self, card: ResultCard | CompareCard) -> str:
        font = self._font_ids.get(card.lang, "")
        return hashlib.sha256(f"{LAYOUT_VERSION}|{font}|{card!r}".encode()).hexdigest()[:32]

    def result_key(self, rec: Recommendation, lang: str, bot_username: str) -> str | None:
        """A stable hash of the result card's content (None when it cannot be drawn)."""
        return self._key(self._result(rec, lang, bot_username)) if self.can_draw(lang) else None

    def compare_key(self, lang: str, bot_username: str) -> str | None:
        return self._key(self._compare(lang, bot_username)) if self.can_draw(lang) else None

    # -- pictures --------------------------------------------------------------------------
    def result_png(self, rec: Recommendation, lang: str, bot_username: str) -> bytes | None:
        """The result card as PNG bytes, or None when `lang` has no font (send text instead)."""
        if not self.can_draw(lang):
            _tell_once(self.fonts, lang)
            return None
        card = self._result(rec, lang, bot_username)
        return self._cached(card, lambda: draw.draw_result(self.fonts, card))

    def compare_png(self, lang: str, bot_username: str) -> bytes | None:
        """The comparison of the two modes as PNG bytes, or None when `lang` has no font."""
        if not self.can_draw(lang):
            _tell_once(self.fonts, lang)
            return None
        card = self._compare(lang, bot_username)
        return self._cached(card, lambda: draw.draw_compare(self.fonts, card))

    def _cached(self, card: ResultCard | CompareCard, render) -> bytes:
        key = self._key(card)
        with _DRAWING:
            png = self._cache.get(key)
            if png is not None:
                self._hits += 1
                self._cache.move_to_end(key)
                return png
            self._misses += 1
            png = self._cache[key] = render()
            if len(self._cache) > self.max_size:
                self._cache.popitem(last=False)
            return png

    def clear_cache(self) -> None:
        with _DRAWING:
            self._cache.clear()
            self._hits = self._misses = 0

    def cache_stats(self) -> CacheStats:
        return CacheStats(self._hits, self._misses, len(self._cache), self.max_size)
