"""Kept for bot.tg.inline (owned by another branch), which imports `normalize` from here.

The normaliser itself lives with understanding, in bot.nlu.text; there is no matcher here any more.
"""
from bot.nlu.text import normalize  # noqa: F401
