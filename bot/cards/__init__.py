"""Picture cards: the result and the comparison of the two modes as PNG images (Pillow).

Telegram-free: channels get bytes (or None when no font can draw that language) from CardMaker.
"""
from bot.cards.fonts import FontSet, card_font_setting, find_fonts
from bot.cards.maker import CardMaker

__all__ = ["CardMaker", "FontSet", "card_font_setting", "find_fonts"]
