"""Prometheus metrics (prometheus-client), served at GET /metrics by bot/health.py.

All live in one registry of their own (`REGISTRY`), so tests can read them and several applications
in one test process do not collide. Names follow Prometheus conventions (`_total`, `_seconds`).
"""
from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)
FAST = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)

UPDATES = Counter("advisor_updates_total", "Updates handled, by kind (message, callback_query, ...) and outcome "
                  "(processed, skipped: handled before, or a press its handler answered before a crash, "
                  "resumed: committed before a crash)",
                  ["kind", "outcome"], registry=REGISTRY)
UPDATE_SECONDS = Histogram("advisor_update_seconds", "Time to handle one update, chat lock and claim included",
                           ["kind"], buckets=FAST, registry=REGISTRY)
TELEGRAM_CALLS = Counter("advisor_telegram_calls_total", "Bot API requests, by method", ["method"], registry=REGISTRY)
TELEGRAM_ERRORS = Counter("advisor_telegram_errors_total", "Bot API requests that failed, by method and HTTP status "
                          "(or 'network', 'timeout', 'proxy_login')", ["method", "status"], registry=REGISTRY)
FLOOD_429 = Counter("advisor_telegram_429_total", "429 Too Many Requests answers from Telegram, by method",
                    ["method"], registry=REGISTRY)
FLOOD_WAIT = Histogram("advisor_flood_wait_seconds", "Time a Bot API call waited for the flood budget",
                       buckets=(0, .001, .01, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60), registry=REGISTRY)
STORE_SECONDS = Histogram("advisor_store_seconds", "Time of one store call, by operation", ["op"],
                          buckets=(.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5, 1),
                          registry=REGISTRY)
QUIZ_STARTED = Counter("advisor_questionnaires_started_total", "Questionnaires started", registry=REGISTRY)
QUIZ_COMPLETED = Counter("advisor_questionnaires_completed_total", "Questionnaires completed (a result shown)",
                         ["mode"], registry=REGISTRY)


def exposition() -> bytes:
    return generate_latest(REGISTRY)


def value(name: str, **labels: str) -> float:
    """The current value of one sample (tests and the bench read metrics this way)."""
    got = REGISTRY.get_sample_value(name, labels or None)
    return got or 0.0


def observe_flood(endpoint: str, waited: float, flooded: bool) -> None:
    """TelegramLimits' observer: time waited for the budget, and 429s."""
    if flooded:
        FLOOD_429.labels(endpoint).inc()
    else:
        FLOOD_WAIT.observe(waited)


class MeteredStore:
    """Wraps a Store: times every call (advisor_store_seconds) and counts the questionnaires a committed
    turn starts or completes. Everything else is passed through unchanged."""

    def __init__(self, store: Any):
        self._store = store

    def __getattr__(self, name: str) -> Any:
        """Wraps a store method once, on first use, and keeps the wrapper (later calls skip this)."""
        target = getattr(self._store, name)
        if name.startswith("_") or not callable(target) or name in ("close", "open"):
            return target
        histogram = STORE_SECONDS.labels(name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await target(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)
        if name == "commit_turn":
            async def commit(turn: Any) -> None:
                await timed(turn)
                for event in turn.events:
                    if event.kind == "quiz_started":
                        QUIZ_STARTED.inc()
                    elif event.kind == "quiz_completed":
                        QUIZ_COMPLETED.labels(event.detail or "").inc()
            self.__dict__[name] = commit
            return commit
        self.__dict__[name] = timed
        return timed

    @property
    def inner(self) -> Any:
        return self._store
