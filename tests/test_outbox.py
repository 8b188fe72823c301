"""The group outbox on its own: fair turns, coalescing per slot, slots remembering their message,
the wait estimate, and what happens at a stop."""
from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from telegram.error import BadRequest

from bot.tg.limits import TelegramLimits, Window
from bot.tg.outbox import Job, Outbox, window_wait

GROUP = -100


class RecordingBot:
    """Stands in for the bot: records what would reach Telegram, optionally slowly or with a limiter."""

    def __init__(self, rate_limiter=None, delay: float = 0.0):
        self.rate_limiter, self.delay = rate_limiter, delay
        self.calls: list[tuple[str, str, int | None]] = []
        self.gone: set[int] = set()
        self.next_id = 100

    async def send_message(self, chat_id, text, **kwargs):
        await asyncio.sleep(self.delay)
        self.next_id += 1
        self.calls.append(("send", text, self.next_id))
        return SimpleNamespace(message_id=self.next_id)

    async def edit_message_text(self, text, chat_id, message_id, **kwargs):
        await asyncio.sleep(self.delay)
        if message_id in self.gone:
            raise BadRequest("Message to edit not found")
        self.calls.append(("edit", text, message_id))


class App:
    def __init__(self, bot):
        self.bot, self.running, self.tasks = bot, True, []

    def create_task(self, coro, name=None):
        task = asyncio.ensure_future(coro)
        self.tasks.append(task)
        return task

    async def idle(self):
        await asyncio.gather(*self.tasks)


async def test_members_take_turns_so_a_talkative_one_cannot_starve_the_others():
    app, box = App(RecordingBot()), Outbox()
    for i in range(5):
        box.post(app, GROUP, Job(1, f"a{i}"))
    box.post(app, GROUP, Job(2, "b0"))
    box.post(app, GROUP, Job(3, "c0"))
    await app.idle()
    assert [text for _, text, _ in app.bot.calls] == ["a0", "b0", "c0", "a1", "a2", "a3", "a4"]


async def test_a_slot_waiting_to_be_sent_is_replaced_and_later_ones_edit_its_message():
    app, box = App(RecordingBot(delay=0.01)), Outbox()
    box.post(app, GROUP, Job(1, "other member first"))
    box.post(app, GROUP, Job(1, "card", slot="card1"))
    box.post(app, GROUP, Job(1, "card, one answer", slot="card1"))
    box.post(app, GROUP, Job(1, "result", slot="card1"))         # still waiting: one send, the newest content
    await app.idle()
    assert [(kind, text) for kind, text, _ in app.bot.calls] == [("send", "other member first"), ("send", "result")]
    card = app.bot.calls[-1][2]
    box.post(app, GROUP, Job(1, "result", slot="card1"))         # the same again: not sent at all
    box.post(app, GROUP, Job(1, "new result", slot="card1"))
    await app.idle()
    assert app.bot.calls[-1] == ("edit", "new result", card) and len(app.bot.calls) == 3
    app.bot.gone.add(card)                                       # deleted meanwhile: shown anew
    box.post(app, GROUP, Job(1, "again", slot="card1"))
    await app.idle()
    assert app.bot.calls[-1][:2] == ("send", "again") and box.message_of(GROUP, "card1") == app.bot.calls[-1][2]
    box.post(app, GROUP, Job(1, "a copy below", slot="card1", new=True))
    await app.idle()
    assert app.bot.calls[-1][:2] == ("send", "a copy below")


async def test_the_wait_estimate_counts_the_jobs_ahead_in_round_robin_order():
    limits = TelegramLimits(group_per_minute=3)
    window = limits.groups[GROUP] = Window(3, 60.0)
    box = Outbox()
    bot = RecordingBot(rate_limiter=limits)
    assert box.eta(bot, GROUP, 1) == 0.0                         # nothing queued, the window empty
    window.finished.extend([time.monotonic() - 50, time.monotonic() - 10])
    assert window_wait(limits, GROUP, 0) == 0.0                  # one slot left
    assert 9 < window_wait(limits, GROUP, 1) <= 10               # the second call waits for the oldest to leave
    assert 49 < window_wait(limits, GROUP, 2) <= 50
    assert window_wait(limits, GROUP, 3) == 60.0                 # beyond: a whole window later
    assert box.eta(RecordingBot(), GROUP, 1) == 0.0              # no limiter: never a wait


async def test_ahead_follows_the_turns():
    box = Outbox()
    app = App(RecordingBot())
    app.create_task = lambda coro, name=None: coro.close()       # keep the jobs waiting
    for member, count in ((1, 3), (2, 1), (3, 2)):
        for i in range(count):
            box.post(app, GROUP, Job(member, f"{member}.{i}"))
    group = box.groups[GROUP]
    assert group.ahead(2) == 1                                   # after 1.0
    assert group.ahead(3) == 4                                   # 1.0, 2.0, 3.0, 1.1
    assert group.ahead(1) == 5                                   # 1.0 2.0 3.0 1.1 3.1
    assert group.ahead(9) == 0


