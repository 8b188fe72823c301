"""How the processes of one bot keep out of each other's way: one small interface, two setups.

Every update is handled between `begin(chat, update_id)`, which holds its chat against other processes
and claims the update (handled once, even when Telegram redelivers it to another replica), and
`end(chat, update_id, handled)`, which marks it handled and lets the chat go.

* `LocalCoordination` (SQLite): one process serves the bot. It takes a lock file beside the database,
  so a second bot process on the same file refuses to start; the per-chat order is the
  ChatDispatcher's, so begin/end are the store's claim and handled mark, and the flood windows are
  counted in memory.
* `PostgresCoordination`: several replicas share the database. begin/end also take and release the
  chat's advisory lock, each in the same round trip as the claim or the mark; the flood budget is
  counted in PostgreSQL; the poller lock keeps polling to one process. Everything is released by
  PostgreSQL when a process dies.
"""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Hashable

from bot.metrics import STORE_SECONDS
from bot.store import Store, is_postgres
from bot.tg.limits import MakeWindow, local_window

log = logging.getLogger(__name__)


class AlreadyRunning(RuntimeError):
    """Another process already serves this bot where only one may (a message for the operator)."""


class Coordination(ABC):
    @abstractmethod
    async def start(self, polling: bool) -> None:
        """Take what this process needs before it takes updates; AlreadyRunning when it may not run."""

    @abstractmethod
    async def begin(self, key: Hashable, update_id: int) -> str | None:
        """Hold chat `key` against other processes and claim the update: Store.claim's answer (None, COMMITTED,
        HANDLED, or BUSY: claimed by another live process, the chat is not held then)."""

    @abstractmethod
    async def end(self, key: Hashable, update_id: int, handled: bool) -> None:
        """Mark the update handled (when `handled`) and let the chat go."""

    def make_window(self) -> MakeWindow:
        """Flood windows counted where every process of the bot sees them."""
        return local_window

    async def share_pause(self, chat: Any, seconds: float) -> None:
        """A 429 for `chat`: tell the other processes (nothing to tell in one process)."""

    def healthy(self) -> bool:
        return True

    @abstractmethod
    async def close(self) -> None:
        """Release everything held (after the updates in flight have finished)."""


class LocalCoordination(Coordination):
    """One process per SQLite file (an in-memory store needs no lock)."""

    def __init__(self, store: Store, sqlite_path: str):
        self.store = store
        self.path = None if sqlite_path in ("", ":memory:") else Path(f"{sqlite_path}.lock")
        self._fd: int | None = None

    async def start(self, polling: bool) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(
                f"another bot process already uses {self.path.with_suffix('')} (lock file {self.path}); "
                "an SQLite store serves one process: stop the other one, or run replicas on PostgreSQL "
                "(DATABASE_URL=postgresql://...)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    async def begin(self, key: Hashable, update_id: int) -> str | None:
        return await self.store.claim(update_id)

    async def end(self, key: Hashable, update_id: int, handled: bool) -> None:
        if handled:
            await self.store.mark_handled(update_id)

    async def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)          # closing releases the flock
            self._fd = None


class PostgresCoordination(Coordination):
    def __init__(self, store):
        from bot.coord.pg import Finishes, PgLocks
        self.store = store
        self.locks = PgLocks(store.url, store.owner)
        self.finishes = Finishes(store._pool)

    async def start(self, polling: bool) -> None:
        from bot.coord.pg import lock_key
        await self.store.open()                 # the schema (claim_update...) before the first claim
        await self.locks.open()
        if polling:
            key = lock_key("poller", "bot")
            if not await self.locks.try_lock(key):
                raise AlreadyRunning("another process is already polling Telegram for this bot (it holds the poller "
                                     "lock in this database): polling serves one process; stop the other one, or "
                                     "run replicas in webhook mode (WEBHOOK_URL)")

    async def begin(self, key: Hashable, update_id: int) -> str | None:
        from bot.store.postgres import CLAIM_STATES
        started = time.perf_counter()
        state = await self.locks.begin(key, update_id)
        STORE_SECONDS.labels("claim").observe(time.perf_counter() - started)
        return CLAIM_STATES[state]

    async def end(self, key: Hashable, update_id: int, handled: bool) -> None:
        started = time.perf_counter()
        await self.locks.end(key, update_id, handled)
        STORE_SECONDS.labels("mark_handled").observe(time.perf_counter() - started)

    def make_window(self) -> MakeWindow:
        from bot.coord.pg import PgWindow

        def make(key: str, limit: int, period: float) -> PgWindow:
            return PgWindow(self.store._pool, key, limit, period, self.finishes)
        return make

    async def share_pause(self, chat: Any, seconds: float) -> None:
        from bot.coord.pg import share_pause
        try:
            await share_pause(self.store._pool, chat, seconds)
        except Exception as exc:  # noqa: BLE001 - this process still waits; the others may meet the 429 too
            log.warning("could not share the 429 pause of chat %s (%s)", chat, exc)

    def healthy(self) -> bool:
        return self.locks.alive

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.finishes.close(), 2)
        except (asyncio.TimeoutError, OSError):
            pass
        await self.locks.close()


def coordination_for(store: Store) -> Coordination:
    if is_postgres(getattr(store, "url", "")):
        return PostgresCoordination(store)
    return LocalCoordination(store, getattr(store, "path", ":memory:"))
