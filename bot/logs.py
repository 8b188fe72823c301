"""Logging an operator can read: plain lines or one JSON object per line (LOG_FORMAT=json), with the
bot token and the webhook secret replaced wherever they would appear, tracebacks included.

Libraries are kept quiet: httpx would log every request URL (the token is in it), `transitions` two
INFO lines per questionnaire step, tornado every request.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Iterable

QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "transitions": logging.WARNING,
         "tornado.access": logging.WARNING, "asyncio": logging.WARNING, "telegram": logging.INFO,
         "telegram.ext.Application": logging.WARNING}
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class Redactor:
    def __init__(self, secrets: Iterable[str]):
        # the token and its secret half alone (after the colon), longest first
        values = set()
        for s in secrets:
            if s:
                values.add(s)
                if ":" in s and len(s.split(":", 1)[1]) >= 8:
                    values.add(s.split(":", 1)[1])
        self.secrets = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, "<redacted>")
        return text


class PlainFormatter(logging.Formatter):
    def __init__(self, redact: Redactor):
        super().__init__(PLAIN_FORMAT)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """{"ts", "level", "logger", "msg", any `extra=` fields, "exc"}: one object per line."""

    def __init__(self, redact: Redactor):
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        data = {"ts": round(record.created, 3), "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
                "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                data[key] = value if isinstance(value, (int, float, str, bool, type(None))) else str(value)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(data, ensure_ascii=False))


def setup_logging(level: str = "INFO", fmt: str = "plain", secrets: Iterable[str] = ()) -> None:
    """Configure the root logger once for the process (replacing handlers set before)."""
    redact = Redactor(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(redact) if fmt == "json" else PlainFormatter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, root.level))
