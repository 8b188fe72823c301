"""Picture cards: the result and the comparison of the two modes as PNG images (Pillow).

Telegram-free: channels get bytes (or None when no font can draw that language) from CardMaker.
Names are loaded on first use, so that a card worker process (bot.cards.worker) imports Pillow and the
drawing code only, not the questionnaire and understanding behind CardMaker.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.cards.fonts import FontSet, card_font_setting, find_fonts
    from bot.cards.maker import CardMaker

__all__ = ["CardMaker", "FontSet", "card_font_setting", "find_fonts"]
_HOME = {"CardMaker": "bot.cards.maker", "FontSet": "bot.cards.fonts", "card_font_setting": "bot.cards.fonts",
         "find_fonts": "bot.cards.fonts"}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    raise AttributeError(f"module 'bot.cards' has no attribute {name!r}")
