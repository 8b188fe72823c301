"""The PostgreSQL backend (asyncpg): the same behaviour as the SQLite one, shared by several replicas.

Why asyncpg rather than psycopg 3: every update costs a handful of round trips, and the bot's CPU per
update is what a replica run is measured on; asyncpg's binary protocol and per-connection statement
cache spend less CPU per query (bench/store_scale.py prints the figures for both backends). Its pool
reconnects by itself and resets a connection (advisory locks included) when it is given back.

Every method is one round trip on a pooled connection: a turn is one statement (data-modifying CTEs
run atomically), a claim one call of claim_update() (migration 3), which bot/coord/pg.py also makes
together with the chat's lock. Times in the data tables are the client's `time.time()`, like SQLite's; the shared flood
budget (bot/coord/pg.py) uses the database server's clock.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Any

import asyncpg

from bot.store.base import (BUSY, BY_HANDLER, CALLBACK_ANSWERS_KEEP, COMMITTED, DONE, EXPORT_QUERIES, HANDLED, OPEN,
                            OverlayExample, ReviewItem, Store, Turn, Unanswered, User, review_item)
from bot.store.migrations import migrate_postgres

log = logging.getLogger(__name__)


_TOUCH = ("INSERT INTO users(user_id, lang, source, first_seen, last_seen) VALUES($1,$2,$3,$4,$4) "
          "ON CONFLICT(user_id) DO UPDATE SET last_seen=excluded.last_seen, active=1, "
          "lang=CASE WHEN users.lang_fixed=1 THEN users.lang ELSE COALESCE(excluded.lang, users.lang) END, "
          "source=COALESCE(users.source, excluded.source) "
          "RETURNING user_id, lang, lang_fixed, active, source")

# One statement, so one transaction: events, unanswered questions, result, session, committed mark.
_TURN = """
WITH ev AS (
  INSERT INTO events(ts, user_id, kind, detail)
  SELECT $1, u, k, d FROM unnest($2::text[], $3::text[], $4::text[]) AS t(u, k, d)),
un AS (
  INSERT INTO unanswered(ts, user_id, lang, text, nearest, kind, step, candidates, score)
  SELECT $1, u, l, x, n, k, s, c, sc FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $17::text[],
    $18::text[], $19::text[], $20::float8[]) AS t(u, l, x, n, k, s, c, sc)),
rs AS (
  INSERT INTO results(user_id, mode, borderline, answers, created)
  SELECT $9, $10, $11, $12, $1 WHERE $9::text IS NOT NULL
  ON CONFLICT(user_id) DO UPDATE SET mode=excluded.mode, borderline=excluded.borderline,
    answers=excluded.answers, created=excluded.created),
mk AS (
  INSERT INTO handled_updates(update_id, done, owner) SELECT $15, 0, $16 WHERE $15::bigint IS NOT NULL
  ON CONFLICT(update_id) DO UPDATE SET done=GREATEST(handled_updates.done, 0))
INSERT INTO sessions(key, data, updated) VALUES($13, $14, $1)
ON CONFLICT(key) DO UPDATE SET data=excluded.data, updated=excluded.updated
"""

# $1 the review item (NULL: none), $2/$3 done/open, $4.. the example. Returns whether it was applied.
_OVERLAY_ADD = """
WITH item AS (
  UPDATE unanswered SET status=$2 WHERE id=$1 AND status=$3 RETURNING id),
go AS (
  SELECT 1 WHERE $1::bigint IS NULL OR EXISTS (SELECT 1 FROM item)),
ins AS (
  INSERT INTO content_overlay(kind, target, lang, text, norm, created)
  SELECT $4, $5, $6, $7, $8, $9 FROM go ON CONFLICT DO NOTHING),
ver AS (
  UPDATE overlay_version SET version=version+1 WHERE EXISTS (SELECT 1 FROM go) RETURNING 1)
