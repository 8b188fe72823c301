"""The review loop's cost: reply latency while the understanding retrains in the background, against
without, and the time to understand one message with the overlay's models swapped in.

    python -m bench review [--rounds 10] [--stop-rounds 3] [--seconds 3] [--outside-load N]

The real bot (in process) answers users on the fake Bot API, four at once, each sending a question
or a typed answer, waiting for the reply, pausing 50 ms, again. Each round has two phases of the same
length, measured the same way: users while one retrain runs (a decision added to the overlay: a question
decided as a phrasing of an entry; the training process trains into a model cache that starts empty, so the
first retrain trains every model and each one after it the FAQ model alone, the one the decision teaches;
the bot builds the new understanding and swaps it in), then users with nothing else going on for as long as
that retrain took, so both columns see about as many replies and the same drift of the machine's other load.
Replies during retrains are also split by where the retrain was when they were sent ("training": the
training process at work; "loading": the bot building the new understanding in steps), and an event-loop
probe in the bot's process (a 1 ms sleep, its overshoot) and the garbage collector's full passes are
counted by phase: what holds the loop, if anything does. Before each phase, with no user waiting, the collector
is run and what exists is frozen (`Phases.settle`), so the fake's ever-growing transcripts do not make full passes
that land on one column or the other by chance.

Then retrains again with the training process stopped (SIGSTOP) and resumed every half second, each reply
counted by the state the process was in: its cost to replies with the outside load the same on both
sides. Then a probe without HTTP (ten reads a unit) without and during a retrain, and `Understanding.read`
per message over the development sets with the files' models and with the retrained ones.
Prints figures; asserts nothing. On a shared machine the figures move with the other load: compare the
columns of one run, and runs back to back; `--outside-load N` adds N processes busy and idle by turns
(bench.outside_load), a loaded machine that is the same from run to run. A p99 of a few thousand replies
moves by ~20% between two identical columns, so beside it each comparison gives the share of replies
slower than the reference column's p95 and p99 (5% and 1% when nothing changed), which moves less.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import signal
import tempfile
import time
from pathlib import Path

PAUSE = 0.05
SLICE = 0.5             # seconds the training process runs, then is stopped, in the interleaved figure
USERS = 4
PROBE_SLEEP = 0.001
MESSAGES = ["who sets the price in full-managed?", "半托管的头程运费谁出?", "how do returns work in semi mode",
            "我们有自己的工厂", "we sold on amazon for 3 years", "大概有二十万现金", "what is fbt",
            "is there a deposit for semi-managed?"]


def _pct(values: list[float], f: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(f * len(values)))] * 1000 if values else float("nan")


def _rise(after: float, before: float) -> str:
    return f"{100 * (after / before - 1):+.0f}%" if before == before and before > 0 else "n/a"


class Phases:
    """Where the bot is, for every sample: "quiet" (no retrain going on), or the retrain's phase
    (LiveContent.phase: "training", "loading", or "other" for the rest of a retrain: reading the store,
    swapping); plus the event-loop probe's overshoots and the collector's full passes, by phase."""

    def __init__(self, live):
        self.live, self.retraining, self.settling = live, False, False
        self.lag: dict[str, list[float]] = {}
        self.gc: dict[str, list[float]] = {}
        self.steps: list[tuple[float, float]] = []     # (wall, CPU) seconds of each step of building on the loop
        self.loading: tuple[float, float] | None = None  # the last retrain's building: (start, end)
        self._gc_start = 0.0
        steps = live._in_steps

        async def timed(gen):                          # every step of the building, timed
            def each():
                while True:
                    t0, c0 = time.perf_counter(), time.thread_time()
                    try:
                        next(gen)
                    except StopIteration as done:
                        self._step(t0, c0)
                        return done.value
                    self._step(t0, c0)
                    yield
            start = time.perf_counter()
            try:
                return await steps(each())
            finally:
                self.loading = (start, time.perf_counter())
        live._in_steps = timed

    def settle(self) -> None:
        """Before a phase (no user waiting): everything allocated so far goes to the collector's permanent
        generation, so a full pass within the phase covers what the phase allocated. The in-process fake
        Bot API keeps every message, and without this its full passes grew to 100-300 ms over a run,
        falling on either column by chance. (This pass itself is not counted.)"""
        self.settling = True
        try:
            gc.collect()
            gc.freeze()
        finally:
            self.settling = False

    def _step(self, t0: float, c0: float) -> None:
        if self.retraining:
            self.steps.append((time.perf_counter() - t0, time.thread_time() - c0))

    def now(self) -> str:
        if not self.retraining:
            return "quiet"
        return self.live.phase if self.live.phase != "idle" else "other"

    async def probe(self, done) -> None:
        while not done():
            phase, t0 = self.now(), time.perf_counter()
            await asyncio.sleep(PROBE_SLEEP)
            self.lag.setdefault(phase if phase == self.now() else "other", []).append(
                time.perf_counter() - t0 - PROBE_SLEEP)

    def on_gc(self, stage: str, info: dict) -> None:
        if stage == "start":
            self._gc_start = time.perf_counter()
        elif info.get("generation") == 2 and not self.settling:
            self.gc.setdefault(self.now(), []).append(time.perf_counter() - self._gc_start)


async def _users(fake, seconds: float, offset: int, phases: Phases | None = None,
                 done=None) -> list[tuple[float, float, str]]:
    """USERS users sending messages for `seconds` (or, given `done`, until it is done); (sent, replied,
    the phase it was sent in, or "loading" when the bot was loading at either end)."""
    latencies: list[tuple[float, float, str]] = []
    deadline = time.monotonic() + seconds if done is None else float("inf")
    finished = (lambda: time.monotonic() >= deadline) if done is None else done.done
    now = phases.now if phases is not None else (lambda: "quiet")

    async def one(i: int) -> None:
        user = fake.user(700_000 + offset + i, f"U{i}", language_code="en")
        await user.send("/start")
        await user.next_reply(10)
        texts = itertools.cycle(MESSAGES[i % len(MESSAGES):] + MESSAGES[:i % len(MESSAGES)])
        while not finished():
            phase, t0 = now(), time.perf_counter()
            await user.send(next(texts))
            await user.next_reply(10)
            t1, end = time.perf_counter(), now()
            latencies.append((t0, t1, "loading" if "loading" in (phase, end) else phase))
            while True:                     # a fallback sends two messages: drain them
                try:
                    await user.next_reply(0.02)
                except TimeoutError:
                    break
            await asyncio.sleep(PAUSE)
    await asyncio.gather(*(one(i) for i in range(USERS)))
    return latencies


def _above(values: list[float], reference: list[float], f: float) -> str:
    """The share of `values` slower than `reference`'s f-quantile: a steadier tail figure than a p99 ratio."""
    if not values or not reference:
        return "n/a"
    line = _pct(reference, f) / 1000
    return f"{100 * sum(v > line for v in values) / len(values):.1f}%"


