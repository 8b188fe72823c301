"""Store at scale, for each backend: the store (SQLite, then PostgreSQL on a throwaway server) filled with
100,000 users, each with a session, most with a result and a few events, plus the 100,000 recent update
ids the duplicate check keeps; then the same per-update work the Telegram handlers do (claim, touch_user,
Conversations.run, mark_handled) timed against that store and against an empty one. Prints figures;
asserts nothing. PostgreSQL runs with synchronous_commit=off (like SQLite's WAL with synchronous=NORMAL:
a commit survives the process, not necessarily the machine).

Sessions and results are real: a pool of users is driven through the questionnaire by the engine
(random answers; some stop half-way, some answer optional questions, some type a description) and
the 100,000 stored users are drawn from that pool.

    python -m bench store                    # 100,000 users, both backends
    python -m bench.store_scale --users 20000 --backend postgres
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
from bot.store import Event, SQLiteStore, Turn, open_store  # noqa: E402
from tests.pg_server import PostgresServer  # noqa: E402

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


async def fill(store, services, users: int, rng: random.Random) -> float:
    """`users` users with sessions, results and events, written through the Store's own methods
    (SQLite: in transactions of 5,000 users; PostgreSQL: 16 users at a time over its pool)."""
    pool = session_pool(services, 2000, rng)
    results = {}
    sqlite = isinstance(store, SQLiteStore)

    async def one(i: int, data, answers) -> None:
        uid = str(1_000_000_000 + i)
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

    t0 = time.perf_counter()
    if sqlite:
        store.db.execute("BEGIN")
    batch = []
    for i in range(users):
        batch.append(one(i, *pool[rng.randrange(len(pool))]))
        if len(batch) == (1 if sqlite else 16):
            await asyncio.gather(*batch)
            batch = []
        if sqlite and i % 5000 == 4999:
            store.db.execute("COMMIT")
            store.db.execute("BEGIN")
    await asyncio.gather(*batch)
    if sqlite:
        store.db.execute("COMMIT")
        store.db.execute("BEGIN")
        for update_id in range(1, min(users, 100_000) + 1):     # the duplicate check keeps the last 100,000
            await store.mark_handled(update_id)
        store.db.execute("COMMIT")
    else:
        await (await store._pool()).execute(
            "INSERT INTO handled_updates(update_id, done, finished) SELECT g, 1, 0 FROM generate_series(1, $1) g",
            min(users, 100_000))
    return time.perf_counter() - t0


class TimedStore:
    """Wraps a store: time spent inside its coroutines (the database's share of an update)."""

    def __init__(self, store):
        self.store, self.spent = store, 0.0

    def __getattr__(self, name):
        target = getattr(self.store, name)
        if not callable(target) or name.startswith("_"):
            return target

        async def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return await target(*args, **kwargs)
            finally:
                self.spent += time.perf_counter() - t0
        return timed


async def workload(store, services, users: int, seed: int, first_update: int,
                   uid_base: int = 2_000_000_000) -> tuple[list[float], list[float], float, int]:
    """What the handlers do with the store per update, for `users` new users doing a whole questionnaire
    (interleaved, like concurrent users): returns per-update wall times, time in the store, total CPU, updates."""
    rng = random.Random(seed)
    timed = TimedStore(store)
    conv = Conversations(services, timed)
    scripts = {str(uid_base + i): script(services, rng) for i in range(users)}
    order = [uid for uid, actions in scripts.items() for _ in actions]
    rng.shuffle(order)
    position = dict.fromkeys(scripts, 0)
    times, in_store = [], []
    update_id = first_update
    cpu0 = time.process_time()
    for uid in order:
        action = scripts[uid][position[uid]]
        position[uid] += 1
        update_id += 1
        spent0, t0 = timed.spent, time.perf_counter()
        await timed.claim(update_id)
        await timed.touch_user(uid, "en")
        await conv.run(f"{uid}:{uid}", uid, lambda s, a=action: run_action(services, s, a), update_id)
        await timed.mark_handled(update_id)
        times.append(time.perf_counter() - t0)
        in_store.append(timed.spent - spent0)
    return times, in_store, time.process_time() - cpu0, len(order)


async def table_bytes(store) -> dict[str, int]:
    """Bytes per table and index (SQLite's dbstat; PostgreSQL's pg_total_relation_size), or {}."""
    try:
        if isinstance(store, SQLiteStore):
            return dict(store.db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall())
        rows = await (await store._pool()).fetch(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind='r' "
            "AND relnamespace='public'::regnamespace ORDER BY 2 DESC")
        return {r[0]: r[1] for r in rows}
    except Exception:  # noqa: BLE001 - dbstat is optional
        return {}


async def count_rows(store, table: str) -> int:
    sql = f"SELECT COUNT(*) FROM {table}"    # noqa: S608 - fixed names
    if isinstance(store, SQLiteStore):
        return store.db.execute(sql).fetchone()[0]
    return await (await store._pool()).fetchval(sql)


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
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv or [])
    services = load_services()
    summaries = {}
    for backend in ("sqlite", "postgres") if args.backend == "both" else (args.backend,):
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            if backend == "sqlite":
                summaries[backend] = await one_backend(backend, args, services, lambda name: f"sqlite:///{tmp}/{name}.sqlite3")
            else:
                with PostgresServer(fast=False) as pg:
                    pg.psql("ALTER SYSTEM SET synchronous_commit = off")
                    pg.psql("SELECT pg_reload_conf()")
                    summaries[backend] = await one_backend(backend, args, services, lambda name: pg.new_database(name))
    if len(summaries) == 2:
        (_, s_mean, s_cpu, s_p99), (_, p_mean, p_cpu, p_p99) = summaries["sqlite"], summaries["postgres"]
        print(f"postgres vs sqlite, full store, per update: mean {p_mean - s_mean:+.0f} us, p99 {p_p99 - s_p99:+.0f} us, "
              f"CPU of this process {p_cpu - s_cpu:+.0f} us (the database server's own CPU not included)")


