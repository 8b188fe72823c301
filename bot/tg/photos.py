"""Picture cards sent as Telegram photos: drawn in worker processes, uploaded once, then sent by file_id.

A card's content key (bot.cards.CardMaker.result_key / compare_key: a hash of what it shows) names the
picture. After its first upload the file_id Telegram gives it is kept under that key, in memory and in
the store (Store.card_file), so the same card is not uploaded again, even after a restart, and inline
mode can offer it as a cached photo. If Telegram refuses a stored file_id, the card is drawn and
uploaded again. A send of a card whose upload is under way elsewhere (a result shown in private while
it is shared back onto the group card) waits for that upload's file_id, for at most UPLOAD_WAIT seconds
(the other upload may be queued behind a busy chat's budget), then uploads the card itself. A card
that cannot be drawn now (its worker process died; bot.cards.worker starts a new one) goes out as
text: its caption, with the same buttons.

Where no font can draw the user's language (no CJK font for Chinese), there is no Picture, and callers
send today's text instead (bot.cards says once in the log how to enable pictures).
"""
from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import AsyncContextManager, Awaitable, Callable

from telegram import InlineKeyboardMarkup, InputMediaPhoto, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.cards import CardMaker
from bot.cards.worker import CardWorkers, render_job
from bot.engine.recommend import Recommendation
from bot.render import CAPTION_LIMIT, caption_size
from bot.store import Store
from bot.tg.limits import TelegramLimits

log = logging.getLogger(__name__)
REMEMBERED = 4096              # file_ids kept in memory, in front of the store
UPLOAD_WAIT = 2.0              # seconds a send waits for the same card's upload under way elsewhere
FOLLOW_UP_WAIT = 5.0           # seconds a result's picture may wait for room in the overall flood budget
FOLLOW_UP_ROOM = 0.2           # share of the overall budget's current second a picture leaves to replies


def fits_caption(text: str) -> bool:
    return caption_size(text) <= CAPTION_LIMIT


def refused_file(exc: BadRequest) -> bool:
    """Telegram's answers to a file_id it will not use: unknown, expired, or not a photo."""
    reason = str(exc).lower()
    return "file" in reason and ("identifier" in reason or "reference" in reason or "type" in reason
                                 or "file_id" in reason)


@dataclass(frozen=True)
class Picture:
    """A card to show: its content key and how to draw it (PNG bytes). In the bot `draw` is a picklable job
    run in a card worker process (bot.cards.worker.render_job); a Drawer without workers calls it in a thread."""

    key: str
    draw: Callable[[], bytes | None]


class Drawer:
    """Hands pictures to the card workers, those for groups first.

    Drawing is CPU work (10-40 ms a card) done in other processes (bot.cards.worker); the Drawer gives the
    workers one card each at a time and keeps the rest here, so that when many new cards are wanted at once
    (a burst of users reaching results nobody had before) a group's card, for which the group is waiting
    (in private the detailed text result is already shown), is drawn before the private chats' cards
    queued ahead of it. Without workers (tests) a card is drawn in a thread, one at a time.
    A draw whose worker died or stuck comes back as None: the caller sends text."""

    def __init__(self, workers: CardWorkers | None = None) -> None:
        self.workers = workers
        self._waiting: list = []                          # heap of (priority, order, job, future)
        self._order = itertools.count()
        self._busy = 0

    @property
    def slots(self) -> int:
        return self.workers.size if self.workers is not None else 1

    async def draw(self, draw: Callable[[], bytes | None], urgent: bool = False) -> bytes | None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (0 if urgent else 1, next(self._order), draw, future))
        self._next()
        return await future

    def _next(self) -> None:
        while self._busy < self.slots and self._waiting:
            _, _, draw, future = heapq.heappop(self._waiting)
            if future.done():                             # its sender gave up (cancelled)
                continue
            self._busy += 1
            asyncio.ensure_future(self._run(draw, future))

    async def _run(self, draw: Callable[[], bytes | None], future: asyncio.Future) -> None:
        try:
            if self.workers is not None:
                outcome = (await self.workers.run(draw), None)
            else:
                outcome = (await asyncio.to_thread(draw), None)
        except Exception as exc:  # noqa: BLE001 - handed to the waiting coroutine
            outcome = (None, exc)
        finally:
            self._busy -= 1
            self._next()
        if not future.done():
            if outcome[1] is not None:
                future.set_exception(outcome[1])
            else:
                future.set_result(outcome[0])

    def start(self) -> None:
        if self.workers is not None:
            self.workers.start()

    def close(self) -> None:
        if self.workers is not None:
            self.workers.close()


