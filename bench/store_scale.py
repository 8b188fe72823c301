"""Store at scale: the SQLite store (bot.store.SQLiteStore) filled with 100,000 users, each with a session,
most with a result and a few events, plus the 100,000 recent update ids the duplicate check keeps;
then the same per-update work the Telegram handlers do (update_state, touch_user, Conversations.run, mark_handled)
timed against that store and against an empty one. Prints figures; asserts nothing.

Sessions and results are real: a pool of users is driven through the questionnaire by the engine
(random answers; some stop half-way, some answer optional questions, some type a description) and
the 100,000 stored users are drawn from that pool.

    python -m bench store                    # 100,000 users
    python -m bench.store_scale --users 20000
"""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.conversation import Conversations  # noqa: E402
from bot.engine.dialogue import Reply, ResultView  # noqa: E402
from bot.engine.recommend import recommend  # noqa: E402
from bot.services import load_services  # noqa: E402
from bot.store import Event, SQLiteStore, Turn  # noqa: E402

QUESTIONS = ("全托管谁来定价？", "who pays the first-leg freight in semi-managed?", "半托管要备货到海外仓吗",
             "what's the weather tomorrow?")
DESCRIPTIONS = ("我们是东莞的工厂，没做过跨境，资金不多", "we are a trading company with a mature overseas team")


def script(services, rng: random.Random) -> list:
    """One user's actions, as (kind, arg): what the handlers would call the engine with."""
    flow = services.flow
    actions: list = [("view", None)]
    if rng.random() < 0.15:
        actions += [("text", rng.choice(DESCRIPTIONS)), ("confirm", True)]
    for step in flow.core_steps:
        actions.append(("choose", (step.id, rng.choice(flow.choices(step)).id)))
    if rng.random() < 0.3:
        for step in flow.optional_steps:
            actions.append(("choose", (step.id, rng.choice(flow.choices(step)).id)))
    else:
        actions.append(("finish", None))
    actions += [("text", rng.choice(QUESTIONS)) for _ in range(rng.randint(0, 2))]
    return actions


def run_action(services, session, action) -> Reply:
    dialogue = services.dialogue
    kind, arg = action
    if kind == "view":
        return Reply(dialogue.view(session), changed=False)
    if kind == "text":
        return dialogue.text(session, arg, "zh" if any("\u4e00" <= c <= "\u9fff" for c in arg) else "en")
    if kind == "confirm":
        return dialogue.confirm(session, arg)
    if kind == "choose":
        step, option = arg
        if session.state != step:                   # answered from the description already: go on
            return Reply(dialogue.view(session), changed=False)
        return dialogue.choose(session, step, option)
    return dialogue.finish(session)


def session_pool(services, size: int, rng: random.Random) -> list[tuple[dict, dict | None]]:
    """(session dict, answers of the result or None) of users driven through the engine; a fifth stop half-way."""
    pool = []
    for _ in range(size):
        session = services.dialogue.new_session()
        actions = script(services, rng)
        if rng.random() < 0.2:
            actions = actions[: rng.randint(1, 4)]
        for action in actions:
            run_action(services, session, action)
        view = services.dialogue.view(session)
        pool.append((session.to_dict(), dict(session.answers) if isinstance(view, ResultView) else None))
    return pool


async def fill(store: SQLiteStore, services, users: int, rng: random.Random) -> float:
    """`users` users with sessions, results and events, written through the Store's own methods."""
    pool = session_pool(services, 2000, rng)
    results = {}
    t0 = time.perf_counter()
    store.db.execute("BEGIN")
    for i in range(users):
        uid = str(1_000_000_000 + i)
        data, answers = pool[rng.randrange(len(pool))]
        await store.touch_user(uid, rng.choice(("zh", "en")), "channel" if rng.random() < 0.1 else None)
        await store.save_session(f"{uid}:{uid}", data)
        await store.record("quiz_started", uid)
        if answers is not None:
            key = tuple(sorted(answers.items()))
            if key not in results:
                results[key] = recommend(services.flow, services.rules, answers)
            rec = results[key]
            await store.commit_turn(Turn(f"{uid}:{uid}", data, [Event("quiz_completed", uid, rec.mode)],
                                         result=(uid, rec.mode, rec.borderline, answers)))
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            await store.record("faq", uid, rng.choice(sorted(services.kb.by_id)))
        if rng.random() < 0.05:
            await store.record_unanswered(rng.choice(QUESTIONS), "en", None, uid)
        if i % 5000 == 4999:
            store.db.execute("COMMIT")
            store.db.execute("BEGIN")
    store.db.execute("COMMIT")
    store.db.execute("BEGIN")
    for update_id in range(1, min(users, 100_000) + 1):     # the duplicate check keeps the last 100,000
        await store.mark_handled(update_id)
    store.db.execute("COMMIT")
    return time.perf_counter() - t0


class TimedConnection:
    """Wraps the store's sqlite3 connection: time spent in SQLite (execute and the fetch after it)."""

    def __init__(self, db):
        self.db, self.spent = db, 0.0

    def execute(self, *args):
        t0 = time.perf_counter()
        cursor = self.db.execute(*args)
        self.spent += time.perf_counter() - t0
        return TimedCursor(cursor, self)

    def __getattr__(self, name):
        return getattr(self.db, name)


class TimedCursor:
    def __init__(self, cursor, owner: TimedConnection):
        self.cursor, self.owner = cursor, owner

    def _timed(self, method):
        t0 = time.perf_counter()
        result = method()
        self.owner.spent += time.perf_counter() - t0
        return result

    def fetchone(self):
        return self._timed(self.cursor.fetchone)

    def fetchall(self):
        return self._timed(self.cursor.fetchall)

    def __getattr__(self, name):
        return getattr(self.cursor, name)


