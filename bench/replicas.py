"""Replica benchmark: 2-3 webhook replicas of the bot (`python -m bot run`) on one PostgreSQL database,
behind a round-robin proxy (tests/proxy.py), the fake Bot API delivering updates by webhook with
Telegram's limits enforced; compared with one webhook process on SQLite. Figures only.

Runs (bench/load.py's scenarios and users):
  human     50 users at a human pace (1-3 s between actions)
  burst     300 users send /start at the same moment
  kill      30 users tapping through questionnaires while one replica is SIGKILLed and restarted, twice;
            then SIGTERM of a replica with updates in flight (the drain)

Checked from the replicas' JSON logs (one line per update at DEBUG) and the database: updates lost
(pushed, never handled), handled twice (applied by two handlings), out of order within a chat (a chat's
updates applied in another order than Telegram's, or overlapping in time), 429s, users stuck.

    python -m bench replicas                 # ~4 minutes
    python -m bench.replicas --quick
"""
from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import (TELEGRAM_RATE, Figures, Tally, burst, human_paced, our_choice, percentile,  # noqa: E402
                        scripted_user)
from tests.fakebot import FakeTelegram, free_port  # noqa: E402
from tests.fakebot.records import SEND_METHODS  # noqa: E402
from tests.pg_server import PostgresServer  # noqa: E402
from tests.process_harness import CrashReport, Expected, Flow, crash_user  # noqa: E402
from tests.proxy import RoundRobinProxy  # noqa: E402
from tests.replica_harness import Audit, Replicas, audit, drain  # noqa: E402

async def warm_up(fake: FakeTelegram, processes: int) -> None:
    """A few users per process through a whole questionnaire, at a person's pace; not measured."""
    flow = Flow.load()
    tally = Tally()
    rng = random.Random(1)
    await asyncio.gather(*(scripted_user(fake, 600_000 + i, "en", our_choice(flow, flow.plan(rng)),
                                         lambda: rng.uniform(1.0, 1.3), tally) for i in range(4 * processes)))


def reply_latencies(fake: FakeTelegram, records: list) -> list[float]:
    """Per update: from becoming available to the bot's first message or edit in its chat after that.

    (The fake stamps `replied_at` only on updates it has seen delivered, and a webhook delivery counts as
    delivered once answered, which is after the reply: so it is computed here, the same for every run.)"""
    sends: dict[int, list[float]] = defaultdict(list)
    for call in fake.call_log:
        if call.method in SEND_METHODS and call.status == 200 and "chat_id" in call.params:
            try:
                sends[int(call.params["chat_id"])].append(call.at)
            except (TypeError, ValueError):
                continue
    out = []
    for record in records:
        times = sends.get(record.chat_id, [])
        i = bisect.bisect_left(times, record.available_at)
        if i < len(times):
            out.append(times[i] - record.available_at)
    return out


# -- runs ---------------------------------------------------------------------------------------------------
@dataclass
class Run:
    label: str
    figures: Figures
    audit: Audit | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def measured(scenario: str, label: str, n: int, database_url: str | None, drive: Callable, users: int,
                   workdir: Path) -> Run:
    """n webhook processes on `database_url` (SQLite in workdir when None) behind the proxy; run `drive`."""
    async with FakeTelegram(flood_limits=True) as fake:
        ports = [free_port() for _ in range(n)]
        async with RoundRobinProxy([f"http://127.0.0.1:{p}" for p in ports]) as proxy:
            url = database_url or f"sqlite:///{workdir / f'{scenario}-{label}.sqlite3'}"
            replicas = Replicas(fake, workdir, url, n, proxy, ports)
            for i, bot in enumerate(replicas.bots):
                bot.log = workdir / f"{scenario}-{label}-{i}.log"
            await replicas.start()
            await warm_up(fake, n)                     # every process past its first updates (lazy imports,
            first = len(fake.updates.records)          # prepared statements), as in a long-running deployment
            flood0 = fake.flood.sent_429
            tally = Tally()
            cpu0, wall0, own0 = replicas.cpu_seconds(), time.monotonic(), time.process_time()
            extra = await drive(fake, tally) or {}
            wall, own = time.monotonic() - wall0, time.process_time() - own0
            cpu = replicas.cpu_seconds() - cpu0
            rss = max(b.peak_rss_mb() for b in replicas.bots)
            try:
                await fake.notifier.wait_until(lambda: not fake.updates.pending, 20)
            except TimeoutError:
                pass
            await replicas.stop()
            records = fake.updates.records[first:]
            latencies = reply_latencies(fake, records)
            result = audit(replicas, database_url, first) if database_url else None
            notes = list(tally.failures[:3]) + [f"rejected: {r.method} {r.description}" for r in fake.rejections[:3]]
            missing = len(records) - len(latencies)
            figures = Figures(scenario, label, users, len(records), wall, percentile(latencies, .5) * 1000,
                              percentile(latencies, .95) * 1000, percentile(latencies, .99) * 1000,
                              cpu / max(1, len(records)) * 1000, rss, fake.flood.sent_429 - flood0,
                              len(tally.failures) + len(fake.rejections) + missing,
                              own / wall if wall else 0.0, notes=notes, extra=extra)
            handling = sorted(x["ms"] for x in replicas.log_lines() if x.get("outcome") and x["update_id"] > first)
            return Run(label, figures, await result if result else None,
                       {"proxy": dict(proxy.sent), "handle_p50": percentile(handling, .5),
                        "handle_p99": percentile(handling, .99)})


