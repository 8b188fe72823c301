"""Telegram's flood limits, counted the way Telegram counts them: in sliding windows.

At most 30 messages in any one second overall and 20 in any minute per group (we keep one below
each). python-telegram-bot's AIORateLimiter uses leaky buckets that start full: after a quiet moment
they let a burst of 30 through and keep going at 30 per second, up to ~60 messages in one second, and
Telegram answers the excess with 429s, which then stop every send for `retry_after` seconds. A
sliding window never exceeds the limit and, unlike a plain pace of one message every 1/30 s, lets a
small burst (a greeting and a question) through at once.

Telegram counts per bot token, so replicas of one bot must count together: `TelegramLimits` takes a
window factory, and bot/coord/pg.py provides windows kept in PostgreSQL (the same semantics:
a call holds its slot from its start until a period after it finished). The in-process `Window`
below serves a single process. `delay(chat_id)` stays a cheap, synchronous estimate either way.
"""
from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import deque
from typing import Any, Callable, Protocol

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)


class Window:
    """At most `limit` calls reach Telegram in any `period` seconds, first come first served.

    A call holds its slot from the moment it starts until `period` after it has finished: it reached
    Telegram somewhere in between, and with many chats running concurrently the time between taking a
    slot and the request arriving can be long enough that counting start times alone lets a window
    overflow (seen as 429s in the 300-user burst).
    """

    def __init__(self, limit: int, period: float):
        self.limit, self.period = limit, period
        self.finished: deque[float] = deque()    # finish times of calls within the last period
        self.running = 0
        self.waiting = 0
        self.lock = asyncio.Lock()
        self._released = asyncio.Event()

    def _used(self, now: float) -> int:
        while self.finished and now - self.finished[0] >= self.period:
            self.finished.popleft()
        return len(self.finished) + self.running

    async def acquire(self, chat: Any = None) -> None:
        """Take a slot (waiting for one); the result is what `release` takes back."""
        self.waiting += 1
        try:
            async with self.lock:
                while True:
                    now = time.monotonic()
                    if self._used(now) < self.limit:
                        self.running += 1
                        return
                    self._released.clear()
                    if self.finished:                 # the oldest finished call leaves the window
                        await asyncio.sleep(self.period - (now - self.finished[0]))
                    else:                             # every slot is a call still running
                        await self._released.wait()
        finally:
            self.waiting -= 1

    def release(self, token: Any = None) -> None:
        self.running -= 1
        self.finished.append(time.monotonic())
        self._released.set()

    def delay(self) -> float:
        """Roughly how long a new call would wait now, counting those already waiting."""
        now = time.monotonic()
        over = self._used(now) + self.waiting - self.limit      # calls that must leave first, minus one
        if over < 0:
            return 0.0
        rounds, index = divmod(over, self.limit)
        if index >= len(self.finished):                          # running or waiting calls fill it
            return (rounds + 1) * self.period
        return rounds * self.period + max(0.0, self.finished[index] + self.period - now)

    def idle(self) -> bool:
        return not self._used(time.monotonic()) and not self.waiting


class WindowLike(Protocol):
    """What TelegramLimits needs of a window (`Window` here, `PgWindow` in bot/coord/pg.py)."""

    async def acquire(self, chat: Any = None) -> Any: ...     # a token, or a Paused when `chat` is paused
    def release(self, token: Any = None) -> None: ...
    def delay(self) -> float: ...
    def idle(self) -> bool: ...


class Paused(float):
    """Returned by a shared window's acquire: this chat is paused by a 429 for this many seconds."""


MakeWindow = Callable[[str, int, float], WindowLike]     # (key, limit, period) -> window


def local_window(key: str, limit: int, period: float) -> Window:
    return Window(limit, period)


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


class TelegramLimits(BaseRateLimiter):
    """Paces every call that has a chat_id. A 429 that still comes is waited out by the chat it came for
    (other chats go on), or by every call when it came for a call without a chat."""

    def __init__(self, overall_per_second: int = 29, group_per_minute: int = 19, max_retries: int = 3,
                 make_window: MakeWindow = local_window, share_pause: Callable[[Any, float], Any] | None = None,
                 observe: Callable[[str, float, bool], None] | None = None):
        self.make_window = make_window
        self.overall = make_window("all", overall_per_second, 1.0)
        self.group_per_minute = group_per_minute
        self.groups: dict[Any, WindowLike] = {}
        self.max_retries = max_retries
        self.share_pause = share_pause          # tells the other replicas about a 429 (shared windows)
        self.observe = observe                  # (endpoint, seconds waited for the budget, got a 429)
        self._open = asyncio.Event()
        self._open.set()
        self._paused: dict[Any, float] = {}     # chat_id -> monotonic time its 429 wait ends

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def _group(self, chat_id: Any) -> WindowLike:
        if len(self.groups) > 512:
            self.groups = {k: w for k, w in self.groups.items() if not w.idle()}
        window = self.groups.get(chat_id)
        if window is None:
            window = self.groups[chat_id] = self.make_window(f"g{chat_id}", self.group_per_minute, 60.0)
        return window

    @staticmethod
    def is_group(chat_id: Any) -> bool:
        try:
            return int(chat_id) < 0
        except (TypeError, ValueError):
            return True                           # an @username: a channel or supergroup

    def delay(self, chat_id: Any) -> float:
        """Roughly how long a message to `chat_id` sent now would wait for the flood budget."""
        wait = max(0.0, self._paused.get(chat_id, 0.0) - time.monotonic())
        if self.is_group(chat_id):
            wait = max(wait, self._group(chat_id).delay())
        return max(wait, self.overall.delay())

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        retries = rate_limit_args or self.max_retries
        chat_id = data.get("chat_id")
        while True:
            began = time.monotonic()
            await self._open.wait()
            windows: list[WindowLike] = []
            if chat_id is not None:
                pause = self._paused.get(chat_id, 0.0) - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                if self.is_group(chat_id):
                    windows.append(self._group(chat_id))
                windows.append(self.overall)
            held: list[tuple[WindowLike, Any]] = []
            paused = None
            try:
                for window in windows:
                    token = await window.acquire(chat_id)
                    if isinstance(token, Paused):        # another replica met a 429 for this chat
                        paused = float(token)
                        break
                    held.append((window, token))
                if paused is None:
                    if self.observe:
                        self.observe(endpoint, time.monotonic() - began, False)
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                flood = exc
            finally:
                for window, token in held:
                    window.release(token)
            if paused is not None:
                self._paused[chat_id] = max(self._paused.get(chat_id, 0.0), time.monotonic() + paused)
                continue
            if self.observe:
                self.observe(endpoint, 0.0, True)
            if retries <= 0:
                raise flood
            retries -= 1
            wait = _seconds(flood) + 0.1
            if chat_id is not None:
                log.info("flood limit hit on %s for chat %s; that chat waits %.1f s", endpoint, chat_id, wait)
                self._paused[chat_id] = max(self._paused.get(chat_id, 0.0), time.monotonic() + wait)
                if len(self._paused) > 512:
                    now = time.monotonic()
                    self._paused = {k: t for k, t in self._paused.items() if t > now}
                if self.share_pause is not None:
                    await self.share_pause(chat_id, wait)
                continue
            log.info("flood limit hit on %s; every send waits %.1f s", endpoint, wait)
            self._open.clear()
            try:
                await asyncio.sleep(wait)
            finally:
                self._open.set()
