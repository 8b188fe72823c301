"""Card drawing in worker processes: a new card never takes the bot's interpreter.

Drawing a card is 10-40 ms of Pillow work, and Pillow holds the interpreter for much of it: drawn in a
thread of the bot, every other chat's reply waited behind it (issue 16). Here the bot sends a card's
content (plain frozen dataclasses, bot.cards.content) to a small pool of processes (CARD_WORKERS, one by
default) and awaits the PNG bytes; its event loop keeps serving other chats meanwhile.

The workers are forked from a forkserver that has imported only this module and Pillow, so a worker
starts in milliseconds and holds no copy of the bot's state. A worker that dies (or takes longer than
DRAW_TIMEOUT) breaks the pool: the draws it had come back as None (the caller sends text instead) and
a new pool is started at once for the next card.

    workers = CardWorkers(fonts, size=1)
    workers.start()                                   # with the bot (post_init)
    png = await workers.run(render_job(card))         # None: no picture this time, send text
    workers.close()                                   # with the bot (post_shutdown)
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any, Callable

from bot.cards import draw
from bot.cards.content import CompareCard, ResultCard
from bot.cards.fonts import FontChoice, FontSet

log = logging.getLogger(__name__)
DRAW_TIMEOUT = 10.0        # seconds: a draw taking longer means a stuck worker; it is replaced
DEFAULT_WORKERS = 1        # one core draws; the other stays with the bot (2-core machines)
NICE = 10                  # the workers' scheduling priority below the bot's
BOT_WATCH = 1.0            # seconds between a worker's checks that the bot is still there

_fonts: FontSet | None = None      # in a worker process: the bot's chosen faces, fonts loaded on use


# -- in the worker process ------------------------------------------------------------------------
def _init_worker(choices: dict[str, FontChoice | None], reasons: dict[str, str], bot_pid: int) -> None:
    global _fonts
    _fonts = FontSet(choices, reasons)
    _lower_priority()
    threading.Thread(target=_end_with, args=(bot_pid,), name="bot watch", daemon=True).start()


def _lower_priority() -> None:
    """Nice NICE: a card is background work; on a busy machine the bot's replies get the CPU first."""
    try:
        os.nice(max(0, NICE - os.nice(0)))
    except OSError:
        pass


def _end_with(bot_pid: int) -> None:
    """Exit when the bot is gone. A bot stopped normally stops its workers, but one killed outright (kill -9)
    cannot, and a worker waits on its job queue forever (keeping the forkserver alive with it)."""
    while True:
        time.sleep(BOT_WATCH)
        if not _alive(bot_pid):
            os._exit(0)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")    # a zombie is dead too
    except FileNotFoundError:
        return False
    except OSError:                          # no /proc here: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


def render(card: ResultCard | CompareCard) -> bytes:
    """The card's PNG bytes (runs in a worker)."""
    if _fonts is None:
        raise RuntimeError("render() runs in a card worker, after its initialiser")
    if isinstance(card, ResultCard):
        return draw.draw_result(_fonts, card)
    return draw.draw_compare(_fonts, card)


def render_timed(card: ResultCard | CompareCard) -> tuple[bytes, float]:
    """render() and the seconds it took inside the worker (for the benchmark)."""
    started = time.perf_counter()
    png = render(card)
    return png, time.perf_counter() - started


def render_job(card: ResultCard | CompareCard) -> Callable[[], bytes]:
    """A picklable job drawing `card` in a worker."""
    return partial(render, card)


def _warm_up(cards: tuple[ResultCard | CompareCard, ...]) -> int:
    """Loads the fonts and rasterises the text every card shares, before the first real card."""
    for card in cards:
        render(card)
    return os.getpid()


if any("multiprocessing.forkserver" in arg for arg in getattr(sys, "orig_argv", ())):
    _lower_priority()    # this is the forkserver preloading us: its imports give way to the bot's replies too


# -- in the bot -----------------------------------------------------------------------------------
def _context() -> multiprocessing.context.BaseContext:
    """Workers forked from a small server process that has imported this module only."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:                     # not on this platform: a fresh interpreter each
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    return ctx


class CardWorkers:
    """A pool of `size` drawing processes, restarted when one dies."""

    def __init__(self, fonts: FontSet, size: int = DEFAULT_WORKERS,
                 warm_up: tuple[ResultCard | CompareCard, ...] = ()):
        self.fonts, self.size = fonts, max(1, size)
        self.warm = warm_up
        self.restarts = 0
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    @property
    def running(self) -> bool:
        return self._pool is not None

    def start(self) -> None:
        """Start the processes now (not at the first card), each loading the fonts."""
        if self._pool is None and not self._closed:
            self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(self.size, mp_context=_context(), initializer=_init_worker,
                                   initargs=(self.fonts.choices, self.fonts.reasons, os.getpid()))
        for _ in range(self.size):                      # one submit per process: they all start now
            pool.submit(_warm_up, self.warm)
        return pool

    def pids(self) -> list[int]:
        """The worker processes' ids (tests and the benchmark)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return sorted(processes)

    async def run(self, job: Callable[[], Any], timeout: float = DRAW_TIMEOUT) -> Any:
        """`job()` in a worker; None when the worker died or stuck (a new pool is then started)."""
        if self._closed:
            return None
        self.start()
        pool = self._pool
        try:
            future: Future = pool.submit(job)
        except (BrokenProcessPool, RuntimeError):       # it broke while idle: nothing was lost yet
            pool = self._restart(pool, "a card worker had stopped")
            future = pool.submit(job)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except BrokenProcessPool:
            self._restart(pool, "a card worker died while drawing; this card goes out as text")
        except asyncio.TimeoutError:
            self._restart(pool, f"a card took more than {timeout:.0f} s to draw; its worker is replaced and "
                                "this card goes out as text", kill=True)
        return None

    def _restart(self, broken: ProcessPoolExecutor, why: str, kill: bool = False) -> ProcessPoolExecutor:
        if self._pool is broken and not self._closed:    # once per broken pool, however many draws it failed
            log.warning("%s (restarting the card workers)", why)
            self._stop(broken, kill=kill)
            self.restarts += 1
            self._pool = self._new_pool()
        return self._pool

    @staticmethod
    def _stop(pool: ProcessPoolExecutor, kill: bool = False) -> None:
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        if kill:
            for process in processes:
                try:
                    process.kill()
                except (OSError, ValueError):
                    pass

    def close(self) -> None:
        """Stop the processes (with the bot); later draws return None."""
        self._closed = True
        if self._pool is not None:
            self._stop(self._pool, kill=False)
            self._pool = None
