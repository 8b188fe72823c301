"""Load dialogs/*.yaml into a Flow (questions) and Rules (recommendation), validating both."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot import LANGS, ROOT
from bot.engine.conditions import CONDITIONS
from bot.kb.models import Sourced, Text
from bot.nlu.content import AmountRule, Lexicon, YearsRule
from bot.problems import ContentError, Problem, read_yaml
from bot.schema import Reader

DIALOGS_DIR = ROOT / "dialogs"
FLOW_FILE = "seller_questionnaire.yaml"
RULES_FILE = "recommendation.yaml"
READING_FILE = "reading.yaml"
UNSURE = "unsure"
SKIP = "skip"
RESULT = "result"
MODES = ("full", "semi")
# Callback data carries "<kind>:<rev>:<step>:<option>"; keep ids short enough that it fits 64 bytes.
MAX_ID = 16


@dataclass(frozen=True)
class Option:
    id: str
    weight: int
    label: Text
    reason: Text
    examples: dict[str, tuple[str, ...]] = field(default_factory=dict)   # what understanding learns from
    short: dict[str, tuple[str, ...]] = field(default_factory=dict)      # whole-message answers on screen


@dataclass(frozen=True)
class Step:
    id: str
    title: Text            # a short name for the factor, used in results and buttons
    core: bool
    prompt: Text
    options: tuple[Option, ...]
    hint: Text | None = None
    unsure_examples: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(frozen=True)
class Flow:
    id: str
    version: int
    machine: dict
    steps: tuple[Step, ...]
    unsure: Option
    words: dict[str, dict[str, tuple[str, ...]]]
    by_id: dict[str, Step] = field(default_factory=dict)

    def step(self, step_id: str) -> Step | None:
        return self.by_id.get(step_id)

    @property
    def core_steps(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.core)

    @property
    def optional_steps(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if not s.core)

    def choices(self, step: Step) -> tuple[Option, ...]:
        """What a user can pick at a step: its options, then "not sure"."""
        return step.options + (self.unsure,)


@dataclass(frozen=True)
class Gate:
    step: str
    closed: tuple[str, ...]
    missing: Text
    path: Text
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Rules:
    borderline_margin: int
    tie_mode: str
    confidence_scale: float
    confidence_max: float
    semi_later_pull: int
    gates: tuple[Gate, ...]
    tradeoffs: dict[str, tuple[Sourced, ...]]
    next_steps: dict[str, tuple[Sourced, ...]]
    caveats: tuple[Sourced, ...]


def _option(raw: dict, r: Reader, step_id: str) -> Option:
    oid = r.ident(raw, max_len=MAX_ID)
    e = r.at(f"{step_id}.{oid}")
    weight = raw.get("weight", 0)
    if not isinstance(weight, int) or isinstance(weight, bool):
        e.fail("weight", "expected a whole number")
        weight = 0
    return Option(oid, weight, e.text(raw, "label", max_len=40), e.text(raw, "reason"),
                  e.per_lang(raw, "examples"), e.per_lang(raw, "short", required=False))


COMMANDS = ("yes", "no", "back", "restart", "skip", "finish", "keep", "take")


def _words(raw: dict, r: Reader) -> dict[str, dict[str, tuple[str, ...]]]:
    words = r.mapping(raw.get("words", {}), "words")
    return {key: r.at("words").per_lang(words, key) for key in COMMANDS}


def _flow(raw, r: Reader, conditions: set[str]) -> Flow:
    raw = r.mapping(raw, FLOW_FILE)
    steps, seen = [], set()
    for s in r.items(raw, "steps"):
        s = r.mapping(s, "steps[]")
        sid = r.ident(s, max_len=MAX_ID)
        e = r.at(sid)
        if sid in seen:
            e.fail("id", "duplicate id")
        seen.add(sid)
        options = tuple(_option(r.mapping(o, "options[]"), e, sid) for o in e.items(s, "options"))
        ids = [o.id for o in options]
        for dup in {i for i in ids if ids.count(i) > 1}:
            e.fail("options", f"duplicate option id {dup!r}")
        for reserved in (UNSURE, SKIP):
            if reserved in ids:
                e.fail("options", f"{reserved!r} is reserved: the engine adds it")
        if len(options) < 2:
            e.fail("options", "a question needs at least two options")
        hint = e.text(s, "hint") if "hint" in s else None
        steps.append(Step(sid, e.text(s, "title", max_len=20), bool(s.get("core", True)), e.text(s, "prompt", max_len=300),
                          options, hint, e.per_lang(s, "unsure", required=False)))
    unsure_raw = r.mapping(raw.get("unsure"), "unsure")
    u = r.at(UNSURE)
    unsure = Option(UNSURE, 0, u.text(unsure_raw, "label", max_len=40), u.text(unsure_raw, "reason"),
                    u.per_lang(unsure_raw, "examples"), u.per_lang(unsure_raw, "short", required=False))
    machine = r.mapping(raw.get("machine"), "machine")
    flow = Flow(id=r.string(raw, "id"), version=int(raw.get("version", 1)), machine=machine,
                steps=tuple(steps), unsure=unsure, words=_words(raw, r), by_id={s.id: s for s in steps})
    _check_machine(flow, r.at("machine"), conditions)
    return flow


def _check_machine(flow: Flow, r: Reader, conditions: set[str]) -> None:
    """States are the steps plus `result`; transitions name known states and registered conditions."""
    m = flow.machine
    states = m.get("states") or []
    expected = [s.id for s in flow.steps] + [RESULT]
    if states != expected:
        r.fail("states", f"must list the steps in order, then {RESULT!r}: expected {expected}, got {states}")
    if m.get("initial") != (flow.steps[0].id if flow.steps else None):
        r.fail("initial", "must be the first step")
    known = set(states)
    edges: dict[str, set[str]] = {s: set() for s in states}
    for i, t in enumerate(m.get("transitions") or []):
        if not isinstance(t, dict) or not {"trigger", "source", "dest"} <= set(t):
            r.fail(f"transitions[{i}]", "needs trigger, source and dest")
            continue
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for src in sources:
            if src != "*" and src not in known:
                r.fail(f"transitions[{i}].source", f"unknown state {src!r}")
        if t["dest"] not in known:
            r.fail(f"transitions[{i}].dest", f"unknown state {t['dest']!r}")
        conds = t.get("conditions", []) or []
        for cond in ([conds] if isinstance(conds, str) else conds) + (
                [t["unless"]] if isinstance(t.get("unless"), str) else t.get("unless", []) or []):
            if cond not in conditions:
                r.fail(f"transitions[{i}].conditions", f"unknown condition {cond!r}; known: {sorted(conditions)}")
        for src in (states if "*" in sources else sources):
            if src in edges:
                edges[src].add(t["dest"])
    nexts = {t.get("source") for t in m.get("transitions") or [] if isinstance(t, dict) and t.get("trigger") == "next"}
    for s in flow.steps:
        if s.id not in nexts:
            r.fail("transitions", f"step {s.id!r} has no 'next' transition")
    reached, todo = set(), [m.get("initial")]
    while todo:
        s = todo.pop()
        if s in reached or s not in edges:
            continue
        reached.add(s)
        todo.extend(edges[s])
    for s in states:
        if s not in reached:
            r.fail("states", f"state {s!r} cannot be reached from the initial state")


def _notes(raw: dict, r: Reader, field_name: str) -> tuple[Sourced, ...]:
    out = []
    for i, n in enumerate(r.items(raw, field_name)):
        n = r.mapping(n, f"{field_name}[{i}]")
        out.append(Sourced(r.text({"t": {k: n.get(k) for k in LANGS}}, "t"), r.strings(n, "source")))
    return tuple(out)


def _rules(raw, r: Reader, flow: Flow) -> Rules:
    raw = r.mapping(raw, RULES_FILE)
    gates = []
    for g in r.items(raw, "gates"):
        g = r.mapping(g, "gates[]")
        step_id = r.string(g, "step")
        e = r.at(f"gates.{step_id}")
        step = flow.step(step_id)
        closed = e.strings(g, "closed")
        if step is None:
            e.fail("step", f"unknown step {step_id!r}")
        else:
            for c in closed:
                if step.option(c) is None:
                    e.fail("closed", f"unknown option {c!r} of step {step_id!r}")
        gates.append(Gate(step_id, closed, e.text(g, "missing"), e.text(g, "path"), e.strings(g, "sources")))
    per_mode = {}
    for key in ("tradeoffs", "next_steps"):
        block = r.mapping(raw.get(key, {}), key)
        per_mode[key] = {m: _notes(block, r.at(key), m) for m in MODES}
    tie = raw.get("tie_mode", "full")
    if tie not in MODES:
        r.fail("tie_mode", f"must be one of {MODES}")
    return Rules(borderline_margin=int(raw.get("borderline_margin", 2)), tie_mode=tie,
                 confidence_scale=float(raw.get("confidence_scale", 16)),
                 confidence_max=float(raw.get("confidence_max", 0.95)),
                 semi_later_pull=int(raw.get("semi_later_pull", 2)), gates=tuple(gates),
                 tradeoffs=per_mode["tradeoffs"], next_steps=per_mode["next_steps"],
                 caveats=_notes(raw, r.at("caveats"), "caveats"))


def load_dialogs(directory: Path = DIALOGS_DIR, problems: list[Problem] | None = None,
                 source_ids: set[str] | None = None) -> tuple[Flow, Rules]:
    """Load the questionnaire and its rules. Raises ContentError unless `problems` is given to collect into.

    `source_ids`, when given, checks that every cited source exists in the knowledge base.
    """
    collect = problems if problems is not None else []
    flow = _flow(read_yaml(directory / FLOW_FILE, collect) or {}, Reader(FLOW_FILE, collect), set(CONDITIONS))
    rules = _rules(read_yaml(directory / RULES_FILE, collect) or {}, Reader(RULES_FILE, collect), flow)
    if source_ids is not None:
        r = Reader(RULES_FILE, collect)
        for gate in rules.gates:
            r.at(f"gates.{gate.step}").refs(gate.sources, source_ids, "sources")
        for key, notes in (("tradeoffs", rules.tradeoffs), ("next_steps", rules.next_steps)):
            for mode, items in notes.items():
                for n in items:
                    r.at(f"{key}.{mode}").refs(n.sources, source_ids, "source")
        for n in rules.caveats:
            r.at("caveats").refs(n.sources, source_ids, "source")
    if problems is None and collect:
        raise ContentError(collect)
    return flow, rules


@dataclass(frozen=True)
class ReadingRules:
    """dialogs/reading.yaml: the rules of thumb and word lists understanding uses beside its models."""

    amounts: AmountRule
    assumptions: dict[str, Text]      # capital level -> how an amount was read, for the read-back
    years: YearsRule
    lexicon: Lexicon
    other: dict[str, tuple[str, ...]]


def _bands(raw: dict, r: Reader, step: Step | None, field_name: str) -> tuple[tuple[str, float | None], ...]:
    out: list[tuple[str, float | None]] = []
    for i, band in enumerate(r.items(raw, field_name)):
        band = r.mapping(band, f"{field_name}[{i}]")
        level = r.string(band, "level")
        below = band.get("below")
        if step is not None and step.option(level) is None:
            r.fail(f"{field_name}[{i}].level", f"unknown level {level!r} of step {step.id!r}")
        if below is not None and not isinstance(below, (int, float)):
            r.fail(f"{field_name}[{i}].below", "expected a number")
            below = None
        if below is None and i != len(r.items(raw, field_name)) - 1:
            r.fail(f"{field_name}[{i}].below", "only the last band may be unbounded")
        out.append((level, float(below) if below is not None else None))
    bounds = [b for _, b in out if b is not None]
    if bounds != sorted(bounds):
        r.fail(field_name, "bands must be in increasing order")
    if out and out[-1][1] is not None:
        r.fail(field_name, "the last band must have no upper bound")
    return tuple(out) or (("", None),)


def _reading(raw, r: Reader, flow: Flow) -> ReadingRules:
    raw = r.mapping(raw, READING_FILE)
    cap = r.mapping(raw.get("capital"), "capital")
    ce = r.at("capital")
    cap_step = flow.step(ce.string(cap, "step"))
    if cap_step is None:
        ce.fail("step", f"unknown step {cap.get('step')!r}")
    rate = cap.get("usd_rate", 7.2)
    if not isinstance(rate, (int, float)) or rate <= 0:
        ce.fail("usd_rate", "expected a positive number")
        rate = 7.2
    bands = _bands(cap, ce, cap_step, "bands")
    assumptions_raw = ce.mapping(cap.get("assumption", {}), "assumption")
    assumptions = {level: ce.at("capital.assumption").text(assumptions_raw, level) for level, _ in bands}
    exp = r.mapping(raw.get("experience"), "experience")
    ee = r.at("experience")
    exp_step = flow.step(ee.string(exp, "step"))
    if exp_step is None:
        ee.fail("step", f"unknown step {exp.get('step')!r}")
    years = YearsRule(ee.string(exp, "step"), _bands(exp, ee, exp_step, "bands"),
                      ee.string(exp, "export_level"), ee.string(exp, "domestic_level"))
    for key in ("export_level", "domestic_level"):
        if exp_step is not None and exp_step.option(getattr(years, key)) is None:
            ee.fail(key, f"unknown level {getattr(years, key)!r}")
    lex = r.mapping(raw.get("lexicon"), "lexicon")
    le = r.at("lexicon")
    optional = {"other_person", "past_state", "future_plans", "hedge_words", "dismissals",
                "maker_words", "unsettled_words", "overseas_operations", "in_passing"}
    lexicon = Lexicon(**{name: le.strings(lex, name, required=name not in optional)
                         for name in Lexicon.__dataclass_fields__ if name not in ("topics", "both", "partial", "maker", "unsettled")},
                      topics=_topics(lex.get("topics"), r.at("lexicon.topics"), flow),
                      both=_both(lex.get("both"), r.at("lexicon.both"), flow),
                      partial=_both(lex.get("partial"), r.at("lexicon.partial"), flow),
                      maker=_level_ref(lex.get("maker"), r.at("lexicon.maker"), flow),
                      unsettled=_level_ref(lex.get("unsettled"), r.at("lexicon.unsettled"), flow))
    for step_id in lexicon.in_passing:
        if flow.step(step_id) is None:
            le.fail("in_passing", f"unknown step {step_id!r}")
    other = r.per_lang(raw, "other")
    return ReadingRules(AmountRule(cap_step.id if cap_step else "", float(rate), bands),
                        assumptions, years, lexicon, other)


def _topics(raw, r: Reader, flow: Flow) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """lexicon.topics: step -> the words that name it (optional)."""
    if raw is None:
        return ()
    out = []
    for step_id in r.mapping(raw, "topics"):
        if flow.step(step_id) is None:
            r.fail(step_id, f"unknown step {step_id!r}")
            continue
        out.append((step_id, r.strings(raw, step_id)))
    return tuple(out)


def _both(raw, r: Reader, flow: Flow) -> tuple[tuple[str, str, str, str], ...]:
    """lexicon.both: [{step, levels: [a, b], read: c}]: a message stating a and b reads c (optional)."""
    out = []
    for i, item in enumerate(r.items({"both": raw}, "both", required=False)):
        item = r.mapping(item, f"both[{i}]")
        step = flow.step(r.string(item, "step"))
        levels = r.strings(item, "levels")
        read = r.string(item, "read")
        if step is None or len(levels) != 2 or any(step.option(x) is None for x in (*levels, read)):
            r.fail(f"both[{i}]", "expected a step, two of its levels and the level they read as")
            continue
        out.append((step.id, levels[0], levels[1], read))
    return tuple(out)


def _level_ref(raw, r: Reader, flow: Flow) -> tuple[str, str] | None:
    """{step, level} naming one option (optional)."""
    if raw is None:
        return None
    raw = r.mapping(raw, "level")
    step = flow.step(r.string(raw, "step"))
    level = r.string(raw, "level")
    if step is None or step.option(level) is None:
        r.fail("level", f"unknown step or level {raw.get('step')!r}.{level!r}")
        return None
    return step.id, level


def load_reading(flow: Flow, directory: Path = DIALOGS_DIR, problems: list[Problem] | None = None) -> ReadingRules:
    """Load dialogs/reading.yaml. Raises ContentError unless `problems` is given to collect into."""
    collect = problems if problems is not None else []
    rules = _reading(read_yaml(directory / READING_FILE, collect) or {}, Reader(READING_FILE, collect), flow)
    if problems is None and collect:
        raise ContentError(collect)
    return rules