def _ratio_interval(quiet: list[float], busy: list[float], draws: int = 1000) -> tuple[float, float]:
    """A 90% bootstrap interval of p99(busy) / p99(quiet): how far the headline figure moves by chance."""
    import numpy as np
    rng = np.random.default_rng(0)
    q, b = np.asarray(quiet), np.asarray(busy)
    ratios = [np.percentile(rng.choice(b, b.size), 99) / np.percentile(rng.choice(q, q.size), 99) for _ in range(draws)]
    return float(np.percentile(ratios, 5)), float(np.percentile(ratios, 95))


def _signal(pid: int | None, sig: int) -> None:
    if pid is not None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


async def _alternate(live, trainer: asyncio.Task, windows: list[tuple[float, float, str]]) -> None:
    """While the retrain runs, stop and resume the training process every SLICE seconds while it trains,
    so replies are timed with and without training under the same outside load; windows: (start, end,
    running|paused), only while the process trains."""
    paused = False
    try:
        while not trainer.done():
            pid, start = live.trainer.pid, time.perf_counter()
            training = live.phase == "training" and pid is not None
            if training:
                _signal(pid, signal.SIGCONT if paused else signal.SIGSTOP)
                paused = not paused
            await asyncio.sleep(SLICE)
            if training and live.phase == "training":
                windows.append((start, time.perf_counter(), "paused" if paused else "running"))
    finally:
        _signal(live.trainer.pid, signal.SIGCONT)


def _split(samples: list[tuple[float, float]], windows: list[tuple[float, float, str]]) -> dict[str, list[float]]:
    """Reply times by the state of the training process for their whole duration (others left out)."""
    out: dict[str, list[float]] = {"running": [], "paused": []}
    for t0, t1 in samples:
        for start, end, state in windows:
            if start <= t0 and t1 <= end:
                out[state].append(t1 - t0)
                break
    return out


async def _retrain(live, store, n: int) -> tuple[float, float]:
    """One decision, retrained (a new example: a new content hash, not in the cache; the models it does not
    teach come from the cache once a retrain has put them there) and
    swapped in: (when it started, seconds it took)."""
    from bot.content.overlay import example
    await store.overlay_add(example("faq", "full_pricing", "en", f"who decides what my goods cost, case {n}"))
    t0 = time.perf_counter()
    await live.refresh()
    return t0, time.perf_counter() - t0


