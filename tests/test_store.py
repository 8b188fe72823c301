"""The Store interface, the same tests on both backends (SQLite and a real PostgreSQL server), plus the
schema migrations: an SQLite file made by older code upgrades in place with nothing lost."""
from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import pytest

from bot.store import BUSY, BY_HANDLER, COMMITTED, EARLY, HANDLED, Event, SQLiteStore, Turn, open_store
from bot.store.base import EXPORT_TABLES, Unanswered
from bot.store.migrations import LATEST_POSTGRES, LATEST_SQLITE

FIXTURES = Path(__file__).parent / "fixtures"
SESSION = {"s": "capital", "a": {"factory": "own_factory", "experience": "none"}, "r": 2}
ANSWERS = {"factory": "own_factory", "experience": "none", "capital": "limited", "brand": "volume"}


async def test_users_language_source_and_activity(any_store):
    s = any_store
    assert await s.user("1") is None
    user = await s.touch_user("1", "zh", "src_wechat")
    assert (user.lang, user.lang_fixed, user.active, user.source) == ("zh", False, True, "src_wechat")
    user = await s.touch_user("1", "en", "src_other")       # Telegram's language follows; the first source stays
    assert (user.lang, user.source) == ("en", "src_wechat")
    await s.set_lang("1", "zh")                             # chosen with /lang: Telegram's no longer overrides it
    assert (await s.touch_user("1", "en")).lang == "zh"
    assert (await s.user("1")).lang_fixed
    await s.set_active("1", False)
    assert not (await s.user("1")).active
    assert (await s.touch_user("1")).active                 # writing again makes them active
    await s.set_lang("2", "en")                             # a user never seen before
    assert (await s.user("2")).lang == "en"


async def test_callback_answers_are_remembered_the_handlers_over_the_early_one(any_store):
    """Who answered a callback query survives a restart (a redelivered press is not answered again); the
    handler's answer is kept over the dispatcher's early one, whichever is recorded first."""
    assert await any_store.callback_answer("q1") is None
    await any_store.record_callback_answer("q1", EARLY)
    assert await any_store.callback_answer("q1") == EARLY
    await any_store.record_callback_answer("q1", BY_HANDLER)
    await any_store.record_callback_answer("q1", EARLY)
    assert await any_store.callback_answer("q1") == BY_HANDLER
    await any_store.record_callback_answer("q2", BY_HANDLER)
    assert (await any_store.callback_answer("q2"), await any_store.callback_answer("q3")) == (BY_HANDLER, None)


async def test_sessions_round_trip(any_store):
    assert await any_store.load_session("1:1") is None
    await any_store.save_session("1:1", SESSION)
    assert await any_store.load_session("1:1") == SESSION
    await any_store.save_session("1:1", {"s": "result", "a": ANSWERS, "r": 5, "note": "中文"})
    assert (await any_store.load_session("1:1"))["note"] == "中文"


async def test_a_turn_commits_everything_and_marks_its_update(any_store):
    s = any_store
    turn = Turn("7:7", SESSION, [Event("quiz_started", "7"), Event("quiz_completed", "7", "full")],
                [Unanswered("what is the weather", "en", "full_pricing", "7")], ("7", "full", True, ANSWERS),
                update_id=900)
    await s.commit_turn(turn)
    assert await s.load_session("7:7") == SESSION
    assert await s.last_result("7") == ANSWERS
    assert await s.update_state(900) == COMMITTED
    stats = await s.stats()
    assert (stats["quizzes_started"], stats["quizzes_completed"], stats["results_by_mode"],
            stats["results_borderline"]) == (1, 1, {"full": 1}, 1)
    assert [row[1:] for row in stats["unanswered"]] == [("en", "what is the weather", "full_pricing")]
    await s.mark_handled(900)
    assert await s.update_state(900) == HANDLED
    await s.commit_turn(Turn("7:7", {"s": "result"}, update_id=900))    # a late commit never un-handles it
    assert await s.update_state(900) == HANDLED


async def test_a_failing_turn_changes_nothing(any_store):
    s = any_store
    await s.save_session("8:8", SESSION)
    bad = Turn("8:8", {"s": "result"}, [Event("quiz_started", "8"), Event(None, "8")], update_id=901)   # kind NOT NULL
    with pytest.raises(Exception):
        await s.commit_turn(bad)
    assert await s.load_session("8:8") == SESSION
    assert (await s.stats())["quizzes_started"] == 0
    assert await s.update_state(901) is None
    await s.commit_turn(Turn("8:8", {"s": "brand"}, update_id=901))     # the store still works afterwards
    assert await s.update_state(901) == COMMITTED


