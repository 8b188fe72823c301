"""A strict fake Telegram Bot API server for end-to-end tests and benchmarks.

Quick start::

    async with FakeTelegram() as fake:
        app = fake.application_builder().build()   # real PTB Application, pointed at the fake
        user = fake.user(1001, "Li", language_code="zh-hans")
        await user.send("/start")
        reply = await user.next_reply()
"""

from .control import FakeProcess, RemoteFake, free_port
from .errors import ApiError
from .htmlparse import HtmlError, parse_html, utf16_len
from .records import CallRecord, Fault, Faults, FloodLimits, Rejection, UpdateRecord, WebhookDelivery
from .server import DEFAULT_TOKEN, FakeTelegram, QueryState
from .state import StoredMessage, UserInfo
from .users import FakeChannel, FakeGroup, FakeUsageError, FakeUser

__all__ = [
    "DEFAULT_TOKEN", "ApiError", "CallRecord", "FakeChannel", "FakeGroup", "FakeProcess",
    "FakeTelegram", "FakeUsageError", "FakeUser", "Fault", "Faults", "FloodLimits", "HtmlError",
    "QueryState", "Rejection", "RemoteFake", "StoredMessage", "UpdateRecord", "UserInfo",
    "WebhookDelivery", "free_port", "parse_html", "utf16_len",
]
