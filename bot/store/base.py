"""The store interface every backend implements, and the records it exchanges."""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

COMMITTED, HANDLED, BUSY = "committed", "handled", "busy"
# Who answered a callback query (Store.callback_answer): the dispatcher's early "busy" note, or the update's
# handler, which answers a press after committing its turn and before editing its message.
EARLY, BY_HANDLER = "early", "handler"
CALLBACK_ANSWERS_KEEP = 2 * 86400   # seconds an answer is remembered: Telegram redelivers for up to a day
HANDLED_KEEP = 100_000    # handled update ids remembered (Telegram redelivers only recent ones; the
                          # PostgreSQL function finish_update keeps the same number)
# What /export writes, table by table: plain SQL that both backends run as it is.
EXPORT_QUERIES = {
    "users": "SELECT user_id, lang, active, source, first_seen, last_seen FROM users ORDER BY first_seen",
    "results": "SELECT user_id, mode, borderline, answers, created FROM results ORDER BY created",
    "events": "SELECT ts, user_id, kind, detail FROM events ORDER BY id",
    "unanswered": "SELECT ts, user_id, lang, text, nearest FROM unanswered ORDER BY id",
    "groups": "SELECT chat_id, title, active, updated FROM groups ORDER BY updated",
}
EXPORT_TABLES = tuple(EXPORT_QUERIES)


@dataclass
class User:
    user_id: str
    lang: str | None
    lang_fixed: bool
    active: bool
    source: str | None


@dataclass(frozen=True)
class Event:
    kind: str
    user_id: str | None = None
    detail: str | None = None


# What a review item is (bot/content/review.py): a question that fell back, one answered below the
# confidence line, or a typed answer to the question on screen that was not understood.
FALLBACK, LOW, TYPED, ADVISED = "fallback", "low", "typed", "advised"
OPEN, DONE = "open", "done"


@dataclass(frozen=True)
class Unanswered:
    """A message kept for review (the table keeps its old name: it is the old unanswered-question log)."""

    text: str
    lang: str
    nearest: str | None
    user_id: str | None = None
    kind: str = FALLBACK
    step: str | None = None                    # the question on screen, for a typed answer
    candidates: tuple[str, ...] = ()           # nearest FAQ entries, best first
    score: float | None = None                 # the answer's confidence


@dataclass(frozen=True)
class ReviewItem:
    id: int
    ts: float
    lang: str
    text: str
    kind: str
    step: str | None
    candidates: tuple[str, ...]
    score: float | None


def review_item(row) -> ReviewItem | None:
    """A row (id, ts, lang, text, kind, step, candidates, score) as a ReviewItem (both backends)."""
    if row is None:
        return None
    try:
        candidates = tuple(c for c in json.loads(row[6] or "[]") if isinstance(c, str))
    except ValueError:
        candidates = ()
    return ReviewItem(row[0], row[1], row[2] or "en", row[3], row[4], row[5], candidates, row[7])


@dataclass(frozen=True)
class OverlayExample:
    """One example decided in review: `kind` faq (target: entry id), oos (target: "" - out of scope),
    level (target: "step.level"), other (target: step - a message that answers no question)."""

    kind: str
    target: str
    lang: str
    text: str
    norm: str


@dataclass
class Turn:
    """Everything one user action changed, written in one transaction before the reply is sent.

    `update_id`, when given, is marked *committed* in the same transaction: an update redelivered after
    a crash is then either applied from scratch (the crash came before the commit) or not applied again
    (after it; the bot shows the user where they are instead, in case the reply was lost).
    """

    key: str
    session: dict
    events: list[Event] = field(default_factory=list)
    unanswered: list[Unanswered] = field(default_factory=list)
    result: tuple[str, str, bool, dict[str, str]] | None = None   # user_id, mode, borderline, answers
    update_id: int | None = None


