"""Keeps one process's understanding in step with the content overlay in the store.

Every few seconds the process reads the overlay's version (one tiny query). When it moved, the overlay
is read and merged over the files' content, and the models are trained in the training process
(bot.content.training: started by the first retrain and kept, idle, for the next; training is CPU-bound
Python, and in a thread here it would hold the interpreter lock and slow every reply; it waits while this
process has replies in flight, which the ChatDispatcher tells `trainer.replying`) into the model
cache, keyed by the content's hash. The new `Understanding` is then built on the event loop from the models' bytes, in steps
of a millisecond or two with the loop free between them (`Understanding.in_steps`; a worker thread would
hold the interpreter lock for tens of milliseconds at a time, and the loop's every system call waits for
it), and swapped in between two updates: nothing waits for training, nothing restarts. Every replica does
the same, so a decision made on one shows on all within `POLL_SECONDS` plus a training run (on one host
they share the cache: the first to train serves the others).
"""
from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Generator

from bot.content.overlay import merge
from bot.content.training import TrainingFailed, TrainingProcess
from bot.engine.dialogue import Dialogue
from bot.nlu.answer import FaqAnswerer
from bot.nlu.content import Content
from bot.nlu.understand import CACHE_DIR, Understanding
from bot.services import Services, understanding_content
from bot.store.base import OverlayExample, Store

log = logging.getLogger(__name__)
POLL_SECONDS = 3.0
LOAD_SWITCH = 0.0005    # seconds between thread switches while a fallback builds in a thread (default: 0.005)
STEP_GAP = 0.02         # seconds for other work between two steps of building the new models (a reply or more)
TRAIN_TIMEOUT = 600.0   # a training process that takes longer is taken as stuck: it is replaced
PURGE_SECONDS = 3600.0