async def kill_run(database_url: str, workdir: Path, users: int, n: int, kills: int, seed: int) -> dict[str, Any]:
    """bench/load.py's crash users (tap through questionnaires at a person's pace, tap again when nothing
    happens for 4 s, check each result is exactly their answers, start over) while one replica is
    SIGKILLed and restarted `kills` times; then a SIGTERM drain with updates in flight."""
    flow, expected = Flow.load(), Expected()
    rng = random.Random(seed)
    report = CrashReport(users)
    out: dict[str, Any] = {}
    async with FakeTelegram(flood_limits=True) as fake:
        ports = [free_port() for _ in range(n)]
        async with RoundRobinProxy([f"http://127.0.0.1:{p}" for p in ports]) as proxy:
            replicas = Replicas(fake, workdir, database_url, n, proxy, ports)
            await replicas.start()
            killer_done = asyncio.Event()
            plans: dict[int, dict[str, str]] = {}

            async def killer() -> None:
                for k in range(kills):
                    await asyncio.sleep(rng.uniform(4, 8))
                    replicas.kill(k % n)
                    report.kills += 1
                    await asyncio.sleep(rng.uniform(0.5, 1.5))
                    await replicas.restart(k % n)
                await asyncio.sleep(2)
                killer_done.set()

            t0 = time.monotonic()
            deadline = t0 + 180
            await asyncio.gather(killer(), *(
                crash_user(fake, 700_000 + i, flow, expected, random.Random(seed * 7919 + i), killer_done, report,
                           plans, (1.0, 2.0), 4.0, deadline) for i in range(users)))
            out["elapsed"] = time.monotonic() - t0
            out.update(await drain(fake, replicas, 0))
            await replicas.stop()
            result = await audit(replicas, database_url)
            out.update(users=users, kills=report.kills, rounds=report.rounds, resends=report.resends,
                       stuck=len(report.stuck), mismatches=report.mismatches[:3], updates=result.updates,
                       lost=result.lost, twice=result.twice, out_of_order=result.out_of_order[:3],
                       resumed=result.resumed, skipped=result.skipped, errors=result.errors[:3],
                       flood_429=fake.flood.sent_429, rejections=[r.description for r in fake.rejections[:3]],
                       unanswered=len(fake.unanswered_callback_queries()), proxy_refused=sum(proxy.refused.values()),
                       proxy_failed=sum(proxy.failed.values()))
    return out


def print_runs(runs: list[Run]) -> None:
    print(f"{'scenario':<8} {'setup':<14} {'users':>5} {'updates':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
          f"{'handle p50':>10} {'handle p99':>10} {'CPU ms/upd':>10} {'429s':>5} {'errors':>6} {'lost':>5} {'twice':>5} "
          f"{'order':>5}")
    for r in runs:
        f, a = r.figures, r.audit
        audit_cols = f"{len(a.lost):>5} {len(a.twice):>5} {len(a.out_of_order):>5}" if a else f"{'-':>5} {'-':>5} {'-':>5}"
        print(f"{f.scenario:<8} {r.label:<14} {f.users:>5} {f.updates:>7} {f.p50:>7.1f} {f.p95:>7.1f} {f.p99:>7.1f} "
              f"{r.extra['handle_p50']:>10.1f} {r.extra['handle_p99']:>10.1f} {f.cpu_per_update_ms:>10.2f} "
              f"{f.flood_429:>5} {f.errors:>6} {audit_cols}")
        for note in f.notes[:3] + (a.errors[:2] + a.out_of_order[:2] if a else []):
            print(f"{'':<8} ! {str(note)[:160]}")