async def workload(store: SQLiteStore, services, users: int, seed: int, first_update: int,
             uid_base: int = 2_000_000_000) -> tuple[list[float], float, int]:
    """What the handlers do with the store per update, for `users` new users doing a whole questionnaire
    (interleaved, like concurrent users): returns per-update wall times, total CPU, updates."""
    rng = random.Random(seed)
    conv = Conversations(services, store)
    scripts = {str(uid_base + i): script(services, rng) for i in range(users)}
    order = [uid for uid, actions in scripts.items() for _ in actions]
    rng.shuffle(order)
    position = dict.fromkeys(scripts, 0)
    times, in_sqlite = [], []
    update_id = first_update
    raw, store.db = store.db, TimedConnection(store.db)
    cpu0 = time.process_time()
    try:
        for uid in order:
            action = scripts[uid][position[uid]]
            position[uid] += 1
            update_id += 1
            spent0, t0 = store.db.spent, time.perf_counter()
            await store.update_state(update_id)
            await store.touch_user(uid, "en")
            await conv.run(f"{uid}:{uid}", uid, lambda s, a=action: run_action(services, s, a), update_id)
            await store.mark_handled(update_id)
            times.append(time.perf_counter() - t0)
            in_sqlite.append(store.db.spent - spent0)
    finally:
        store.db = raw
    return times, in_sqlite, time.process_time() - cpu0, len(order)


def table_bytes(store: SQLiteStore) -> dict[str, int]:
    """Bytes per table and index (SQLite's dbstat), or {} when this SQLite lacks it."""
    try:
        rows = store.db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    except Exception:  # noqa: BLE001 - dbstat is optional
        return {}
    return dict(rows)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6


def main(argv: list[str] | None = None) -> None:
    asyncio.run(_main(argv))


async def _main(argv: list[str] | None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.store_scale", description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--probe-users", type=int, default=300,
                        help="new users doing a questionnaire per measured pass")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv or [])
    services = load_services()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        full = SQLiteStore(Path(tmp) / "full.sqlite3")
        fill_s = await fill(full, services, args.users, random.Random(args.seed))
        full.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(tmp) / "full.sqlite3"
        size = path.stat().st_size
        per_table = table_bytes(full)
        counts = {t: full.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]   # noqa: S608 - fixed names
                  for t in ("users", "sessions", "results", "events", "unanswered", "handled_updates")}
        t0 = time.perf_counter()
        await full.stats()
        stats_ms = (time.perf_counter() - t0) * 1000
        # Both stores get one unmeasured pass first (other users): it warms the engine's caches and
        # grows each store's WAL file to its working size, so neither pass pays for that.
        empty = SQLiteStore(Path(tmp) / "empty.sqlite3")
        for store, first in ((empty, 0), (full, 10**6)):
            await workload(store, services, args.probe_users, args.seed - 1, first_update=first, uid_base=3_000_000_000)
        measured = {"empty": [], "full": []}
        for p in range(args.passes):                 # alternate the order, so drift hits both alike
            stores = [("empty", empty, 0), ("full", full, 10**6)]
            for name, store, first in stores if p % 2 == 0 else stores[::-1]:
                measured[name].append(await workload(store, services, args.probe_users, args.seed + p,
                                               first_update=first + (p + 1) * 10**5,
                                               uid_base=2_000_000_000 + p * 10**6))
        await empty.close()
        await full.close()
    print(f"Store at scale: SQLite, {args.users:,} users (fill {fill_s:.1f} s); per update: update_state + touch_user + "
          f"Conversations.run + mark_handled, {args.probe_users} new users x a whole questionnaire per pass, {args.passes} passes; "
          f"'empty' holds only the {args.probe_users} users of its warm-up pass")
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    print(f"file {size / 1e6:.1f} MB = {size / args.users:,.0f} bytes per user (target < 4,096)")
    if per_table:
        print("  by table/index: " + ", ".join(f"{k} {v / args.users:,.0f}" for k, v in per_table.items()
                                              if v / args.users >= 1) + " (bytes per user)")
    print(f"{'store':<7} {'updates':>8} {'p50 us':>7} {'p95 us':>7} {'p99 us':>7} {'mean us':>8} {'CPU us':>7} "
          f"{'in SQLite us':>12}   (per update; mean, CPU and SQLite: median of the passes)")
    summary = {}
    for name, runs in measured.items():
        times = [t for r in runs for t in r[0]]
        n = sum(r[3] for r in runs)
        mean = statistics.median(statistics.fmean(r[0]) for r in runs) * 1e6
        cpu = statistics.median(r[2] / r[3] for r in runs) * 1e6
        sql = statistics.median(statistics.fmean(r[1]) for r in runs) * 1e6
        summary[name] = (mean, cpu, sql)
        print(f"{name:<7} {n:>8} {pct(times, .5):>7.0f} {pct(times, .95):>7.0f} {pct(times, .99):>7.0f} {mean:>8.0f} "
              f"{cpu:>7.0f} {sql:>12.0f}")
    (meane, cpue, sqle), (meanf, cpuf, sqlf) = summary["empty"], summary["full"]
    print(f"full vs empty: latency {meanf / meane - 1:+.0%}, CPU {cpuf / cpue - 1:+.0%}, time in SQLite "
          f"{sqlf / sqle - 1:+.0%} (target: latency within +20%); /stats at this size: {stats_ms:.0f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])
