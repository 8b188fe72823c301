"""Control HTTP API (``/_control/...``) over the same internals as the Python API.

Used when the fake runs in another process (``python -m tests.fakebot``): a test or benchmark
drives it with ``RemoteFake``.  ``FakeProcess`` starts/stops such a process.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from .server import FakeTelegram

USER_ACTIONS = frozenset({
    "send", "send_sticker", "send_photo", "send_voice", "send_document", "send_location",
    "send_contact", "forward", "edit", "press", "inline_query", "choose_inline_result",
    "block", "unblock",
})
GROUP_ACTIONS = frozenset({"add_bot", "remove_bot", "post", "edit_post"})


def to_json(value: Any) -> Any:
    """Dataclasses (records, messages, query states) to JSON-safe data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def add_control_routes(app: web.Application, fake: FakeTelegram) -> None:
    """Mount the control API on ``app``."""

    def reply(data: Any, status: int = 200) -> web.Response:
        return web.json_response(to_json(data), status=status)

    async def body(request: web.Request) -> dict[str, Any]:
        return await request.json() if request.can_read_body else {}

    async def health(request: web.Request) -> web.Response:
        return reply({"ok": True, "port": fake.port, "bot_id": fake.bot_user.id})

    async def push_update(request: web.Request) -> web.Response:
        data = await body(request)
        record = fake.push_update(data.get("update", data))
        return reply({"update_id": record.update_id, "available_at": record.available_at})

    async def add_user(request: web.Request) -> web.Response:
        data = await body(request)
        return reply(fake.user(**data).info)

    async def add_group(request: web.Request) -> web.Response:
        return reply(fake.group(**(await body(request))).chat.to_api())

    async def add_channel(request: web.Request) -> web.Response:
        return reply(fake.channel(**(await body(request))).chat.to_api())

    async def act(request: web.Request) -> web.Response:
        data = await body(request)
        action, args = data["action"], dict(data.get("args", {}))
        for key in ("data",):
            if isinstance(args.get(key), str):
                args[key] = base64.b64decode(args[key])
        if "user_id" in data and action in USER_ACTIONS:
            user = fake.user(int(data["user_id"]))
            if action == "choose_inline_result":
                args["query"] = fake.inline_queries[args.pop("query_id")]
            if isinstance(args.get("origin_user"), int):
                args["origin_user"] = fake.user(args["origin_user"])
            result = await getattr(user, action)(**args)
        elif "group_id" in data and action in GROUP_ACTIONS:
            group = fake.group_driver(int(data["group_id"]))
            if "by" in args:
                args["by"] = fake.user(int(args["by"]))
            if action == "edit_post":
                args["message"] = group.chat.messages[int(args.pop("message_id"))]
            result = await getattr(group, action)(**args)
        else:
            return reply({"error": f"unknown action {action!r}"}, status=400)
        return reply({"result": result})

    async def calls(request: web.Request) -> web.Response:
        since = int(request.query.get("since", 0))
        selected = fake.calls(request.query.get("method"))
        return reply([c for c in selected if c.index >= since])

    async def wait_call(request: web.Request) -> web.Response:
        method = request.query.get("method")
        try:
            call = await fake.wait_for(lambda c: method is None or c.method.lower() == method.lower(),
                                       float(request.query.get("timeout", 5)),
                                       int(request.query.get("since", 0)))
        except TimeoutError:
            return reply({"error": "timeout"}, status=408)
        return reply(call)

    async def next_reply(request: web.Request) -> web.Response:
        chat = request.query.get("chat_id")
        try:
            index, msg = await fake.wait_for_reply(
                int(chat) if chat else None, int(request.query.get("after", 0)),
                float(request.query.get("timeout", 5)))
        except TimeoutError:
            return reply({"error": "timeout"}, status=408)
        return reply({"index": index, "message": msg})

    async def faults(request: web.Request) -> web.Response:
        if request.method == "POST":
            data = await body(request)
            fake.faults.add(str(data.pop("kind")), data.pop("method", None), int(data.pop("count", 1)), **data)
        elif request.method == "DELETE":
            fake.faults.clear()
        return reply(fake.faults.to_json())

    async def flood(request: web.Request) -> web.Response:
        if request.method == "POST":
            fake.flood.configure(**(await body(request)))
        return reply({k: v for k, v in vars(fake.flood).items() if not k.startswith("_")})

    async def options(request: web.Request) -> web.Response:
        if request.method == "POST":
            for key, value in (await body(request)).items():
                setattr(fake.options, key, value)
        return reply(fake.options)

    async def stats(request: web.Request) -> web.Response:
        return reply({**fake.counters(), "reply_latencies": fake.reply_latencies(),
                      "unanswered_callback_queries": fake.unanswered_callback_queries(),
                      "unanswered_inline_queries": fake.unanswered_inline_queries()})

    async def simple(request: web.Request) -> web.Response:
        what = request.match_info["what"]
        if what == "rejections":
            return reply(fake.rejections)
        if what == "updates":
            return reply([r.to_json() for r in fake.updates.records])
        if what == "webhook_deliveries":
            return reply(fake.updates.deliveries)
        if what == "transcript":
            return reply(fake.transcript(int(request.query["chat_id"])))
        if what == "commands":
            return reply([{"scope": s, "language_code": lang, "commands": c}
                          for (s, lang), c in fake.commands.items()])
        return reply({"error": f"unknown {what!r}"}, status=404)

    async def reset(request: web.Request) -> web.Response:
        fake.reset_records()
        return reply({"ok": True})

    r = app.router
    r.add_get("/_control/health", health)
    r.add_post("/_control/push_update", push_update)
    r.add_post("/_control/users", add_user)
    r.add_post("/_control/groups", add_group)
    r.add_post("/_control/channels", add_channel)
    r.add_post("/_control/act", act)
    r.add_get("/_control/calls", calls)
    r.add_get("/_control/wait_call", wait_call)
    r.add_get("/_control/next_reply", next_reply)
    r.add_route("*", "/_control/faults", faults)
    r.add_route("*", "/_control/flood", flood)
    r.add_route("*", "/_control/options", options)
    r.add_get("/_control/stats", stats)
    r.add_post("/_control/reset", reset)
    r.add_get("/_control/{what}", simple)


