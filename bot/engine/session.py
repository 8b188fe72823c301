"""One user's place in the questionnaire, as a small JSON-compatible dict."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.engine.spec import RESULT, SKIP, UNSURE, Flow


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

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"s": self.state, "a": dict(self.answers), "h": list(self.history),
                                "r": self.rev, "v": self.flow_version}
        if self.pending:
            data["p"] = dict(self.pending)
        if self.meta:
            data["m"] = dict(self.meta)
        return data

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
        pending = mapping(data.get("p")) or None
        state = data.get("s") if isinstance(data.get("s"), str) else None
        rev = data.get("r") if isinstance(data.get("r"), int) and not isinstance(data.get("r"), bool) else 0
        rev = max(rev, 0)
        version = data.get("v")
        if state != RESULT and flow.step(state) is None:
            state = flow.steps[0].id
        meta = dict(data["m"]) if isinstance(data.get("m"), dict) else {}
        session = cls(state=state, answers=answers, history=history, rev=rev, pending=pending,
                      flow_version=version if isinstance(version, int) and not isinstance(version, bool) else flow.version,
                      meta=meta)
        if session.flow_version != flow.version:
            # Buttons of the older questionnaire must read as stale: bump the revision.
            session.flow_version, session.rev = flow.version, session.rev + 1
        step = flow.step(session.state)
        missing = next((s.id for s in flow.core_steps if s.id not in answers), None)
        if missing is not None and (step is None or not step.core):
            session.state = missing     # never at the result (or optional questions) with core answers missing
        return session
