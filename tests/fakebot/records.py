"""What the fake remembers (calls, updates, webhook deliveries), fault injection and flood limits.

All times are ``time.monotonic()`` seconds (system-wide on Linux, so comparable across processes).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .errors import ApiError, too_many_requests

SEND_METHODS = frozenset(
    {
        "sendMessage", "sendDocument", "sendPhoto", "sendVoice", "sendAudio", "sendVideo",
        "sendSticker", "sendLocation", "sendContact", "sendAnimation", "copyMessage",
        "forwardMessage", "editMessageText", "editMessageReplyMarkup", "editMessageCaption",
        "editMessageMedia",
    }
)


@dataclass
class CallRecord:
    """One Bot API request as the fake received and answered it."""

    index: int
    method: str
    params: dict[str, Any]
    at: float
    status: int = 0
    ok: bool = False
    description: str | None = None
    result: Any = None
    done_at: float | None = None
    fault: str | None = None

    @property
    def chat_id(self) -> Any:
        """The ``chat_id`` parameter, when there was one."""
        return self.params.get("chat_id")

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form for the control API."""
        return asdict(self)


@dataclass
class Rejection:
    """A request refused by a strictness rule (not an injected fault or flood limit)."""

    method: str
    params: dict[str, Any]
    error_code: int
    description: str
    at: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class UpdateRecord:
    """An update pushed to the bot, with the moments it became available, left, and got answered."""

    update_id: int
    payload: dict[str, Any]
    available_at: float
    chat_id: int | None = None
    delivered_at: float | None = None
    replied_at: float | None = None
    confirmed: bool = False

    @property
    def kind(self) -> str:
        """The update type, e.g. ``"message"`` or ``"callback_query"``."""
        return next(k for k in self.payload if k != "update_id")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind
        return data


@dataclass
class WebhookDelivery:
    """One POST of an update to the bot's webhook."""

    update_id: int
    at: float
    status: int | None
    duration: float
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Notifier:
    """Lets coroutines wait until a predicate over the fake's state turns true."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        """Wake every waiter so it re-checks its predicate."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait_until(self, predicate: Callable[[], Any], timeout: float) -> Any:
        """Return the first truthy ``predicate()``; raise ``TimeoutError`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait_for(asyncio.shield(waiter), remaining)
            except asyncio.TimeoutError:
                pass
            finally:
                self._waiters.discard(waiter)


FAULT_KINDS = ("429", "500", "502", "drop", "delay")


@dataclass
class Fault:
    """A programmed failure for the next ``count`` matching calls.

    ``method=None`` matches every method except getUpdates; ``"*"`` matches all methods.
    """

    kind: str
    method: str | None = None
    count: int = 1
    retry_after: int = 1
    delay: float = 0.0
    chat_id: int | None = None

    def matches(self, method: str, chat_id: Any) -> bool:
        if self.method == "*":
            pass
        elif self.method is None:
            if method == "getUpdates":
                return False
        elif self.method.lower() != method.lower():
            return False
        return self.chat_id is None or str(self.chat_id) == str(chat_id)


class Faults:
    """Queue of programmed faults plus counters of the ones injected."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []
        self.injected: dict[str, int] = {kind: 0 for kind in FAULT_KINDS}

    def add(self, kind: str, method: str | None = None, count: int = 1, *, retry_after: int = 1,
            delay: float = 0.0, chat_id: int | None = None) -> Fault:
        """Program ``count`` faults of ``kind`` ("429", "500", "502", "drop", "delay")."""
        kind = str(kind)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        fault = Fault(kind, method, count, retry_after, delay, chat_id)
        self.pending.append(fault)
        return fault

    def clear(self) -> None:
        """Drop all programmed faults (counters are kept)."""
        self.pending.clear()

    def take(self, method: str, chat_id: Any) -> Fault | None:
        """Consume one matching fault, if any."""
        for fault in self.pending:
            if fault.count > 0 and fault.matches(method, chat_id):
                fault.count -= 1
                if fault.count <= 0:
                    self.pending.remove(fault)
                self.injected[fault.kind] += 1
                return fault
        return None

    def to_json(self) -> dict[str, Any]:
        return {"pending": [asdict(f) for f in self.pending], "injected": dict(self.injected)}


@dataclass
class FloodLimits:
    """Telegram-like flood limits (off by default)."""

    enabled: bool = False
    global_per_second: int = 30
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20
    group_period: float = 60.0   # seconds the per-group window spans (tests may shorten "a minute")
    sent_429: int = 0
    _global: deque[float] = field(default_factory=deque, repr=False)
    _groups: dict[int, deque[float]] = field(default_factory=dict, repr=False)
    _private: dict[int, tuple[float, float]] = field(default_factory=dict, repr=False)

    def check(self, method: str, chat_id: int | None, chat_is_private: bool) -> None:
        """Raise a 429 ``ApiError`` when a sending call exceeds a limit; else count it."""
        if not self.enabled or method not in SEND_METHODS:
            return
        now = time.monotonic()
        while self._global and now - self._global[0] >= 1.0:
            self._global.popleft()
        if len(self._global) >= self.global_per_second:
            self._reject(1.0 - (now - self._global[0]))
        if chat_id is not None and chat_is_private:
            tokens, last = self._private.get(chat_id, (float(self.private_burst), now))
            tokens = min(float(self.private_burst), tokens + (now - last) * self.private_per_second)
            if tokens < 1.0:
                self._reject((1.0 - tokens) / self.private_per_second)
            self._private[chat_id] = (tokens - 1.0, now)
        elif chat_id is not None:
            window = self._groups.setdefault(chat_id, deque())
            while window and now - window[0] >= self.group_period:
                window.popleft()
            if len(window) >= self.group_per_minute:
                self._reject(self.group_period - (now - window[0]))
            window.append(now)
        self._global.append(now)

    def _reject(self, wait: float) -> None:
        self.sent_429 += 1
        raise too_many_requests(max(1, math.ceil(wait)), "flood")

    def configure(self, **options: Any) -> None:
        """Change limits, e.g. ``configure(enabled=True, group_per_minute=5)``."""
        for key, value in options.items():
            if key.startswith("_") or not hasattr(self, key):
                raise ValueError(f"unknown flood option {key!r}")
            setattr(self, key, value)


def is_rejection(error: ApiError) -> bool:
    """Only rule violations go to ``rejections``; injected faults and flood waits do not."""
    return error.origin == "rule"
