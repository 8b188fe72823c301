"""Replica benchmark: 2-3 webhook replicas of the bot (`python -m bot run`) on one PostgreSQL database,
behind a round-robin proxy (bench/proxy.py), the fake Bot API delivering updates by webhook with
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
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import (TELEGRAM_RATE, BotProcess, CrashReport, Expected, Figures, Flow, Tally, burst,  # noqa: E402
                        crash_user, human_paced, our_choice, percentile, scripted_user, wait_view)
from bench.proxy import RoundRobinProxy  # noqa: E402
from tests.fakebot import FakeTelegram, free_port  # noqa: E402
from tests.fakebot.records import SEND_METHODS  # noqa: E402
from tests.pg_server import PostgresServer  # noqa: E402

SECRET = "bench-webhook-secret-0123456789"


class Replicas:
    """N bot processes in webhook mode behind one proxy URL, all on `database_url`."""

    def __init__(self, fake: FakeTelegram, workdir: Path, database_url: str, n: int, proxy: RoundRobinProxy,
                 ports: list[int], flood: bool = True, log_level: str = "DEBUG"):
        self.fake, self.proxy, self.ports = fake, proxy, ports
        self.bots: list[BotProcess] = []
        for i in range(n):
            env = {"DATABASE_URL": database_url, "WEBHOOK_URL": f"{proxy.url}/hook", "WEBHOOK_LISTEN": "127.0.0.1",
                   "WEBHOOK_PORT": str(ports[i]), "WEBHOOK_SECRET": SECRET, "LOG_FORMAT": "json",
                   "DATABASE_POOL_SIZE": "8"}
            bot = BotProcess(fake, workdir, flood_limit=flood, log_level=log_level, extra_env=env)
            bot.log = workdir / f"replica{i}.log"
            self.bots.append(bot)
        self.cpu_done = 0.0          # CPU of processes that exited (killed or stopped)

    async def ready(self, i: int, timeout: float = 60.0) -> None:
        """Until replica i answers /readyz with 200."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.bots[i].proc.poll() is not None:
                    raise RuntimeError(f"replica {i} exited: {self.bots[i].log.read_text()[-1500:]}")
                try:
                    async with session.get(f"http://127.0.0.1:{self.ports[i]}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"replica {i} not ready")

    async def start(self) -> None:
        for bot in self.bots:
            bot.start()
        await asyncio.gather(*(self.ready(i) for i in range(len(self.bots))))

    def cpu_seconds(self) -> float:
        return self.cpu_done + sum(b.cpu_seconds() for b in self.bots if b.proc and b.proc.poll() is None)

    def kill(self, i: int) -> None:
        self.cpu_done += self.bots[i].cpu_seconds()
        self.bots[i].kill()

    async def restart(self, i: int) -> None:
        self.bots[i].start()
        await self.ready(i)

    async def terminate(self, i: int) -> tuple[int, float]:
        """SIGTERM replica i; (exit code, seconds it took to exit)."""
        bot = self.bots[i]
        self.cpu_done += bot.cpu_seconds()
        t0 = time.monotonic()
        bot.proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(bot.proc.wait, 30)
        return code, time.monotonic() - t0

    async def stop(self) -> None:
        for i, bot in enumerate(self.bots):
            if bot.proc and bot.proc.poll() is None:
                await self.terminate(i)

    def log_lines(self) -> list[dict]:
        lines = []
        for bot in self.bots:
            if not bot.log.exists():
                continue
            raw_block: list[str] = []          # text that is not JSON (a traceback Python printed): one entry
            for raw in bot.log.read_text(encoding="utf-8", errors="replace").splitlines() + ["{}"]:
                try:
                    line = json.loads(raw)
                except ValueError:
                    raw_block.append(raw)
                    continue
                if raw_block:
                    lines.append({"level": "RAW", "msg": " | ".join([raw_block[0], *raw_block[-3:]])})
                    raw_block = []
                if line:
                    lines.append(line)
        return lines


@dataclass
class Audit:
    """What the logs and the database say about correctness."""

    updates: int = 0
    lost: list[int] = field(default_factory=list)
    twice: list[int] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    resumed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


async def audit(replicas: Replicas, database_url: str, first_update: int = 0) -> Audit:
    import asyncpg
    fake = replicas.fake
    records = [r for r in fake.updates.records if r.update_id > first_update]
    out = Audit(updates=len(records))
    conn = await asyncpg.connect(database_url)
    try:
        done = {r[0] for r in await conn.fetch("SELECT update_id FROM handled_updates WHERE done=1")}
    finally:
        await conn.close()
    pending = {r.update_id for r in fake.updates.pending}
    out.lost = sorted(r.update_id for r in records if r.update_id not in done and r.update_id not in pending)
    lines = replicas.log_lines()
    per_update: dict[int, list[dict]] = defaultdict(list)
    per_chat: dict[str, list[dict]] = defaultdict(list)
    for line in lines:
        if line.get("level") in ("ERROR", "CRITICAL") or line.get("msg", "").startswith("Traceback"):
            out.errors.append((line.get("msg", "") + " " + line.get("exc", "")[-300:])[:600])
        if "outcome" in line and line.get("update_id", 0) > first_update:
            per_update[line["update_id"]].append(line)
            per_chat[line["chat"]].append(line)
    for update_id, seen in per_update.items():
        if sum(1 for s in seen if s["outcome"] == "processed") > 1:
            out.twice.append(update_id)
    out.resumed = sum(1 for s in per_update.values() for x in s if x["outcome"] == "resumed")
    out.skipped = sum(1 for s in per_update.values() for x in s if x["outcome"] == "skipped")
    for chat, seen in per_chat.items():
        seen.sort(key=lambda s: s["started"])
        applied = [s["update_id"] for s in seen if s["outcome"] != "skipped"]
        if applied != sorted(applied):
            out.out_of_order.append(f"chat {chat}: applied in the order {applied}")
        acting = [s for s in seen if s["outcome"] != "skipped"]   # a skip (found handled) applies nothing
        for a, b in zip(acting, acting[1:]):
            if b["started"] < a["started"] + a["ms"] / 1000 - 0.001:
                out.out_of_order.append(f"chat {chat}: updates {a['update_id']} and {b['update_id']} overlapped")
    return out


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


async def drain(fake: FakeTelegram, replicas: Replicas, victim: int, users: int = 10) -> dict[str, Any]:
    """SIGTERM replica `victim` while updates are in flight on it (Telegram holds its sends 1.5 s): how long
    it takes to exit, and whether every one of those users is answered (by it, or by another replica)."""
    held = [fake.user(790_000 + i, f"D{i}", language_code="en") for i in range(users)]
    fake.faults.add("delay", "sendMessage", count=users, delay=1.5)
    for user in held:
        await user.send("/start")
    await asyncio.sleep(0.4)
    code, took = await replicas.terminate(victim)
    served = 0
    for user in held:
        try:
            await wait_view(user, 20)
            served += 1
        except TimeoutError:
            pass
    try:
        await fake.notifier.wait_until(lambda: not fake.updates.pending, 20)
    except TimeoutError:
        pass
    return {"drain_exit": code, "drain_s": took, "drain_served": served, "drain_users": users}


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