class LiveContent:
    """The process's services with an understanding that follows the overlay (see the module doc).

    `services` is a copy of the given services with a dialogue and an FAQ answerer of its own, so a swap
    never touches services shared with anything else (the tests' `load_services()`)."""

    def __init__(self, services: Services, store: Store, cache_dir: Path | None = CACHE_DIR,
                 poll_seconds: float = POLL_SECONDS, retention_days: float = 0.0):
        self.store, self.poll_seconds, self.retention_days = store, poll_seconds, retention_days
        self.cache_dir = Path(cache_dir) if cache_dir is not None else Path(tempfile.mkdtemp(prefix="nlu-"))
        self.base = understanding_content(services.flow, services.reading, services.kb)
        self.scope = services.nlu.scope           # the word lists of scope: read at run time, not trained
        answerer = FaqAnswerer(services.kb, services.nlu)
        self.services = replace(services, answerer=answerer,
                                dialogue=Dialogue(services.flow, services.rules, services.nlu, answerer))
        self.version: int | None = None           # the overlay version the understanding in use reflects
        self.overlay: list[OverlayExample] = []
        self.swaps = 0
        self.last_training_s: float | None = None
        self.trainer = TrainingProcess()
        self.phase = "idle"                       # or "training", "loading": where a retrain is (for the bench)
        self._refreshing = asyncio.Lock()
        self._purged = 0.0

    @property
    def nlu(self) -> Understanding:
        return self.services.dialogue.nlu

    def content(self, overlay: list[OverlayExample] | None = None) -> Content:
        """The files' content with an overlay (the one in use when not given) merged in."""
        return merge(self.base, self.overlay if overlay is None else overlay)

    # -- following the store -------------------------------------------------------------------------
    async def refresh(self) -> bool:
        """Catch up with the overlay in the store; True when a new understanding was swapped in."""
        async with self._refreshing:
            version = await self.store.overlay_version()
            if version == self.version:
                return False
            overlay = await self.store.overlay_examples()
            if self.version is None and not overlay:     # start-up with an empty overlay: the files' models
                self.version = version
                return False
            content = self.content(overlay)
            started = time.perf_counter()
            nlu = await self._train(content)
            self.last_training_s = time.perf_counter() - started
            self._swap(nlu)
            self.overlay, self.version = overlay, version
            log.info("understanding retrained with %d overlay example(s) (version %s) in %.1f s (the training "
                     "process waited %.1f s of it for replies in flight)", len(overlay), version,
                     self.last_training_s, self.trainer.last_waited or 0.0)
            return True

    async def _train(self, content: Content) -> Understanding:
        """Train in the training process, then build the understanding on the event loop in small steps.
        When that process cannot start, dies or fails, the understanding is trained and built in a worker
        thread instead (slower replies meanwhile, the same result); the next retrain starts a new process."""
        self.phase = "training"
        try:
            try:
                digest, meta, arrays = await asyncio.wait_for(
                    asyncio.to_thread(self.trainer.train, content, self.cache_dir), TRAIN_TIMEOUT)
            except asyncio.CancelledError:
                self.trainer.stop()             # we are stopping: the thread waiting for it ends at once
                raise
            except asyncio.TimeoutError:
                self.trainer.stop()             # stuck: a new one starts at the next job
                return await self._build_here(content, "training in a thread (the training process took too long)")
            except TrainingFailed as exc:
                return await self._build_here(content, f"training in a thread ({exc})")
            self.phase = "loading"
            try:
                return await self._in_steps(Understanding.in_steps(content, digest, meta, arrays, scope=self.scope))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                return await self._build_here(
                    content, f"building in a thread (the training process sent models that do not load: {exc!r})")
        finally:
            self.phase = "idle"

    @staticmethod
    async def _in_steps(steps: Generator[None, None, Understanding]) -> Understanding:
        """Run the steps on the event loop, each followed by STEP_GAP seconds for other work."""
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value
            await asyncio.sleep(STEP_GAP)

    async def _build_here(self, content: Content, why: str) -> Understanding:
        """The fallback: build (and train, unless cached) in a worker thread of this process. It holds the
        interpreter lock meanwhile; the interpreter hands the lock over every LOAD_SWITCH seconds instead of
        every 5 ms, so the event loop is kept waiting less."""
        log.warning("%s", why)

        def build() -> Understanding:
            before = sys.getswitchinterval()
            sys.setswitchinterval(min(before, LOAD_SWITCH))
            try:
                return Understanding(content, self.cache_dir, scope=self.scope)
            finally:
                sys.setswitchinterval(before)
        return await asyncio.to_thread(build)

    def _swap(self, nlu: Understanding) -> None:
        """Between two updates (on the event loop, no await): every reader sees the new models at once."""
        self.services.answerer.nlu = nlu
        self.services.dialogue.nlu = nlu
        object.__setattr__(self.services, "nlu", nlu)   # Services is frozen; this one copy is ours
        self.swaps += 1

    def close(self) -> None:
        """End the training process (`follow` does at its end; call it after refreshing without `follow`)."""
        self.trainer.stop()

    async def follow(self, running=lambda: True) -> None:
        """Poll the overlay version until `running()` turns false; purge expired review items hourly. The
        training process (started by the first retrain, then kept idle for the next) ends with this."""
        try:
            await self._follow(running)
        finally:
            self.close()

    async def _follow(self, running) -> None:
        tick = min(0.5, self.poll_seconds)
        next_poll = 0.0
        while running():
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + self.poll_seconds
                try:
                    await self.refresh()
                    await self._purge()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:   # noqa: BLE001 - a store hiccup: try again at the next poll
                    if not running():
                        return                  # stopping: the store is closing under the poll
                    log.warning("could not follow the content overlay (trying again in %s s): %r",
                                self.poll_seconds, exc)
            await asyncio.sleep(tick)

    async def _purge(self) -> None:
        if self.retention_days <= 0 or time.monotonic() - self._purged < PURGE_SECONDS and self._purged:
            return
        self._purged = time.monotonic()
        gone = await self.store.review_purge(time.time() - self.retention_days * 86400)
        if gone:
            log.info("review: %d item(s) older than %s days deleted", gone, self.retention_days)


def with_overlay(services: Services, store: Store) -> Services:
    """For one-shot commands (`ask`, `understand`, the console): the services with the overlay in `store`
    merged in, trained here if the cache does not have them (blocking: nothing else waits)."""
    import asyncio as _asyncio

    async def read() -> list[OverlayExample]:
        await store.open()
        try:
            return await store.overlay_examples()
        finally:
            await store.close()
    overlay = _asyncio.run(read())
    if not overlay:
        return services
    content = merge(understanding_content(services.flow, services.reading, services.kb), overlay)
    nlu = Understanding(content, scope=services.nlu.scope)
    answerer = FaqAnswerer(services.kb, nlu)
    dialogue = Dialogue(services.flow, services.rules, nlu, answerer)
    return replace(services, nlu=nlu, answerer=answerer, dialogue=dialogue)


