"""What groups should see, sent later, fairly and coalesced, so that no update waits for a group's budget.

Telegram lets a bot send or edit about 20 times a minute in one group (bot/tg/limits.py counts it). A
handler that waited for that budget would hold its chat's queue in the dispatcher and the polling
watermark. So handlers put what a group should see into its outbox and return at once; one worker per
group sends as the budget allows:

* fair: members take turns (round robin), so one talkative member cannot starve the others;
* coalescing: a job for a *slot* (a member's card) replaces the job still waiting for that slot, so a
  card's last state is sent once however often it changed meanwhile;
* a slot remembers its message: later jobs for it edit that message (or send a new one when it is
  unknown or gone), and an edit that would show what the message already shows is not sent;
* pictures: a job with a picture card (bot/tg/photos.py) is sent as a photo with its text as the caption,
  and turns a photo message into another picture with one editMessageMedia. A text message cannot become
  a photo, so a job for a text message edits its text; a job without a picture for a photo edits the caption.

What waits here lives in memory only. The state behind it is committed before it is queued, so a crash
loses no answer, only a rendering of it: the member's next action renders from the session again
(bot/tg/groups.py). When the bot stops, the outbox sends what it can for `drain_timeout` seconds.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, replace
from typing import Any, Hashable

from telegram import InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.tg.limits import TelegramLimits, Window
from bot.tg.photos import CardPhotos, Picture

log = logging.getLogger(__name__)
RECHECK = 0.5          # seconds: a worker waiting for its budget looks again this often (and at a stop)
REMEMBERED = 10_000    # slots and shown texts kept, oldest forgotten first
# Telegram's answer to an edit of the wrong kind (a photo edited as text, or the reverse)
_WRONG_KIND = re.compile(r"there is no (media|text|caption) in the message to edit")


@dataclass(frozen=True)
class Job:
    member: int                               # whose turn it takes (0: the bot's own, e.g. an introduction)
    text: str                                 # Telegram HTML, at most one message long
    markup: InlineKeyboardMarkup | None = None
    slot: Hashable | None = None              # what the message shows (a member's card); None: a one-off message
    message_id: int | None = None             # edit this message (else the slot's, else send a new one)
    new: bool = False                         # send a new message even if the slot has one (it then moves there)
    photo: Picture | None = None              # show this picture card, `text` as its caption (at most 1,024)
    on_photo: bool | None = None              # whether the message to edit is a photo, when the caller knows


class _Group:
    """One group's waiting jobs: a queue per member, and the order in which members are served."""

    def __init__(self) -> None:
        self.queues: dict[int, deque[Job]] = {}
        self.turns: deque[int] = deque()
        self.worker: asyncio.Task | None = None
        self.sending = False

    def add(self, job: Job) -> None:
        queue = self.queues.get(job.member)
        if queue is None:
            queue = self.queues[job.member] = deque()
            self.turns.append(job.member)
        if job.slot is not None:
            for i, waiting in enumerate(queue):
                if waiting.slot == job.slot:      # not sent yet: only the newest content goes out
                    on_photo = job.on_photo
                    if on_photo is None and job.message_id in (None, waiting.message_id):
                        on_photo = waiting.on_photo   # the same message: what was known of it still holds
                    queue[i] = replace(job, message_id=job.message_id or waiting.message_id,
                                       new=job.new or waiting.new, on_photo=on_photo)
                    return
        queue.append(job)

    def take(self) -> Job | None:
        if not self.turns:
            return None
        member = self.turns.popleft()
        queue = self.queues[member]
        job = queue.popleft()
        if queue:
            self.turns.append(member)
        else:
            del self.queues[member]
        return job

    def ahead(self, member: int) -> int:
        """How many calls go out before the member's last waiting job (the one being sent included)."""
        mine = len(self.queues.get(member, ()))
        count = int(self.sending)
        if not mine:
            return count
        rounds = mine - 1                         # the member's own jobs before it, one per round
        order = list(self.turns)
        position = order.index(member)
        count += rounds
        for i, other in enumerate(order):
            if other != member:
                count += min(len(self.queues[other]), rounds + (1 if i < position else 0))
        return count

    def size(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def clear(self) -> int:
        dropped = self.size()
        self.queues.clear()
        self.turns.clear()
        return dropped


def window_wait(limits: TelegramLimits, chat_id: Any, ahead: int) -> float:
    """How long until `ahead` + 1 more calls fit in the group's sliding window, as the limiter counts it.

    (TelegramLimits.delay answers this for the next call only, ahead == 0.)"""
    window = limits.groups.get(chat_id) or Window(limits.group_per_minute, 60.0)
    now = time.monotonic()
    recent = [t for t in window.finished if now - t < window.period]
    over = len(recent) + window.running + window.waiting + ahead - window.limit
    if over < 0:
        return 0.0
    rounds, index = divmod(over, window.limit)
    if index >= len(recent):
        return (rounds + 1) * window.period
    return rounds * window.period + max(0.0, recent[index] + window.period - now)


class Outbox:
    """Deferred, fair, coalescing sending to group chats; one worker task per group with jobs waiting."""

    def __init__(self, drain_timeout: float = 5.0, photos: CardPhotos | None = None):
        self.drain_timeout = drain_timeout
        self.photos = photos                                                      # None: pictures go as text
        self.groups: dict[int, _Group] = {}
        self.messages: OrderedDict[tuple[int, Hashable], int] = OrderedDict()   # (chat, slot) -> message id
        self.shown: OrderedDict[tuple[int, int], str] = OrderedDict()           # (chat, message) -> its content
        # (chat, message) -> the key of the picture a photo shows ("" if not known), or None for a text message
        self.pictures: OrderedDict[tuple[int, int], str | None] = OrderedDict()

    def post(self, app, chat_id: int, job: Job) -> None:
        """Queue `job` for the group; `app` is the running Application (its bot sends, its tasks are awaited
        when it stops)."""
        group = self.groups.setdefault(chat_id, _Group())
        group.add(job)
        if group.worker is None or group.worker.done():
            group.worker = app.create_task(self._work(app, chat_id, group), name=f"outbox {chat_id}")

    def eta(self, bot, chat_id: int, member: int) -> float:
        """Roughly how long until the member's last waiting job in the group is shown (0 without a limiter)."""
        group = self.groups.get(chat_id)
        return self._budget_wait(bot, chat_id, group.ahead(member) if group is not None else 0)

    @staticmethod
    def _budget_wait(bot, chat_id: int, ahead: int) -> float:
        limits = getattr(bot, "rate_limiter", None)
        if not isinstance(limits, TelegramLimits):
            return 0.0
        return max(limits.delay(chat_id), window_wait(limits, chat_id, ahead))

    def message_of(self, chat_id: int, slot: Hashable) -> int | None:
        return self.messages.get((chat_id, slot))

    def waiting(self, chat_id: int) -> int:
        group = self.groups.get(chat_id)
        return group.size() if group is not None else 0

    async def _work(self, app, chat_id: int, group: _Group) -> None:
        bot, stop_by = app.bot, None
        try:
            while group.queues:
                wait = self._budget_wait(bot, chat_id, 0)
                if not app.running:               # stopping: send what fits in the drain time, then give up
                    stop_by = stop_by or time.monotonic() + self.drain_timeout
                    if time.monotonic() + wait > stop_by:
                        log.warning("stopping: %d message(s) for group %s not sent; members see their state "
                                    "on their next action", group.clear(), chat_id)
                        return
                if wait > 0:
                    await asyncio.sleep(min(wait, RECHECK))
                    continue
                job = group.take()
                group.sending = True
                try:
                    await self._deliver(bot, chat_id, job)
                except Forbidden as exc:          # the bot was removed from the group: nothing more can go there
                    log.info("group %s refused a message (%s); dropping %d waiting", chat_id, exc, group.clear())
                except TelegramError as exc:
                    log.warning("could not show a message in group %s: %s", chat_id, exc)
                except Exception:  # noqa: BLE001 - one bad job must not stop the group's other members
                    log.exception("outbox job for group %s failed", chat_id)
                finally:
                    group.sending = False
        finally:
            if self.groups.get(chat_id) is group and not group.queues:
                del self.groups[chat_id]

    async def _deliver(self, bot, chat_id: int, job: Job) -> None:
        photo = job.photo if self.photos is not None else None
        message_id = None if job.new else job.message_id
        if message_id is None and job.slot is not None and not job.new:
            message_id = self.messages.get((chat_id, job.slot))
        content = (photo.key if photo else "") + "|" + job.text + json.dumps(
            job.markup.to_dict() if job.markup else None, sort_keys=True)
        if message_id is not None:
            if self.shown.get((chat_id, message_id)) == content:
                return
            if (chat_id, message_id) in self.pictures:
                showing = self.pictures[(chat_id, message_id)]
            elif job.on_photo is not None:
                showing = "" if job.on_photo else None
            else:                                 # a card is a photo whenever it has a picture
                showing = "" if photo is not None else None
            try:
                showing = await self._edit(bot, chat_id, message_id, job, photo, showing)
            except BadRequest as exc:
                reason = str(exc).lower()
                if "not modified" in reason:
                    pass
                elif "not found" in reason or "can't be edited" in reason:
                    message_id = None             # deleted meanwhile (or too old): show it anew
                else:
                    raise
            else:
                _remember(self.pictures, (chat_id, message_id), showing)
        if message_id is None:
            if photo is not None:
                sent = await self.photos.send(bot, chat_id, photo, job.text, job.markup)
            else:
                sent = await bot.send_message(chat_id, job.text, parse_mode=ParseMode.HTML, reply_markup=job.markup,
                                              disable_web_page_preview=True)
            message_id = sent.message_id
            _remember(self.pictures, (chat_id, message_id), photo.key if photo is not None else None)
        if job.slot is not None:
            _remember(self.messages, (chat_id, job.slot), message_id)
        _remember(self.shown, (chat_id, message_id), content)

    async def _edit(self, bot, chat_id: int, message_id: int, job: Job, photo: Picture | None,
                    showing: str | None) -> str | None:
        """Edit the message into the job's content. `showing`: the key of the picture it shows ("" when not
        known), None for a text message; returns what it shows after. A wrong guess about photo or text,
        which Telegram answers with "there is no media/text in the message to edit", is corrected once."""
        for attempt in (1, 2):
            try:
                if showing is not None and photo is not None and showing != photo.key:
                    await self.photos.edit(bot, chat_id, message_id, photo, job.text, job.markup)
                    return photo.key
                if showing is not None:           # the same picture (or none to show): only the caption changes
                    await bot.edit_message_caption(chat_id=chat_id, message_id=message_id, caption=job.text,
                                                   parse_mode=ParseMode.HTML, reply_markup=job.markup)
                    return showing
                await bot.edit_message_text(job.text, chat_id=chat_id, message_id=message_id,
                                            parse_mode=ParseMode.HTML, reply_markup=job.markup,
                                            disable_web_page_preview=True)
                return None
            except BadRequest as exc:
                if attempt == 2 or not _WRONG_KIND.search(str(exc).lower()):
                    raise
                log.info("message %s in group %s is %sa photo; editing it as such", message_id, chat_id,
                         "not " if showing is not None else "")
                showing = None if showing is not None else ""
        return showing


def _remember(memory: OrderedDict, key: Hashable, value: Any) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > REMEMBERED:
        memory.popitem(last=False)
