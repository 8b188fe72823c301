"""Picture cards: drawing time cold (cache cleared) and cached, and PNG sizes, in both languages.

Cold = the card is drawn and encoded (the image cache was cleared; fonts stay loaded and text already
rasterised stays stamped, as in a running bot where labels, headings and reasons recur). The first draw
of a card in a process also rasterises its text (and the very first loads the fonts): it is reported on
its own as the worst case. Cached = the same
card asked again: the content key is computed and the stored bytes returned. Then the way the bot gets
a card: its content sent to a card worker process (bot.cards.worker), the PNG bytes back. Prints
figures; asserts nothing. Targets (issues 10, 16): p99 < 60 ms cold and request -> PNG bytes in the
worker, < 1 ms cached, a card < 300 KB.

    python -m bench cards
    python -m bench.cards --rounds 100
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot import LANGS  # noqa: E402
from functools import partial  # noqa: E402

from bot.cards import CardMaker  # noqa: E402
from bot.cards.worker import NICE, CardWorkers, render_timed  # noqa: E402
from bot.cards.__main__ import SAMPLES  # noqa: E402
from bot.engine.recommend import recommend  # noqa: E402
from bot.services import load_services  # noqa: E402

BOT = "ModeAdvisorBot"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench cards")
    parser.add_argument("--rounds", type=int, default=60, help="cold draws per language and card (default 60)")
    parser.add_argument("--cached", type=int, default=2000, help="cached calls per language (default 2000)")
    args = parser.parse_args(argv or [])
    services = load_services()
    started = time.perf_counter()
    cards = CardMaker.for_services(services)
    found = time.perf_counter() - started
    for lang, font in cards.fonts.describe().items():
        print(f"font {lang}: {font}")
    print(f"finding fonts: {found * 1000:.0f} ms (once per process)")
    recs = {name: recommend(services.flow, services.rules, answers) for name, (answers, _) in SAMPLES.items()}
    print(f"{'lang':4} {'card':22} {'first ms':>9} {'cold p50':>9} {'cold p99':>9} {'cached p50':>11} "
          f"{'cached p99':>11} {'PNG KB':>7}")
    for lang in LANGS:
        if not cards.can_draw(lang):
            print(f"{lang:4} no font for this language: cards are not drawn (the bot sends text)")
            continue
        draws = [(name, lambda rec=rec: cards.result_png(rec, lang, BOT)) for name, rec in recs.items()]
        draws.append(("comparison", lambda: cards.compare_png(lang, BOT)))
        for i, (name, draw) in enumerate(draws):
            cards.clear_cache()
            t0 = time.perf_counter()
            png = draw()
            first = time.perf_counter() - t0
            cold = []
            for _ in range(args.rounds):
                cards.clear_cache()
                t0 = time.perf_counter()
                draw()
                cold.append(time.perf_counter() - t0)
            cached = []
            for _ in range(args.cached // len(draws)):
                t0 = time.perf_counter()
                draw()
                cached.append(time.perf_counter() - t0)
            print(f"{lang:4} {name:22} {first * 1000:9.1f} {statistics.median(cold) * 1000:9.1f} "
                  f"{_pct(cold, 0.99) * 1000:9.1f} {statistics.median(cached) * 1000:11.3f} "
                  f"{_pct(cached, 0.99) * 1000:11.3f} {len(png) / 1024:7.1f}")
    print("ms per card; first = the first draw in this process for that card (the very first also loads fonts)")
    asyncio.run(_in_worker(cards, recs, args.rounds))


async def _in_worker(cards: CardMaker, recs: dict, rounds: int) -> None:
    """What the bot sees: a card's content handed to the card worker process -> its PNG bytes back."""
    contents = [content[1] for lang in LANGS for content in
                [*(cards.result_content(rec, lang, BOT) for rec in recs.values()), cards.compare_content(lang, BOT)]
                if content is not None]
    if not contents:
        print("card worker: no font, no cards")
        return
    started = time.perf_counter()
    workers = CardWorkers(cards.fonts, size=1, warm_up=tuple(contents[-1:]))
    workers.start()
    await workers.run(os.getpid)                          # the worker is up (and warmed up)
    up = time.perf_counter() - started
    trips, inside = [], []
    try:
        for _ in range(rounds):
            for card in contents:
                t0 = time.perf_counter()
                png, took = await workers.run(partial(render_timed, card))
                trips.append(time.perf_counter() - t0)
                inside.append(took)
        cpu = _tree_cpu(workers.pids())
    finally:
        workers.close()
    print(f"card worker (a separate process, nice {NICE}): started and warmed up in {up * 1000:.0f} ms; "
          f"{len(trips)} cards drawn anew, request -> PNG bytes p50 {statistics.median(trips) * 1000:.1f} ms, "
          f"p99 {_pct(trips, 0.99) * 1000:.1f} ms (target < 60 ms); drawing inside the worker p50 "
          f"{statistics.median(inside) * 1000:.1f} ms, p99 {_pct(inside, 0.99) * 1000:.1f} ms; worker CPU "
          f"{cpu / len(trips) * 1000:.1f} ms per card")


def _tree_cpu(pids: list[int]) -> float:
    from tests.process_harness import process_tree_cpu
    return sum(process_tree_cpu(pid) for pid in pids)


if __name__ == "__main__":
    main(sys.argv[1:])
