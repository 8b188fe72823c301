"""What replicas of one bot share through PostgreSQL besides the data: locks and the flood budget.

* `PgLocks`: one dedicated connection per process holding session-level advisory locks: the process's
  *liveness* lock for its whole life (claims of a process whose liveness lock is free were left by a
  dead process and are taken over), the *chat* locks while an update of that chat is being handled,
  and the *poller* lock in polling mode. PostgreSQL releases every one of them when the connection
  ends, so a replica killed with SIGKILL leaves nobody stuck. A chat's lock and its update's claim are
  one call (claim_update(), migration 3), the handled mark and the unlock another (finish_update()).
  Locks are tried (pg_try_advisory_lock) and retried with a short backoff, so one connection serves
  all the chats of a process (a blocking pg_advisory_lock would hold a connection per waiting chat).
* `PgWindow`: a sliding flood window (bot/tg/limits.py) counted in the `flood_slots` table by the SQL
  function flood_take() (migration 2): one round trip takes a slot. A finished call is recorded with
  the next take of this process, or within FLUSH_AFTER by itself (`Finishes`), as the server time its
  slot started plus how long it was held (measured here, so only the server's clock is compared):
  until then it counts as still running, which only ever over-counts. Replicas on several hosts
  count alike. Within a process, takers of one window queue in order (first come first served) and
  only the head of the queue asks the database.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from typing import Any, Hashable

import asyncpg

from bot.store.postgres import liveness_key
from bot.tg.limits import Paused

log = logging.getLogger(__name__)
LEASE = 35.0            # a running call whose replica died stops holding its slot after this long
FLUSH_AFTER = 0.1       # finished calls not carried by a take within this long are recorded by themselves
RETRY_FIRST, RETRY_MAX = 0.005, 0.1


def lock_key(kind: str, key: Hashable) -> int:
    """A stable signed 64-bit advisory lock key (Python's hash() differs between processes)."""
    digest = hashlib.blake2b(f"{kind}:{key!r}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True) & 0x3FFF_FFFF_FFFF_FFFF   # positive: liveness keys are negative


class PgLocks:
    def __init__(self, url: str, owner: int):
        self.url, self.owner = url, owner
        self.conn: asyncpg.Connection | None = None
        self._use = asyncio.Lock()            # an asyncpg connection runs one query at a time
        self.held: dict[int, int] = {}        # key -> times held (a hash collision may hold a key twice)

    async def open(self) -> None:
        self.conn = await asyncpg.connect(self.url)
        await self.conn.execute("SELECT pg_advisory_lock($1)", liveness_key(self.owner))

    @property
    def alive(self) -> bool:
        return self.conn is not None and not self.conn.is_closed()

    async def try_lock(self, key: int) -> bool:
        got = (await self._call("SELECT pg_try_advisory_lock($1)", key))[0]
        if got:
            self.held[key] = self.held.get(key, 0) + 1
        return bool(got)

    async def begin(self, key: Hashable, update_id: int) -> str:
        """Hold chat `key` (waiting while another process holds it) and claim `update_id` in one round trip:
        'new', 'committed', 'handled', or 'busy' (claimed by another live process; the chat is let go)."""
        k = lock_key("chat", key)
        pause = RETRY_FIRST
        while True:
            row = await self._call("SELECT locked, state FROM claim_update($1, $2, $3, $4)",
                                   k, update_id, self.owner, time.time())
            if row["locked"]:
                self.held[k] = self.held.get(k, 0) + 1
                if row["state"] == "busy":
                    await self.end(key, update_id, handled=False)
                return row["state"]
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MAX)

    async def end(self, key: Hashable, update_id: int, handled: bool) -> None:
        """Mark `update_id` handled (when it was) and let chat `key` go, in one round trip. (When the lock
        connection was lost meanwhile, the lock is gone already and only the mark is made.)"""
        k = lock_key("chat", key)
        held = bool(self.held.get(k))
        if held:
            self.held[k] -= 1
            if not self.held[k]:
                del self.held[k]
        if not (held or handled):
            return
        try:
            await self._call("SELECT finish_update($1, $2, $3, $4, $5)", k if held else None, update_id, self.owner,
                             time.time(), handled)
        except (asyncpg.PostgresError, OSError):
            if handled:
                raise          # not marked handled: the webhook answers 503 and Telegram delivers it again
            log.warning("could not release the lock of chat %s: the connection's end releases it", key)

    async def _call(self, sql: str, *args: Any) -> Any:
        if not self.alive:
            if self.held:
                log.error("the lock connection was lost: the locks of %d chats in flight are gone; reconnecting",
                          len(self.held))
                self.held.clear()
            else:
                log.warning("reconnecting the lock connection")
            await self.open()
        async with self._use:
            # shielded: a lock granted by the server is always recorded (and so released later)
            return await asyncio.shield(self.conn.fetchrow(sql, *args))

    async def close(self) -> None:
        """Release every lock (closing the session releases them all at once)."""
        if self.conn is not None:
            conn, self.conn = self.conn, None
            self.held.clear()
            try:
                await asyncio.wait_for(conn.close(), 3)
            except (asyncio.TimeoutError, OSError, asyncpg.PostgresError):
                conn.terminate()


class Finishes:
    """Calls of this process that finished and are not yet recorded: (slot, seconds held)."""

    def __init__(self, pool_of):
        self.pool_of = pool_of
        self.ids: list[int] = []
        self.secs: list[float] = []
        self.task: asyncio.Task | None = None

    def add(self, slot: int, held: float) -> None:
        self.ids.append(slot)
        self.secs.append(held)
        if self.task is None:
            self.task = asyncio.ensure_future(self._later())

    def take(self) -> tuple[list[int], list[float]]:
        ids, secs = self.ids, self.secs
        self.ids, self.secs = [], []
        return ids, secs

    async def _later(self) -> None:
        await asyncio.sleep(FLUSH_AFTER)
        self.task = None
        await self.flush()

    async def flush(self) -> None:
        ids, secs = self.take()
        if not ids:
            return
        try:
            await (await self.pool_of()).execute("SELECT flood_finish($1, $2)", ids, secs)
        except Exception as exc:  # noqa: BLE001 - the slots then end with their lease
            log.warning("could not record %d finished flood slots (%s); their lease ends them", len(ids), exc)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None
        await self.flush()


class PgWindow:
    """A flood window shared by every replica (see the module docstring); `Window`'s interface."""

    def __init__(self, pool_of, key: str, limit: int, period: float, finishes: Finishes):
        self.pool_of, self.key, self.limit, self.period = pool_of, key, limit, period
        self.finishes = finishes
        self.lock = asyncio.Lock()
        self.waiting = 0
        self.running = 0
        self.full_until = 0.0                  # monotonic: when the database said a slot frees up
        self._released = asyncio.Event()

    async def acquire(self, chat: Any = None) -> Any:
        self.waiting += 1
        try:
            async with self.lock:
                pool = await self.pool_of()
                pause = RETRY_FIRST
                while True:
                    asked = time.monotonic()
                    done, secs = self.finishes.take()
                    try:
                        row = await pool.fetchrow("SELECT slot, wait FROM flood_take($1, $2, $3, $4, $5, $6, $7)",
                                                  self.key, self.limit, self.period,
                                                  None if chat is None else str(chat), LEASE, done, secs)
                    except BaseException:
                        for slot, held in zip(done, secs):   # not recorded: try again with the next one
                            self.finishes.add(slot, held)
                        raise
                    slot, wait = row["slot"], row["wait"]
                    if slot is not None:
                        self.running += 1
                        return (slot, asked)
                    if wait > 0 and chat is not None and await self._paused(pool, chat):
                        return Paused(wait)
                    if wait < 0:               # every slot is a call still running somewhere: look again soon
                        self.full_until = time.monotonic() + pause
                        self._released.clear()
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(self._released.wait(), pause)
                        pause = min(pause * 2, RETRY_MAX)
                        continue
                    self.full_until = time.monotonic() + wait
                    pause = RETRY_FIRST
                    await asyncio.sleep(wait)
        finally:
            self.waiting -= 1

    @staticmethod
    async def _paused(pool, chat: Any) -> bool:
        until = await pool.fetchval("SELECT until > extract(epoch FROM clock_timestamp()) FROM flood_pauses "
                                    "WHERE chat=$1", str(chat))
        return bool(until)

    def release(self, token: Any = None) -> None:
        """The call finished: it held its slot from before it was asked for until now (never less)."""
        self.running -= 1
        self._released.set()
        slot, asked = token
        self.finishes.add(slot, time.monotonic() - asked)

    def delay(self) -> float:
        """A rough estimate from what this process last learnt: the window's wait, plus those queued here."""
        ahead = max(0.0, self.full_until - time.monotonic())
        return ahead + self.waiting * self.period / self.limit

    def idle(self) -> bool:
        return not self.running and not self.waiting


async def share_pause(pool_of, chat: Any, seconds: float) -> None:
    """A 429 for `chat`: every replica's next send to it waits `seconds`."""
    pool = await pool_of()
    await pool.execute("INSERT INTO flood_pauses(chat, until) VALUES($1, extract(epoch FROM clock_timestamp()) + $2) "
                       "ON CONFLICT(chat) DO UPDATE SET until=GREATEST(flood_pauses.until, excluded.until)",
                       str(chat), seconds)
