"""The review loop's cost: reply latency while the understanding retrains in the background, against
without, and the time to understand one message with the overlay's models swapped in.

    python -m bench review [--seconds 8]

The real bot (in process) answers users on the fake Bot API, four at once, each sending a question
or a typed answer, waiting for the reply, pausing 50 ms, again. In each round, send -> reply is
measured first with nothing else going on, then for as long as one retrain takes (a decision added to
the overlay; a spawned training process into an empty model cache, then the load and the swap).
Because the machine's other load moves between those phases, the retrains are then run again with the
training process stopped (SIGSTOP) and resumed every half second, and each reply is counted by the
state the training was in: the same outside load on both sides. An event-loop probe (reads only, no
HTTP) does the same comparison inside one process. Then `Understanding.read` per message over the
development sets, with the files' models and with the retrained ones. Prints figures; asserts nothing. On a shared machine the figures move with the other
load: compare the two columns of one run.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import tempfile
import time
from pathlib import Path

PAUSE = 0.05
SLICE = 0.5             # seconds the training process runs, then is stopped, in the interleaved figure
USERS = 4
MESSAGES = ["who sets the price in full-managed?", "半托管的头程运费谁出?", "how do returns work in semi mode",
            "我们有自己的工厂", "we sold on amazon for 3 years", "大概有二十万现金", "what is fbt",
            "is there a deposit for semi-managed?"]


def _pct(values: list[float], f: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(f * len(values)))] * 1000 if values else float("nan")


async def _users(fake, seconds: float, offset: int, done=None) -> list[tuple[float, float]]:
    """USERS users sending messages for `seconds` (or, given `done`, until it is done); (sent, replied)."""
    latencies: list[tuple[float, float]] = []
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
            latencies.append((t0, time.perf_counter()))
            while True:                     # a fallback sends two messages: drain them
                try:
                    await user.next_reply(0.02)
                except TimeoutError:
                    break
            await asyncio.sleep(PAUSE)
    await asyncio.gather(*(one(i) for i in range(USERS)))
    return latencies


def _training_pids() -> list[int]:
    """This process's training processes (multiprocessing's spawned children), from /proc."""
    me, out = os.getpid(), []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == me and b"spawn_main" in (d / "cmdline").read_bytes():
                out.append(int(d.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


async def _alternate(trainer: asyncio.Task, windows: list[tuple[float, float, str]]) -> None:
    """While the retrain runs, stop and resume its training process every SLICE seconds, so replies are
    timed with and without training under the same outside load; windows: (start, end, running|paused).
    Before the process starts and after it ends (loading the models) the state is "outside"."""
    paused = False
    try:
        while not trainer.done():
            pids, start = _training_pids(), time.perf_counter()
            if pids:
                _signal(pids, signal.SIGCONT if paused else signal.SIGSTOP)
                paused = not paused
            await asyncio.sleep(SLICE)
            windows.append((start, time.perf_counter(), ("paused" if paused else "running") if pids else "outside"))
    finally:
        _signal(_training_pids(), signal.SIGCONT)


def _split(samples: list[tuple[float, float]], windows: list[tuple[float, float, str]]) -> dict[str, list[float]]:
    """Reply times by the state of the training process for their whole duration (others left out)."""
    out: dict[str, list[float]] = {"running": [], "paused": [], "outside": []}
    for t0, t1 in samples:
        for start, end, state in windows:
            if start <= t0 and t1 <= end:
                out[state].append(t1 - t0)
                break
    return out


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
    quiet, busy, took, running, paused, outside = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake:
            async with running_bot(fake, Path(tmp) / "bench.sqlite3") as (app, store):
                live = app.bot_data["live"]
                live.cache_dir = Path(tmp) / "cache"           # empty: every retrain really trains
                live.cache_dir.mkdir()
                await _users(fake, 2.0, 0)                     # warm-up
                for n in range(rounds):
                    quiet += [b - a for a, b in await _users(fake, seconds, 100 + 10 * n)]
                    trainer = asyncio.create_task(_retrain(live, store, n))
                    samples = await _users(fake, 0, 500 + 10 * n, done=trainer)
                    busy += [b - a for a, b in samples]
                    took.append(trainer.result())
                for n in range(rounds):                       # the same, the training paused and resumed
                    trainer = asyncio.create_task(_retrain(live, store, rounds + n))
                    windows: list[tuple[float, float, str]] = []
                    alternate = asyncio.create_task(_alternate(trainer, windows))
                    samples = await _users(fake, 0, 900 + 10 * n, done=trainer)
                    await alternate
                    split = _split(samples, windows)
                    running += split["running"]
                    paused += split["paused"]
                    outside += split["outside"]
                nlu = live.nlu
    return {"quiet": quiet, "busy": busy, "retrains": took, "nlu": nlu, "swaps": live.swaps, "running": running,
            "paused": paused, "outside": outside}


async def _probe(seconds: float) -> tuple[list[float], list[float], float]:
    """The event loop alone (no HTTP, no store): a unit of work (ten reads of a question) timed again and
    again, for `seconds` with nothing else going on, then during one retrain from scratch. What the
    retrain costs the bot's own process, with less of the machine's other load in the figure."""
    from bot.content.live import LiveContent
    from bot.content.overlay import example
    from bot.services import load_services
    from bot.store import SQLiteStore
    services = load_services()
    nlu = services.nlu
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "probe.sqlite3")
        live = LiveContent(services, store, cache_dir=Path(tmp) / "cache")

        async def units(done) -> list[float]:
            out = []
            while not done():
                t0 = time.perf_counter()
                for _ in range(10):
                    nlu.read("全托管谁定价")
                out.append(time.perf_counter() - t0)
                await asyncio.sleep(0.002)
            return out
        end = time.monotonic() + seconds
        quiet = await units(lambda: time.monotonic() >= end)
        await store.overlay_add(example("faq", "full_pricing", "en", "who decides what my goods cost, probe"))
        t0 = time.perf_counter()
        trainer = asyncio.create_task(live.refresh())
        busy = await units(trainer.done)
        took = time.perf_counter() - t0
        await store.close()
    return quiet, busy, took


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
    p99r, p99p = _pct(r["running"], 0.99), _pct(r["paused"], 0.99)
    print(f"reply, the training process stopped and resumed every {SLICE} s during {args.rounds} more retrains: "
          f"running p99 {p99r:.1f} ms ({len(r['running'])} replies), stopped p99 {p99p:.1f} ms "
          f"({len(r['paused'])}); p99 {100 * (p99r / p99p - 1):+.0f}%; outside the training process (spawning it, "
          f"loading the models) p99 {_pct(r['outside'], 0.99):.1f} ms ({len(r['outside'])})")
    quiet, busy, took = asyncio.run(_probe(args.seconds))
    print(f"event-loop probe (10 reads a unit, no HTTP): without p99 {_pct(quiet, 0.99):.1f} ms, during a "
          f"{took:.1f} s retrain p99 {_pct(busy, 0.99):.1f} ms ({len(quiet)} / {len(busy)} units)")
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
