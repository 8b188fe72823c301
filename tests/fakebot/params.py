"""Decoding Bot API request parameters the way Telegram does.

Telegram accepts the query string, ``application/json``, ``application/x-www-form-urlencoded``
and ``multipart/form-data``.  Form values are strings; object-valued fields (``reply_markup``,
``entities``, ...) are JSON text inside them, which is what python-telegram-bot sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .errors import bad_request

JSON_FIELDS = frozenset(
    {
        "reply_markup", "entities", "caption_entities", "results", "commands", "scope",
        "allowed_updates", "link_preview_options", "reply_parameters", "button", "media",
        "menu_button",
    }
)
INT_FIELDS = frozenset(
    {
        "message_id", "offset", "limit", "timeout", "user_id", "cache_time", "max_connections",
        "reply_to_message_id", "message_thread_id", "from_chat_id", "duration",
    }
)
BOOL_FIELDS = frozenset(
    {
        "show_alert", "is_personal", "disable_notification", "protect_content",
        "drop_pending_updates", "disable_web_page_preview", "allow_sending_without_reply",
        "disable_content_type_detection", "return_bots", "for_channels",
    }
)


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    def describe(self) -> dict[str, Any]:
        """How the file appears in call records."""
        return {"upload": self.filename, "size": len(self.data), "content_type": self.content_type}


def _to_bool(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    raise bad_request(f'field "{name}" must be of type Boolean')


def _coerce(name: str, value: Any) -> Any:
    if name in JSON_FIELDS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None
    if name in INT_FIELDS and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None
    if name in BOOL_FIELDS and isinstance(value, str):
        return _to_bool(name, value)
    if name == "chat_id" and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value


class Params:
    """Decoded parameters of one call plus the uploaded files."""

    def __init__(self, values: dict[str, Any], files: dict[str, UploadedFile] | None = None) -> None:
        self.files = files or {}
        self.values = {k: _coerce(k, v) for k, v in values.items()}

    @classmethod
    async def from_request(cls, request: web.Request) -> Params:
        """Read query string and body (JSON, urlencoded or multipart)."""
        values: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON encoded request") from None
            if not isinstance(body, dict):
                raise bad_request("JSON object expected")
            values.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(key, value.filename, value.content_type, value.file.read())
                else:
                    values[key] = value
        return cls(values, files)

    def get(self, name: str, default: Any = None) -> Any:
        """A decoded parameter value (missing -> ``default``)."""
        value = self.values.get(name)
        return default if value is None else value

    def int(self, name: str, default: int | None = None) -> int | None:
        """An integer parameter; non-integers -> Bad Request."""
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def bool(self, name: str) -> bool:
        """A boolean parameter (missing -> False)."""
        value = self.get(name, False)
        return _to_bool(name, value) if isinstance(value, str) else bool(value)

    def file(self, name: str) -> UploadedFile | str | None:
        """An InputFile parameter: an upload (direct or ``attach://``), a file_id or a URL."""
        if name in self.files:
            return self.files[name]
        value = self.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            return self.files.get(value[len("attach://"):])
        return value

    def attached(self, value: Any) -> UploadedFile | str | None:
        """A file named inside a JSON field (InputMedia's ``media``): ``attach://<part>``, a file_id or a URL."""
        if isinstance(value, str) and value.startswith("attach://"):
            return self.files.get(value[len("attach://"):])
        return value if isinstance(value, str) else None

    def recorded(self) -> dict[str, Any]:
        """JSON-safe parameters for the call log (uploads summarised)."""
        data = dict(self.values)
        for key, upload in self.files.items():
            data[key] = upload.describe()
        return data
