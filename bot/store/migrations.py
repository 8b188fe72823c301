"""Versioned schema migrations, applied at start-up by both backends.

Each backend has an ordered list of (version, name, step). `schema_migrations` records the versions
applied; a start-up applies the missing ones in order, each in its own transaction, so a crash half-way
leaves the database at the last complete version. Versions are only ever appended: never edit one that
has shipped, add the next.

SQLite files made before versioning (the synchronous store of a8cefb8 with its `seen_updates` table,
and the first async store with `handled_updates(update_id, done)`) have no `schema_migrations` table:
version 1 adopts their tables as they are (CREATE ... IF NOT EXISTS) and version 2 carries their
handled-update ids over, so nothing recorded is lost.
"""
from __future__ import annotations

import sqlite3
import time
from typing import Callable

SQLITE_BASELINE = """
CREATE TABLE IF NOT EXISTS users (
  user_id TEXT PRIMARY KEY, lang TEXT, lang_fixed INTEGER NOT NULL DEFAULT 0,
  active INTEGER NOT NULL DEFAULT 1, source TEXT, first_seen REAL NOT NULL, last_seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS results (
  user_id TEXT PRIMARY KEY, mode TEXT NOT NULL, borderline INTEGER NOT NULL, answers TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, user_id TEXT, kind TEXT NOT NULL, detail TEXT);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind, detail);
CREATE TABLE IF NOT EXISTS groups (
  chat_id TEXT PRIMARY KEY, title TEXT, active INTEGER NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS unanswered (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, user_id TEXT, lang TEXT, text TEXT NOT NULL, nearest TEXT);
CREATE TABLE IF NOT EXISTS handled_updates (update_id INTEGER PRIMARY KEY, done INTEGER NOT NULL);
"""


def _sqlite_tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _sqlite_v1(db: sqlite3.Connection) -> None:
    for statement in SQLITE_BASELINE.split(";"):
        if statement.strip():
            db.execute(statement)


def _sqlite_v2(db: sqlite3.Connection) -> None:
    """Update claims: who is handling an update and since when (done: -1 claimed, 0 committed, 1 handled)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(handled_updates)")}
    for column, statement in (("owner", "ALTER TABLE handled_updates ADD COLUMN owner INTEGER"),
                              ("claimed", "ALTER TABLE handled_updates ADD COLUMN claimed REAL"),
                              ("finished", "ALTER TABLE handled_updates ADD COLUMN finished REAL")):
        if column not in columns:
            db.execute(statement)
    if "seen_updates" in _sqlite_tables(db):     # a8cefb8: an id there was skipped on redelivery: handled
        db.execute("INSERT OR IGNORE INTO handled_updates(update_id, done) SELECT update_id, 1 FROM seen_updates")
        db.execute("DROP TABLE seen_updates")


def _sqlite_v3(db: sqlite3.Connection) -> None:
    """Picture cards: the Telegram file_id of each uploaded card, by content key (bot/tg/photos.py)."""
    db.execute("CREATE TABLE IF NOT EXISTS card_files (key TEXT PRIMARY KEY, file_id TEXT NOT NULL, "
               "updated REAL NOT NULL)")


# The review loop (bot/content, bot/tg/review.py): the unanswered-question log becomes the review queue.
# Its rows gain what an operator needs to decide (kind, the step on screen, the nearest entries, the
# score) and a status; decisions become examples of the content overlay, whose version replicas poll.
REVIEW_COLUMNS = (("kind", "ALTER TABLE unanswered ADD COLUMN kind TEXT NOT NULL DEFAULT 'fallback'"),
                  ("step", "ALTER TABLE unanswered ADD COLUMN step TEXT"),
                  ("candidates", "ALTER TABLE unanswered ADD COLUMN candidates TEXT"),
                  ("score", "ALTER TABLE unanswered ADD COLUMN score REAL"),
                  ("status", "ALTER TABLE unanswered ADD COLUMN status TEXT NOT NULL DEFAULT 'open'"))


def _sqlite_v4(db: sqlite3.Connection) -> None:
    """Review queue columns on `unanswered` (old rows: open fallbacks, `nearest` as their one candidate),
    the content overlay and its version."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(unanswered)")}
    for column, statement in REVIEW_COLUMNS:
        if column not in columns:
            db.execute(statement)
    db.execute("UPDATE unanswered SET candidates = json_array(nearest) WHERE candidates IS NULL AND nearest IS NOT NULL")
    db.execute("CREATE INDEX IF NOT EXISTS unanswered_open ON unanswered(status, id)")
    db.execute("CREATE TABLE IF NOT EXISTS content_overlay (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
               "target TEXT NOT NULL, lang TEXT NOT NULL, text TEXT NOT NULL, norm TEXT NOT NULL, "
               "created REAL NOT NULL, UNIQUE(kind, target, norm))")
    db.execute("CREATE TABLE IF NOT EXISTS overlay_version (one INTEGER PRIMARY KEY CHECK (one = 1), "
               "version INTEGER NOT NULL)")
    db.execute("INSERT OR IGNORE INTO overlay_version(one, version) VALUES(1, 0)")


