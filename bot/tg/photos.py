"""Picture cards sent as Telegram photos: drawn off the event loop, uploaded once, then sent by file_id.

A card's content key (bot.cards.CardMaker.result_key / compare_key: a hash of what it shows) names the
picture. After its first upload the file_id Telegram gives it is kept under that key, in memory and in
the store (Store.card_file), so the same card is not uploaded again, even after a restart, and inline
mode can offer it as a cached photo. If Telegram refuses a stored file_id, the card is drawn and
uploaded again. A send of a card whose upload is under way elsewhere (a result shown in private while
it is shared back onto the group card) waits for that upload's file_id, for at most UPLOAD_WAIT seconds
(the other upload may be queued behind a busy chat's budget), then uploads the card itself.

Where no font can draw the user's language (no CJK font for Chinese), there is no Picture, and callers
send today's text instead (bot.cards says once in the log how to enable pictures).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import Awaitable, Callable

from telegram import InlineKeyboardMarkup, InputMediaPhoto, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.cards import CardMaker
from bot.engine.recommend import Recommendation
from bot.render import CAPTION_LIMIT, caption_size
from bot.store import Store
from bot.tg.limits import TelegramLimits

log = logging.getLogger(__name__)
REMEMBERED = 4096              # file_ids kept in memory, in front of the store
UPLOAD_WAIT = 2.0              # seconds a send waits for the same card's upload under way elsewhere
DRAWER_IDLE = 5.0              # seconds the drawing thread waits for work before it ends
FOLLOW_UP_WAIT = 5.0           # seconds a result's picture may wait for room in the overall flood budget


def fits_caption(text: str) -> bool:
    return caption_size(text) <= CAPTION_LIMIT


def refused_file(exc: BadRequest) -> bool:
    """Telegram's answers to a file_id it will not use: unknown, expired, or not a photo."""
    reason = str(exc).lower()
    return "file" in reason and ("identifier" in reason or "reference" in reason or "type" in reason
                                 or "file_id" in reason)


@dataclass(frozen=True)
class Picture:
    """A card to show: its content key and how to draw it (PNG bytes; called in a worker thread)."""

    key: str
    draw: Callable[[], bytes | None]


class Drawer:
    """One thread draws the pictures, those for groups first.

    Drawing is CPU work (~35 ms a card, off the event loop) and CardMaker draws one card at a time anyway.
    When many new cards are wanted at once (a burst of users reaching results nobody had before), a group's
    card, for which the group is waiting (in private the detailed text result is already shown), is drawn
    before the private chats' cards queued ahead of it, not behind all of them."""

    def __init__(self) -> None:
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    async def draw(self, draw: Callable[[], bytes | None], urgent: bool = False) -> bytes | None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((0 if urgent else 1, next(self._order), draw, loop, future))
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="card drawer", daemon=True)
                self._worker.start()
        return await future

    def _run(self) -> None:
        while True:
            try:
                _, _, draw, loop, future = self._jobs.get(timeout=DRAWER_IDLE)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._worker = None
                        return
                continue
            try:
                outcome = (draw(), None)
            except Exception as exc:  # noqa: BLE001 - handed to the waiting coroutine
                outcome = (None, exc)
            try:
                loop.call_soon_threadsafe(_settle, future, *outcome)
            except RuntimeError:                       # that event loop is closed: nobody waits any more
                pass