async def test_claims_one_process(any_store):
    s = any_store
    assert await s.claim(10) is None                     # new: handle it
    assert await s.update_state(10) is None              # a claim alone is not a committed turn
    assert await s.claim(10) is None                     # this process again (an earlier attempt failed)
    await s.commit_turn(Turn("1:1", SESSION, update_id=10))
    assert await s.claim(10) == COMMITTED
    await s.mark_handled(10)
    assert await s.claim(10) == HANDLED
    await s.mark_handled(11)                             # marking without a claim works too
    assert await s.claim(11) == HANDLED


async def test_stats_and_exports(any_store):
    s = any_store
    await s.touch_user("1", "en", "src_a")
    await s.set_group("-100", "A group", True)
    await s.record("faq", "1", "full_pricing")
    await s.record("faq", "1", "full_pricing")
    await s.record("deeplink", "1", "src_a")
    await s.record_unanswered("q?", "en", None, "1")
    stats = await s.stats(latest=5)
    assert stats["users"] == stats["active_users"] == 1
    assert stats["top_faq"] == [("full_pricing", 2)] and stats["deeplinks"] == [("src_a", 1)]
    assert stats["groups"] == 1
    for table in EXPORT_TABLES:
        columns, rows = await s.export_rows(table)
        assert columns and all(len(r) == len(columns) for r in rows)
    columns, rows = await s.export_rows("users")
    assert columns == ["user_id", "lang", "active", "source", "first_seen", "last_seen"]
    assert rows[0][:4] == ("1", "en", 1, "src_a")


async def test_the_store_is_usable_from_many_coroutines_at_once(any_store):
    async def one(i: int) -> None:
        await any_store.touch_user(str(i), "en")
        await any_store.commit_turn(Turn(f"{i}:{i}", {"s": "factory", "i": i}, [Event("quiz_started", str(i))],
                                         update_id=1000 + i))
        assert await any_store.claim(1000 + i) == COMMITTED
    await asyncio.gather(*(one(i) for i in range(40)))
    assert (await any_store.stats())["quizzes_started"] == 40


# -- claims across processes (PostgreSQL) ---------------------------------------------------------------
@pytest.mark.postgres
async def test_a_claim_held_by_a_live_replica_is_busy_until_it_dies(pg_url):
    from bot.coord import PostgresCoordination
    first, second = open_store(pg_url), open_store(pg_url)
    await first.open()
    await second.open()
    alive = PostgresCoordination(first)
    await alive.start(polling=False)                      # holds first's liveness lock
    try:
        assert await first.claim(77) is None
        assert await second.claim(77) == BUSY             # redelivered to another replica while it is handled
        await first.commit_turn(Turn("1:1", SESSION, update_id=77))
        assert await second.claim(77) == BUSY
        await alive.close()                               # the first replica dies: PostgreSQL frees its locks
        assert await second.claim(77) == COMMITTED        # taken over; its turn is not applied again
        assert await first.claim(77) is not None and await first.claim(77) != HANDLED
        await second.mark_handled(77)
        assert await first.claim(77) == HANDLED
    finally:
        await alive.close()
        await first.close()
        await second.close()


@pytest.mark.postgres
async def test_concurrent_claims_of_one_update_only_one_wins(pg_url):
    from bot.coord import PostgresCoordination
    stores = [open_store(pg_url) for _ in range(4)]
    coords = [PostgresCoordination(s) for s in stores]
    for s, c in zip(stores, coords):
        await s.open()
        await c.start(polling=False)
    try:
        for update_id in range(200, 220):
            states = await asyncio.gather(*(s.claim(update_id) for s in stores))
            assert sorted(states, key=str) == [None, BUSY, BUSY, BUSY], states
    finally:
        for s, c in zip(stores, coords):
            await c.close()
            await s.close()


