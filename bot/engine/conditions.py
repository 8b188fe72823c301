"""The closed registry of condition names usable in dialogs/*.yaml (`conditions:` of a transition).

Its own module so that loading a flow (spec.py) can check names without importing the machine
(flow.py), which needs the loaded Flow: the two no longer import each other.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:                       # types only: spec.py imports this module at load time
    from bot.engine.session import Session
    from bot.engine.spec import Flow

CONDITIONS: dict[str, Callable[[Session, Flow], bool]] = {
    "core_complete": lambda session, flow: all(s.id in session.answers for s in flow.core_steps),
}