def _settle(future: asyncio.Future, result: bytes | None, exc: Exception | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class CardPhotos:
    """Pictures for the Telegram channel, and their file_ids."""

    def __init__(self, cards: CardMaker, store: Store):
        self.cards, self.store = cards, store
        self._ids: OrderedDict[str, str] = OrderedDict()
        self._uploading: dict[str, asyncio.Future] = {}     # key -> the file_id of an upload under way
        self.drawer = Drawer()
        self._follow_ups = asyncio.Lock()

    # -- which picture --------------------------------------------------------------------------
    def result(self, rec: Recommendation, lang: str, bot_username: str | None) -> Picture | None:
        """The result card, or None when it cannot be drawn in `lang` (send text instead)."""
        name = bot_username or ""
        key = self.cards.result_key(rec, lang, name)
        return None if key is None else Picture(key, partial(self.cards.result_png, rec, lang, name))

    def compare(self, lang: str, bot_username: str | None) -> Picture | None:
        """The comparison card, or None when it cannot be drawn in `lang`."""
        name = bot_username or ""
        key = self.cards.compare_key(lang, name)
        return None if key is None else Picture(key, partial(self.cards.compare_png, lang, name))

    # -- file_ids -------------------------------------------------------------------------------
    async def file_id(self, picture: Picture | None) -> str | None:
        """The file_id of an uploaded picture (None: never uploaded, or no picture)."""
        if picture is None:
            return None
        known = self._ids.get(picture.key)
        if known is None:
            known = await self.store.card_file(picture.key)
            if known is not None:
                self._keep(picture.key, known)
        return known

    def _keep(self, key: str, file_id: str) -> None:
        self._ids[key] = file_id
        self._ids.move_to_end(key)
        while len(self._ids) > REMEMBERED:
            self._ids.popitem(last=False)

    async def _uploaded(self, key: str, message: Message | bool) -> str | None:
        if not (isinstance(message, Message) and message.photo):
            return None
        file_id = message.photo[-1].file_id              # the largest size: sending it again shows the original
        self._keep(key, file_id)
        await self.store.save_card_file(key, file_id)
        return file_id

    # -- sending ---------------------------------------------------------------------------------
    async def send(self, bot, chat_id: int | str, picture: Picture, caption: str,
                   markup: InlineKeyboardMarkup | None = None) -> Message:
        """sendPhoto: by file_id when the card was uploaded before, else uploading it."""
        async def call(photo) -> Message:
            return await bot.send_photo(chat_id, photo, caption=caption, parse_mode=ParseMode.HTML,
                                        reply_markup=markup, filename="card.png")
        return await self._with_photo(picture, call, for_group=_is_group(chat_id))

    async def send_follow_up(self, bot, chat_id: int | str, picture: Picture, caption: str,
                             markup: InlineKeyboardMarkup | None = None) -> Message:
        """sendPhoto for a picture that follows a message already shown (a result's text): it costs a second
        message under Telegram's overall limit (30 a second), so it gives way to other chats' replies. Such
        pictures go one at a time, each when the overall budget has room and nobody is waiting for it (at
        most FOLLOW_UP_WAIT seconds), so that a burst of results does not delay anybody's first reply."""
        limits = getattr(bot, "rate_limiter", None)
        async with self._follow_ups:
            if isinstance(limits, TelegramLimits):
                give_up = time.monotonic() + FOLLOW_UP_WAIT
                while limits.overall.delay() > 0 and time.monotonic() < give_up:
                    await asyncio.sleep(0.05)
            return await self.send(bot, chat_id, picture, caption, markup)

    async def edit(self, bot, chat_id: int | str, message_id: int, picture: Picture, caption: str,
                   markup: InlineKeyboardMarkup | None = None) -> Message | bool:
        """editMessageMedia: the message (a photo) shows `picture` with `caption` and `markup`."""
        async def call(photo) -> Message | bool:
            media = InputMediaPhoto(photo, caption=caption, parse_mode=ParseMode.HTML, filename="card.png")
            return await bot.edit_message_media(media, chat_id=chat_id, message_id=message_id, reply_markup=markup)
        return await self._with_photo(picture, call, for_group=_is_group(chat_id))

    async def _with_photo(self, picture: Picture, call: Callable[[object], Awaitable[Message | bool]],
                          for_group: bool = False):
        file_id = await self.file_id(picture)
        if file_id is None and picture.key in self._uploading:
            try:
                file_id = await asyncio.wait_for(asyncio.shield(self._uploading[picture.key]), UPLOAD_WAIT)
            except asyncio.TimeoutError:
                file_id = None
        if file_id is not None:
            try:
                return await call(file_id)
            except BadRequest as exc:
                if not refused_file(exc):
                    raise
                log.info("Telegram refused the stored file_id of card %s (%s); uploading it again", picture.key, exc)
                self._ids.pop(picture.key, None)
        return await self._upload(picture, call, for_group)

    async def _upload(self, picture: Picture, call: Callable[[object], Awaitable[Message | bool]], for_group: bool):
        mine = self._uploading.get(picture.key) is None
        future = self._uploading.setdefault(picture.key, asyncio.get_running_loop().create_future())
        file_id = None
        try:
            png = await self.drawer.draw(picture.draw, urgent=for_group)   # never on the event loop
            if png is None:
                raise LookupError(f"card {picture.key} cannot be drawn")
            message = await call(png)
            file_id = await self._uploaded(picture.key, message)
            return message
        finally:
            if mine:
                self._uploading.pop(picture.key, None)
                future.set_result(file_id)          # those waiting send by it (None: they upload themselves)


def _is_group(chat_id: int | str) -> bool:
    """Groups (and channels) have negative ids; a channel named by @username is not waited for."""
    return isinstance(chat_id, int) and chat_id < 0