class RemoteFake:
    """Async client of the control API of a fake running in another process."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RemoteFake:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, verb: str, path: str, payload: Any = None, **query: Any) -> Any:
        self._session = self._session or aiohttp.ClientSession()
        params = {k: str(v) for k, v in query.items() if v is not None}
        async with self._session.request(verb, f"{self.base_url}/_control/{path}", json=payload,
                                         params=params) as resp:
            data = await resp.json()
            if resp.status == 408:
                raise TimeoutError(f"{path}: {data}")
            if resp.status >= 400:
                raise RuntimeError(f"control {path} failed: {resp.status} {data}")
            return data

    async def health(self) -> dict[str, Any]:
        return await self._call("GET", "health")

    async def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update; returns its update_id."""
        return (await self._call("POST", "push_update", {"update": update}))["update_id"]

    async def add_user(self, id: int, first_name: str = "Test", **info: Any) -> dict[str, Any]:
        return await self._call("POST", "users", {"id": id, "first_name": first_name, **info})

    async def add_group(self, id: int, title: str = "Test group", **info: Any) -> dict[str, Any]:
        return await self._call("POST", "groups", {"id": id, "title": title, **info})

    async def act(self, user_id: int, action: str, **args: Any) -> Any:
        """Run a ``FakeUser`` action remotely, e.g. ``act(1001, "send", text="/start")``."""
        if isinstance(args.get("data"), bytes):
            args["data"] = base64.b64encode(args["data"]).decode()
        return (await self._call("POST", "act", {"user_id": user_id, "action": action, "args": args}))["result"]

    async def group_act(self, group_id: int, action: str, **args: Any) -> Any:
        return (await self._call("POST", "act", {"group_id": group_id, "action": action, "args": args}))["result"]

    async def calls(self, method: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        return await self._call("GET", "calls", method=method, since=since)

    async def wait_call(self, method: str | None = None, since: int = 0, timeout: float = 5) -> dict[str, Any]:
        return await self._call("GET", "wait_call", method=method, since=since, timeout=timeout)

    async def next_reply(self, chat_id: int, after: int = 0, timeout: float = 5) -> tuple[int, dict[str, Any]]:
        data = await self._call("GET", "next_reply", chat_id=chat_id, after=after, timeout=timeout)
        return data["index"], data["message"]

    async def rejections(self) -> list[dict[str, Any]]:
        return await self._call("GET", "rejections")

    async def transcript(self, chat_id: int) -> list[dict[str, Any]]:
        return await self._call("GET", "transcript", chat_id=chat_id)

    async def updates(self) -> list[dict[str, Any]]:
        return await self._call("GET", "updates")

    async def add_fault(self, kind: str, method: str | None = None, count: int = 1, **options: Any) -> Any:
        return await self._call("POST", "faults", {"kind": kind, "method": method, "count": count, **options})

    async def clear_faults(self) -> Any:
        return await self._call("DELETE", "faults")

    async def set_flood(self, **options: Any) -> Any:
        return await self._call("POST", "flood", options)

    async def set_options(self, **options: Any) -> Any:
        return await self._call("POST", "options", options)

    async def stats(self) -> dict[str, Any]:
        return await self._call("GET", "stats")

    async def reset(self) -> Any:
        return await self._call("POST", "reset")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class FakeProcess:
    """``python -m tests.fakebot`` in a subprocess; ``with FakeProcess() as proc: proc.base_url``."""

    def __init__(self, port: int | None = None, *args: str, token: str | None = None) -> None:
        from .server import DEFAULT_TOKEN

        self.port = port or free_port()
        self.token = token or DEFAULT_TOKEN
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    base_url = property(lambda self: f"http://127.0.0.1:{self.port}")
    api_base_url = property(lambda self: f"{self.base_url}/bot")
    file_base_url = property(lambda self: f"{self.base_url}/file/bot")

    def start(self, timeout: float = 10.0) -> FakeProcess:
        """Launch and wait until ``/_control/health`` answers."""
        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakebot", "--port", str(self.port), "--token", self.token, *self.args],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fake exited: {self.output()}")
            try:
                urllib.request.urlopen(f"{self.base_url}/_control/health", timeout=0.5).read()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError("fake process did not become healthy")

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        """What the process wrote to stderr so far."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def __enter__(self) -> FakeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def astart(self) -> FakeProcess:
        """``start`` without blocking the event loop."""
        return await asyncio.to_thread(self.start)