async def _measure(seconds: float, rounds: int, stop_rounds: int) -> dict:
    """`rounds` times: users with nothing else going on, then users for as long as one retrain takes."""
    from tests.fakebot import FakeTelegram
    from tests.tg_harness import running_bot
    quiet, busy, took, running, paused = [], [], [], [], []
    parts: list[tuple[float, float, float | None]] = []    # each retrain: training, loading, waiting (seconds)
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeTelegram() as fake:
            async with running_bot(fake, Path(tmp) / "bench.sqlite3") as (app, store):
                live = app.bot_data["live"]
                live.cache_dir = Path(tmp) / "cache"           # empty: every retrain trains (the first, every model)
                live.cache_dir.mkdir()
                phases = Phases(live)
                stop = False
                probe = asyncio.create_task(phases.probe(lambda: stop))
                gc.callbacks.append(phases.on_gc)
                try:
                    await _users(fake, seconds, 0)                 # warm-up
                    for n in range(rounds):
                        phases.settle()
                        phases.retraining = True
                        trainer = asyncio.create_task(_retrain(live, store, n))
                        busy += await _users(fake, 0, 500 + 10 * n, phases, done=trainer)
                        phases.retraining = False
                        started, seconds = trainer.result()
                        took.append(seconds)
                        load_start, load_end = phases.loading or (started + seconds, started + seconds)
                        parts.append((load_start - started, load_end - load_start,
                                      getattr(live.trainer, "last_waited", None)))
                        phases.settle()
                        quiet += await _users(fake, took[-1], 100 + 10 * n, phases)
                    for n in range(stop_rounds):                  # the training process paused and resumed
                        phases.settle()
                        trainer = asyncio.create_task(_retrain(live, store, rounds + n))
                        windows: list[tuple[float, float, str]] = []
                        alternate = asyncio.create_task(_alternate(live, trainer, windows))
                        samples = await _users(fake, 0, 2000 + 10 * n, done=trainer)
                        await alternate
                        split = _split([(a, b) for a, b, _ in samples], windows)
                        running += split["running"]
                        paused += split["paused"]
                finally:
                    stop = True
                    gc.callbacks.remove(phases.on_gc)
                    await probe
                nlu = live.nlu
    return {"quiet": quiet, "busy": busy, "retrains": took, "parts": parts, "nlu": nlu, "swaps": live.swaps, "running": running,
            "paused": paused, "lag": phases.lag, "gc": phases.gc, "steps": phases.steps}


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
        try:
            end = time.monotonic() + seconds
            quiet = await units(lambda: time.monotonic() >= end)
            await store.overlay_add(example("faq", "full_pricing", "en", "who decides what my goods cost, probe"))
            t0 = time.perf_counter()
            trainer = asyncio.create_task(live.refresh())
            busy = await units(trainer.done)
            took = time.perf_counter() - t0
        finally:
            live.close()
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
    parser.add_argument("--seconds", type=float, default=3.0, help="warm-up, and the probe's quiet phase")
    parser.add_argument("--rounds", type=int, default=10, help="quiet phase + retrain, how many times")
    parser.add_argument("--stop-rounds", type=int, default=3,
                        help="retrains with the training process stopped and resumed, how many")
    parser.add_argument("--outside-load", type=int, default=0, metavar="N",
                        help="N processes busy and idle by turns beside the bench (bench.outside_load): a loaded machine")
    args = parser.parse_args(argv or [])
    from bench import outside_load
    loaders = outside_load.start(args.outside_load)
    try:
        _report(args)
    finally:
        outside_load.stop(loaders)


