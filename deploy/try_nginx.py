"""Try the deploy recipe's nginx block for real on one machine: nginx (plain HTTP, the `location
/telegram/` block of deploy/nginx-mode-advisor.conf copied as it is) in front of two webhook replicas on
a throwaway PostgreSQL server, the tests' fake Bot API delivering updates to nginx, users going through
the questionnaire while each replica in turn gets SIGTERM and is started again (a rolling deploy).
Prints what happened; needs nginx and the PostgreSQL server binaries.

    .venv/bin/python deploy/try_nginx.py
"""
from __future__ import annotations

import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import CrashReport, Expected, Flow, crash_user  # noqa: E402
from bench.replicas import Replicas, audit  # noqa: E402
from tests.fakebot import FakeTelegram, free_port  # noqa: E402
from tests.pg_server import PostgresServer  # noqa: E402


def nginx_conf(tmp: Path, port: int, upstreams: list[int]) -> Path:
    site = (ROOT / "deploy" / "nginx-mode-advisor.conf").read_text()
    location = re.search(r"    location /telegram/ \{.*?\n    \}", site, re.S).group(0)
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=0;" for p in upstreams)
    conf = tmp / "nginx.conf"
    conf.write_text(f"""daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{}}
http {{
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    upstream mode_advisor {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
{location}
    }}
}}
""")
    return conf


async def main() -> None:
    flow, expected = Flow.load(), Expected()
    with tempfile.TemporaryDirectory(prefix="try-nginx-") as name, PostgresServer() as pg:
        tmp = Path(name)
        os.chmod(tmp, 0o777)                          # nginx's workers run as nobody
        url = pg.new_database("n")
        async with FakeTelegram(flood_limits=True) as fake:
            ports, front = [free_port(), free_port()], free_port()
            nginx = subprocess.Popen(["nginx", "-c", str(nginx_conf(tmp, front, ports))])

            class Front:
                url = f"http://127.0.0.1:{front}/telegram"
            replicas = Replicas(fake, tmp, url, 2, Front, ports)
            try:
                await replicas.start()
                report = CrashReport(10)
                done = asyncio.Event()
                exits = []

                async def rolling() -> None:
                    for i in range(2):
                        await asyncio.sleep(4)
                        exits.append(await replicas.terminate(i))
                        await replicas.restart(i)
                    await asyncio.sleep(2)
                    done.set()

                t0 = time.monotonic()
                await asyncio.gather(rolling(), *(crash_user(fake, 990_000 + i, flow, expected, random.Random(i), done,
                                                             report, {}, (0.9, 1.6), 4.0, t0 + 120) for i in range(10)))
                await fake.notifier.wait_until(lambda: not fake.updates.pending, 20)
            finally:
                await replicas.stop()
                nginx.terminate()
                nginx.wait(10)
            result = await audit(replicas, url)
            delivered = [d for d in fake.updates.deliveries]
            print(f"nginx {subprocess.run(['nginx', '-v'], capture_output=True, text=True).stderr.strip()} in front "
                  f"of 2 replicas on PostgreSQL; rolling restart (SIGTERM + start, one replica at a time): exit codes "
                  f"and drain times {[(c, round(t, 1)) for c, t in exits]}")
            print(f"{report.users} users, {report.rounds} questionnaires completed with exactly their answers "
                  f"(mismatches {len(report.mismatches)}), stuck {len(report.stuck)}; {result.updates} updates: lost "
                  f"{len(result.lost)}, handled twice {len(result.twice)}, out of order {len(result.out_of_order)}; "
                  f"webhook deliveries {len(delivered)}, of which not answered 200 "
                  f"{sum(1 for d in delivered if d.error)} (Telegram retries those); 429s {fake.flood.sent_429}; "
                  f"log errors {len(result.errors)}")


if __name__ == "__main__":
    asyncio.run(main())
