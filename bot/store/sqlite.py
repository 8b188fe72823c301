"""The embedded SQLite backend: one file, no server, statements committed as they run.

Statements take a fraction of a millisecond, so they run inline in the coroutine (a thread hop per
call would cost more than the query). All SQL is parameterised.
"""
from __future__ import annotations

import json
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

from bot.store.base import (BY_HANDLER, CALLBACK_ANSWERS_KEEP, COMMITTED, DONE, EXPORT_QUERIES, HANDLED, HANDLED_KEEP,
                            OPEN, OverlayExample, Store, Turn, Unanswered, User, review_item)
from bot.store.migrations import migrate_sqlite

_UNANSWERED = ("INSERT INTO unanswered(ts, user_id, lang, text, nearest, kind, step, candidates, score) "
               "VALUES(?,?,?,?,?,?,?,?,?)")


def _unanswered_row(ts: float, u: Unanswered) -> tuple:
    return (ts, u.user_id, u.lang, u.text[:1000], u.nearest, u.kind, u.step,
            _json(list(u.candidates)) if u.candidates else None, u.score)


def sqlite_path(database_url: str) -> str:
    """`sqlite:///data/bot.sqlite3` -> `data/bot.sqlite3`; `sqlite:////abs/path` -> `/abs/path`."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ValueError(f"not an sqlite:/// URL: {database_url.split(':', 1)[0]}:")
    return database_url[len(prefix):] or ":memory:"


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class SQLiteStore(Store):
    def __init__(self, path: str | Path = ":memory:"):
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self.owner = secrets.randbits(62)
        self._answers = 0                             # callback answers recorded (old ones pruned every 500th)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.migrated = migrate_sqlite(self.db)       # versions applied by this start (an old file upgrades)
        self.db.execute("PRAGMA synchronous=NORMAL")

    async def close(self) -> None:
        self.db.close()

    async def ping(self) -> None:
        self.db.execute("SELECT 1").fetchone()

    # -- updates ---------------------------------------------------------------------------------
    async def claim(self, update_id: int) -> str | None:
        """One process uses an SQLite file (bot.coordination takes a lock file), so a claim left by another
        owner was left by an earlier run of the bot that died: it is taken over."""
        now = time.time()
        row = self.db.execute("SELECT done FROM handled_updates WHERE update_id=?", (update_id,)).fetchone()
        if row is None:
            self.db.execute("INSERT INTO handled_updates(update_id, done, owner, claimed) VALUES(?,?,?,?)",
                            (update_id, -1, self.owner, now))
            if update_id % 1000 == 0:
                self.db.execute("DELETE FROM handled_updates WHERE update_id < ?", (update_id - HANDLED_KEEP,))
            return None
        if row[0] >= 1:
            return HANDLED
        self.db.execute("UPDATE handled_updates SET owner=?, claimed=? WHERE update_id=?", (self.owner, now, update_id))
        return COMMITTED if row[0] == 0 else None

    async def update_state(self, update_id: int) -> str | None:
        row = self.db.execute("SELECT done FROM handled_updates WHERE update_id=?", (update_id,)).fetchone()
        return None if row is None or row[0] < 0 else HANDLED if row[0] else COMMITTED

    async def mark_handled(self, update_id: int) -> None:
        self.db.execute("INSERT INTO handled_updates(update_id, done, owner, finished) VALUES(?,1,?,?) "
                        "ON CONFLICT(update_id) DO UPDATE SET done=1, finished=excluded.finished",
                        (update_id, self.owner, time.time()))

    def _mark_committed(self, update_id: int) -> None:
        self.db.execute("INSERT INTO handled_updates(update_id, done, owner) VALUES(?,0,?) ON CONFLICT(update_id) "
                        "DO UPDATE SET done=MAX(done, 0)", (update_id, self.owner))

    async def callback_answer(self, query_id: str) -> str | None:
        row = self.db.execute("SELECT answered_by FROM callback_answers WHERE query_id=?", (query_id,)).fetchone()
        return row[0] if row else None

    async def record_callback_answer(self, query_id: str, by: str) -> None:
        now = time.time()
        self.db.execute("INSERT INTO callback_answers(query_id, answered_by, at) VALUES(?,?,?) ON CONFLICT(query_id) "
                        "DO UPDATE SET answered_by=excluded.answered_by WHERE excluded.answered_by=?",
                        (query_id, by, now, BY_HANDLER))
        self._answers += 1
        if self._answers % 500 == 0:
            self.db.execute("DELETE FROM callback_answers WHERE at < ?", (now - CALLBACK_ANSWERS_KEEP,))

    # -- users ----------------------------------------------------------------------------------
    async def user(self, user_id: str) -> User | None:
        return self._user(user_id)

    def _user(self, user_id: str) -> User | None:
        row = self.db.execute("SELECT user_id, lang, lang_fixed, active, source FROM users WHERE user_id=?",
                              (user_id,)).fetchone()
        return User(row[0], row[1], bool(row[2]), bool(row[3]), row[4]) if row else None

    async def touch_user(self, user_id: str, lang: str | None = None, source: str | None = None) -> User:
        self._touch(user_id, lang, source)
        return self._user(user_id)

    def _touch(self, user_id: str, lang: str | None = None, source: str | None = None) -> None:
        now = time.time()
        self.db.execute(
            "INSERT INTO users(user_id, lang, source, first_seen, last_seen) VALUES(?,?,?,?,?) "
            "ON CONFLICT(user_id) DO UPDATE SET last_seen=excluded.last_seen, active=1, "
            "lang=CASE WHEN users.lang_fixed THEN users.lang ELSE COALESCE(excluded.lang, users.lang) END, "
            "source=COALESCE(users.source, excluded.source)",
            (user_id, lang, source, now, now))

    async def set_lang(self, user_id: str, lang: str) -> None:
        self._touch(user_id)
        self.db.execute("UPDATE users SET lang=?, lang_fixed=1 WHERE user_id=?", (lang, user_id))

    async def set_active(self, user_id: str, active: bool) -> None:
        self.db.execute("UPDATE users SET active=? WHERE user_id=?", (int(active), user_id))

    async def set_group(self, chat_id: str, title: str, active: bool) -> None:
        self.db.execute("INSERT INTO groups(chat_id, title, active, updated) VALUES(?,?,?,?) "
                        "ON CONFLICT(chat_id) DO UPDATE SET title=excluded.title, active=excluded.active, "
                        "updated=excluded.updated", (chat_id, title[:200], int(active), time.time()))

    # -- sessions and turns ----------------------------------------------------------------------
    async def load_session(self, key: str) -> dict | None:
        row = self.db.execute("SELECT data FROM sessions WHERE key=?", (key,)).fetchone()
        if not row:
            return None
        try:
            return json.loads(row[0])
        except ValueError:
            return None

    async def save_session(self, key: str, data: dict) -> None:
        self._save_session(key, data)

    def _save_session(self, key: str, data: dict) -> None:
        self.db.execute("INSERT INTO sessions(key, data, updated) VALUES(?,?,?) "
                        "ON CONFLICT(key) DO UPDATE SET data=excluded.data, updated=excluded.updated",
                        (key, _json(data), time.time()))

    async def commit_turn(self, turn: Turn) -> None:
        now = time.time()
        self.db.execute("SAVEPOINT turn")      # a transaction of its own, or nested in the caller's
        try:
            for e in turn.events:
                self.db.execute("INSERT INTO events(ts, user_id, kind, detail) VALUES(?,?,?,?)",
                                (now, e.user_id, e.kind, e.detail))
            for u in turn.unanswered:
                self.db.execute(_UNANSWERED, _unanswered_row(now, u))
            if turn.result is not None:
                user_id, mode, borderline, answers = turn.result
                self.db.execute(
                    "INSERT INTO results(user_id, mode, borderline, answers, created) VALUES(?,?,?,?,?) "
                    "ON CONFLICT(user_id) DO UPDATE SET mode=excluded.mode, borderline=excluded.borderline, "
                    "answers=excluded.answers, created=excluded.created",
                    (user_id, mode, int(borderline), _json(answers), now))
            self._save_session(turn.key, turn.session)
            if turn.update_id is not None:
                self._mark_committed(turn.update_id)
        except BaseException:
            self.db.execute("ROLLBACK TO turn")
            self.db.execute("RELEASE turn")
            raise
        self.db.execute("RELEASE turn")

    async def last_result(self, user_id: str) -> dict[str, str] | None:
        row = self.db.execute("SELECT answers FROM results WHERE user_id=?", (user_id,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- picture cards: file_ids of uploaded cards ------------------------------------------------
    async def card_file(self, key: str) -> str | None:
        row = self.db.execute("SELECT file_id FROM card_files WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    async def save_card_file(self, key: str, file_id: str) -> None:
        self.db.execute("INSERT INTO card_files(key, file_id, updated) VALUES(?,?,?) ON CONFLICT(key) "
                        "DO UPDATE SET file_id=excluded.file_id, updated=excluded.updated", (key, file_id, time.time()))
    # -- end of picture cards --------------------------------------------------------------------

    # -- events and statistics -------------------------------------------------------------------
    async def record(self, kind: str, user_id: str | None = None, detail: str | None = None) -> None:
        self.db.execute("INSERT INTO events(ts, user_id, kind, detail) VALUES(?,?,?,?)",
                        (time.time(), user_id, kind, detail))

    async def record_unanswered(self, text: str, lang: str, nearest: str | None, user_id: str | None = None,
                                item: Unanswered | None = None) -> None:
        item = item or Unanswered(text, lang, nearest, user_id)
        self.db.execute(_UNANSWERED, _unanswered_row(time.time(), item))

    # -- the review queue and the content overlay -------------------------------------------------
    async def review_waiting(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM unanswered WHERE status=?", (OPEN,)).fetchone()[0]

    async def review_next(self, after: int = 0) -> ReviewItem | None:
        return review_item(self.db.execute(
            "SELECT id, ts, lang, text, kind, step, candidates, score FROM unanswered WHERE status=? AND id>? "
            "ORDER BY id LIMIT 1", (OPEN, after)).fetchone())

    async def review_item(self, item_id: int) -> ReviewItem | None:
        return review_item(self.db.execute(
            "SELECT id, ts, lang, text, kind, step, candidates, score FROM unanswered WHERE status=? AND id=?",
            (OPEN, item_id)).fetchone())

    async def review_close(self, item_id: int, delete: bool = False) -> bool:
        if delete:
            return self.db.execute("DELETE FROM unanswered WHERE id=? AND status=?", (item_id, OPEN)).rowcount == 1
        return self.db.execute("UPDATE unanswered SET status=? WHERE id=? AND status=?",
                               (DONE, item_id, OPEN)).rowcount == 1

    async def review_purge(self, before: float) -> int:
        return self.db.execute("DELETE FROM unanswered WHERE ts<?", (before,)).rowcount

    async def overlay_add(self, example: OverlayExample, item_id: int | None = None) -> bool:
        self.db.execute("SAVEPOINT overlay")
        try:
            if item_id is not None and self.db.execute("UPDATE unanswered SET status=? WHERE id=? AND status=?",
                                                       (DONE, item_id, OPEN)).rowcount != 1:
                self.db.execute("RELEASE overlay")
                return False
            self.db.execute("INSERT INTO content_overlay(kind, target, lang, text, norm, created) VALUES(?,?,?,?,?,?) "
                            "ON CONFLICT DO NOTHING", (example.kind, example.target, example.lang, example.text,
                                                      example.norm, time.time()))
            self.db.execute("UPDATE overlay_version SET version=version+1")
        except BaseException:
            self.db.execute("ROLLBACK TO overlay")
            self.db.execute("RELEASE overlay")
            raise
        self.db.execute("RELEASE overlay")
        return True

    async def overlay_examples(self) -> list[OverlayExample]:
        return [OverlayExample(*row) for row in self.db.execute(
            "SELECT kind, target, lang, text, norm FROM content_overlay ORDER BY id")]

    async def overlay_clear(self) -> int:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            gone = self.db.execute("DELETE FROM content_overlay").rowcount
            self.db.execute("UPDATE overlay_version SET version=version+1")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return gone

    async def overlay_version(self) -> int:
        return self.db.execute("SELECT version FROM overlay_version").fetchone()[0]

    async def stats(self, latest: int = 10) -> dict[str, Any]:
        q = self.db.execute
        count = lambda sql, *a: q(sql, a).fetchone()[0]  # noqa: E731
        return {
            "users": count("SELECT COUNT(*) FROM users"),
            "active_users": count("SELECT COUNT(*) FROM users WHERE active=1"),
            "quizzes_started": count("SELECT COUNT(*) FROM events WHERE kind='quiz_started'"),
            "quizzes_completed": count("SELECT COUNT(*) FROM events WHERE kind='quiz_completed'"),
            "results_by_mode": dict(q("SELECT mode, COUNT(*) FROM results GROUP BY mode ORDER BY mode").fetchall()),
            "results_borderline": count("SELECT COUNT(*) FROM results WHERE borderline=1"),
            "top_faq": q("SELECT detail, COUNT(*) n FROM events WHERE kind='faq' GROUP BY detail "
                         "ORDER BY n DESC, detail LIMIT 10").fetchall(),
            "unanswered": q("SELECT ts, lang, text, nearest FROM unanswered ORDER BY id DESC LIMIT ?",
                            (latest,)).fetchall(),
            "shares": count("SELECT COUNT(*) FROM events WHERE kind='share'"),
            "inline_queries": count("SELECT COUNT(*) FROM events WHERE kind='inline_query'"),
            "inline_chosen": count("SELECT COUNT(*) FROM events WHERE kind='inline_chosen'"),
            "deeplinks": q("SELECT detail, COUNT(*) n FROM events WHERE kind='deeplink' GROUP BY detail "
                           "ORDER BY n DESC, detail LIMIT 10").fetchall(),
            "groups": count("SELECT COUNT(*) FROM groups WHERE active=1"),
            "review_waiting": count("SELECT COUNT(*) FROM unanswered WHERE status=?", OPEN),
        }

    async def export_rows(self, table: str) -> tuple[list[str], list[tuple]]:
        cur = self.db.execute(EXPORT_QUERIES[table])
        return [d[0] for d in cur.description], cur.fetchall()
