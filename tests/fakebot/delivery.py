"""Getting updates to the bot: the queue, getUpdates long polling and webhook delivery."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from . import errors as E
from . import validate as V
from .errors import ApiError
from .params import Params
from .records import UpdateRecord, WebhookDelivery

if TYPE_CHECKING:
    from .server import FakeTelegram

OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class Described:
    """A successful result that Telegram sends together with a ``description``."""

    result: Any
    description: str


@dataclass
class Webhook:
    """The webhook currently set with setWebhook."""

    url: str
    secret_token: str
    max_connections: int
    allowed_updates: list[str] | None
    ip_address: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


def _chat_of(payload: dict[str, Any]) -> int | None:
    for key in ("message", "edited_message", "channel_post", "edited_channel_post",
                "my_chat_member", "chat_member"):
        if key in payload:
            return payload[key]["chat"]["id"]
    if "callback_query" in payload and "message" in payload["callback_query"]:
        return payload["callback_query"]["message"]["chat"]["id"]
    return None


class UpdateQueue:
    """Pending updates and the two ways Telegram hands them out."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.records: list[UpdateRecord] = []
        self.pending: list[UpdateRecord] = []
        self.deliveries: list[WebhookDelivery] = []
        self.webhook: Webhook | None = None
        self.allowed: list[str] | None = None
        self._next_id = 1
        self._poll_owner: object | None = None
        self._retry_at: dict[int, float] = {}
        self._in_flight: set[int] = set()
        self._session: aiohttp.ClientSession | None = None
        self._unreplied: dict[int, deque[UpdateRecord]] = {}

    # -- queue -----------------------------------------------------------------------------
    def push(self, payload: dict[str, Any]) -> UpdateRecord:
        """Make an update available to the bot now; assigns the next update_id."""
        body = {k: v for k, v in payload.items() if k != "update_id"}
        record = UpdateRecord(self._next_id, {"update_id": self._next_id, **body},
                              time.monotonic(), _chat_of(body))
        self._next_id += 1
        self.records.append(record)
        self.pending.append(record)
        if record.chat_id is not None:
            self._unreplied.setdefault(record.chat_id, deque()).append(record)
        self.fake.notifier.notify()
        return record

    def get(self, update_id: int) -> UpdateRecord | None:
        """The record of ``update_id`` (ids are sequential from 1)."""
        return self.records[update_id - 1] if 0 < update_id <= len(self.records) else None

    def mark_replied(self, *, chat_id: int | None = None, update_id: int | None = None) -> None:
        """Stamp ``replied_at`` on an update (by id) or on the oldest delivered one of a chat."""
        stamp = time.monotonic()
        if update_id is not None:
            record = self.get(update_id)
            if record is not None and record.replied_at is None and record.delivered_at is not None:
                record.replied_at = stamp
            return
        queue = self._unreplied.get(chat_id) if chat_id is not None else None
        while queue and queue[0].replied_at is not None:
            queue.popleft()
        if queue and queue[0].delivered_at is not None:
            queue.popleft().replied_at = stamp

    def _is_allowed(self, record: UpdateRecord, allowed: list[str] | None) -> bool:
        if not allowed:
            return record.kind not in OPT_IN_UPDATES
        return record.kind in allowed

    def _confirm(self, predicate: Any) -> None:
        keep = []
        for record in self.pending:
            if predicate(record):
                record.confirmed = True
            else:
                keep.append(record)
        self.pending = keep

    def _ready(self, allowed: list[str] | None, limit: int) -> list[UpdateRecord]:
        self._confirm(lambda r: not self._is_allowed(r, allowed))
        return self.pending[:limit]

    # -- getUpdates ----------------------------------------------------------------------------
    async def get_updates(self, p: Params) -> list[dict[str, Any]]:
        """Long polling with Telegram's offset/limit/timeout/allowed_updates semantics."""
        if self.webhook is not None:
            raise ApiError(409, E.WEBHOOK_ACTIVE)
        offset = p.int("offset")
        limit = min(max(p.int("limit", 100) or 100, 1), 100)
        timeout = max(p.int("timeout", 0) or 0, 0)
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed = allowed
        if offset is not None and offset < 0:
            keep = self.pending[offset:]
            self._confirm(lambda r: r not in keep)
        elif offset is not None:
            self._confirm(lambda r: r.update_id < offset)
        owner = object()
        self._poll_owner = owner
        self.fake.notifier.notify()  # wakes (and terminates) an older long poll
        try:
            await self.fake.notifier.wait_until(
                lambda: self._poll_owner is not owner or self._ready(self.allowed, limit), timeout)
        except TimeoutError:
            pass
        if self._poll_owner is not owner:
            raise ApiError(409, self._terminated_reason)
        ready = self._ready(self.allowed, limit)
        stamp = time.monotonic()
        for record in ready:
            record.delivered_at = record.delivered_at or stamp
        return [r.payload for r in ready]

    _terminated_reason = E.OTHER_GETUPDATES

    def _terminate_poll(self, reason: str) -> None:
        self._terminated_reason = reason
        self._poll_owner = object()
        self.fake.notifier.notify()

    # -- webhooks ------------------------------------------------------------------------------
    async def set_webhook(self, p: Params) -> Described:
        """setWebhook: an empty url removes the webhook."""
        url = p.get("url", "")
        if not url:
            return await self.delete_webhook(p)
        V.check_webhook_url(url, self.fake.webhook_require_https)
        secret = V.check_secret_token(p.get("secret_token"))
        if p.bool("drop_pending_updates"):
            self._confirm(lambda r: True)
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed = allowed
        same = self.webhook is not None and self.webhook.url == url
        await self._stop_dispatch()
        self._terminate_poll("Conflict: terminated by setWebhook request")
        max_conn = min(max(p.int("max_connections", 40) or 40, 1), 100)
        self.webhook = Webhook(url, secret, max_conn, allowed if isinstance(allowed, list) else None,
                               p.get("ip_address"))
        self.webhook.task = asyncio.create_task(self._dispatch(self.webhook))
        return Described(True, "Webhook is already set" if same else "Webhook was set")

    async def delete_webhook(self, p: Params) -> Described:
        """deleteWebhook (optionally dropping pending updates)."""
        if p.bool("drop_pending_updates"):
            self._confirm(lambda r: True)
        if self.webhook is None:
            return Described(True, "Webhook is already deleted")
        await self._stop_dispatch()
        self.webhook = None
        return Described(True, "Webhook was deleted")

    def webhook_info(self) -> dict[str, Any]:
        """getWebhookInfo result."""
        hook = self.webhook
        info: dict[str, Any] = {"url": hook.url if hook else "", "has_custom_certificate": False,
                                "pending_update_count": len(self.pending)}
        if hook:
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if hook.allowed_updates:
                info["allowed_updates"] = hook.allowed_updates
            if hook.last_error_date:
                info.update(last_error_date=hook.last_error_date,
                            last_error_message=hook.last_error_message)
        return info

    async def _stop_dispatch(self) -> None:
        if self.webhook and self.webhook.task:
            self.webhook.task.cancel()
            await asyncio.gather(self.webhook.task, return_exceptions=True)

    async def close(self) -> None:
        """Stop webhook delivery and close the HTTP client."""
        await self._stop_dispatch()
        if self._session:
            await self._session.close()
            self._session = None

    def _next_for_webhook(self, hook: Webhook) -> UpdateRecord | None:
        if len(self._in_flight) >= hook.max_connections:
            return None
        now = time.monotonic()
        busy: set[int] = set()   # like Telegram's server: one update per chat at a time, in order
        for record in self._ready(hook.allowed_updates or self.allowed, 100):
            if record.chat_id is not None:
                if record.chat_id in busy:
                    continue
                busy.add(record.chat_id)
            if record.update_id not in self._in_flight and self._retry_at.get(record.update_id, 0) <= now:
                return record
        return None

    async def _dispatch(self, hook: Webhook) -> None:
        self._session = self._session or aiohttp.ClientSession()
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    record = await self.fake.notifier.wait_until(
                        lambda: self._next_for_webhook(hook), self.fake.webhook_retry_delay)
                except TimeoutError:
                    continue
                self._in_flight.add(record.update_id)
                task = asyncio.create_task(self._deliver(hook, record))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            self._in_flight.clear()

    async def _deliver(self, hook: Webhook, record: UpdateRecord) -> None:
        assert self._session is not None
        headers = {SECRET_HEADER: hook.secret_token} if hook.secret_token else {}
        started = time.monotonic()
        status, error = None, None
        try:
            async with self._session.post(hook.url, json=record.payload, headers=headers,
                                          timeout=aiohttp.ClientTimeout(total=self.fake.webhook_timeout)) as resp:
                status = resp.status
                await resp.read()
                if not 200 <= status < 300:
                    error = f"Wrong response from the webhook: {status} {resp.reason}"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            error = f"Connection failed: {exc.__class__.__name__}"
        finally:
            self._in_flight.discard(record.update_id)
        self.deliveries.append(WebhookDelivery(record.update_id, started, status,
                                               time.monotonic() - started, error))
        if error is None:
            record.delivered_at = record.delivered_at or started
            self._confirm(lambda r: r is record)
        else:
            hook.last_error_date, hook.last_error_message = int(time.time()), error
            self._retry_at[record.update_id] = time.monotonic() + self.fake.webhook_retry_delay
        self.fake.notifier.notify()
