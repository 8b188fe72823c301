"""One user's place in the questionnaire, as a small JSON-compatible dict."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.engine.spec import RESULT, SKIP, UNSURE, Flow

CONFIRM = "confirm"     # pending answers read from a description, awaiting "is that right?"
ADVICE = "advice"       # pending answers stated in an advice question, awaiting "finish the questionnaire?"


@dataclass
class Session:
    """Where a user is (`state`), what they answered, and a revision that stale buttons are checked against."""

    state: str
    answers: dict[str, str] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)  # answered steps, in order: `back` pops from here
    rev: int = 0                                      # +1 on every change; buttons carry it
    pending: dict[str, str] | None = None             # answers read from free text, awaiting confirmation
    flow_version: int = 1
    meta: dict[str, Any] = field(default_factory=dict)  # a channel's own small JSON data; the engine never reads it
    kind: str = CONFIRM                               # what `pending` awaits: CONFIRM or ADVICE
    conflicts: dict[str, str] | None = None           # step -> new level contradicting an earlier answer
    amounts: dict[str, int] = field(default_factory=dict)   # step -> amount (CNY) a pending level was read from

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"s": self.state, "a": dict(self.answers), "h": list(self.history),
                                "r": self.rev, "v": self.flow_version}
        if self.pending is not None:
            data["p"] = dict(self.pending)
        if self.meta:
            data["m"] = dict(self.meta)
            if self.kind != CONFIRM:
                data["k"] = self.kind
        if self.conflicts:
            data["x"] = dict(self.conflicts)
        if self.amounts:
            data["n"] = dict(self.amounts)
        return data

    def clear_pending(self) -> None:
        self.pending, self.kind, self.conflicts, self.amounts = None, CONFIRM, None, {}

    @classmethod
    def from_dict(cls, data: Any, flow: Flow) -> "Session":
        """Restore a session; whatever no longer fits the flow (renamed steps or options) is dropped."""
        if not isinstance(data, dict):
            return cls(state=flow.steps[0].id, flow_version=flow.version)

        def valid(step_id: Any, option_id: Any) -> bool:
            step = flow.step(step_id) if isinstance(step_id, str) else None
            return step is not None and (option_id == UNSURE or (option_id == SKIP and not step.core)
                                         or (isinstance(option_id, str) and step.option(option_id) is not None))

        def mapping(value: Any) -> dict:
            return {k: v for k, v in value.items() if valid(k, v)} if isinstance(value, dict) else {}

        answers = mapping(data.get("a"))
        history = data.get("h") if isinstance(data.get("h"), list) else []
        history = list(dict.fromkeys(s for s in history if isinstance(s, str) and s in answers))
        kind = data.get("k") if data.get("k") in (CONFIRM, ADVICE) else CONFIRM
        pending = mapping(data.get("p")) if isinstance(data.get("p"), dict) else None
        if pending is not None and not pending and kind != ADVICE:
            pending = None
        conflicts = mapping(data.get("x")) or None
        raw_amounts = data.get("n") if isinstance(data.get("n"), dict) else {}
        amounts = {k: v for k, v in raw_amounts.items()
                   if isinstance(k, str) and flow.step(k) is not None and isinstance(v, int) and not isinstance(v, bool)
                   and 0 <= v < 10 ** 15}
        state = data.get("s") if isinstance(data.get("s"), str) else None
        rev = data.get("r") if isinstance(data.get("r"), int) and not isinstance(data.get("r"), bool) else 0
        rev = max(rev, 0)
        version = data.get("v")
        if state != RESULT and flow.step(state) is None:
            state = flow.steps[0].id
        meta = dict(data["m"]) if isinstance(data.get("m"), dict) else {}
        session = cls(state=state, answers=answers, history=history, rev=rev, pending=pending,
                      flow_version=version if isinstance(version, int) and not isinstance(version, bool) else flow.version,
                      kind=kind if pending is not None else CONFIRM, conflicts=conflicts, amounts=amounts,
                      meta=meta)
        if session.flow_version != flow.version:
            # Buttons of the older questionnaire must read as stale: bump the revision.
            session.flow_version, session.rev = flow.version, session.rev + 1
        step = flow.step(session.state)
        missing = next((s.id for s in flow.core_steps if s.id not in answers), None)
        if missing is not None and (step is None or not step.core):
            session.state = missing     # never at the result (or optional questions) with core answers missing
        return session
