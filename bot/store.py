"""Persistence behind a small interface: users, dialogue sessions, last results, events, unanswered questions.

SQLite is the embedded default (one file, no server). Every write commits at once, so a reply
is only sent after the state it shows is on disk. All SQL is parameterised. A Redis or PostgreSQL
backend would implement the same methods.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
PRAGMA journal_mode=WAL;
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
CREATE TABLE IF NOT EXISTS seen_updates (update_id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS unanswered (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, user_id TEXT, lang TEXT, text TEXT NOT NULL, nearest TEXT);
"""


@dataclass
class User:
    user_id: str
    lang: str | None
    lang_fixed: bool
    active: bool
    source: str | None


def sqlite_path(database_url: str) -> str:
    """`sqlite:///data/bot.sqlite3` -> `data/bot.sqlite3`; `sqlite:////abs/path` -> `/abs/path`."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        raise ValueError(f"only sqlite:/// URLs are supported, got {database_url.split(':', 1)[0]}:")
    path = database_url[len(prefix):]
    return path or ":memory:"


class Store:
    def __init__(self, path: str | Path = ":memory:"):
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.executescript(SCHEMA)
        self.db.execute("PRAGMA synchronous=NORMAL")

    @classmethod
    def from_url(cls, database_url: str) -> "Store":
        return cls(sqlite_path(database_url))

    def close(self) -> None:
        self.db.close()

    # -- updates ---------------------------------------------------------------------------------
    def first_sight(self, update_id: int) -> bool:
        """True the first time an update id is seen: a redelivered update (after a crash) is skipped."""
        cur = self.db.execute("INSERT OR IGNORE INTO seen_updates(update_id) VALUES(?)", (update_id,))
        if cur.rowcount and update_id % 1000 == 0:
            self.db.execute("DELETE FROM seen_updates WHERE update_id < ?", (update_id - 100_000,))
        return cur.rowcount == 1

    # -- users ----------------------------------------------------------------------------------
    def user(self, user_id: str) -> User | None:
        row = self.db.execute("SELECT user_id, lang, lang_fixed, active, source FROM users WHERE user_id=?",
                              (user_id,)).fetchone()
        return User(row[0], row[1], bool(row[2]), bool(row[3]), row[4]) if row else None

    def touch_user(self, user_id: str, lang: str | None = None, source: str | None = None) -> User:
        """Create the user if new (recording language and source), mark them active and seen now."""
        now = time.time()
        self.db.execute(
            "INSERT INTO users(user_id, lang, source, first_seen, last_seen) VALUES(?,?,?,?,?) "
            "ON CONFLICT(user_id) DO UPDATE SET last_seen=excluded.last_seen, active=1, "
            "lang=CASE WHEN users.lang_fixed THEN users.lang ELSE COALESCE(excluded.lang, users.lang) END, "
            "source=COALESCE(users.source, excluded.source)",
            (user_id, lang, source, now, now))
        return self.user(user_id)

    def set_lang(self, user_id: str, lang: str) -> None:
        self.touch_user(user_id)
        self.db.execute("UPDATE users SET lang=?, lang_fixed=1 WHERE user_id=?", (lang, user_id))

    def set_active(self, user_id: str, active: bool) -> None:
        self.db.execute("UPDATE users SET active=? WHERE user_id=?", (int(active), user_id))

    def set_group(self, chat_id: str, title: str, active: bool) -> None:
        self.db.execute("INSERT INTO groups(chat_id, title, active, updated) VALUES(?,?,?,?) "
                        "ON CONFLICT(chat_id) DO UPDATE SET title=excluded.title, active=excluded.active, "
                        "updated=excluded.updated", (chat_id, title[:200], int(active), time.time()))

    # -- sessions -------------------------------------------------------------------------------
    def load_session(self, key: str) -> dict | None:
        row = self.db.execute("SELECT data FROM sessions WHERE key=?", (key,)).fetchone()
        if not row:
            return None
        try:
            return json.loads(row[0])
        except ValueError:
            return None

    def save_session(self, key: str, data: dict) -> None:
        self.db.execute("INSERT INTO sessions(key, data, updated) VALUES(?,?,?) "
                        "ON CONFLICT(key) DO UPDATE SET data=excluded.data, updated=excluded.updated",
                        (key, json.dumps(data, separators=(",", ":"), ensure_ascii=False), time.time()))

    # -- results --------------------------------------------------------------------------------
    def save_result(self, user_id: str, mode: str, borderline: bool, answers: dict[str, str]) -> None:
        self.db.execute("INSERT INTO results(user_id, mode, borderline, answers, created) VALUES(?,?,?,?,?) "
                        "ON CONFLICT(user_id) DO UPDATE SET mode=excluded.mode, borderline=excluded.borderline, "
                        "answers=excluded.answers, created=excluded.created",
                        (user_id, mode, int(borderline), json.dumps(answers, separators=(",", ":")), time.time()))

    def last_result(self, user_id: str) -> dict[str, str] | None:
        row = self.db.execute("SELECT answers FROM results WHERE user_id=?", (user_id,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- events and statistics -------------------------------------------------------------------
    def record(self, kind: str, user_id: str | None = None, detail: str | None = None) -> None:
        self.db.execute("INSERT INTO events(ts, user_id, kind, detail) VALUES(?,?,?,?)",
                        (time.time(), user_id, kind, detail))

    def record_unanswered(self, text: str, lang: str, nearest: str | None, user_id: str | None = None) -> None:
        self.db.execute("INSERT INTO unanswered(ts, user_id, lang, text, nearest) VALUES(?,?,?,?,?)",
                        (time.time(), user_id, lang, text[:1000], nearest))

    def stats(self, latest: int = 10) -> dict[str, Any]:
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
        }

    def export_rows(self, table: str) -> tuple[list[str], list[tuple]]:
        """Column names and rows of one exportable table."""
        queries = {
            "users": "SELECT user_id, lang, active, source, first_seen, last_seen FROM users ORDER BY first_seen",
            "results": "SELECT user_id, mode, borderline, answers, created FROM results ORDER BY created",
            "events": "SELECT ts, user_id, kind, detail FROM events ORDER BY id",
            "unanswered": "SELECT ts, user_id, lang, text, nearest FROM unanswered ORDER BY id",
            "groups": "SELECT chat_id, title, active, updated FROM groups ORDER BY updated",
        }
        cur = self.db.execute(queries[table])
        return [d[0] for d in cur.description], cur.fetchall()
