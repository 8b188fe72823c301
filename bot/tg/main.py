"""Run the Telegram bot: long polling, or a webhook server when WEBHOOK_URL is set."""
from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from urllib.parse import urlparse

from telegram.ext import Application

from bot.config import Settings
from bot.tg.app import ALLOWED_UPDATES, build_application
from bot.tg.polling import poll


class RedactSecrets(logging.Filter):
    """Replaces the bot token and the webhook secret wherever they would appear in a log record."""

    def __init__(self, *secrets: str):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for s in self.secrets:
                message = message.replace(s, "<redacted>")
            record.msg, record.args = message, ()
        return True


def setup_logging(settings: Settings, *secrets: str) -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)   # it logs every request URL, token included
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets(settings.token, *secrets))


def run_bot(settings: Settings) -> int:
    secret = settings.webhook_secret or secrets.token_urlsafe(32)
    setup_logging(settings, secret)
    app = build_application(settings)
    log = logging.getLogger("bot")
    if settings.webhook_url:
        path = urlparse(settings.webhook_url).path.lstrip("/")
        log.info("starting webhook server on %s:%s", settings.webhook_listen, settings.webhook_port)
        app.run_webhook(listen=settings.webhook_listen, port=settings.webhook_port, url_path=path,
                        webhook_url=settings.webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES,
                        drop_pending_updates=False)
    else:
        log.info("starting long polling")
        asyncio.run(run_polling(app, settings))
    return 0


async def run_polling(app: Application, settings: Settings) -> None:
    """Poll until SIGINT/SIGTERM, confirming each update only once handled (see bot.tg.polling)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with app:                                 # initialize ... shutdown
        if app.post_init:
            await app.post_init(app)
        await app.bot.delete_webhook(drop_pending_updates=False)
        await app.start()
        try:
            await poll(app, stop, settings.poll_timeout, ALLOWED_UPDATES)
        finally:
            await app.stop()
    logging.getLogger("bot").info("stopped")
