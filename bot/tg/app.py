"""Build the python-telegram-bot Application; no network at build time."""
from __future__ import annotations

import logging

from telegram import BotCommand, Update
from telegram.ext import (Application, ApplicationBuilder, CallbackContext, CallbackQueryHandler, ChatMemberHandler,
                          ChosenInlineResultHandler, CommandHandler, InlineQueryHandler, MessageHandler,
                          filters)

from bot.config import Settings
from bot.services import Services, load_services
from bot.store import COMMITTED, HANDLED, Store, open_store
from bot.tg.admin import AdminHandlers
from bot.tg.dispatch import ChatDispatcher
from bot.tg.extbot import AdvisorBot
from bot.tg.groups import GroupHandlers
from bot.tg.handlers import Handlers
from bot.tg.inline import InlineHandlers
from bot.tg.limits import TelegramLimits
from bot.tg.request import RetryingRequest

log = logging.getLogger(__name__)
COMMANDS = ("start", "help", "quiz", "back", "result", "compare", "faq", "lang")
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY,
                   Update.CHOSEN_INLINE_RESULT, Update.MY_CHAT_MEMBER, Update.CHANNEL_POST]


def build_application(settings: Settings, services: Services | None = None, store: Store | None = None) -> Application:
    services = services or load_services()
    store = store or open_store(settings.database_url)
    h = Handlers(services, store, settings)
    groups, inline, admin = GroupHandlers(h), InlineHandlers(h), AdminHandlers(h)
    urls = {}
    if settings.api_base_url:
        urls = {"base_url": f"{settings.api_base_url}/bot", "base_file_url": f"{settings.api_base_url}/file/bot"}
    bot = AdvisorBot(
        settings.token, **urls,
        request=RetryingRequest(connection_pool_size=256),
        get_updates_request=RetryingRequest(connection_pool_size=1, read_timeout=settings.poll_timeout + 10),
        # Telegram's limits: 30 messages/s overall, 20/min per group, in sliding windows; 429s are waited out.
        rate_limiter=TelegramLimits(max_retries=3) if settings.flood_limit else None)
    app = ApplicationBuilder().bot(bot).post_init(_post_init(h)).build()
    app.bot_data["handlers"] = h
    app.bot_data["dispatcher"] = _dispatcher(app, h)

    new = filters.UpdateType.MESSAGE          # an edited "/quiz" must not restart anything: edits go to h.edited
    for name in COMMANDS:
        app.add_handler(CommandHandler(name, h.choose_lang if name == "lang" else getattr(h, name), filters=new))
    for name in ("stats", "export", "post"):
        app.add_handler(CommandHandler(name, getattr(admin, name), filters=new))
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


def _dispatcher(app: Application, h: Handlers) -> ChatDispatcher:
    """Every update, from polling or the webhook, goes through one ChatDispatcher."""
    async def handle(update: Update) -> None:
        state = await h.store.update_state(update.update_id)
        if state == HANDLED:
            log.info("update %s was already handled; skipped", update.update_id)
            return
        if state == COMMITTED:       # applied before a crash, its reply maybe lost: show where the user is
            log.info("update %s was applied before a restart; showing the current view", update.update_id)
            await h.resume(update, CallbackContext.from_update(update, app))
        else:
            await app.process_update(update)   # handler errors go to the error handler
        await h.store.mark_handled(update.update_id)
    return ChatDispatcher(handle, late_answer=h.answer_late)


def _post_init(h: Handlers):
    async def post_init(app: Application) -> None:
        """Register commands, description and short description in both languages."""
        r = h.r
        for lang, code in (("en", None), ("zh", "zh")):
            commands = [BotCommand(c, r.raw(f"command.{c}", lang)) for c in COMMANDS]
            await app.bot.set_my_commands(commands, language_code=code)
            await app.bot.set_my_description(r.raw("bot.description", lang), language_code=code)
            await app.bot.set_my_short_description(r.raw("bot.short_description", lang), language_code=code)
    return post_init
