"""The shared flood budget on PostgreSQL (bot/coord/pg.py: flood_take()) against the same window kept in
Redis by a Lua script, for the choice between the two. Figures only.

Both keep the semantics of bot/tg/limits.py: a call holds its slot from its start until `period` after
it finished, finished calls are recorded with the next take of their process, the server's clock is
the only clock, a 429 pause is checked for the chat. Measured: per take (one round trip), wall time
p50/p99 and client CPU, with 1 and with 3 concurrent clients (replicas); the limit is set high so
nothing waits, and the period short (PERIOD) so that the window holds about as many calls as it does
at Telegram's 30 a second. The Redis half needs `redis-server` (Debian package) and the `redis` Python package; without
them it says so and measures PostgreSQL alone.

    python -m bench flood
"""
from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.pg_server import PostgresServer, free_port  # noqa: E402

TAKES = 3000
PERIOD = 0.03     # at ~1,000 takes a second this keeps ~30 calls in the window, as at Telegram's 30/s
LUA = """
local running, finished, seq = KEYS[1], KEYS[2], KEYS[3]
local limit, period, chat, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
for i = 5, #ARGV, 2 do
  local started = redis.call('ZSCORE', running, ARGV[i])
  if started then
    redis.call('ZREM', running, ARGV[i])
    redis.call('ZADD', finished, tonumber(started) + tonumber(ARGV[i + 1]), ARGV[i])
  end
end
if chat ~= '' then
  local ttl = redis.call('PTTL', 'flood:pause:' .. chat)
  if ttl > 0 then return {-1, tostring(ttl / 1000)} end
end
redis.call('ZREMRANGEBYSCORE', finished, '-inf', now - period)
redis.call('ZREMRANGEBYSCORE', running, '-inf', now - lease)
local used = redis.call('ZCARD', finished) + redis.call('ZCARD', running)
if used >= limit then
  local oldest = redis.call('ZRANGE', finished, 0, 0, 'WITHSCORES')
  if #oldest == 0 then return {0, '-1'} end
  return {0, tostring(tonumber(oldest[2]) + period - now)}
end
local id = redis.call('INCR', seq)
redis.call('ZADD', running, now, id)
redis.call('PEXPIRE', running, math.floor((lease + period) * 1000))
redis.call('PEXPIRE', finished, math.floor((lease + period) * 1000))
return {id, '0'}
"""


async def pg_client(pool, n: int, out: list[float]) -> None:
    done: list[int] = []
    secs: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        row = await pool.fetchrow("SELECT slot, wait FROM flood_take($1, $2, $3, $4, $5, $6, $7)",
                                  "all", 1_000_000, PERIOD, "5", 35.0, done, secs)
        out.append(time.perf_counter() - t0)
        done, secs = [row["slot"]], [0.005]


async def redis_client(script, n: int, out: list[float]) -> None:
    done: list = []
    for _ in range(n):
        t0 = time.perf_counter()
        slot, _ = await script(keys=["flood:all:running", "flood:all:finished", "flood:seq"],
                               args=[1_000_000, PERIOD, "5", 35.0, *done])
        out.append(time.perf_counter() - t0)
        done = [slot, 0.005]


def figures(name: str, clients: int, times: list[float], cpu: float) -> str:
    times.sort()
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1e6  # noqa: E731
    return (f"{name:<10} {clients:>7} {len(times):>6} {p(.5):>8.0f} {p(.99):>8.0f} "
            f"{cpu / len(times) * 1e6:>12.0f}")


async def measure_pg(url: str) -> list[str]:
    import asyncpg
    from bot.store import open_store
    from bot.store.postgres import _keep_session
    store = open_store(url)
    await store.open()
    rows = []
    for clients in (1, 3):
        pools = [await asyncpg.create_pool(url, min_size=1, max_size=2, reset=_keep_session)   # as the store's
                 for _ in range(clients)]
        await asyncio.gather(*(pg_client(p, 200, []) for p in pools))           # warm: plans, connections
        times: list[float] = []
        cpu0 = time.process_time()
        await asyncio.gather(*(pg_client(p, TAKES // clients, times) for p in pools))
        rows.append(figures("postgres", clients, times, time.process_time() - cpu0))
        for p in pools:
            await p.close()
    await store.close()
    return rows


async def measure_redis(port: int) -> list[str]:
    import redis.asyncio as aioredis
    rows = []
    for clients in (1, 3):
        conns = [aioredis.Redis(host="127.0.0.1", port=port) for _ in range(clients)]
        scripts = [c.register_script(LUA) for c in conns]
        await asyncio.gather(*(redis_client(s, 200, []) for s in scripts))
        times: list[float] = []
        cpu0 = time.process_time()
        await asyncio.gather(*(redis_client(s, TAKES // clients, times) for s in scripts))
        rows.append(figures("redis", clients, times, time.process_time() - cpu0))
        for c in conns:
            await c.aclose()
    return rows


def main() -> None:
    print(f"Shared flood budget: one take per message (finishes carried by the next take), {TAKES} takes, "
          "client in this process; 1 and 3 concurrent clients")
    print(f"{'backend':<10} {'clients':>7} {'takes':>6} {'p50 us':>8} {'p99 us':>8} {'CPU us/take':>12}")
    with PostgresServer(fast=False) as pg:
        pg.psql("ALTER SYSTEM SET synchronous_commit = off")
        pg.psql("SELECT pg_reload_conf()")
        for row in asyncio.run(measure_pg(pg.new_database("f"))):
            print(row)
    server = shutil.which("redis-server")
    try:
        import redis  # noqa: F401
    except ImportError:
        server = None
    if server is None:
        print("redis: not measured (needs `apt-get install redis-server` and `pip install redis`)")
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            for row in asyncio.run(measure_redis(port)):
                print(row)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
