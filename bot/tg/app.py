"""Build the python-telegram-bot Application; no network at build time."""
from __future__ import annotations

from telegram import BotCommand, Update
from telegram.ext import (AIORateLimiter, Application, ApplicationBuilder, CallbackQueryHandler, ChatMemberHandler, CommandHandler,
                          MessageHandler, TypeHandler, filters)

from bot.config import Settings
from bot.services import Services, load_services
from bot.store import Store
from bot.tg.handlers import Handlers

COMMANDS = ("start", "help", "quiz", "back", "result", "compare", "faq", "lang")


def build_application(settings: Settings, services: Services | None = None, store: Store | None = None) -> Application:
    services = services or load_services()
    store = store or Store.from_url(settings.database_url)
    h = Handlers(services, store, settings)
    builder = ApplicationBuilder().token(settings.token).post_init(_post_init(h))
    if settings.api_base_url:
        builder = builder.base_url(f"{settings.api_base_url}/bot").base_file_url(f"{settings.api_base_url}/file/bot")
    if settings.flood_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    builder = builder.get_updates_read_timeout(settings.poll_timeout + 10)
    app = builder.build()
    app.bot_data["handlers"] = h
    app.add_handler(TypeHandler(Update, h.dedupe), group=-1)
    private = filters.ChatType.PRIVATE
    for name in COMMANDS:
        handler = {"lang": h.choose_lang}.get(name) or getattr(h, name)
        app.add_handler(CommandHandler(name, handler))
    app.add_handler(CommandHandler("stats", h.stats))
    app.add_handler(CommandHandler("export", h.export))
    app.add_handler(CallbackQueryHandler(h.button))
    app.add_handler(ChatMemberHandler(h.member_status, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, h.edited))
    app.add_handler(MessageHandler(private & filters.COMMAND, h.unknown_command))
    app.add_handler(MessageHandler(private & filters.TEXT, h.text))
    app.add_handler(MessageHandler(private & ~filters.StatusUpdate.ALL, h.other_message))
    app.add_error_handler(h.error)
    return app


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


ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY,
                   Update.CHOSEN_INLINE_RESULT, Update.MY_CHAT_MEMBER, Update.CHANNEL_POST]
