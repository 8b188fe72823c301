"""bot/tg/photos.py on its own: one upload per card even when two chats want it at once, groups' pictures
drawn first, a result's picture giving way to other chats' replies when the overall budget is full, and
cards drawn in a worker process that is restarted when it dies (that card going out as text)."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from functools import partial

from telegram import Chat, Message, PhotoSize

from bot import ROOT
from bot.cards import CardMaker
from bot.engine.recommend import recommend
from bot.services import load_services
from bot.tg import photos as photos_module
from bot.tg.limits import TelegramLimits
from bot.tg.photos import CardPhotos, Drawer, Picture


class MemoryStore:
    def __init__(self):
        self.files: dict[str, str] = {}

    async def card_file(self, key):
        return self.files.get(key)

    async def save_card_file(self, key, file_id):
        self.files[key] = file_id


class PhotoBot:
    """Records sendPhoto calls; an upload (bytes) takes `upload_time` and gets a new file_id."""

    def __init__(self, rate_limiter=None, upload_time: float = 0.0):
        self.rate_limiter, self.upload_time = rate_limiter, upload_time
        self.calls: list[tuple[int, str]] = []
        self.uploads = 0

    async def send_message(self, chat_id, text, **kwargs):
        self.calls.append((chat_id, f"text: {text}"))
        return Message(1, datetime.now(timezone.utc), Chat(chat_id, "private"), text=text)

    async def send_photo(self, chat_id, photo, **kwargs):
        if isinstance(photo, bytes):
            self.last_upload = photo
            await asyncio.sleep(self.upload_time)
            self.uploads += 1
            file_id = f"F{self.uploads}"
            self.calls.append((chat_id, "upload"))
        else:
            file_id = photo
            self.calls.append((chat_id, photo))
        return Message(1, datetime.now(timezone.utc), Chat(chat_id, "private"),
                       photo=(PhotoSize(file_id, "u" + file_id, 1280, 720),))


def card(key: str = "k") -> Picture:
    return Picture(key, lambda: b"\x89PNG fake")


async def test_two_chats_wanting_the_same_new_card_at_once_upload_it_once():
    store, bot = MemoryStore(), PhotoBot(upload_time=0.2)
    photos = CardPhotos(cards=None, store=store)
    await asyncio.gather(photos.send(bot, 1, card(), "a"), photos.send(bot, -100, card(), "b"))
    assert bot.uploads == 1 and sorted(what for _, what in bot.calls) == ["F1", "upload"]
    assert store.files == {"k": "F1"}
    await photos.send(bot, 2, card(), "c")                       # and later sends name the file_id
    assert bot.calls[-1] == (2, "F1") and bot.uploads == 1


async def test_groups_pictures_are_drawn_before_the_private_ones_waiting():
    drawer, order = Drawer(), []
    release = threading.Event()

    def job(name, block=False):
        def draw():
            if block:
                release.wait(5)
            order.append(name)
            return name.encode()
        return draw

    first = asyncio.ensure_future(drawer.draw(job("busy", block=True)))
    await asyncio.sleep(0.05)                                    # the thread is drawing "busy"
    waiting = [asyncio.ensure_future(drawer.draw(job(n), urgent=n.startswith("group"))) for n in
               ("private 1", "private 2", "group")]
    await asyncio.sleep(0.05)
    release.set()
    assert await first == b"busy" and [await w for w in waiting] == [b"private 1", b"private 2", b"group"]
    assert order == ["busy", "group", "private 1", "private 2"]


async def test_a_results_picture_waits_for_room_in_the_overall_budget_at_most_a_while(monkeypatch):
    limits = TelegramLimits(overall_per_second=2)
    limits.overall.finished.extend([time.monotonic(), time.monotonic()])   # the second is full for 1 s
    bot = PhotoBot(rate_limiter=limits)
    photos = CardPhotos(cards=None, store=MemoryStore())
    follow_up = asyncio.ensure_future(photos.send_follow_up(bot, 1, card(), "picture"))
    await asyncio.sleep(0.3)
    assert bot.calls == []                                       # other chats' replies go first
    await asyncio.wait_for(follow_up, 3)
    assert bot.calls == [(1, "upload")]
    monkeypatch.setattr(photos_module, "FOLLOW_UP_WAIT", 0.2)    # a budget that never frees: it goes anyway
    limits.overall.running = 2
    await asyncio.wait_for(photos.send_follow_up(bot, 1, card(), "picture"), 2)
    assert bot.calls[-1] == (1, "F1")


async def test_a_card_worker_that_dies_is_restarted_and_its_card_goes_out_as_text():
    services = load_services()
    photos = CardPhotos(CardMaker.for_services(services, font_setting=""), MemoryStore())
    photos.start()
    workers = photos.drawer.workers
    try:
        [first] = workers.pids()
        assert first != os.getpid()                              # drawing happens in another process
        bot = PhotoBot()
        held = Picture("held", partial(time.sleep, 30))           # a card still being drawn when its worker dies
        sending = asyncio.ensure_future(photos.send(bot, 1, held, "<b>Semi-managed</b>"))
        await asyncio.sleep(0.5)
        os.kill(first, signal.SIGKILL)
        await asyncio.wait_for(sending, 10)
        assert bot.calls == [(1, "text: <b>Semi-managed</b>")]   # the reply went out, as text
        assert workers.restarts == 1 and len(workers.pids()) == 1 and first not in workers.pids()
        rec = recommend(services.flow, services.rules, {"factory": "own_factory", "experience": "mature",
                                                       "capital": "strong", "brand": "brand"})
        await photos.send(bot, 1, photos.result(rec, "en", "ModeAdvisorBot"), "card")   # the new worker draws
        assert bot.calls[-1] == (1, "upload") and bot.last_upload.startswith(b"\x89PNG")
    finally:
        photos.close()
    assert not workers.running


async def test_a_results_picture_leaves_the_last_fifth_of_the_overall_budget_to_replies():
    limits = TelegramLimits(overall_per_second=10)
    limits.overall.finished.extend([time.monotonic()] * 8)     # 2 of 10 free: kept for other chats' replies
    bot = PhotoBot(rate_limiter=limits)
    photos = CardPhotos(cards=None, store=MemoryStore())
    follow_up = asyncio.ensure_future(photos.send_follow_up(bot, 1, card(), "picture"))
    await asyncio.sleep(0.3)
    assert bot.calls == [] and limits.overall.delay() == 0     # a reply would go now; the picture waits
    await asyncio.wait_for(follow_up, 3)
    assert bot.calls == [(1, "upload")]


KILLED_BOT = '''
import asyncio, os, signal, sys
sys.path.insert(0, {root!r})
from bot.cards import find_fonts
from bot.cards.worker import CardWorkers


async def main():
    workers = CardWorkers(find_fonts(""))
    workers.start()
    await workers.run(os.getpid)
    print(*workers.pids(), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)          # no chance to stop its workers

if __name__ == "__main__":
    asyncio.run(main())
'''


def test_card_workers_end_when_the_bot_is_killed_outright(tmp_path):
    script = tmp_path / "bot.py"
    script.write_text(KILLED_BOT.format(root=str(ROOT)))
    bot = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        [worker] = [int(pid) for pid in bot.stdout.readline().split()]
        assert bot.wait(10) == -signal.SIGKILL
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{worker}") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not os.path.exists(f"/proc/{worker}"), "the card worker outlived its bot"
    finally:
        bot.stdout.close()
        if bot.poll() is None:
            bot.kill()
