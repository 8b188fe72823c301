"""Long polling that confirms an update to Telegram only after it, and every update before it, is handled.

python-telegram-bot's Updater confirms a batch of updates (by asking for the next offset) as soon as
it has queued them, so a `kill -9` while they wait loses them for good. Here updates run through the
ChatDispatcher (concurrently across chats, in order within one) and the offset passed to getUpdates
is the *watermark*: the oldest update still in flight, or the next one when nothing is. A crash makes
Telegram deliver every unconfirmed update again; the store skips those already handled.

While an update is in flight, getUpdates returns it (and every newer one we already have) at once
instead of waiting, so the loop then asks again when an update finishes or 50 ms have passed,
fetches raw JSON and parses only updates it has not seen yet.

Polling serves one process. Telegram answers 409 Conflict to a getUpdates cut short by another one; a
process that gets a 409 within PROBATION seconds of starting to poll, before any getUpdates of its own
was answered (or at its second 409), is the newcomer and stops (AnotherPoller, with a message for the
operator), while the poller already running takes its turn again at once, which is what gives the
newcomer its 409. (Two started within those seconds of each other: one of them stops.) Processes sharing a store are refused before they poll, by
bot.coord's locks.
"""
from __future__ import annotations

import asyncio
import logging
import time

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

from bot.tg.dispatch import ChatDispatcher
from bot.tg.request import ProxyLoginRefused

log = logging.getLogger(__name__)
MAX_BACKOFF = 30.0
BUSY_GAP = 0.005        # while updates are in flight: at most one getUpdates every 5 ms...
BUSY_WAIT = 0.05        # ...when one finishes, and at least one every 50 ms, for other chats' new updates
DRAIN_TIMEOUT = 8.0     # on stop: how long to let updates in flight finish
PROBATION = 3.0         # a 409 within this many seconds of starting: another process was polling first


class AnotherPoller(RuntimeError):
    """Another process polls Telegram with this bot token."""


async def poll(app: Application, stop: asyncio.Event, timeout: int, allowed_updates: list[str],
               dispatcher: ChatDispatcher | None = None) -> None:
    """Fetch and dispatch updates until `stop` is set; network trouble backs off and retries."""
    dispatcher = dispatcher or app.bot_data["dispatcher"]
    bot = app.bot
    next_id: int | None = None          # one past the newest update received
    known: set[int] = set()             # received ids at or above the watermark (in flight or handled)
    backoff = 0.5
    started = time.monotonic()
    polled, conflicts = 0, 0            # getUpdates answered, 409s met (who is the newcomer)
    while not stop.is_set():
        busy = dispatcher.oldest() is not None
        offset = _watermark(dispatcher, next_id)
        fetch = asyncio.ensure_future(bot.get_raw_updates(
            offset, 0 if busy else timeout, allowed_updates, read_timeout=timeout + 10))
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if fetch not in done:
            fetch.cancel()
            break
        stopping.cancel()
        try:
            raw = fetch.result()
        except RetryAfter as exc:
            await _sleep(stop, float(exc.retry_after if isinstance(exc.retry_after, (int, float)) else 1))
            continue
        except Conflict as exc:
            if "webhook" in str(exc).lower():
                raise
            conflicts += 1
            if time.monotonic() - started > PROBATION or (polled and conflicts < 2):
                log.warning("another process polled Telegram with this bot token (409 Conflict); polling on, "
                            "a second instance stops itself")
                await _sleep(stop, 0.2)
                continue
            await dispatcher.join(DRAIN_TIMEOUT)
            raise AnotherPoller(
                "another process is already polling Telegram with this bot token (Telegram answered 409 Conflict: "
                f"{exc}); polling serves one process: stop the other one, or run replicas in webhook mode "
                "(WEBHOOK_URL) on PostgreSQL") from None
        except (InvalidToken, ProxyLoginRefused):
            raise                       # retrying cannot help: the settings must change
        except (NetworkError, TimedOut) as exc:
            log.warning("getUpdates failed (%s); retrying in %.1f s", exc, backoff)
            await _sleep(stop, backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            continue
        backoff = 0.5
        polled += 1
        fresh = 0
        for data in raw:
            update_id = data.get("update_id")
            if not isinstance(update_id, int) or update_id in known or (offset is not None and update_id < offset):
                continue
            known.add(update_id)
            next_id = max(next_id or 0, update_id + 1)
            fresh += 1
            dispatcher.submit(Update.de_json(data, bot))
        low = _watermark(dispatcher, next_id)
        if low is not None:
            known = {i for i in known if i >= low}
        if not fresh and dispatcher.oldest() is not None:
            await dispatcher.progressed(BUSY_WAIT)   # nothing new: wait for an update to finish...
            await _sleep(stop, BUSY_GAP)              # ...without hammering getUpdates
    if await dispatcher.join(DRAIN_TIMEOUT):
        await _confirm(bot, _watermark(dispatcher, next_id), allowed_updates)
        return
    oldest = dispatcher.oldest()            # confirmed up to it, not past it: Telegram delivers it again
    log.warning("stopping with %d update(s) still in flight; Telegram will deliver them again",
                await dispatcher.cancel())
    await _confirm(bot, oldest, allowed_updates)


def _watermark(dispatcher: ChatDispatcher, next_id: int | None) -> int | None:
    """The offset to confirm: the oldest update in flight, else one past the newest received."""
    oldest = dispatcher.oldest()
    return oldest if oldest is not None else next_id


async def _confirm(bot, offset: int | None, allowed_updates: list[str]) -> None:
    """Tell Telegram which updates are handled before exiting, so a restart does not get them again."""
    if offset is None:
        return
    try:
        await bot.get_raw_updates(offset, 0, allowed_updates, read_timeout=5, limit=1)
    except Exception as exc:  # noqa: BLE001 - the store skips them anyway if they come again
        log.info("could not confirm handled updates on exit (%s)", exc)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
