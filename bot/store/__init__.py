"""Persistence behind one small async interface: users, dialogue sessions, last results, events,
unanswered questions and the ids of handled updates.

Channels only see `Store`; `open_store(url)` picks the backend from DATABASE_URL. SQLite is the
embedded default (one file, no server). Methods are coroutines so a networked backend never blocks
the event loop; the SQLite backend runs its (sub-millisecond) statements inline, without a thread hop.
"""
from __future__ import annotations

from bot.store.base import COMMITTED, HANDLED, Event, Store, Turn, User
from bot.store.sqlite import SQLiteStore, sqlite_path


def open_store(database_url: str) -> Store:
    """The store a DATABASE_URL names (`sqlite:///path`; `sqlite:///` alone is in memory)."""
    if database_url.startswith("sqlite:"):
        return SQLiteStore(sqlite_path(database_url))
    raise ValueError(f"unsupported DATABASE_URL scheme {database_url.split(':', 1)[0]!r}: use sqlite:///")


__all__ = ["COMMITTED", "HANDLED", "Event", "SQLiteStore", "Store", "Turn", "User", "open_store", "sqlite_path"]
