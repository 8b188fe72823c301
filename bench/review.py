"""The review loop's cost: reply latency while the understanding retrains in the background, against
without, and the time to understand one message with the overlay's models swapped in.

    python -m bench review [--seconds 8]

The real bot (in process) answers users on the fake Bot API, four at once, each sending a question
or a typed answer, waiting for the reply, pausing 50 ms, again. In each round, send -> reply is
measured first with nothing else going on, then for as long as one retrain takes (a decision added to
the overlay; a spawned training process into an empty model cache, then the load and the swap).
Then `Understanding.read` per message over the development sets, with the files' models and with the
retrained ones. Prints figures; asserts nothing. On a shared machine the figures move with the other
load: compare the two columns of one run.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from pathlib import Path

PAUSE = 0.05
USERS = 4
MESSAGES = ["who sets the price in full-managed?", "半托管的头程运费谁出?", "how do returns work in semi mode",
            "我们有自己的工厂", "we sold on amazon for 3 years", "大概有二十万现金", "what is fbt",
            "is there a deposit for semi-managed?"]


def _pct(values: list[float], f: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(f * len(values)))] * 1000 if values else float("nan")


async def _users(fake, seconds: float, offset: int, done=None) -> list[float]:
    """USERS users sending messages for `seconds` (or, given `done`, until it is done); send -> reply times."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds if done is None else float("inf")
    finished = (lambda: time.monotonic() >= deadline) if done is None else done.done

    async def one(i: int) -> None:
        user = fake.user(700_000 + offset + i, f"U{i}", language_code="en")
        await user.send("/start")
        await user.next_reply(10)
        texts = itertools.cycle(MESSAGES[i % len(MESSAGES):] + MESSAGES[:i % len(MESSAGES)])
        while not finished():
            t0 = time.perf_counter()
            await user.send(next(texts))
            await user.next_reply(10)
            latencies.append(time.perf_counter() - t0)
            while True:                     # a fallback sends two messages: drain them
                try:
                    await user.next_reply(0.02)
                except TimeoutError:
                    break
            await asyncio.sleep(PAUSE)
    await asyncio.gather(*(one(i) for i in range(USERS)))
    return latencies


async def _retrain(live, store, n: int) -> float:
    """One decision, retrained from scratch (the cache is empty) and swapped in: seconds it took."""
    from bot.content.overlay import example
    await store.overlay_add(example("faq", "full_pricing", "en", f"who decides what my goods cost, case {n}"))
    t0 = time.perf_counter()
    await live.refresh()
    return time.perf_counter() - t0


async def _measure(seconds: float, rounds: int) -> dict:
    """`rounds` times: users with nothing else going on for `seconds`, then users for as long as one
    retrain takes (started as they start)."""
    from tests.fakebot import FakeTelegram
    from tests.tg_harness import running_bot
    quiet, busy, took = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake:
            async with running_bot(fake, Path(tmp) / "bench.sqlite3") as (app, store):
                live = app.bot_data["live"]
                live.cache_dir = Path(tmp) / "cache"           # empty: every retrain really trains
                live.cache_dir.mkdir()
                await _users(fake, 2.0, 0)                     # warm-up
                for n in range(rounds):
                    quiet += await _users(fake, seconds, 100 + 10 * n)
                    trainer = asyncio.create_task(_retrain(live, store, n))
                    busy += await _users(fake, 0, 500 + 10 * n, done=trainer)
                    took.append(trainer.result())
                nlu = live.nlu
    return {"quiet": quiet, "busy": busy, "retrains": took, "nlu": nlu, "swaps": live.swaps}


def _read_latencies(nlu, clock=time.perf_counter) -> list[float]:
    from bot.nlu.evaluate import DEV, load
    msgs = [(str(i["text"]), i["step"]) for i in load(DEV / "typed.yaml")]
    msgs += [(str(i["text"]), None) for i in load(DEV / "descriptions.yaml")]
    msgs += [(str(i["q"]), None) for i in load(DEV / "faq.yaml")]
    out = []
    for _ in range(3):
        for text, step in msgs:
            t0 = clock()
            nlu.read(text, step=step)
            out.append(clock() - t0)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench review")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each quiet phase")
    parser.add_argument("--rounds", type=int, default=3, help="quiet phase + retrain, how many times")
    args = parser.parse_args(argv or [])
    r = asyncio.run(_measure(args.seconds, args.rounds))
    q99, b99 = _pct(r["quiet"], 0.99), _pct(r["busy"], 0.99)
    print(f"reply (send -> reply, {USERS} users, in process on the fake): without a retrain p50 "
          f"{_pct(r['quiet'], 0.5):.1f} ms p99 {q99:.1f} ms ({len(r['quiet'])} replies); during retrains p50 "
          f"{_pct(r['busy'], 0.5):.1f} ms p99 {b99:.1f} ms ({len(r['busy'])} replies); p99 {100 * (b99 / q99 - 1):+.0f}% "
          f"(target within +20%)")
    done = [f"{t:.1f}" for t in r["retrains"]]
    print(f"retrains: {len(done)} (seconds each, decision -> swapped in, training from scratch: {', '.join(done)}); "
          f"swaps {r['swaps']}")
    from bot.services import load_services
    for name, nlu in (("the files' models", load_services().nlu), ("the retrained models", r["nlu"])):
        lat, cpu = _read_latencies(nlu), _read_latencies(nlu, time.thread_time)
        print(f"understanding one message, {name}: wall p50 {_pct(lat, 0.5):.2f} ms p99 {_pct(lat, 0.99):.2f} ms "
              f"max {max(lat) * 1000:.1f} ms; CPU p99 {_pct(cpu, 0.99):.2f} ms; {len(lat)} reads (target p99 < 2 ms)")
    print(f"(load average while measured: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
