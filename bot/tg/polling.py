"""Long polling that confirms an update to Telegram only after it has been handled.

python-telegram-bot's Updater confirms a batch of updates (by asking for the next offset) as soon
as it has queued them, so a `kill -9` while they wait in the queue loses them for good. Here an
update's offset is only passed to getUpdates after `Application.process_update` has finished with
it; a crash makes Telegram deliver the unconfirmed updates again, and the store's `first_sight`
check skips the ones that were already handled. Together: at least once from Telegram, at most
once through the handlers.
"""
from __future__ import annotations

import asyncio
import logging

from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

log = logging.getLogger(__name__)
MAX_BACKOFF = 30.0


async def poll(app: Application, stop: asyncio.Event, timeout: int, allowed_updates: list[str]) -> None:
    """Fetch and handle updates until `stop` is set; network trouble backs off and retries."""
    offset: int | None = None
    backoff = 0.5
    while not stop.is_set():
        fetch = asyncio.ensure_future(app.bot.get_updates(
            offset=offset, timeout=timeout, allowed_updates=allowed_updates, read_timeout=timeout + 10))
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if fetch not in done:
            fetch.cancel()
            break
        stopping.cancel()
        try:
            updates = fetch.result()
        except RetryAfter as exc:
            await _sleep(stop, float(exc.retry_after if isinstance(exc.retry_after, (int, float)) else 1))
            continue
        except (InvalidToken, Conflict):
            raise
        except (NetworkError, TimedOut) as exc:
            log.warning("getUpdates failed (%s); retrying in %.1f s", exc, backoff)
            await _sleep(stop, backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            continue
        backoff = 0.5
        for update in updates:
            await app.process_update(update)    # handler errors go to the error handler, not here
            offset = update.update_id + 1


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
