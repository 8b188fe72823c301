"""``FakeTelegram``: a strict fake Telegram Bot API server on 127.0.0.1 (aiohttp)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from aiohttp import web

from . import errors as E
from .delivery import Described, UpdateQueue
from .errors import ApiError
from .methods import CANONICAL, METHODS
from .params import Params
from .records import CallRecord, Faults, FloodLimits, Notifier, Rejection, UpdateRecord, is_rejection
from .state import Chat, StoredFile, StoredMessage, UserInfo, World

TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
DEFAULT_TOKEN = "7000000001:AAFakeBotTokenForModeAdvisorTests_000"
_NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    "Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class QueryState:
    """A callback or inline query sent to the bot, and whether/how it was answered."""

    id: str
    update_id: int
    at: float
    user_id: int
    data: str | None = None
    chat_id: int | None = None
    message_id: int | None = None
    answered: bool = False
    answer: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Options:
    """Behaviour switches of the fake (all can be changed at run time)."""

    markdown: str = "reject"
    callback_query_ttl: float | None = None
    webhook_require_https: bool = False
    webhook_retry_delay: float = 0.2
    webhook_timeout: float = 10.0
    privacy_mode: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class FakeTelegram:
    """A fake Bot API server for one bot; use ``async with FakeTelegram() as fake``."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, host: str = "127.0.0.1", port: int = 0,
                 bot_username: str = "ModeAdvisorBot", bot_name: str = "Mode Advisor",
                 flood_limits: bool = False, **options: Any) -> None:
        if not TOKEN_RE.match(token):
            raise ValueError(f"token {token!r} does not look like a Telegram bot token")
        self.token, self.host, self._port = token, host, port
        self.options = Options(**options)
        self.bot_user = UserInfo(int(token.split(":")[0]), bot_name, username=bot_username, is_bot=True)
        self.world = World(self.bot_user)
        self.notifier = Notifier()
        self.updates = UpdateQueue(self)
        self.faults = Faults()
        self.flood = FloodLimits(enabled=flood_limits)
        self.call_log: list[CallRecord] = []
        self.rejections: list[Rejection] = []
        self.callback_queries: dict[str, QueryState] = {}
        self.inline_queries: dict[str, QueryState] = {}
        self.inline_messages: dict[str, StoredMessage] = {}
        self.inline_events: list[StoredMessage] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.profile: dict[str, dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None
        self._drivers: dict[tuple[str, int], Any] = {}
        self.app = web.Application(client_max_size=60 * 1024 * 1024)
        self.app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        self.app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        from .control import add_control_routes

        add_control_routes(self.app, self)

    # -- options used by the methods -------------------------------------------------------------
    markdown = property(lambda self: self.options.markdown)
    callback_query_ttl = property(lambda self: self.options.callback_query_ttl)
    webhook_require_https = property(lambda self: self.options.webhook_require_https)
    webhook_retry_delay = property(lambda self: self.options.webhook_retry_delay)
    webhook_timeout = property(lambda self: self.options.webhook_timeout)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> FakeTelegram:
        """Listen on ``host`` (a free port unless one was given)."""
        self._runner = web.AppRunner(self.app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop webhook delivery and the HTTP server."""
        await self.updates.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self._port}"

    @property
    def api_base_url(self) -> str:
        """Value for PTB's ``base_url`` (PTB appends the token and ``/method``)."""
        return f"{self.base_url}/bot"

    @property
    def file_base_url(self) -> str:
        """Value for PTB's ``base_file_url``."""
        return f"{self.base_url}/file/bot"

    def application_builder(self) -> Any:
        """A PTB ``ApplicationBuilder`` already pointed at this fake."""
        from telegram.ext import ApplicationBuilder

        return (ApplicationBuilder().token(self.token).base_url(self.api_base_url)
                .base_file_url(self.file_base_url))

    def make_bot(self, **kwargs: Any) -> Any:
        """A PTB ``telegram.Bot`` pointed at this fake."""
        from telegram import Bot

        return Bot(self.token, base_url=self.api_base_url, base_file_url=self.file_base_url, **kwargs)

    # -- drivers -------------------------------------------------------------------------------------
    def user(self, id: int, first_name: str | None = None, **info: Any) -> Any:
        """The driver of user ``id`` (created on first use; ``info`` updates its profile).

        ``info``: last_name, username, language_code, is_premium, started, blocked.
        See ``users.FakeUser``.
        """
        from .users import FakeUser

        driver = self._drivers.get(("user", id))
        if driver is None:
            driver = FakeUser(self, UserInfo(id, first_name or "Test", **info))
            self._drivers[("user", id)] = driver
            return driver
        for key, value in {"first_name": first_name, **info}.items():
            if value is not None:
                setattr(driver.info, key, value)
        return driver

    def group(self, id: int, title: str = "Test group", **kwargs: Any) -> Any:
        """A group/supergroup with the bot as a member (``type``, ``username``, ``bot_status``)."""
        from .users import FakeGroup

        driver = FakeGroup(self, id, title, **kwargs)
        self._drivers[("chat", id)] = driver
        return driver

    def channel(self, id: int, title: str = "Test channel", **kwargs: Any) -> Any:
        """A channel with the bot as administrator (``username``, ``bot_status``)."""
        from .users import FakeChannel

        driver = FakeChannel(self, id, title, **kwargs)
        self._drivers[("chat", id)] = driver
        return driver

    def forge_callback(self, user: Any, message: StoredMessage, data: str) -> QueryState:
        """A callback_query from ``user`` on ``message`` with arbitrary ``data`` (no button check).

        For testing stale/tampered callback data; normal tests should use ``user.press``.
        """
        chat = self.world.chats.get(message.chat_id)
        current = chat.messages.get(message.message_id, message) if chat else message
        return user.push_callback(current, data)

    def group_driver(self, id: int) -> Any:
        """The driver created by ``group()``/``channel()`` for chat ``id``."""
        return self._drivers[("chat", id)]

    def push_update(self, payload: dict[str, Any]) -> UpdateRecord:
        """Queue a raw update (``update_id`` is assigned); returns its record."""
        return self.updates.push(payload)

    # -- records -------------------------------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[CallRecord]:
        """All recorded calls, or those of one method (case-insensitive)."""
        if method is None:
            return list(self.call_log)
        return [c for c in self.call_log if c.method.lower() == method.lower()]

    def mark(self) -> int:
        """Current call count, for ``wait_for(..., since=fake.mark())``."""
        return len(self.call_log)

    def sent_messages(self, chat_id: int) -> list[StoredMessage]:
        """Every message the bot sent to ``chat_id`` (including deleted ones), oldest first."""
        chat = self.world.chats.get(chat_id)
        return [m for m in chat.messages.values() if m.from_bot] if chat else []

    def transcript(self, chat_id: int) -> list[StoredMessage]:
        """Messages the bot currently shows in ``chat_id`` (edits applied, deletions removed)."""
        chat = self.world.chats.get(chat_id)
        return chat.transcript() if chat else []

    def file_of(self, message: StoredMessage) -> StoredFile:
        """The stored file (name, mime type, bytes) of a document/photo/voice/... message."""
        media = next(iter((message.media or {}).values()), None)
        if isinstance(media, list):  # photo sizes
            media = media[-1]
        if not media or media.get("file_id") not in self.world.files:
            raise KeyError(f"message {message.message_id} has no stored file")
        return self.world.files[media["file_id"]]

    def unanswered_callback_queries(self) -> list[QueryState]:
        """Callback queries the bot never answered with answerCallbackQuery."""
        return [q for q in self.callback_queries.values() if not q.answered]

    def unanswered_inline_queries(self) -> list[QueryState]:
        """Inline queries the bot never answered."""
        return [q for q in self.inline_queries.values() if not q.answered]

    def reply_latencies(self) -> list[float]:
        """Seconds from "update available" to the bot's first reply call, per replied update."""
        return [r.replied_at - r.available_at for r in self.updates.records if r.replied_at]

    def counters(self) -> dict[str, Any]:
        """Summary numbers (calls per method, errors, faults, flood 429s, updates)."""
        per_method: dict[str, int] = {}
        for call in self.call_log:
            per_method[call.method] = per_method.get(call.method, 0) + 1
        return {
            "calls": len(self.call_log), "per_method": per_method,
            "errors": sum(1 for c in self.call_log if c.status >= 400 and c.status != 499),
            "rejections": len(self.rejections), "faults_injected": dict(self.faults.injected),
            "flood_429": self.flood.sent_429, "updates_pushed": len(self.updates.records),
            "updates_pending": len(self.updates.pending),
            "webhook_deliveries": len(self.updates.deliveries),
            "unanswered_callback_queries": len(self.unanswered_callback_queries()),
        }

    def reset_records(self) -> None:
        """Forget calls, rejections and webhook deliveries (state and pending updates stay)."""
        self.call_log.clear()
        self.rejections.clear()
        self.updates.deliveries.clear()

    async def wait_for(self, predicate: Callable[[CallRecord], Any], timeout: float = 5.0,
                       since: int = 0) -> CallRecord:
        """The first finished call (index >= ``since``) matching ``predicate``."""

        def find() -> CallRecord | None:
            for call in self.call_log[since:]:
                if call.done_at is not None and predicate(call):
                    return call
            return None

        return await self.notifier.wait_until(find, timeout)

    async def wait_for_reply(self, chat_id: int | None, after: int = 0,
                             timeout: float = 5.0) -> tuple[int, StoredMessage]:
        """The bot's next output (send/edit) in ``chat_id`` after event index ``after``.

        ``chat_id=None`` means inline messages.  Returns ``(event_index, snapshot)``.
        """

        def events() -> list[StoredMessage]:
            if chat_id is None:
                return self.inline_events
            chat = self.world.chats.get(chat_id)
            return chat.events if chat else []

        await self.notifier.wait_until(lambda: len(events()) > after, timeout)
        return after + 1, events()[after]

    # -- hooks for the methods -------------------------------------------------------------------
    def bot_output(self, chat: Chat | None, msg: StoredMessage, via: str) -> None:
        """Record that the bot showed/changed ``msg`` (for transcripts, next_reply, latency)."""
        (chat.events if chat else self.inline_events).append(msg.snapshot(via))
        if chat is not None:
            self.mark_replied(chat_id=chat.id)
        self.notifier.notify()

    def mark_replied(self, *, chat_id: int | None = None, update_id: int | None = None) -> None:
        """Set ``replied_at`` on the oldest delivered, unreplied update of a chat (or by id)."""
        self.updates.mark_replied(chat_id=chat_id, update_id=update_id)

    # -- HTTP ----------------------------------------------------------------------------------------
    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        record = CallRecord(len(self.call_log), request.match_info["method"], {}, time.monotonic())
        self.call_log.append(record)
        try:
            return await self._process(request, record)
        except ApiError as err:
            return self._finish(record, err.code, err.payload(), err)
        except asyncio.CancelledError:
            if record.done_at is None:
                record.status, record.description = 499, "client disconnected"
                record.done_at = time.monotonic()
            raise

    async def _process(self, request: web.Request, record: CallRecord) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            raise ApiError(401, E.UNAUTHORIZED)
        params = await Params.from_request(request)
        record.params = params.recorded()
        name = CANONICAL.get(record.method.lower())
        if name is None:
            raise ApiError(404, E.NOT_FOUND)
        record.method = name
        fault = self.faults.take(name, params.get("chat_id"))
        if fault is not None:
            record.fault = fault.kind
            response = await self._inject(fault, request, record)
            if response is not None:
                return response
        self._check_flood(name, params)
        result = await self._invoke(name, params)
        body: dict[str, Any] = {"ok": True, "result": result}
        if isinstance(result, Described):
            body = {"ok": True, "result": result.result, "description": result.description}
        return self._finish(record, 200, body)

    async def _invoke(self, name: str, params: Params) -> Any:
        if name == "getUpdates":
            return await self.updates.get_updates(params)
        if name == "setWebhook":
            return await self.updates.set_webhook(params)
        if name == "deleteWebhook":
            return await self.updates.delete_webhook(params)
        if name == "getWebhookInfo":
            return self.updates.webhook_info()
        return await METHODS[name](self, params)

    def _check_flood(self, name: str, params: Params) -> None:
        if not self.flood.enabled:
            return
        chat_id = params.get("chat_id")
        chat = None
        try:
            chat = self.world.resolve_chat(chat_id) if chat_id is not None else None
        except ApiError:
            pass
        self.flood.check(name, chat.id if chat else None, bool(chat and chat.type == "private"))

    async def _inject(self, fault: Any, request: web.Request, record: CallRecord) -> web.StreamResponse | None:
        if fault.kind == "delay":
            await asyncio.sleep(fault.delay)
            return None
        if fault.kind == "429":
            err = ApiError(429, f"Too Many Requests: retry after {fault.retry_after}",
                           fault.retry_after, "fault")
            return self._finish(record, 429, err.payload(), err)
        if fault.kind == "500":
            err = ApiError(500, "Internal Server Error", origin="fault")
            return self._finish(record, 500, err.payload(), err)
        if fault.kind == "502":
            record.status, record.description, record.done_at = 502, "Bad Gateway", time.monotonic()
            self.notifier.notify()
            return web.Response(status=502, text=_NGINX_502, content_type="text/html")
        record.status, record.description, record.done_at = 0, "connection dropped", time.monotonic()
        self.notifier.notify()
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError

    def _finish(self, record: CallRecord, status: int, body: dict[str, Any],
                err: ApiError | None = None) -> web.Response:
        record.status, record.ok, record.done_at = status, bool(body.get("ok")), time.monotonic()
        record.result = body.get("result")
        record.description = body.get("description")
        if err is not None and is_rejection(err):
            self.rejections.append(Rejection(record.method, record.params, err.code,
                                             err.description, record.at))
        self.notifier.notify()
        return web.Response(status=status, text=json.dumps(body, ensure_ascii=False),
                            content_type="application/json")

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": E.UNAUTHORIZED},
                                     status=401)
        path = request.match_info["path"]
        for stored in self.world.files.values():
            if stored.file_path == path:
                return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")
        return web.json_response({"ok": False, "error_code": 404, "description": E.NOT_FOUND}, status=404)