@pytest.mark.postgres
async def test_chat_locks_exclude_other_processes_and_die_with_them(pg_url):
    from bot.coord import PostgresCoordination
    a, b = open_store(pg_url), open_store(pg_url)
    ca, cb = PostgresCoordination(a), PostgresCoordination(b)
    await ca.start(polling=False)
    await cb.start(polling=False)
    order: list[str] = []
    try:
        assert await ca.begin(42, 1001) is None              # chat 42 held, update 1001 claimed
        waiting = asyncio.create_task(_handle(cb, 42, 1002, order))
        await asyncio.sleep(0.2)
        assert order == [], "another process entered a chat that is held"
        await _handle(cb, 43, 1003, order)                    # other chats are not held up
        order.append("a:42 done")
        await ca.end(42, 1001, handled=True)
        await asyncio.wait_for(waiting, 5)
        assert order == ["b:43", "a:42 done", "b:42"]
        assert await cb.begin(42, 1001) == HANDLED            # a redelivery: skipped
        await cb.end(42, 1001, handled=False)
        assert await ca.begin(44, 1004) is None
        blocked = asyncio.create_task(_handle(cb, 44, 1005, order))
        await asyncio.sleep(0.1)
        ca.locks.conn.terminate()                             # the process dies: PostgreSQL ends its session
        await asyncio.wait_for(blocked, 5)
        assert order[-1] == "b:44"
        assert await cb.begin(44, 1004) is None               # the dead process's claim is taken over
        await cb.end(44, 1004, handled=True)
    finally:
        await ca.close()
        await cb.close()
        await a.close()
        await b.close()


async def _handle(coordination, key, update_id, order) -> None:
    assert await coordination.begin(key, update_id) is None
    order.append(f"b:{key}")
    await coordination.end(key, update_id, handled=True)


@pytest.mark.postgres
async def test_a_second_poller_on_the_same_database_is_refused(pg_url):
    from bot.coord import AlreadyRunning, PostgresCoordination
    a, b, c = open_store(pg_url), open_store(pg_url), open_store(pg_url)
    first, second, webhook = PostgresCoordination(a), PostgresCoordination(b), PostgresCoordination(c)
    await first.start(polling=True)
    try:
        with pytest.raises(AlreadyRunning, match="already polling"):
            await second.start(polling=True)
        await webhook.start(polling=False)                 # a webhook replica may join
    finally:
        for x in (first, second, webhook, a, b, c):
            await x.close()


# -- the review queue and the content overlay (bot/content) -------------------------------------------------
async def test_review_queue_and_overlay(any_store):
    from bot.content.overlay import example
    s = any_store
    typed = Unanswered("we resell stuff", "en", "full_pricing", "7", "typed", "factory", ("full_pricing", "fbt"), 0.1)
    await s.commit_turn(Turn("7:7", SESSION, unanswered=[typed], update_id=901))
    await s.record_unanswered("weather?", "en", None, "8")                      # the old log's call still works
    low = Unanswered("who sets prices", "zh", "full_pricing", None, "low", None, ("full_pricing",), 0.3)
    await s.record_unanswered(low.text, low.lang, low.nearest, None, low)
    assert await s.review_waiting() == 3 and (await s.stats())["review_waiting"] == 3
    first = await s.review_next()
    assert (first.text, first.kind, first.step, first.candidates, first.score) == \
        ("we resell stuff", "typed", "factory", ("full_pricing", "fbt"), 0.1)
    second = await s.review_next(first.id)
    assert (second.text, second.kind, second.candidates) == ("weather?", "fallback", ())
    third = await s.review_next(second.id)
    assert (third.kind, third.lang, third.score) == ("low", "zh", 0.3) and await s.review_next(third.id) is None
    # a decision: the example added, the item closed and the version moved in one go; a second time: refused
    ex = example("level", "factory.sourcing", "en", "we resell stuff")
    assert await s.overlay_add(ex, first.id) is True
    assert await s.overlay_add(ex, first.id) is False
    assert await s.overlay_examples() == [ex] and await s.overlay_version() == 1
    assert await s.review_item(first.id) is None and await s.review_waiting() == 2
    assert await s.review_close(second.id, delete=True) and not await s.review_close(second.id)
    assert await s.review_close(third.id) and await s.review_waiting() == 0
    assert await s.overlay_add(example("oos", "", "zh", "天气"))                 # no item behind it (tests, tools)
    assert await s.overlay_version() == 2 and len(await s.overlay_examples()) == 2
    await s.record_unanswered("old one", "en", None)
    assert await s.review_purge(time.time() + 1) >= 1 and await s.review_waiting() == 0   # retention
    assert await s.overlay_clear() == 2 and await s.overlay_examples() == [] and await s.overlay_version() == 3


@pytest.mark.postgres
async def test_a_postgres_database_at_version_4_upgrades_with_its_unanswered_questions(pg_url, monkeypatch):
    import asyncpg

    from bot.store import migrations
    conn = await asyncpg.connect(pg_url)
    try:
        monkeypatch.setattr(migrations, "PG_MIGRATIONS", migrations.PG_MIGRATIONS[:4])
        assert await migrations.migrate_postgres(conn) == [1, 2, 3, 4]
        await conn.execute("INSERT INTO unanswered(ts, user_id, lang, text, nearest) VALUES (1, '5', 'zh', '风险大吗', "
                           "'full_risks')")
        monkeypatch.undo()
    finally:
        await conn.close()
    store = open_store(pg_url)
    await store.open()
    try:
        assert store.migrated == list(range(5, LATEST_POSTGRES + 1))
        item = await store.review_next()
        assert (item.text, item.kind, item.candidates) == ("风险大吗", "fallback", ("full_risks",))
    finally:
        await store.close()


