"""Build the python-telegram-bot Application; no network at build time."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Callable

from telegram import BotCommand, Update
from telegram.ext import (Application, ApplicationBuilder, CallbackContext, CallbackQueryHandler, ChatMemberHandler,
                          ChosenInlineResultHandler, CommandHandler, InlineQueryHandler, MessageHandler,
                          filters)

from bot.config import Settings
from bot.content.live import LiveContent
from bot.coord import Coordination, coordination_for
from bot.health import Health
from bot.metrics import UPDATE_SECONDS, UPDATES, MeteredStore, observe_flood
from bot.services import Services, load_services
from bot.store import BUSY, BY_HANDLER, COMMITTED, HANDLED, Store, open_store
from bot.tg.admin import AdminHandlers
from bot.tg.dispatch import ChatDispatcher, Redeliver, chat_key
from bot.tg.extbot import AdvisorBot
from bot.tg.groups import GroupHandlers
from bot.tg.handlers import Handlers
from bot.tg.inline import InlineHandlers
from bot.tg.limits import TelegramLimits
from bot.tg.request import make_request
from bot.tg.review import ReviewHandlers

log = logging.getLogger(__name__)
CONNECTIONS = 8          # HTTP connections to the Bot API (polling has its own)
POOL_WAIT = 30.0         # seconds a request may wait for a free connection
COMMANDS = ("start", "help", "quiz", "back", "result", "compare", "faq", "lang")
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY,
                   Update.CHOSEN_INLINE_RESULT, Update.MY_CHAT_MEMBER, Update.CHANNEL_POST]


CLAIM_WAIT = 20.0      # how long an update waits for another replica that holds its claim before 503


def build_application(settings: Settings, services: Services | None = None, store: Store | None = None,
                      coordination: Coordination | None = None) -> Application:
    """The Application; `bot_data` holds "handlers", "dispatcher", "store" (the store itself, to open
    and close), "coordination" (to start and close) and "health"."""
    services = services or load_services()
    store = store or open_store(settings.database_url, settings.database_pool_size)
    metered = MeteredStore(store)
    coordination = coordination or coordination_for(metered)
    live = LiveContent(services, metered, retention_days=settings.review_retention_days)   # follows the overlay
    services = live.services
    h = Handlers(services, metered, settings)
    groups, inline, admin = GroupHandlers(h), InlineHandlers(h), AdminHandlers(h)
    urls = {}
    if settings.api_base_url:
        urls = {"base_url": f"{settings.api_base_url}/bot", "base_file_url": f"{settings.api_base_url}/file/bot"}
    # A few connections carry Telegram's 30 messages a second: httpcore looks at every pooled connection
    # on every request, so a pool grown to hundreds by concurrent chats cost more CPU than the bot's logic.
    request = make_request(settings, connection_pool_size=CONNECTIONS, pool_timeout=POOL_WAIT)
    polling = make_request(settings, connection_pool_size=1, read_timeout=settings.poll_timeout + 10)
    bot = AdvisorBot(
        settings.token, **urls, request=request, get_updates_request=polling, answers_store=metered,
        # Telegram's limits: 30 messages/s overall, 20/min per group, in sliding windows, counted where
        # every process of the bot sees them (bot.coord); 429s are waited out by their chat.
        rate_limiter=TelegramLimits(max_retries=3, make_window=coordination.make_window(),
                                    share_pause=coordination.share_pause, observe=observe_flood)
        if settings.flood_limit else None)
    app = (ApplicationBuilder().bot(bot).post_init(_post_init(h, live, settings))
           .post_shutdown(_post_shutdown(h)).build())
    app.bot_data["handlers"] = h
    app.bot_data["store"] = store
    app.bot_data["coordination"] = coordination
    app.bot_data["health"] = Health(store, coordination, bot, lambda: max(request.last_ok, polling.last_ok))
    app.bot_data["dispatcher"] = _dispatcher(app, h, coordination, live.trainer.replying)
    app.bot_data["live"] = live

    new = filters.UpdateType.MESSAGE          # an edited "/quiz" must not restart anything: edits go to h.edited
    for name in COMMANDS:
        app.add_handler(CommandHandler(name, h.choose_lang if name == "lang" else getattr(h, name), filters=new))
    for name in ("stats", "export", "post"):
        app.add_handler(CommandHandler(name, getattr(admin, name), filters=new))
    review = ReviewHandlers(h, live)
    app.add_handler(CommandHandler("review", review.command, filters=new))
    app.add_handler(CallbackQueryHandler(review.button, pattern=r"^r:"))
    app.add_handler(CallbackQueryHandler(h.button))
    app.add_handler(ChatMemberHandler(groups.member_change, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(InlineQueryHandler(inline.query))
    app.add_handler(ChosenInlineResultHandler(inline.chosen))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, h.edited))

    private, group = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    messages = filters.UpdateType.MESSAGE
    app.add_handler(MessageHandler(private & filters.COMMAND, h.unknown_command))
    app.add_handler(MessageHandler(private & filters.TEXT, h.text))
    app.add_handler(MessageHandler(private & messages & ~filters.StatusUpdate.ALL, h.other_message))
    app.add_handler(MessageHandler(group & filters.COMMAND & filters.Regex(r"^/\w+@"), groups.addressed_command))
    app.add_handler(MessageHandler(group & messages & filters.TEXT & ~filters.COMMAND, groups.message))
    app.add_error_handler(h.error)
    return app


def _until_stopped(app: Application):
    """True until the application, once started, stops (post_init runs before it starts)."""
    started = False

    def running() -> bool:
        nonlocal started
        started = started or app.running
        return app.running or not started
    return running


def update_kind(update: Update) -> str:
    """message, edited_message, callback_query, inline_query...: the field the update carries."""
    for name in ALLOWED_UPDATES:
        if getattr(update, name, None) is not None:
            return name
    return "other"


async def _begin(coordination: Coordination, key, update_id: int) -> str | None:
    """Hold the update's chat and claim the update; while another live replica holds the claim (Telegram
    redelivered it there), wait for it, then Redeliver (503: Telegram sends it again later)."""
    deadline = time.monotonic() + CLAIM_WAIT
    pause = 0.01
    while (state := await coordination.begin(key, update_id)) == BUSY:
        if time.monotonic() > deadline:
            raise Redeliver("another replica is still handling it")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.2)
    return state


def _dispatcher(app: Application, h: Handlers, coordination: Coordination,
                on_busy: Callable[[bool], None] | None = None) -> ChatDispatcher:
    """Every update, from polling or the webhook, goes through one ChatDispatcher (in order within a chat in
    this process); coordination.begin/end hold the chat against other processes and claim the update.

    A press redelivered after a crash may have been answered already (the store remembers who answered it):
    it is not answered again. Answered by its handler and never committed, it needed no turn (a view, a stale
    button): its handling was over but for a reply maybe lost, and it is not handled again (pressing again
    works). Answered early (the "busy" note) and never committed, its handler never ran: it runs now."""
    answers = app.bot.callback_answers

    async def handle(update: Update) -> None:
        started, wall = time.perf_counter(), time.time()
        kind, key = update_kind(update), chat_key(update)
        state = await _begin(coordination, key, update.update_id)
        answered = None
        query = update.callback_query
        if query is not None and state != HANDLED and (answered := await answers.recorded(query.id)):
            answers.claim(query.id)      # no second answer: Telegram would refuse it
        handled = False
        try:
            if state == HANDLED or (state is None and answered == BY_HANDLER):
                outcome = "skipped"
            elif state == COMMITTED:     # applied before a crash, its reply maybe lost: show where the user is
                outcome = "resumed"
                await h.resume(update, CallbackContext.from_update(update, app), answered)
            else:
                outcome = "processed"
                await app.process_update(update)   # handler errors go to the error handler
            handled = state != HANDLED          # a press answered before: marked handled now
        finally:
            await coordination.end(key, update.update_id, handled)
        took = time.perf_counter() - started
        UPDATES.labels(kind, outcome).inc()
        UPDATE_SECONDS.labels(kind).observe(took)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("update %s %s chat %s: %s in %.1f ms", update.update_id, kind, key, outcome, took * 1000,
                      extra={"update_id": update.update_id, "kind": kind, "chat": str(key), "outcome": outcome,
                             "ms": round(took * 1000, 2), "started": wall})
    return ChatDispatcher(handle, late_answer=h.answer_late, on_busy=on_busy)


def _post_init(h: Handlers, live: LiveContent, settings: Settings):
    async def post_init(app: Application) -> None:
        """Start the card workers; register commands, description and short description in both languages;
        follow the content overlay until the application stops."""
        h.photos.start(settings.card_workers)
        app.bot_data["live_task"] = asyncio.get_running_loop().create_task(live.follow(_until_stopped(app)))
        r = h.r
        for lang, code in (("en", None), ("zh", "zh")):
            commands = [BotCommand(c, r.raw(f"command.{c}", lang)) for c in COMMANDS]
            await app.bot.set_my_commands(commands, language_code=code)
            await app.bot.set_my_description(r.raw("bot.description", lang), language_code=code)
            await app.bot.set_my_short_description(r.raw("bot.short_description", lang), language_code=code)
    return post_init


def _post_shutdown(h: Handlers):
    async def post_shutdown(app: Application) -> None:
        """Stop following the content overlay, then the card workers."""
        task = app.bot_data.pop("live_task", None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        h.photos.close()
    return post_shutdown