# Callback queries answered (bot/tg/extbot.py): a press redelivered after a crash is not answered twice.
CALLBACK_ANSWERS_SQLITE = ("CREATE TABLE IF NOT EXISTS callback_answers (query_id TEXT PRIMARY KEY, "
                           "answered_by TEXT NOT NULL, at REAL NOT NULL)")


def _sqlite_v5(db: sqlite3.Connection) -> None:
    db.execute(CALLBACK_ANSWERS_SQLITE)
    db.execute("CREATE INDEX IF NOT EXISTS callback_answers_at ON callback_answers(at)")


SQLITE_MIGRATIONS: list[tuple[int, str, Callable[[sqlite3.Connection], None]]] = [
    (1, "baseline: users, sessions, results, events, groups, unanswered, handled_updates", _sqlite_v1),
    (2, "update claims (owner, claimed, finished); seen_updates carried over", _sqlite_v2),
    (3, "picture cards: card_files (content key -> Telegram file_id)", _sqlite_v3),
    (4, "review queue on unanswered (kind, step, candidates, score, status); content_overlay, overlay_version",
     _sqlite_v4),
    (5, "callback queries answered: callback_answers (query id -> early or handler)", _sqlite_v5),
]


def migrate_sqlite(db: sqlite3.Connection) -> list[int]:
    """Apply the missing SQLite migrations (`db` in autocommit mode); returns the versions applied."""
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
               "applied REAL NOT NULL)")
    applied = []
    for version, name, step in SQLITE_MIGRATIONS:
        db.execute("BEGIN IMMEDIATE")          # one writer: a second process starting waits here
        try:
            if db.execute("SELECT 1 FROM schema_migrations WHERE version=?", (version,)).fetchone():
                db.execute("COMMIT")
                continue
            step(db)
            db.execute("INSERT INTO schema_migrations(version, name, applied) VALUES(?,?,?)",
                       (version, name, time.time()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


# -- PostgreSQL ---------------------------------------------------------------------------------------
PG_V1 = """
CREATE TABLE users (
  user_id text PRIMARY KEY, lang text, lang_fixed smallint NOT NULL DEFAULT 0,
  active smallint NOT NULL DEFAULT 1, source text, first_seen double precision NOT NULL,
  last_seen double precision NOT NULL);
CREATE TABLE sessions (key text PRIMARY KEY, data text NOT NULL, updated double precision NOT NULL);
CREATE TABLE results (
  user_id text PRIMARY KEY, mode text NOT NULL, borderline smallint NOT NULL, answers text NOT NULL,
  created double precision NOT NULL);
CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts double precision NOT NULL, user_id text,
  kind text NOT NULL, detail text);
CREATE INDEX events_kind ON events(kind, detail);
CREATE TABLE groups (
  chat_id text PRIMARY KEY, title text, active smallint NOT NULL, updated double precision NOT NULL);
CREATE TABLE unanswered (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts double precision NOT NULL, user_id text, lang text,
  text text NOT NULL, nearest text);
CREATE TABLE handled_updates (
  update_id bigint PRIMARY KEY, done smallint NOT NULL, owner bigint, claimed double precision,
  finished double precision);
"""

# The shared flood budget (bot/coord/pg.py): one row per call to Telegram that holds a slot of a
# window ('all', or a group's chat id) from the moment it starts until `period` after it finished.
# Times are the database server's clock, so replicas on different hosts count alike.
PG_V2 = """
CREATE TABLE flood_slots (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, win text NOT NULL,
  started double precision NOT NULL, finished double precision);
CREATE INDEX flood_slots_win ON flood_slots(win, finished);
CREATE TABLE flood_pauses (chat text PRIMARY KEY, until double precision NOT NULL);
CREATE FUNCTION flood_finish(p_done bigint[], p_secs double precision[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. coalesce(cardinality(p_done), 0) LOOP     -- by primary key, one row each
    UPDATE flood_slots SET finished = started + p_secs[i] WHERE id = p_done[i] AND finished IS NULL;
  END LOOP;
END $$;
-- p_done/p_secs: calls of this replica that finished since its last take, with how long each held its
-- slot (measured by the replica: no clock but the server's is compared), recorded first.
CREATE FUNCTION flood_take(p_win text, p_limit int, p_period double precision, p_chat text,
                           p_lease double precision, p_done bigint[], p_secs double precision[],
                           OUT slot bigint, OUT wait double precision)
LANGUAGE plpgsql AS $$
DECLARE
  now_s double precision := extract(epoch FROM clock_timestamp());
  paused double precision;
  used int;
  oldest double precision;
  since double precision;
BEGIN
  IF cardinality(p_done) > 0 THEN
    PERFORM flood_finish(p_done, p_secs);
  END IF;
  -- one taker at a time per window, across every replica
  PERFORM pg_advisory_xact_lock(hashtext('flood:' || p_win));
  IF p_chat IS NOT NULL THEN
    SELECT until INTO paused FROM flood_pauses WHERE chat = p_chat;
    IF paused IS NOT NULL AND paused > now_s THEN
      slot := NULL; wait := paused - now_s; RETURN;
    END IF;
  END IF;
  -- a running call holds its slot until it finishes, or until its lease ends (its replica died)
  since := now_s - p_period;
  SELECT count(*), min(finished) INTO used, oldest FROM flood_slots WHERE win = p_win AND finished > since;
  used := used + (SELECT count(*) FROM flood_slots WHERE win = p_win AND finished IS NULL AND started > now_s - p_lease);
  IF used >= p_limit THEN
    slot := NULL;
    wait := CASE WHEN oldest IS NULL THEN -1 ELSE greatest(0.001, oldest + p_period - now_s) END;
    RETURN;
  END IF;
  INSERT INTO flood_slots(win, started) VALUES (p_win, now_s) RETURNING id INTO slot;
  wait := 0;
  IF slot % 500 = 0 THEN
    DELETE FROM flood_slots WHERE coalesce(finished, started + p_lease) < now_s - 120;
    DELETE FROM flood_pauses WHERE until < now_s;
  END IF;
END $$;
"""

# Update claims in one round trip each, optionally together with the chat's advisory lock (the lock
# connection of bot/coord/pg.py passes its key; the store passes NULL). A claim held by another owner is
# taken over when that owner's liveness lock (key -(owner + 1)) is free: its process has died.
PG_V3 = """
CREATE FUNCTION claim_update(p_lock bigint, p_update bigint, p_owner bigint, p_now double precision,
                             OUT locked boolean, OUT state text)
LANGUAGE plpgsql AS $$
DECLARE
  d smallint;
  holder bigint;
BEGIN
  IF p_lock IS NOT NULL AND NOT pg_try_advisory_lock(p_lock) THEN
    locked := false; RETURN;
  END IF;
  locked := true;
  INSERT INTO handled_updates(update_id, done, owner, claimed) VALUES (p_update, -1, p_owner, p_now)
  ON CONFLICT (update_id) DO NOTHING;
  IF FOUND THEN
    state := 'new'; RETURN;
  END IF;
  SELECT done, owner INTO d, holder FROM handled_updates WHERE update_id = p_update FOR UPDATE;
  IF d >= 1 THEN
    state := 'handled'; RETURN;
  END IF;
  IF holder IS DISTINCT FROM p_owner AND holder IS NOT NULL AND NOT pg_try_advisory_xact_lock(-(holder + 1)) THEN
    state := 'busy'; RETURN;
  END IF;
  UPDATE handled_updates SET owner = p_owner, claimed = p_now WHERE update_id = p_update;
  state := CASE WHEN d = 0 THEN 'committed' ELSE 'new' END;
END $$;
CREATE FUNCTION finish_update(p_lock bigint, p_update bigint, p_owner bigint, p_now double precision,
                              p_handled boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF p_handled THEN
    INSERT INTO handled_updates(update_id, done, owner, finished) VALUES (p_update, 1, p_owner, p_now)
    ON CONFLICT (update_id) DO UPDATE SET done = 1, finished = excluded.finished;
    IF p_update % 1000 = 0 THEN          -- Telegram redelivers only recent updates: keep the last 100,000
      DELETE FROM handled_updates WHERE update_id < p_update - 100000;
    END IF;
  END IF;
  IF p_lock IS NOT NULL THEN
    PERFORM pg_advisory_unlock(p_lock);
  END IF;
END $$;
"""

PG_V4 = """
CREATE TABLE card_files (key text PRIMARY KEY, file_id text NOT NULL, updated double precision NOT NULL);
"""

PG_V5 = """
ALTER TABLE unanswered ADD COLUMN kind text NOT NULL DEFAULT 'fallback', ADD COLUMN step text,
  ADD COLUMN candidates text, ADD COLUMN score double precision, ADD COLUMN status text NOT NULL DEFAULT 'open';
UPDATE unanswered SET candidates = json_build_array(nearest)::text WHERE nearest IS NOT NULL;
CREATE INDEX unanswered_open ON unanswered(status, id);
CREATE TABLE content_overlay (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text NOT NULL, target text NOT NULL, lang text NOT NULL,
  text text NOT NULL, norm text NOT NULL, created double precision NOT NULL, UNIQUE(kind, target, norm));
CREATE TABLE overlay_version (one int PRIMARY KEY CHECK (one = 1), version bigint NOT NULL);
INSERT INTO overlay_version(one, version) VALUES (1, 0);
"""

PG_V6 = """
CREATE TABLE callback_answers (query_id text PRIMARY KEY, answered_by text NOT NULL, at double precision NOT NULL);
CREATE INDEX callback_answers_at ON callback_answers(at);
"""

PG_MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "baseline: users, sessions, results, events, groups, unanswered, handled_updates", PG_V1),
    (2, "shared flood budget: flood_slots, flood_pauses, flood_take(), flood_finish()", PG_V2),
    (3, "update claims in one round trip: claim_update(), finish_update()", PG_V3),
    (4, "picture cards: card_files (content key -> Telegram file_id)", PG_V4),
    (5, "review queue on unanswered (kind, step, candidates, score, status); content_overlay, overlay_version",
     PG_V5),
    (6, "callback queries answered: callback_answers (query id -> early or handler)", PG_V6),
]
MIGRATION_LOCK = 0x6D6F6465_6D696772   # advisory lock key: one replica migrates, the others wait


async def migrate_postgres(conn) -> list[int]:
    """Apply the missing PostgreSQL migrations on an asyncpg connection; returns the versions applied."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, "
                           "name text NOT NULL, applied double precision NOT NULL)")
        done = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for version, name, sql in PG_MIGRATIONS:
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations(version, name, applied) VALUES($1, $2, $3)",
                                   version, name, time.time())
            applied.append(version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


LATEST_SQLITE = SQLITE_MIGRATIONS[-1][0]
LATEST_POSTGRES = PG_MIGRATIONS[-1][0]
