"""The baseline for `python -m bench load`: bare python-telegram-bot with no logic.

It makes the same kinds of Bot API calls per user action as the real bot, and nothing else: a text
or command gets one sendMessage with an inline keyboard; a button press gets answerCallbackQuery
and one editMessageText. Same settings as the bot, from the same environment variables
(TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE_URL, TELEGRAM_FLOOD_LIMIT, POLL_TIMEOUT, LOG_LEVEL), same
polling parameters. Run: `python -m bench.baseline_bot`. PTB's default client (httpx) unless
TELEGRAM_HTTP=fast, which gives it the bot's own (bot.tg.transport, the bot's pool sizes, no retries): the
bot and the baseline on the same client differ only by the bot's own code (`bench load --http fast httpx`).
"""
from __future__ import annotations

import logging
import os

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY,
                   Update.CHOSEN_INLINE_RESULT, Update.MY_CHAT_MEMBER, Update.CHANNEL_POST]
TEXT = "<b>Question</b>\nPick one of the options below."


def keyboard(step: int) -> InlineKeyboardMarkup:
    """Five buttons, like a question of the real bot (three options, not sure, restart)."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"Option {i}", callback_data=f"b:{step}:{i}")]
                                 for i in range(5)])


async def on_message(update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> None:
    await ctx.bot.send_message(update.effective_chat.id, TEXT, parse_mode=ParseMode.HTML,
                               reply_markup=keyboard(0), disable_web_page_preview=True)


async def on_button(update: Update, ctx: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    step = int((query.data or "b:0").split(":")[1]) + 1
    await query.answer()
    await query.edit_message_text(f"{TEXT}\n{step}", parse_mode=ParseMode.HTML, reply_markup=keyboard(step),
                                  disable_web_page_preview=True)


def main() -> None:
    env = os.environ
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        level=(env.get("LOG_LEVEL") or "INFO").upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    poll_timeout = int(env.get("POLL_TIMEOUT") or 10)
    base = (env.get("TELEGRAM_API_BASE_URL") or "").rstrip("/")
    builder = ApplicationBuilder().token(env["TELEGRAM_BOT_TOKEN"])
    if base:
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    if (env.get("TELEGRAM_FLOOD_LIMIT") or "on").lower() not in ("off", "0", "false", "no"):
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    if (env.get("TELEGRAM_HTTP") or "").lower() == "fast":
        from bot.tg.transport import BotApiRequest      # the pool sizes of bot.tg.app (not imported: no logic here)
        builder = builder.request(BotApiRequest(connection_pool_size=8, pool_timeout=30.0,
                                                read_timeout=30.0)).get_updates_request(
            BotApiRequest(connection_pool_size=1, read_timeout=poll_timeout + 10))
    else:
        builder = builder.get_updates_read_timeout(poll_timeout + 10)
    app = builder.build()
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(filters.TEXT, on_message))     # filters.TEXT includes commands
    app.run_polling(allowed_updates=ALLOWED_UPDATES, timeout=poll_timeout, drop_pending_updates=False)


if __name__ == "__main__":
    main()