class Store(ABC):
    """What the bot persists. Every write is committed when the coroutine returns."""

    #: a random id per process: who claimed an update (bot.coord.pg checks it is still alive)
    owner: int

    async def open(self) -> None:
        """Connect and apply the schema migrations (a networked backend does this at start-up)."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise when the store cannot be reached (readiness probe)."""

    # -- updates ------------------------------------------------------------------------------
    @abstractmethod
    async def claim(self, update_id: int) -> str | None:
        """Take `update_id` for this process, atomically. None: never handled (or left by a process that
        died before committing its turn): handle it. COMMITTED: its turn was committed by a process that
        died before it finished: do not apply it again. HANDLED: done, skip it. BUSY: another live process
        is handling it right now (a redelivery to another replica): ask again later."""

    @abstractmethod
    async def update_state(self, update_id: int) -> str | None:
        """None for an update never handled; COMMITTED when its turn was committed but its handling may not
        have finished (a crash in between); HANDLED when it was handled completely."""

    @abstractmethod
    async def mark_handled(self, update_id: int) -> None:
        """Remember that this update has been handled completely (idempotent)."""

    @abstractmethod
    async def callback_answer(self, query_id: str) -> str | None:
        """Who answered callback query `query_id` (EARLY or BY_HANDLER), or None when it was not answered (or
        not recorded: a crash right after Telegram took the answer)."""

    @abstractmethod
    async def record_callback_answer(self, query_id: str, by: str) -> None:
        """Remember that Telegram took an answer to `query_id` (EARLY or BY_HANDLER; BY_HANDLER is kept over EARLY),
        so that a redelivery after a crash is not answered again."""

    # -- users --------------------------------------------------------------------------------
    @abstractmethod
    async def user(self, user_id: str) -> User | None: ...

    @abstractmethod
    async def touch_user(self, user_id: str, lang: str | None = None, source: str | None = None) -> User:
        """Create the user if new (recording language and source), mark them active and seen now."""

    @abstractmethod
    async def set_lang(self, user_id: str, lang: str) -> None: ...

    @abstractmethod
    async def set_active(self, user_id: str, active: bool) -> None: ...

    @abstractmethod
    async def set_group(self, chat_id: str, title: str, active: bool) -> None: ...

    # -- sessions and turns -------------------------------------------------------------------
    @abstractmethod
    async def load_session(self, key: str) -> dict | None: ...

    @abstractmethod
    async def save_session(self, key: str, data: dict) -> None: ...

    @abstractmethod
    async def commit_turn(self, turn: Turn) -> None:
        """Session, events, unanswered questions, result and handled mark of one action, atomically."""

    @abstractmethod
    async def last_result(self, user_id: str) -> dict[str, str] | None: ...

    # -- events and statistics ----------------------------------------------------------------
    @abstractmethod
    async def record(self, kind: str, user_id: str | None = None, detail: str | None = None) -> None: ...

    @abstractmethod
    async def record_unanswered(self, text: str, lang: str, nearest: str | None,
                                user_id: str | None = None, item: Unanswered | None = None) -> None:
        """Keep a message for review (`item`, when given, carries everything; the other arguments are
        the old log's)."""

    @abstractmethod
    async def stats(self, latest: int = 10) -> dict[str, Any]: ...

    @abstractmethod
    async def export_rows(self, table: str) -> tuple[list[str], list[tuple]]:
        """Column names and rows of one of EXPORT_TABLES."""

    # -- picture cards: file_ids of uploaded cards (bot/tg/photos.py) ----------------------------
    @abstractmethod
    async def card_file(self, key: str) -> str | None:
        """The Telegram file_id of the picture card with content key `key`, once it was uploaded."""

    @abstractmethod
    async def save_card_file(self, key: str, file_id: str) -> None:
        """Remember (or replace) the file_id of an uploaded picture card."""
    # -- end of picture cards --------------------------------------------------------------------

    # -- the review queue and the content overlay (bot/content) ---------------------------------
    @abstractmethod
    async def review_waiting(self) -> int:
        """How many items wait for review."""

    @abstractmethod
    async def review_next(self, after: int = 0) -> ReviewItem | None:
        """The first open item with an id above `after` (the oldest first)."""

    @abstractmethod
    async def review_item(self, item_id: int) -> ReviewItem | None:
        """An item that is still open, or None (decided, deleted or expired)."""

    @abstractmethod
    async def review_close(self, item_id: int, delete: bool = False) -> bool:
        """Mark an open item decided (or delete it); False when it was not open any more."""

    @abstractmethod
    async def review_purge(self, before: float) -> int:
        """Delete review items older than `before` (a timestamp): the retention setting."""

    @abstractmethod
    async def overlay_add(self, example: OverlayExample, item_id: int | None = None) -> bool:
        """Add an example to the overlay, close the item it came from and move the overlay version, in one
        transaction. False (and nothing changed) when the item was not open any more."""

    @abstractmethod
    async def overlay_examples(self) -> list[OverlayExample]: ...

    @abstractmethod
    async def overlay_clear(self) -> int:
        """Empty the overlay (its examples are in the files now) and move its version; returns how many."""

    @abstractmethod
    async def overlay_version(self) -> int:
        """A number that moves on every change of the overlay (replicas poll it)."""

    @abstractmethod
    async def close(self) -> None: ...