async def run(args: argparse.Namespace) -> None:
    flow = Flow.load()
    only = set(args.only or ("human", "burst", "kill"))
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp, \
            PostgresServer(fast=False, max_connections=100) as pg:
        pg.psql("ALTER SYSTEM SET synchronous_commit = off")
        pg.psql("SELECT pg_reload_conf()")
        workdir = Path(tmp)
        n = args.replicas
        for scenario in ("human", "burst"):
            if scenario not in only:
                continue
            users = args.users if scenario == "human" else args.burst_users
            for label, count, url in (("sqlite x1", 1, None), ("postgres x1", 1, "pg"), (f"postgres x{n}", n, "pg")):
                drive = human_paced(flow, users, args.seed) if scenario == "human" else burst(users)
                db = pg.new_database("b") if url else None
                runs.append(await measured(scenario, label, count, db, drive, users, workdir))
        print(f"Replicas: the bot as {n} webhook processes on PostgreSQL {pg.bindir.parent.name} (synchronous_commit=off, "
              f"like SQLite's WAL + synchronous=NORMAL) behind a round-robin proxy, vs one webhook process on SQLite; "
              f"fake Bot API enforcing Telegram's limits, delivering by webhook; {os.cpu_count()} CPUs; seed {args.seed}")
        if runs:
            print_runs(runs)
            print("latency: update available -> first reply call in its chat; handle: the bot's own time per update "
                  "(its log line: claim, handling, mark); CPU: utime+stime of every bot process per update; "
                  "lost/twice/order: from the database and the replicas' logs (PostgreSQL runs)")
            by = {(r.figures.scenario, r.label): r.figures for r in runs}
            runs_by = {(r.figures.scenario, r.label): r for r in runs}
            base = by.get(("human", "sqlite x1"))
            for label in ("postgres x1", f"postgres x{n}"):
                p = by.get(("human", label))
                if base and p:
                    hp, hb = runs_by[("human", label)].extra, runs_by[("human", "sqlite x1")].extra
                    print(f"human pace, {label} vs sqlite x1: p99 {p.p99:.1f} vs {base.p99:.1f} ms = {p.p99 - base.p99:+.1f} ms "
                          f"(target < +10 ms); p50 {p.p50 - base.p50:+.1f} ms; handling p99 {hp['handle_p99'] - hb['handle_p99']:+.1f} ms, "
                          f"p50 {hp['handle_p50'] - hb['handle_p50']:+.1f} ms; CPU per update {p.cpu_per_update_ms:.2f} vs "
                          f"{base.cpu_per_update_ms:.2f} ms = {p.cpu_per_update_ms / base.cpu_per_update_ms - 1:+.0%} "
                          f"(target within 20%)")
            for (scenario, kind), f in by.items():
                if scenario == "burst":
                    x = f.extra
                    print(f"burst ({kind}): {x['served']}/{f.users} served in {x['all_served_s']:.1f} s; {x['messages']} "
                          f"messages, minimum at {TELEGRAM_RATE:.0f}/s = {x['minimum_s']:.1f} s; ratio "
                          f"{x['all_served_s'] / x['minimum_s']:.2f}x (target <= 1.1x), 429s {f.flood_429} (target 0)")
        if "kill" in only:
            r = await kill_run(pg.new_database("k"), workdir, args.kill_users, n, args.kills, args.seed)
            print(f"kill: {r['users']} users, {r['kills']} SIGKILLs of a replica (+ restart) in {r['elapsed']:.0f} s; "
                  f"{r['rounds']} questionnaires completed, each with exactly its answers unless listed; {r['updates']} "
                  f"updates; lost {len(r['lost'])}, handled twice {len(r['twice'])}, out of order "
                  f"{len(r['out_of_order'])} (targets 0); users stuck {r['stuck']}; 429s {r['flood_429']}; re-taps after "
                  f"4 s without a reply {r['resends']}; resumed after a kill {r['resumed']}, redeliveries skipped "
                  f"{r['skipped']}; proxy: {r['proxy_refused']} refused, {r['proxy_failed']} failed mid-request; "
                  f"unanswered callbacks {r['unanswered']}; bot log errors {len(r['errors'])}")
            print(f"drain: SIGTERM with {r['drain_users']} updates in flight (sends held 1.5 s): exit code "
                  f"{r['drain_exit']} in {r['drain_s']:.1f} s (target < 10 s); {r['drain_served']}/{r['drain_users']} "
                  f"users answered")
            for m in (r["mismatches"] + r["out_of_order"] + r["errors"] + r["rejections"])[:4]:
                print(f"  ! {str(m)[:600]}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description="replica benchmark (figures only)")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--burst-users", type=int, default=300)
    parser.add_argument("--kill-users", type=int, default=30)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--quick", action="store_true", help="small runs (10 users, 60 in the burst)")
    parser.add_argument("--only", nargs="+", choices=("human", "burst", "kill"))
    args = parser.parse_args(argv or [])
    if args.quick:
        args.users, args.burst_users, args.kill_users = 10, 60, 8
    return args


def main(argv: list[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
