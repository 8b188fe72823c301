"""Runs the real Application against the fake Bot API over HTTP, in polling mode (bot.tg.polling), in-process."""
from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from bot.config import Settings
from bot.services import load_services
from bot.store import open_store
from bot.tg.app import ALLOWED_UPDATES, build_application
from bot.tg.polling import poll
from tests.fakebot import FakeTelegram

ADMIN_ID = 42


def settings_for(fake: FakeTelegram, db: Path, **overrides) -> Settings:
    base = dict(token=fake.token, database_url=f"sqlite:///{db}", api_base_url=fake.base_url,
                flood_limit=False, admin_user_ids=frozenset({ADMIN_ID}), poll_timeout=1)
    base.update(overrides)
    return Settings(**base)


@contextlib.asynccontextmanager
async def running_bot(fake: FakeTelegram, db: Path, **overrides):
    """Yield (app, store) while the bot polls the fake; stop cleanly afterwards."""
    settings = settings_for(fake, db, **overrides)
    store = open_store(settings.database_url)
    app = build_application(settings, load_services(), store)
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    await app.start()
    stop = asyncio.Event()
    poller = asyncio.create_task(poll(app, stop, settings.poll_timeout, ALLOWED_UPDATES))
    try:
        yield app, store
    finally:
        stop.set()
        await poller
        await app.stop()
        if app.post_shutdown:
            await app.post_shutdown(app)
        await app.shutdown()
        await store.close()


def assert_clean(fake: FakeTelegram) -> None:
    """Every call the bot made was accepted and every callback query answered."""
    assert fake.rejections == [], fake.rejections
    assert fake.unanswered_callback_queries() == [], fake.unanswered_callback_queries()


def text_of(message) -> str:
    """What a message says: its text, or a photo's caption."""
    return message.text or message.caption or ""


def all_text(messages) -> str:
    """Everything a list of messages says (texts and captions), one after the other."""
    return "\n---\n".join(text_of(m) for m in messages)


async def handled(fake: FakeTelegram, timeout: float = 5.0) -> bool:
    """Wait until the bot has handled every update sent so far, as Telegram sees it: confirmed by the poller's
    offset (it confirms an update only once it is handled) or answered 200 by the webhook. False on timeout
    (an update held up on purpose, a bot that is down): the caller goes on as before."""
    deadline = time.monotonic() + timeout
    while fake.updates.pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            await fake.notifier.wait_until(lambda: not fake.updates.pending, min(remaining, 0.05))
    return True


async def replies(user, quiet: float = 0.1, first: float = 5.0) -> list:
    """Every message the bot shows in a private chat in answer to the last action: wait for one, then until the
    bot has handled the action (a private chat's replies, pictures included, are sent before an update counts
    as handled; no fixed wait can know how long a loaded machine takes), then until quiet."""
    out = [await user.next_reply(first)]
    await handled(user.fake, first)
    while True:
        try:
            out.append(await user.next_reply(quiet))
        except TimeoutError:
            return out


async def forge_press(fake: FakeTelegram, user, message, data: str):
    """A callback query carrying arbitrary data on a real bot message (a forged or very old button)."""
    from tests.fakebot.server import QueryState
    query_id = f"forged{len(fake.callback_queries)}{user.id}"
    chat = fake.world.chats[message.chat_id]
    record = fake.push_update({"callback_query": {
        "id": query_id, "from": user.info.to_api(), "message": message.to_api(chat.to_api()),
        "chat_instance": "1", "data": data}})
    state = QueryState(query_id, record.update_id, record.available_at, user.id, data, message.chat_id,
                       message.message_id)
    fake.callback_queries[query_id] = state
    return state


@contextlib.asynccontextmanager
async def running_webhook_bot(fake: FakeTelegram, db: Path, secret: str, **overrides):
    """Yield (app, store, url) while the bot serves its webhook (bot.tg.webhook) on a free local port."""
    from bot.tg.webhook import start_server
    from tests.fakebot import free_port
    settings = settings_for(fake, db, **overrides)
    store = open_store(settings.database_url)
    app = build_application(settings, load_services(), store)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    await app.initialize()
    await app.start()
    server = start_server(app, "127.0.0.1", port, "hook", secret)
    await app.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
    try:
        yield app, store, url
    finally:
        server.stop()
        await app.bot_data["dispatcher"].join(5)
        await app.stop()
        await app.shutdown()
        await store.close()


def crash_after_commit_once(monkeypatch) -> list[int]:
    """The next update's turn counts as committed by a process that died before replying (bot.tg.app's
    `_begin` says COMMITTED once), as if Telegram redelivered it after a crash. Returns the list the
    update's id is put in when that happened."""
    from bot.store import COMMITTED
    from bot.tg import app as app_module
    real_begin, crashed = app_module._begin, []

    async def begin(coordination, key, update_id):
        state = await real_begin(coordination, key, update_id)
        if not crashed:
            crashed.append(update_id)
            return COMMITTED
        return state
    monkeypatch.setattr(app_module, "_begin", begin)
    return crashed

