"""Updates from different chats run concurrently; one chat's updates run strictly in order.

Each update is chained behind the previous update of the same chat (its *key*: the chat, or the user
for inline queries and presses on inline messages), so a chat that waits (for its flood budget, a slow
send) only delays itself. The dispatcher also knows which updates are still in flight, which gives the
polling loop its *watermark*: the offset it may confirm to Telegram is the oldest update still in
flight, so an update is confirmed only when it and every update before it have been handled.
With several processes (replicas on PostgreSQL) the handler also holds the chat across processes
(bot.coord's begin/end, in bot/tg/app.py): never two of its updates at once, wherever they land.

Two safety nets for callback queries, which Telegram expects to be answered within seconds:
`CallbackAnswers` lets only the first answer of a query through (later ones are dropped as done; with a
store, also across a crash and restart, which redelivers the press), and the dispatcher answers a query
itself, with a short "busy" note, when its handler has not answered it within `late_answer` seconds (its
chat may be queued behind a slow update).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Awaitable, Callable, Hashable

from telegram import Update

log = logging.getLogger(__name__)
Handle = Callable[[Update], Awaitable[None]]
LateAnswer = Callable[[Update], Awaitable[None]]


class Redeliver(Exception):
    """The update cannot be handled here now (another replica holds it): Telegram should send it again."""


def chat_key(update: Update) -> Hashable:
    """What orders an update: its chat; else its user (inline mode); else nothing (its own key)."""
    chat = update.effective_chat
    if chat is not None:
        return chat.id
    user = update.effective_user
    if user is not None:
        return ("user", user.id)
    return ("update", update.update_id)


class CallbackAnswers:
    """Remembers which callback queries were answered, so each is answered once: in memory for this process
    (`claim`), and, given a store, who answered each one (`record`, `recorded`), which outlives a crash."""

    def __init__(self, size: int = 10_000, store=None):
        self.size, self.store = size, store
        self._answered: OrderedDict[str, float] = OrderedDict()

    def claim(self, query_id: str) -> bool:
        """True for the first caller that may answer `query_id`; False when it was answered already."""
        if query_id in self._answered:
            return False
        self._answered[query_id] = time.monotonic()
        while len(self._answered) > self.size:
            self._answered.popitem(last=False)
        return True

    def release(self, query_id: str) -> None:
        """The answer failed to go out: let a later attempt try again."""
        self._answered.pop(query_id, None)

    def answered(self, query_id: str) -> bool:
        return query_id in self._answered

    async def recorded(self, query_id: str) -> str | None:
        """Who answered `query_id` as the store remembers it (Store.callback_answer), None without a store."""
        return None if self.store is None else await self.store.callback_answer(query_id)

    async def record(self, query_id: str, by: str) -> None:
        """Telegram took an answer to `query_id` (or the handler reached its answer after an early one)."""
        if self.store is None:
            return
        try:
            await self.store.record_callback_answer(query_id, by)
        except Exception as exc:  # noqa: BLE001 - the answer went out; only a redelivery would repeat it
            log.warning("could not record the answer to callback query %s: %s", query_id, exc)


class ChatDispatcher:
    """Per-chat ordering, cross-chat concurrency, and the set of updates in flight."""

    def __init__(self, handle: Handle, late_answer: LateAnswer | None = None, late_after: float = 1.5,
                 on_busy: Callable[[bool], None] | None = None):
        """`on_busy(True)` when an update comes in with none in flight, `on_busy(False)` when the last one
        in flight is done (the training process waits meanwhile: bot.content.training)."""
        self.handle = handle
        self.late_answer, self.late_after = late_answer, late_after
        self.on_busy = on_busy
        self.in_flight: dict[int, asyncio.Task] = {}
        self._tails: dict[Hashable, asyncio.Task] = {}
        self._progress = asyncio.Event()

    def submit(self, update: Update) -> asyncio.Task:
        """Schedule `update` behind its chat's earlier updates; the task ends when it has been handled,
        with True, or with False when it could not be (the webhook then asks Telegram to send it again).

        An update already in flight (a webhook redelivery) is not scheduled twice: its task is returned.
        """
        running = self.in_flight.get(update.update_id)
        if running is not None:
            return running
        key = chat_key(update)
        task = asyncio.create_task(self._run(self._tails.get(key), update, key))
        self._tails[key] = task
        self.in_flight[update.update_id] = task
        if len(self.in_flight) == 1 and self.on_busy is not None:
            self.on_busy(True)
        return task

    async def _run(self, before: asyncio.Task | None, update: Update, key: Hashable) -> bool:
        timer = self._late_timer(update)
        try:
            if before is not None:
                await asyncio.wait([before])       # in order within the chat, whatever became of it
            await self.handle(update)
            return True
        except asyncio.CancelledError:
            raise
        except Redeliver as exc:
            log.warning("update %s (chat %s) not handled here: %s", update.update_id, key, exc)
            return False
        except Exception:  # noqa: BLE001 - process_update reports handler errors itself; never stop the chain
            log.exception("update %s (chat %s) failed outside its handlers", update.update_id, key)
            return False
        finally:
            if timer is not None:
                timer.cancel()
            self.in_flight.pop(update.update_id, None)
            if not self.in_flight and self.on_busy is not None:
                self.on_busy(False)
            if self._tails.get(key) is asyncio.current_task():
                del self._tails[key]
            self._progress.set()

    def _late_timer(self, update: Update) -> asyncio.TimerHandle | None:
        if self.late_answer is None or update.callback_query is None:
            return None
        loop = asyncio.get_running_loop()
        return loop.call_later(self.late_after, lambda: asyncio.ensure_future(self._answer_late(update)))

    async def _answer_late(self, update: Update) -> None:
        try:
            await self.late_answer(update)
        except Exception as exc:  # noqa: BLE001 - best effort: the handler still answers if it can
            log.warning("could not answer callback query of update %s early: %s", update.update_id, exc)

    def oldest(self) -> int | None:
        """The oldest update id still in flight, or None when all are done."""
        return min(self.in_flight) if self.in_flight else None

    async def progressed(self, timeout: float) -> bool:
        """Wait until some update finishes (True) or `timeout` passes (False)."""
        self._progress.clear()
        try:
            await asyncio.wait_for(self._progress.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def cancel(self) -> int:
        """Stop every update still in flight (at exit, after a drain that ran out of time): for Telegram it is
        as if the process had died, so it delivers them again; returns how many there were."""
        tasks = list(self.in_flight.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1)
        return len(tasks)

    async def join(self, timeout: float | None = None) -> bool:
        """Wait for every update in flight; False when `timeout` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.in_flight:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(list(self.in_flight.values()), timeout=left)
        return True
