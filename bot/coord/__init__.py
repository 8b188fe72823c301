"""How the processes of one bot keep out of each other's way: one small interface, two setups.

* `LocalCoordination` (SQLite): one process serves the bot. It takes a lock file beside the database,
  so a second bot process on the same file refuses to start; the per-chat order is the
  ChatDispatcher's, so its chat lock is a no-op, and the flood windows are counted in memory.
* `PostgresCoordination`: several replicas share the database. A chat is held across processes by an
  advisory lock while one of its updates is handled; the flood budget is counted in PostgreSQL; the
  poller lock keeps polling to one process. Everything is released by PostgreSQL when a process dies.

Claims of updates (handled once even when redelivered to another replica) are the store's
(`Store.claim`); a claim is taken while the chat lock is held.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, AsyncContextManager, Hashable

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
    def chat_lock(self, key: Hashable) -> AsyncContextManager[None]:
        """Held while an update of chat `key` is handled: no other process handles that chat meanwhile."""

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

    def __init__(self, sqlite_path: str):
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

    def chat_lock(self, key: Hashable) -> AsyncContextManager[None]:
        return contextlib.nullcontext()

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
        self._poller: int | None = None

    async def start(self, polling: bool) -> None:
        from bot.coord.pg import lock_key
        await self.locks.open()
        if polling:
            key = lock_key("poller", "bot")
            if not await self.locks.try_lock(key):
                raise AlreadyRunning("another process is already polling Telegram for this bot (it holds the poller "
                                     "lock in this database): polling serves one process; stop the other one, or "
                                     "run replicas in webhook mode (WEBHOOK_URL)")
            self._poller = key

    def chat_lock(self, key: Hashable) -> AsyncContextManager[None]:
        return self.locks.hold("chat", key)

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
    return LocalCoordination(getattr(store, "path", ":memory:"))
