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
from bot.tg.polling import DRAIN_TIMEOUT, poll
from bot.tg.webhook import start_server


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
        log.info("starting webhook server on %s:%s", settings.webhook_listen, settings.webhook_port)
        asyncio.run(serve(app, settings, _webhook(app, settings, secret)))
    else:
        log.info("starting long polling")
        asyncio.run(serve(app, settings, _polling(app, settings)))
    return 0


def _webhook(app: Application, settings: Settings, secret: str):
    async def receive(stop: asyncio.Event) -> None:
        path = urlparse(settings.webhook_url).path.lstrip("/")
        server = start_server(app, settings.webhook_listen, settings.webhook_port, path, secret)
        await app.bot.set_webhook(settings.webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        try:
            await stop.wait()
        finally:
            server.stop()     # the webhook stays set: Telegram keeps updates until the bot is back
            if not await app.bot_data["dispatcher"].join(DRAIN_TIMEOUT):
                logging.getLogger("bot").warning("stopping with updates in flight; Telegram delivers them again")
    return receive


def _polling(app: Application, settings: Settings):
    async def receive(stop: asyncio.Event) -> None:
        await app.bot.delete_webhook(drop_pending_updates=False)
        await poll(app, stop, settings.poll_timeout, ALLOWED_UPDATES)
    return receive


async def serve(app: Application, settings: Settings, receive) -> None:
    """Run until SIGINT/SIGTERM: initialise, register commands, receive updates, shut down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with app:                                 # initialize ... shutdown
        if app.post_init:
            await app.post_init(app)
        await app.start()
        try:
            await receive(stop)
        finally:
            await app.stop()
            await app.bot_data["handlers"].store.close()
    logging.getLogger("bot").info("stopped")