# -- migrations -------------------------------------------------------------------------------------------
async def test_migrations_are_versioned_and_applied_once(tmp_path):
    path = tmp_path / "new.sqlite3"
    store = SQLiteStore(path)
    assert store.migrated == list(range(1, LATEST_SQLITE + 1))
    await store.close()
    again = SQLiteStore(path)
    assert again.migrated == []
    versions = [r[0] for r in again.db.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, LATEST_SQLITE + 1))
    await again.close()


@pytest.mark.postgres
async def test_postgres_migrations_are_versioned_and_applied_once(pg_url):
    first = open_store(pg_url)
    await first.open()
    assert first.migrated == list(range(1, LATEST_POSTGRES + 1))
    racers = [open_store(pg_url) for _ in range(3)]       # replicas starting together: one migrates
    await asyncio.gather(*(r.open() for r in racers))
    assert [r.migrated for r in racers] == [[], [], []]
    for s in (first, *racers):
        await s.close()


def _old_file(tmp_path: Path, fixture: str) -> Path:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript((FIXTURES / fixture).read_text())
    db.close()
    return path


OLD_UNANSWERED = "id, ts, user_id, lang, text, nearest"     # the columns before the review queue (v4)


def _rows(path: Path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(path)
    try:
        rows = {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()   # noqa: S608 - fixed names
                for t in ("users", "sessions", "results", "events", "groups")}
        rows["unanswered"] = db.execute(f"SELECT {OLD_UNANSWERED} FROM unanswered ORDER BY 1").fetchall()  # noqa: S608
        return rows
    finally:
        db.close()


async def test_a_file_from_before_the_async_store_upgrades_in_place_with_nothing_lost(tmp_path):
    """tests/fixtures/store_a8cefb8.sql: made by commit a8cefb8's bot/store.py (make_old_stores.py)."""
    path = _old_file(tmp_path, "store_a8cefb8.sql")
    before = _rows(path)
    store = SQLiteStore(path)
    assert store.migrated == list(range(1, LATEST_SQLITE + 1))
    assert _rows(path) == before                          # every row of every table kept as it was
    assert {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")} >= {"handled_updates"}
    assert not store.db.execute("SELECT 1 FROM sqlite_master WHERE name='seen_updates'").fetchone()
    for update_id in (501, 502, 503):                     # updates seen by the old code are not handled again
        assert await store.claim(update_id) == HANDLED
    assert await store.claim(504) is None
    user = await store.user("1002")
    assert (user.lang, user.lang_fixed, user.active) == ("zh", True, False)
    assert await store.load_session("1001:1001") == SESSION
    assert await store.last_result("1001") == ANSWERS
    stats = await store.stats()
    assert (stats["users"], stats["quizzes_started"], stats["quizzes_completed"], stats["groups"]) == (2, 1, 1, 1)
    await store.commit_turn(Turn("1001:1001", {"s": "result", "a": ANSWERS}, [Event("quiz_started", "1001")],
                                 update_id=504))          # and it takes new writes
    # the old unanswered questions wait for review, their nearest entry as the one candidate (v4)
    item = await store.review_next()
    assert (item.text, item.lang, item.kind, item.candidates) == ("what is the weather", "en", "fallback",
                                                                  ("full_pricing",))
    assert await store.review_waiting() == 1 and await store.overlay_version() == 0
    await store.close()
    assert SQLiteStore(path).migrated == []


async def test_a_file_from_the_first_async_store_upgrades_in_place(tmp_path):
    """tests/fixtures/store_3290947.sql: handled_updates(update_id, done) without versions."""
    path = _old_file(tmp_path, "store_3290947.sql")
    before = _rows(path)
    store = SQLiteStore(path)
    assert store.migrated == list(range(1, LATEST_SQLITE + 1))
    assert _rows(path) == before
    assert await store.claim(601) == HANDLED
    assert await store.claim(602) == COMMITTED            # committed before a crash: resumed, not applied again
    assert await store.last_result("2001") == ANSWERS
    item = await store.review_next()                      # kept for review, with no nearest entry
    assert (item.text, item.candidates, item.step) == ("风险大吗", (), None)
    assert json.loads(before["results"][0][3]) == ANSWERS
    await store.close()
