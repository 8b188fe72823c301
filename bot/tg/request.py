"""HTTP to the Bot API with retries for transient failures.

A 5xx answer or a connection that broke before any answer arrived is tried again a few times with
a growing pause; anything else (400, 403, 429, a read timeout) is passed on unchanged: 429 is the
flood limiter's job (bot.tg.limits waits `retry_after`), and a request that timed out while
reading may already have been carried out, so repeating it could show the user a reply twice. The
read timeout is long enough that a slow Telegram is waited for rather than given up on.
"""
from __future__ import annotations

import asyncio
import logging
import time

from telegram.error import NetworkError, TimedOut

from bot.metrics import TELEGRAM_CALLS, TELEGRAM_ERRORS
from bot.tg.transport import BotApiRequest, Unanswered

log = logging.getLogger(__name__)
RETRY_PAUSES = (0.2, 0.5, 1.0)
READ_TIMEOUT = 30.0
# Connection failures where the request cannot have been processed (nothing was answered).
_UNSENT = (Unanswered,)


class RetryingRequest(BotApiRequest):
    def __init__(self, pauses: tuple[float, ...] = RETRY_PAUSES, **kwargs):
        kwargs.setdefault("read_timeout", READ_TIMEOUT)
        super().__init__(**kwargs)
        self.pauses = pauses
        self.last_ok = 0.0          # monotonic time of the last answer from the Bot API (readiness)

    async def do_request(self, url: str, method: str, *args, **kwargs) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        TELEGRAM_CALLS.labels(endpoint).inc()
        return await self._attempts(endpoint, url, method, *args, **kwargs)

    async def _attempts(self, endpoint: str, url: str, method: str, *args, **kwargs) -> tuple[int, bytes]:
        for attempt, pause in enumerate((*self.pauses, None)):
            try:
                code, payload = await super().do_request(url, method, *args, **kwargs)
            except TimedOut:
                TELEGRAM_ERRORS.labels(endpoint, "timeout").inc()
                raise
            except NetworkError as exc:
                if pause is None or not isinstance(exc.__cause__, _UNSENT):
                    TELEGRAM_ERRORS.labels(endpoint, "network").inc()
                    raise
                log.warning("%s: connection failed (%s); retry %d in %.1f s", endpoint, exc, attempt + 1, pause)
            else:
                if code < 500:
                    self.last_ok = time.monotonic()
                if code >= 400 and (code < 500 or pause is None):
                    TELEGRAM_ERRORS.labels(endpoint, str(code)).inc()
                if code < 500 or pause is None:
                    return code, payload
                log.warning("%s: server error %s; retry %d in %.1f s", endpoint, code, attempt + 1, pause)
            await asyncio.sleep(pause)
        raise AssertionError("unreachable")
