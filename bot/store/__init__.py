"""Persistence behind one small async interface: users, dialogue sessions, last results, events,
unanswered questions and the claims of updates.

Channels only see `Store`; `open_store(url)` picks the backend from DATABASE_URL: SQLite, the embedded
default (one file, one process, no server), or PostgreSQL (several replicas share it). Methods are
coroutines so a networked backend never blocks the event loop; the SQLite backend runs its
(sub-millisecond) statements inline, without a thread hop. Both apply their versioned migrations
(bot/store/migrations.py) when they open.
"""
from __future__ import annotations

from bot.store.base import BUSY, BY_HANDLER, COMMITTED, EARLY, HANDLED, Event, Store, Turn, User
from bot.store.sqlite import SQLiteStore, sqlite_path

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(database_url: str, pool_size: int = 10) -> Store:
    """The store a DATABASE_URL names: `sqlite:///path` (`sqlite:///` alone is in memory) or
    `postgresql://user:password@host:port/database` (connects on `await store.open()` or first use)."""
    if database_url.startswith("sqlite:"):
        return SQLiteStore(sqlite_path(database_url))
    if database_url.startswith(POSTGRES_SCHEMES):
        from bot.store.postgres import PostgresStore
        return PostgresStore(database_url, pool_size)
    raise ValueError(f"unsupported DATABASE_URL scheme {database_url.split(':', 1)[0]!r}: "
                     "use sqlite:///path or postgresql://user:password@host/database")


def is_postgres(database_url: str) -> bool:
    return database_url.startswith(POSTGRES_SCHEMES)


__all__ = ["BUSY", "BY_HANDLER", "COMMITTED", "EARLY", "HANDLED", "Event", "SQLiteStore", "Store", "Turn", "User",
           "is_postgres", "open_store", "sqlite_path"]