async def one_backend(backend: str, args, services, url_for) -> tuple:
    full = open_store(url_for("full"))
    await full.open()
    fill_s = await fill(full, services, args.users, random.Random(args.seed))
    size = 0
    if isinstance(full, SQLiteStore):
        full.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = Path(full.path).stat().st_size
    else:
        await (await full._pool()).execute("VACUUM ANALYZE")
        size = await (await full._pool()).fetchval("SELECT pg_database_size(current_database())")
    per_table = await table_bytes(full)
    counts = {t: await count_rows(full, t)
              for t in ("users", "sessions", "results", "events", "unanswered", "handled_updates")}
    t0 = time.perf_counter()
    await full.stats()
    stats_ms = (time.perf_counter() - t0) * 1000
    # Both stores get one unmeasured pass first (other users): it warms the engine's caches and the
    # store (SQLite's WAL file, PostgreSQL's prepared statements), so neither pass pays for that.
    empty = open_store(url_for("empty"))
    await empty.open()
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
    print(f"Store at scale: {backend}, {args.users:,} users (fill {fill_s:.1f} s); per update: claim + touch_user + "
          f"Conversations.run + mark_handled, {args.probe_users} new users x a whole questionnaire per pass, {args.passes} passes; "
          f"'empty' holds only the {args.probe_users} users of its warm-up pass")
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    print(f"{'file' if backend == 'sqlite' else 'database'} {size / 1e6:.1f} MB = {size / args.users:,.0f} bytes per user "
          f"(target < 4,096)")
    if per_table:
        print("  by table/index: " + ", ".join(f"{k} {v / args.users:,.0f}" for k, v in per_table.items()
                                              if v / args.users >= 1) + " (bytes per user)")
    print(f"{'store':<7} {'updates':>8} {'p50 us':>7} {'p95 us':>7} {'p99 us':>7} {'mean us':>8} {'CPU us':>7} "
          f"{'in store us':>11}   (per update; mean, CPU and in store: median of the passes)")
    summary = {}
    for name, runs in measured.items():
        times = [t for r in runs for t in r[0]]
        n = sum(r[3] for r in runs)
        mean = statistics.median(statistics.fmean(r[0]) for r in runs) * 1e6
        cpu = statistics.median(r[2] / r[3] for r in runs) * 1e6
        inside = statistics.median(statistics.fmean(r[1]) for r in runs) * 1e6
        summary[name] = (mean, cpu, inside, pct(times, .99))
        print(f"{name:<7} {n:>8} {pct(times, .5):>7.0f} {pct(times, .95):>7.0f} {pct(times, .99):>7.0f} {mean:>8.0f} "
              f"{cpu:>7.0f} {inside:>11.0f}")
    (meane, cpue, ine, _), (meanf, cpuf, inf_, p99f) = summary["empty"], summary["full"]
    print(f"full vs empty: latency {meanf / meane - 1:+.0%}, CPU {cpuf / cpue - 1:+.0%}, time in the store "
          f"{inf_ / ine - 1:+.0%} (target: latency within +20%); /stats at this size: {stats_ms:.0f} ms")
    return backend, meanf, cpuf, p99f


if __name__ == "__main__":
    main(sys.argv[1:])