def _report(args: argparse.Namespace) -> None:
    print(f"(load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
          + (f"; {args.outside_load} outside loaders" if args.outside_load else "") + ")", flush=True)
    r = asyncio.run(_measure(args.seconds, args.rounds, args.stop_rounds))
    quiet, busy = [b - a for a, b, _ in r["quiet"]], [b - a for a, b, _ in r["busy"]]
    q99, b99 = _pct(quiet, 0.99), _pct(busy, 0.99)
    low, high = _ratio_interval(quiet, busy)
    print(f"reply (send -> reply, {USERS} users, in process on the fake), {len(r['retrains'])} rounds: without a "
          f"retrain p50 {_pct(quiet, 0.5):.1f} ms p99 {q99:.1f} ms ({len(quiet)} replies); during retrains p50 "
          f"{_pct(busy, 0.5):.1f} ms p99 {b99:.1f} ms ({len(busy)} replies); p99 {_rise(b99, q99)} "
          f"(90% interval {100 * (low - 1):+.0f}%..{100 * (high - 1):+.0f}%; target within +20%)")
    print(f"  replies slower than the quiet p95 / p99: during retrains {_above(busy, quiet, 0.95)} / "
          f"{_above(busy, quiet, 0.99)} (without: 5% / 1% by definition)")
    print("  tails: " + "; ".join(f"{name} p90 {_pct(v, 0.9):.1f} p95 {_pct(v, 0.95):.1f} p99.5 {_pct(v, 0.995):.1f} "
                                  f"max {max(v) * 1000:.1f} ms" for name, v in (("without", quiet), ("during", busy))))
    by_phase = {}
    for a, b, phase in r["busy"]:
        by_phase.setdefault(phase, []).append(b - a)
    print("  replies during retrains by phase: " + "; ".join(
        f"{p} p50 {_pct(v, 0.5):.1f} p99 {_pct(v, 0.99):.1f} max {max(v) * 1000:.1f} ms ({len(v)})"
        for p, v in sorted(by_phase.items())))
    print("  event loop (a 1 ms sleep's overshoot) by phase: " + "; ".join(
        f"{p} p99 {_pct(v, 0.99):.2f} max {max(v) * 1000:.1f} ms ({len(v)})" for p, v in sorted(r["lag"].items())))
    walls, cpus = [w for w, _ in r["steps"]], [c for _, c in r["steps"]]
    if walls:
        print(f"  building the new understanding on the event loop: {len(walls) / len(r['retrains']):.0f} "
              f"steps a retrain, each wall p50 {_pct(walls, 0.5):.2f} p99 {_pct(walls, 0.99):.2f} max {max(walls) * 1000:.1f} ms, "
              f"CPU max {max(cpus) * 1000:.1f} ms; a retrain's steps in all {sum(walls) * 1000 / len(r['retrains']):.0f} ms")
    print("  full garbage collections by phase: " + ("; ".join(
        f"{p} {len(v)} (max {max(v) * 1000:.1f} ms)" for p, v in sorted(r["gc"].items())) or "none"))
    p99r, p99p = _pct(r["running"], 0.99), _pct(r["paused"], 0.99)
    low, high = _ratio_interval(r["paused"], r["running"]) if r["running"] and r["paused"] else (float("nan"),) * 2
    print(f"reply, the training process stopped and resumed every {SLICE} s while it trains: running p99 "
          f"{p99r:.1f} ms ({len(r['running'])} replies), stopped p99 {p99p:.1f} ms ({len(r['paused'])}); "
          f"p99 {_rise(p99r, p99p)} (90% interval {100 * (low - 1):+.0f}%..{100 * (high - 1):+.0f}%); running "
          f"replies slower than the stopped p95 / p99: {_above(r['running'], r['paused'], 0.95)} / "
          f"{_above(r['running'], r['paused'], 0.99)}")
    quiet, busy, took = asyncio.run(_probe(args.seconds))
    print(f"event-loop probe (10 reads a unit, no HTTP): without p99 {_pct(quiet, 0.99):.1f} ms, during a "
          f"{took:.1f} s retrain p99 {_pct(busy, 0.99):.1f} ms ({len(quiet)} / {len(busy)} units)")
    done = [f"{t:.1f}" for t in r["retrains"]]
    print(f"retrains: {len(done)} (seconds each, decision -> swapped in; the first into an empty model cache, the "
          f"others the FAQ model alone: {', '.join(done)}); "
          f"swaps {r['swaps']}")
    print("  of each, the training process (" + ", ".join(
        f"{a:.1f}" + (f" [{w:.1f} waiting for replies]" if w is not None else "") for a, _, w in r["parts"])
        + "); building on the event loop (" + ", ".join(f"{b:.2f}" for _, b, _ in r["parts"]) + ")")
    from bot.services import load_services
    for name, nlu in (("the files' models", load_services().nlu), ("the retrained models", r["nlu"])):
        lat, cpu = _read_latencies(nlu), _read_latencies(nlu, time.thread_time)
        print(f"understanding one message, {name}: wall p50 {_pct(lat, 0.5):.2f} ms p99 {_pct(lat, 0.99):.2f} ms "
              f"max {max(lat) * 1000:.1f} ms; CPU p99 {_pct(cpu, 0.99):.2f} ms; {len(lat)} reads (target p99 < 2 ms)")
    print(f"(load average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
