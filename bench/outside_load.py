"""A stand-in for the other work on a shared machine, for benchmarks that compare figures under load.

    python -m bench review --outside-load 2

Each loader is a process at normal priority that is busy and idle by turns, each turn a random 0-100 ms
(half of the time busy, on average): many wake-ups and short bursts, like a test suite or an evaluation
beside the bot, rather than one process that never sleeps. With `n` loaders the load average rises by
about n / 2. They end with the benchmark (`stop`), or by themselves within a turn when it has died.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time

TURN = 0.1              # seconds: each busy or idle turn lasts a random 0..TURN


def start(n: int) -> list[subprocess.Popen]:
    """`n` loaders, started now."""
    return [subprocess.Popen([sys.executable, "-m", __name__, str(os.getpid()), str(i)]) for i in range(n)]


def stop(loaders: list[subprocess.Popen]) -> None:
    for proc in loaders:
        proc.kill()
    for proc in loaders:
        proc.wait()


def main(parent: int, seed: int) -> None:
    rng = random.Random(seed)
    x = 0
    while os.getppid() == parent:
        end = time.perf_counter() + rng.uniform(0, TURN)
        while time.perf_counter() < end:
            for i in range(1000):
                x += i
        time.sleep(rng.uniform(0, TURN))


if __name__ == "__main__":
    try:
        main(int(sys.argv[1]), int(sys.argv[2]))
    except KeyboardInterrupt:
        pass