SELECT EXISTS (SELECT 1 FROM go)
"""


def liveness_key(owner: int) -> int:
    """The advisory lock a live process holds for its whole life (taken in bot/coord/pg.py)."""
    return -(owner + 1)          # owners are positive 62-bit ints: negative keys never clash with them


CLAIM_STATES = {"new": None, "committed": COMMITTED, "handled": HANDLED, "busy": BUSY}


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool reset: nothing to undo. Pooled connections keep no session state of ours (advisory locks live
    on bot/coord/pg.py's own connection, transactions are closed by their context managers), so the
    default reset query (one more round trip per query) is skipped; asyncpg still rolls back any
    transaction left open."""


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class PostgresStore(Store):
    def __init__(self, url: str, pool_size: int = 10):
        self.url, self.pool_size = url, pool_size
        self.owner = secrets.randbits(62)
        self.pool: asyncpg.Pool | None = None
        self.migrated: list[int] = []
        self._opening = asyncio.Lock()
        self._answers = 0                             # callback answers recorded (old ones pruned every 500th)

    async def open(self) -> None:
        """Create the pool and apply the migrations (serialised across replicas by an advisory lock)."""
        async with self._opening:
            if self.pool is not None:
                return
            pool = await asyncpg.create_pool(self.url, min_size=min(2, self.pool_size), max_size=self.pool_size,
                                             command_timeout=30, reset=_keep_session)
            try:
                async with pool.acquire() as conn:
                    self.migrated = await migrate_postgres(conn)
            except BaseException:
                await pool.close()
                raise
            self.pool = pool

    async def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            await self.open()
        return self.pool

    async def close(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            try:
                await asyncio.wait_for(pool.close(), 3)   # waits for connections still in use...
            except asyncio.TimeoutError:
                log.warning("closing the database pool with connections still in use")
                pool.terminate()                          # ...but not for ever: exit within the drain's 10 s

    async def ping(self) -> None:
        await (await self._pool()).fetchval("SELECT 1")

    # -- updates ---------------------------------------------------------------------------------
    async def claim(self, update_id: int) -> str | None:
        state = await (await self._pool()).fetchval("SELECT state FROM claim_update(NULL, $1, $2, $3)",
                                                    update_id, self.owner, time.time())
        return CLAIM_STATES[state]

    async def update_state(self, update_id: int) -> str | None:
        done = await (await self._pool()).fetchval("SELECT done FROM handled_updates WHERE update_id=$1", update_id)
        return None if done is None or done < 0 else HANDLED if done else COMMITTED

    async def mark_handled(self, update_id: int) -> None:
        await (await self._pool()).execute("SELECT finish_update(NULL, $1, $2, $3, true)",
                                           update_id, self.owner, time.time())

    async def callback_answer(self, query_id: str) -> str | None:
        return await (await self._pool()).fetchval("SELECT answered_by FROM callback_answers WHERE query_id=$1",
                                                   query_id)

    async def record_callback_answer(self, query_id: str, by: str) -> None:
        now = time.time()
        pool = await self._pool()
        await pool.execute("INSERT INTO callback_answers(query_id, answered_by, at) VALUES($1,$2,$3) "
                           "ON CONFLICT(query_id) DO UPDATE SET answered_by=excluded.answered_by "
                           "WHERE excluded.answered_by=$4",
                           query_id, by, now, BY_HANDLER)
        self._answers += 1
        if self._answers % 500 == 0:
            await pool.execute("DELETE FROM callback_answers WHERE at < $1", now - CALLBACK_ANSWERS_KEEP)

    # -- users ----------------------------------------------------------------------------------
    async def user(self, user_id: str) -> User | None:
        row = await (await self._pool()).fetchrow(
            "SELECT user_id, lang, lang_fixed, active, source FROM users WHERE user_id=$1", user_id)
        return User(row[0], row[1], bool(row[2]), bool(row[3]), row[4]) if row else None

    async def touch_user(self, user_id: str, lang: str | None = None, source: str | None = None) -> User:
        row = await (await self._pool()).fetchrow(_TOUCH, user_id, lang, source, time.time())
        return User(row[0], row[1], bool(row[2]), bool(row[3]), row[4])

    async def set_lang(self, user_id: str, lang: str) -> None:
        now = time.time()
        await (await self._pool()).execute(
            "INSERT INTO users(user_id, lang, lang_fixed, first_seen, last_seen) VALUES($1,$2,1,$3,$3) "
            "ON CONFLICT(user_id) DO UPDATE SET lang=excluded.lang, lang_fixed=1, last_seen=excluded.last_seen, "
            "active=1", user_id, lang, now)

    async def set_active(self, user_id: str, active: bool) -> None:
        await (await self._pool()).execute("UPDATE users SET active=$1 WHERE user_id=$2", int(active), user_id)

    async def set_group(self, chat_id: str, title: str, active: bool) -> None:
        await (await self._pool()).execute(
            "INSERT INTO groups(chat_id, title, active, updated) VALUES($1,$2,$3,$4) ON CONFLICT(chat_id) DO UPDATE "
            "SET title=excluded.title, active=excluded.active, updated=excluded.updated",
            chat_id, title[:200], int(active), time.time())

    # -- sessions and turns ----------------------------------------------------------------------
    async def load_session(self, key: str) -> dict | None:
        data = await (await self._pool()).fetchval("SELECT data FROM sessions WHERE key=$1", key)
        if data is None:
            return None
        try:
            return json.loads(data)
        except ValueError:
            return None

    async def save_session(self, key: str, data: dict) -> None:
        await (await self._pool()).execute(
            "INSERT INTO sessions(key, data, updated) VALUES($1,$2,$3) "
            "ON CONFLICT(key) DO UPDATE SET data=excluded.data, updated=excluded.updated", key, _json(data), time.time())

    async def commit_turn(self, turn: Turn) -> None:
        result = turn.result or (None, None, None, None)
        user_id, mode, borderline, answers = result
        await (await self._pool()).execute(
            _TURN, time.time(),
            [e.user_id for e in turn.events], [e.kind for e in turn.events], [e.detail for e in turn.events],
            [u.user_id for u in turn.unanswered], [u.lang for u in turn.unanswered],
            [u.text[:1000] for u in turn.unanswered], [u.nearest for u in turn.unanswered],
            user_id, mode, None if borderline is None else int(borderline),
            None if answers is None else _json(answers),
            turn.key, _json(turn.session), turn.update_id, self.owner,
            [u.kind for u in turn.unanswered], [u.step for u in turn.unanswered],
            [_json(list(u.candidates)) if u.candidates else None for u in turn.unanswered],
            [u.score for u in turn.unanswered])

    async def last_result(self, user_id: str) -> dict[str, str] | None:
        data = await (await self._pool()).fetchval("SELECT answers FROM results WHERE user_id=$1", user_id)
        return json.loads(data) if data else None

    # -- picture cards ---------------------------------------------------------------------------
    async def card_file(self, key: str) -> str | None:
        return await (await self._pool()).fetchval("SELECT file_id FROM card_files WHERE key=$1", key)

    async def save_card_file(self, key: str, file_id: str) -> None:
        await (await self._pool()).execute(
            "INSERT INTO card_files(key, file_id, updated) VALUES($1,$2,$3) "
            "ON CONFLICT(key) DO UPDATE SET file_id=excluded.file_id, updated=excluded.updated",
            key, file_id, time.time())

    # -- events and statistics -------------------------------------------------------------------
    async def record(self, kind: str, user_id: str | None = None, detail: str | None = None) -> None:
        await (await self._pool()).execute("INSERT INTO events(ts, user_id, kind, detail) VALUES($1,$2,$3,$4)",
                                           time.time(), user_id, kind, detail)

    async def record_unanswered(self, text: str, lang: str, nearest: str | None, user_id: str | None = None,
                                item: Unanswered | None = None) -> None:
        u = item or Unanswered(text, lang, nearest, user_id)
        await (await self._pool()).execute(
            "INSERT INTO unanswered(ts, user_id, lang, text, nearest, kind, step, candidates, score) "
            "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9)", time.time(), u.user_id, u.lang, u.text[:1000], u.nearest, u.kind,
            u.step, _json(list(u.candidates)) if u.candidates else None, u.score)

    # -- the review queue and the content overlay -------------------------------------------------
    async def review_waiting(self) -> int:
        return await (await self._pool()).fetchval("SELECT COUNT(*) FROM unanswered WHERE status=$1", OPEN)

    async def review_next(self, after: int = 0) -> ReviewItem | None:
        return review_item(await (await self._pool()).fetchrow(
            "SELECT id, ts, lang, text, kind, step, candidates, score FROM unanswered WHERE status=$1 AND id>$2 "
            "ORDER BY id LIMIT 1", OPEN, after))

    async def review_item(self, item_id: int) -> ReviewItem | None:
        return review_item(await (await self._pool()).fetchrow(
            "SELECT id, ts, lang, text, kind, step, candidates, score FROM unanswered WHERE status=$1 AND id=$2",
            OPEN, item_id))

    async def review_close(self, item_id: int, delete: bool = False) -> bool:
        pool = await self._pool()
        if delete:
            done = await pool.execute("DELETE FROM unanswered WHERE id=$1 AND status=$2", item_id, OPEN)
        else:
            done = await pool.execute("UPDATE unanswered SET status=$1 WHERE id=$2 AND status=$3", DONE, item_id, OPEN)
        return done.endswith(" 1")

    async def review_purge(self, before: float) -> int:
        done = await (await self._pool()).execute("DELETE FROM unanswered WHERE ts<$1", before)
        return int(done.split()[-1])

    async def overlay_add(self, example: OverlayExample, item_id: int | None = None) -> bool:
        """One statement: the item closed, the example added, the version moved - or nothing, when the
        item was not open any more (another admin decided it first)."""
        return await (await self._pool()).fetchval(_OVERLAY_ADD, item_id, DONE, OPEN, example.kind, example.target,
                                                   example.lang, example.text, example.norm, time.time())

    async def overlay_examples(self) -> list[OverlayExample]:
        rows = await (await self._pool()).fetch("SELECT kind, target, lang, text, norm FROM content_overlay ORDER BY id")
        return [OverlayExample(*row) for row in rows]

    async def overlay_clear(self) -> int:
        return await (await self._pool()).fetchval(
            "WITH gone AS (DELETE FROM content_overlay RETURNING 1), ver AS (UPDATE overlay_version "
            "SET version=version+1 RETURNING 1) SELECT count(*) FROM gone")

    async def overlay_version(self) -> int:
        return await (await self._pool()).fetchval("SELECT version FROM overlay_version")

    async def stats(self, latest: int = 10) -> dict[str, Any]:
        pool = await self._pool()
        async with pool.acquire() as conn:
            count = conn.fetchval
            rows = lambda sql, *a: conn.fetch(sql, *a)  # noqa: E731
            return {
                "users": await count("SELECT COUNT(*) FROM users"),
                "active_users": await count("SELECT COUNT(*) FROM users WHERE active=1"),
                "quizzes_started": await count("SELECT COUNT(*) FROM events WHERE kind='quiz_started'"),
                "quizzes_completed": await count("SELECT COUNT(*) FROM events WHERE kind='quiz_completed'"),
                "results_by_mode": {r[0]: r[1] for r in await rows(
                    "SELECT mode, COUNT(*) FROM results GROUP BY mode ORDER BY mode")},
                "results_borderline": await count("SELECT COUNT(*) FROM results WHERE borderline=1"),
                "top_faq": [tuple(r) for r in await rows(
                    "SELECT detail, COUNT(*) n FROM events WHERE kind='faq' GROUP BY detail "
                    "ORDER BY n DESC, detail LIMIT 10")],
                "unanswered": [tuple(r) for r in await rows(
                    "SELECT ts, lang, text, nearest FROM unanswered ORDER BY id DESC LIMIT $1", latest)],
                "shares": await count("SELECT COUNT(*) FROM events WHERE kind='share'"),
                "inline_queries": await count("SELECT COUNT(*) FROM events WHERE kind='inline_query'"),
                "inline_chosen": await count("SELECT COUNT(*) FROM events WHERE kind='inline_chosen'"),
                "deeplinks": [tuple(r) for r in await rows(
                    "SELECT detail, COUNT(*) n FROM events WHERE kind='deeplink' GROUP BY detail "
                    "ORDER BY n DESC, detail LIMIT 10")],
                "groups": await count("SELECT COUNT(*) FROM groups WHERE active=1"),
                "review_waiting": await count("SELECT COUNT(*) FROM unanswered WHERE status=$1", OPEN),
            }

    async def export_rows(self, table: str) -> tuple[list[str], list[tuple]]:
        pool = await self._pool()
        async with pool.acquire() as conn:
            statement = await conn.prepare(EXPORT_QUERIES[table])
            columns = [a.name for a in statement.get_attributes()]
            return columns, [tuple(r) for r in await statement.fetch()]
