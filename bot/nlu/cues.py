"""Clause cues from the word lists of dialogs/reading.yaml: who a clause is about, whether it states
a state that has ended, and which steps it names.

These are what a reader notices before weighing the words: "我表哥在义乌开厂" says nothing about the
seller's own supply; "used to have a factory" nothing about the present; "经验的话不好说" is "not sure"
about experience only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.nlu.content import Lexicon
from bot.nlu.text import normalize

_OPENERS = (r"(?:虽然|虽说|尽管|但是|但|不过|可是|其实|although|though|but|and|also|plus|however|even though)?\s*"
            r"(?:我有个|我有一个|有个|有一个|i have an?|i've got an?|there's an?|there is an?)?\s*")


@dataclass(frozen=True)
class Cue:
    other_person: bool = False          # about someone else ("my cousin runs a big amazon store")
    past: bool = False                  # a state that has ended ("used to have a factory") or not begun ("plan to")
    topics: tuple[str, ...] = ()        # steps the clause names
    key: str | None = None              # "experience: none": the step named before a colon
    value: str = ""                     # ...and what follows it


NO_CUE = Cue()
_SELF = re.compile(r"我们|我|咱|(?<![a-z])(?:us|me|our|ours)(?![a-z])")


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


class Cues:
    def __init__(self, lexicon: Lexicon):
        people = [normalize(w) for w in lexicon.other_person]
        zh = [w for w in people if not w.isascii()]
        en = [w for w in people if w.isascii()]
        owner_zh = rf"(?:我的|我们的|我|我们)?(?:{_alternation(zh)})" if zh else None
        owner_en = rf"(?:my|our|a|his|her)?\s*(?:{_alternation(en)})(?:'s|s)?(?![a-z])" if en else None
        heads = [p for p in (owner_zh, owner_en) if p]
        # Someone else opens the clause ("我表哥在义乌开厂", "my uncle's factory") or owns its subject
        # ("工厂是亲戚的", "it belongs to my cousin").
        self._other = re.compile(rf"^{_OPENERS}(?:{'|'.join(heads)})|(?:是|属于|belongs to|owned by|is)\s*(?:{'|'.join(heads)})"
                                 ) if heads else None
        self._topic_of = {normalize(w): step for step, words in lexicon.topics for w in words}
        self._topic_steps = tuple((f"topic:{step}", step) for step, _ in lexicon.topics)
        words = list(self._topic_of)
        self._key = re.compile(rf"^({_alternation(words)})\s*[:：]\s*(.+)$") if words else None

    @staticmethod
    def lists(lexicon: Lexicon) -> dict[str, tuple[str, ...]]:
        """The word lists `read` looks up in a clause's scan (bot.nlu.facts.WordLists)."""
        # a state that has ended, or one that has not begun: neither is the present
        out = {"past": tuple(normalize(w) for w in lexicon.past_state + lexicon.future_plans)}
        out.update({f"topic:{step}": tuple(normalize(w) for w in words) for step, words in lexicon.topics})
        return out

    def read(self, clause: str, words: dict[str, tuple[str, ...]]) -> Cue:
        """The cues of a clause, given its scan against `lists` (see the module docstring)."""
        m = self._other.search(clause) if self._other is not None else None
        # ...unless the rest of the clause is about the seller again: "有个亲戚开厂一直给我们供货"
        other = m is not None and _SELF.search(clause, m.end()) is None
        past = "past" in words
        topics = [step for name, step in self._topic_steps if words.get(name)]
        key = value = None
        if self._key is not None and (":" in clause or "：" in clause):
            m = self._key.match(clause)
            if m:
                key, value = self._topic_of.get(m.group(1)), m.group(2).strip()
        if not (other or past or topics or key):
            return NO_CUE
        return Cue(other, past, tuple(topics), key, value or "")
