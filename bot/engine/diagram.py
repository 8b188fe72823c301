"""The questionnaire state machine as a Mermaid diagram, from the same YAML the machine runs on."""
from __future__ import annotations

from bot.engine.spec import Flow


def mermaid(flow: Flow) -> str:
    m = flow.machine
    lines = ["stateDiagram-v2", f"    [*] --> {m['initial']}"]
    states = m["states"]
    for t in m["transitions"]:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        label = t["trigger"]
        conds = t.get("conditions")
        if conds:
            label += f" [{conds if isinstance(conds, str) else ', '.join(conds)}]"
        if sources == ["*"]:
            lines.append(f"    note left of {t['dest']}: {label} from any state")
            continue
        for src in sources:
            lines.append(f"    {src} --> {t['dest']}: {label}")
    lines.append(f"    {states[-1]} --> [*]")
    return "\n".join(lines) + "\n"