async def test_at_a_stop_what_cannot_go_out_within_the_drain_time_is_dropped():
    limits = TelegramLimits(group_per_minute=1)
    window = limits.groups[GROUP] = Window(1, 60.0)
    window.finished.append(time.monotonic())                     # the group's budget is used for a minute
    app, box = App(RecordingBot(rate_limiter=limits)), Outbox(drain_timeout=0.2)
    box.post(app, GROUP, Job(1, "late"))
    await asyncio.sleep(0.1)
    app.running = False
    started = time.monotonic()
    await asyncio.wait_for(app.idle(), 2)
    assert time.monotonic() - started < 1.0 and app.bot.calls == [] and box.waiting(GROUP) == 0


class MediaBot(RecordingBot):
    """RecordingBot that also knows which of its messages are photos, and refuses edits of the wrong kind
    with Telegram's texts."""

    def __init__(self):
        super().__init__()
        self.photos: dict[int, str] = {}                         # message id -> picture key

    async def edit_message_text(self, text, chat_id, message_id, **kwargs):
        if message_id in self.photos:
            raise BadRequest("There is no text in the message to edit")
        await super().edit_message_text(text, chat_id, message_id, **kwargs)

    async def edit_message_caption(self, chat_id, message_id, caption, **kwargs):
        if message_id not in self.photos:
            raise BadRequest("There is no caption in the message to edit")
        self.calls.append(("caption", caption, message_id))


class Photos:
    """Stands in for bot.tg.photos.CardPhotos."""

    async def send(self, bot, chat_id, picture, caption, markup=None):
        bot.next_id += 1
        bot.photos[bot.next_id] = picture.key
        bot.calls.append(("photo", f"{picture.key}: {caption}", bot.next_id))
        return SimpleNamespace(message_id=bot.next_id, photo=[object()])

    async def edit(self, bot, chat_id, message_id, picture, caption, markup=None):
        if message_id not in bot.photos:
            raise BadRequest("There is no media in the message to edit")
        bot.photos[message_id] = picture.key
        bot.calls.append(("media", f"{picture.key}: {caption}", message_id))


async def test_pictures_a_photo_card_changes_its_picture_or_only_its_caption_and_a_text_card_its_text():
    from bot.tg.photos import Picture
    cover, result = Picture("cover", lambda: b""), Picture("result", lambda: b"")
    app, box = App(MediaBot()), Outbox(photos=Photos())
    box.post(app, GROUP, Job(1, "questions", slot="card1", photo=cover))
    await app.idle()
    box.post(app, GROUP, Job(1, "questions, typed answer read", slot="card1", photo=cover))
    await app.idle()
    box.post(app, GROUP, Job(1, "result", slot="card1", photo=result))
    await app.idle()
    card = app.bot.calls[0][2]
    assert app.bot.calls == [("photo", "cover: questions", card), ("caption", "questions, typed answer read", card),
                             ("media", "result: result", card)]
    # A text card (no font when it was sent) is edited as text even when the result has a picture.
    box.post(app, GROUP, Job(2, "questions", slot="card2"))
    await app.idle()
    box.post(app, GROUP, Job(2, "result", slot="card2", photo=result))
    await app.idle()
    assert app.bot.calls[-2:] == [("send", "questions", card + 1), ("edit", "result", card + 1)]


async def test_pictures_a_wrong_guess_about_an_unknown_message_is_corrected_once():
    from bot.tg.photos import Picture
    app, box = App(MediaBot()), Outbox(photos=Photos())
    text_message = (await app.bot.send_message(GROUP, "a card from before pictures")).message_id
    box.post(app, GROUP, Job(1, "result", slot="card1", message_id=text_message, photo=Picture("result", lambda: b"")))
    await app.idle()                                             # guessed a photo: Telegram says no, so text
    assert app.bot.calls[-1] == ("edit", "result", text_message)
    box.post(app, GROUP, Job(1, "result, refined", slot="card1", photo=Picture("result2", lambda: b"")))
    await app.idle()                                             # now known to be text: no second wrong guess
    assert app.bot.calls[-1] == ("edit", "result, refined", text_message) and len(app.bot.calls) == 3
    photo_message = (await Photos().send(app.bot, GROUP, Picture("cover", lambda: b""), "card")).message_id
    box.post(app, GROUP, Job(2, "result", slot="card2", message_id=photo_message, on_photo=True,
                             photo=Picture("result", lambda: b"")))
    await app.idle()                                             # the caller knew: a photo
    assert app.bot.calls[-1] == ("media", "result: result", photo_message)