Call = Callable[[object], Awaitable[Message | bool]]
Gate = Callable[[], AsyncContextManager]


class CardPhotos:
    """Pictures for the Telegram channel, and their file_ids."""

    def __init__(self, cards: CardMaker | None, store: Store, drawer: Drawer | None = None):
        self.cards, self.store = cards, store
        self._ids: OrderedDict[str, str] = OrderedDict()
        self._uploading: dict[str, asyncio.Future] = {}     # key -> the file_id of an upload under way
        if drawer is None:       # no font for any language (CARD_FONT=off): nothing to draw, no workers
            drawing = cards is not None and any(cards.can_draw(lang) for lang in cards.fonts.choices)
            drawer = Drawer(CardWorkers(cards.fonts, warm_up=_warm_up_cards(cards)) if drawing else None)
        self.drawer = drawer
        self._follow_ups = asyncio.Lock()

    # -- the workers, started and stopped with the bot -----------------------------------------
    def start(self, workers: int | None = None) -> None:
        """Start the card workers (`workers` processes; the default when None)."""
        if workers is not None and self.drawer.workers is not None and not self.drawer.workers.running:
            self.drawer.workers.size = max(1, workers)
        self.drawer.start()

    def close(self) -> None:
        self.drawer.close()

    # -- which picture --------------------------------------------------------------------------
    def result(self, rec: Recommendation, lang: str, bot_username: str | None) -> Picture | None:
        """The result card, or None when it cannot be drawn in `lang` (send text instead)."""
        content = self.cards.result_content(rec, lang, bot_username or "")
        return None if content is None else Picture(content[0], render_job(content[1]))

    def compare(self, lang: str, bot_username: str | None) -> Picture | None:
        """The comparison card, or None when it cannot be drawn in `lang`."""
        content = self.cards.compare_content(lang, bot_username or "")
        return None if content is None else Picture(content[0], render_job(content[1]))

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
        """sendPhoto: by file_id when the card was uploaded before, else uploading it. When the card cannot be
        drawn now (its worker died), the caption goes out as a text message with the same buttons."""
        return await self._send(bot, chat_id, picture, caption, markup, contextlib.nullcontext)

    async def _send(self, bot, chat_id: int | str, picture: Picture, caption: str,
                    markup: InlineKeyboardMarkup | None, gate: Gate) -> Message:
        async def call(photo) -> Message:
            return await bot.send_photo(chat_id, photo, caption=caption, parse_mode=ParseMode.HTML,
                                        reply_markup=markup, filename="card.png")

        async def as_text() -> Message:
            return await bot.send_message(chat_id, caption, parse_mode=ParseMode.HTML, reply_markup=markup,
                                          disable_web_page_preview=True)
        return await self._with_photo(picture, call, as_text, gate, for_group=_is_group(chat_id))

    async def send_follow_up(self, bot, chat_id: int | str, picture: Picture, caption: str,
                             markup: InlineKeyboardMarkup | None = None) -> Message:
        """sendPhoto for a picture that follows a message already shown (a result's text): it costs a second
        message under Telegram's overall limit (30 a second), so it gives way to other chats' replies. Such
        pictures go out one at a time, each when the overall budget has room and nobody is waiting for it (at
        most FOLLOW_UP_WAIT seconds), so that a burst of results does not delay anybody's first reply. The
        picture is drawn before it queues for its turn: one being drawn holds up no other."""
        limits = getattr(bot, "rate_limiter", None)

        @contextlib.asynccontextmanager
        async def giving_way():
            async with self._follow_ups:
                if isinstance(limits, TelegramLimits):
                    give_up = time.monotonic() + FOLLOW_UP_WAIT
                    while _crowded(limits.overall) and time.monotonic() < give_up:
                        await asyncio.sleep(0.05)
                yield
        return await self._send(bot, chat_id, picture, caption, markup, giving_way)

    async def edit(self, bot, chat_id: int | str, message_id: int, picture: Picture, caption: str,
                   markup: InlineKeyboardMarkup | None = None) -> Message | bool:
        """editMessageMedia: the message (a photo) shows `picture` with `caption` and `markup`. When the card
        cannot be drawn now, only the caption and buttons change (the message keeps its picture)."""
        async def call(photo) -> Message | bool:
            media = InputMediaPhoto(photo, caption=caption, parse_mode=ParseMode.HTML, filename="card.png")
            return await bot.edit_message_media(media, chat_id=chat_id, message_id=message_id, reply_markup=markup)

        async def as_text() -> Message | bool:
            return await bot.edit_message_caption(chat_id=chat_id, message_id=message_id, caption=caption,
                                                  parse_mode=ParseMode.HTML, reply_markup=markup)
        return await self._with_photo(picture, call, as_text, contextlib.nullcontext, for_group=_is_group(chat_id))

    async def _with_photo(self, picture: Picture, call: Call, as_text: Callable[[], Awaitable[Message | bool]],
                          gate: Gate, for_group: bool = False):
        file_id = await self.file_id(picture)
        if file_id is None and picture.key in self._uploading:
            try:
                file_id = await asyncio.wait_for(asyncio.shield(self._uploading[picture.key]), UPLOAD_WAIT)
            except asyncio.TimeoutError:
                file_id = None
        if file_id is not None:
            try:
                async with gate():
                    return await call(file_id)
            except BadRequest as exc:
                if not refused_file(exc):
                    raise
                log.info("Telegram refused the stored file_id of card %s (%s); uploading it again", picture.key, exc)
                self._ids.pop(picture.key, None)
        return await self._upload(picture, call, as_text, gate, for_group)

    async def _upload(self, picture: Picture, call: Call, as_text: Callable[[], Awaitable[Message | bool]],
                      gate: Gate, for_group: bool):
        mine = self._uploading.get(picture.key) is None
        future = self._uploading.setdefault(picture.key, asyncio.get_running_loop().create_future())
        file_id = None
        try:
            png = await self._draw(picture, for_group)       # in a worker process, never on the event loop
            async with gate():
                if png is None:
                    return await as_text()
                message = await call(png)
            file_id = await self._uploaded(picture.key, message)
            return message
        finally:
            if mine:
                self._uploading.pop(picture.key, None)
                future.set_result(file_id)          # those waiting send by it (None: they upload themselves)

    async def _draw(self, picture: Picture, urgent: bool) -> bytes | None:
        try:
            return await self.drawer.draw(picture.draw, urgent=urgent)
        except Exception:  # noqa: BLE001 - a card that cannot be drawn is shown as text
            log.exception("drawing card %s failed; it goes out as text", picture.key)
            return None


def _crowded(window) -> bool:
    """Whether the overall budget has too little room for a follow-up picture: it leaves FOLLOW_UP_ROOM of
    the current second (5 of Telegram's 29 messages) to other chats' replies, so that a burst of results
    does not push the next replies into waiting for the budget. (A window shared between processes,
    which cannot say how full it is, only whether a call would wait: the picture waits for no wait.)"""
    used = getattr(window, "_used", None)
    if used is None:
        return window.delay() > 0
    return used(time.monotonic()) + window.waiting >= window.limit - int(window.limit * FOLLOW_UP_ROOM)


def _warm_up_cards(cards: CardMaker) -> tuple:
    """What a new worker draws first (the comparison in each language): its fonts load and the text every
    card shares is rasterised before the first user's card."""
    contents = (cards.compare_content(lang, "ModeAdvisorBot") for lang in cards.fonts.choices)
    return tuple(content[1] for content in contents if content is not None)


def _is_group(chat_id: int | str) -> bool:
    """Groups (and channels) have negative ids; a channel named by @username is not waited for."""
    return isinstance(chat_id, int) and chat_id < 0
