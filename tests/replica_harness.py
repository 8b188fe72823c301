"""Webhook replicas on PostgreSQL behind one round-robin proxy, for the tests and the benchmarks (bench/
imports from here): `Replicas` (N `python -m bot run` processes in webhook mode, ready, killed, restarted,
SIGTERMed), `audit` (what the database and the replicas' JSON logs say: updates lost, handled twice or out
of order) and `drain` (SIGTERM a replica while updates are in flight on it)."""
from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakebot import FakeTelegram
from tests.process_harness import BotProcess, wait_view
from tests.proxy import RoundRobinProxy


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
