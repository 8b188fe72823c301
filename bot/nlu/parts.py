"""Where one message asks two or three questions: the parts of a message (bot.nlu.answer answers each).

The words that add a question, offer an alternative or only ask more about the question before are
content (knowledge/scope.yaml `parts`); what stays here is the syntax: punctuation, numbered lists,
Chinese written without punctuation.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PartWords:
    """knowledge/scope.yaml `parts`: word lists, each matched at a piece's start (or its end)."""

    joins: tuple[str, ...] = ()               # words that add a question ("另外", "顺便问下")
    en_joins: tuple[str, ...] = ()            # ...in English, only before a question's first word
    en_question_starts: tuple[str, ...] = ()  # what, how, who...: after an English join word
    alternatives: tuple[str, ...] = ()        # "还是", "or": the piece goes on asking the one before
    follow_ups: tuple[str, ...] = ()          # "is it", "它是": after a comma, asks more about the one before
    guesses: tuple[str, ...] = ()             # "just", "只要": a guess at the answer, after a "?" too
    more: tuple[str, ...] = ()                # "大概多少钱", "费用谁出": a whole piece asking the amount of the one before,
                                              # or who pays for it
    guess_ends: tuple[str, ...] = ()          # "and that's it", "就行了吗": the same, by how the piece ends
    same_question: tuple[str, ...] = ()       # "呢", "and for", "same question": with a mode's name, the question
                                              # before asked again about that mode ("①全托管谁清关 ②半托管呢")

    @classmethod
    def parse(cls, raw: dict | None) -> "PartWords":
        raw = raw or {}
        return cls(**{name: tuple(str(w) for w in raw.get(name) or ()) for name in cls.__dataclass_fields__})


def _alternation(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)) or "(?!)"


# A numbered list ("1. ... 2. ...", "1、", "2)", "q2:"); circled numbers ("①...②...") become plain digits when
# normalised, so they are made item breaks (";") before that: CIRCLED.
_NUMBERED = r"(?<![\d.])\d\s?[.、)](?!\d)|\(\d\)|\bq\d\b\s?[:.]?"
CIRCLED = re.compile(r"[\u2460-\u2473\u2776-\u277f]")
# A word or two alone ("选模式看哪几个因素 资金？团队？货源？"): options of the question before, not questions
_ONE_WORD = re.compile(r"^(?:[\u4e00-\u9fff]{1,2}|[a-z]+)$")
_SHORT_GUESS = re.compile(r"^[\u4e00-\u9fff]{3,4}$")   # "给流量？管物流？": guesses at the answer, when they ask nothing
# a comma, a space between Chinese words or a particle's end (all made ","), or a full stop: after these a
# follow-up about "it" asks more about the question before (after "?" or a join word it is a part)
_WEAK = re.compile(r"^(?:[,\s]*|\.\s)$")
# Where an English yes-no question may start after a preface ("Two q's: is it open in the US"):
PREFACE = re.compile(r"^[^:]{0,40}:\s*")
# Chinese written without punctuation: a space between Chinese words, or a question particle with more
# text after it, ends a piece ("全托管利润怎么样 价格谁定", "要保证金吗佣金多少").
_CJK_SPACE = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_PARTICLE_END = re.compile(r"(?<=[吗呢嘛])(?=[\u4e00-\u9fff])")
_EACH = re.compile(r"^([^,?]*?)(?:和|跟|与|以及|及)([^,?]*?)分别([^,?]*)$")    # "佣金和结算周期分别是多少"
_BOTH_ASK = re.compile(r"和|、")
# 大不大, 能不能, the spoken "要交不", "能改不" (a verb and 不 at the end), and a piece ending in a particle that
# asks for a yes ("…自己搞促销吧", "…我自己定呗", "能做品牌嘛"): a Chinese yes-no question
A_NOT_A = re.compile(r"([\u4e00-\u9fff])不\1|(?:要|能|可以|行|会|用|给|让|收|退|有|是|交|改|算|管|做)[\u4e00-\u9fff]{0,4}不$"
                     r"|[\u4e00-\u9fff](?:吧|呗|嘛)$")


class PartSplitter:
    """`parts(norm)`: the question parts of a normalised message; `pieces(norm)`: where it may split.
    `asks(piece)` says whether a piece asks; `names_only(piece)` whether it is only names ("半托?")."""

    def __init__(self, words: PartWords, asks: Callable[[str], bool], names_only: Callable[[str], bool]):
        self.asks, self.names_only = asks, names_only
        joins = _alternation(words.joins)
        en_joins = (rf"\b(?:{_alternation(words.en_joins)})\b"
                    rf"(?=\s+(?:{_alternation(words.en_question_starts)})\b)")
        self._split = re.compile(rf"([?;。\n,]+|\.\s|{_NUMBERED}|\s?\+\s?|\s&\s|{joins}|{en_joins})")
        # delimiters that join two questions: the pieces on both sides ask, whatever their words ("deposit
        # amount & commission rate"); after a numbered item's marker, the piece asks (before it: a preface)
        self._joined = re.compile(rf"^\s*(?:[;+&]|{joins}|{_alternation(words.en_joins)})\s*$")
        self._item = re.compile(rf"^\s*(?:{_NUMBERED})\s*$")
        self._alternative = re.compile(rf"^(?:{_alternation(words.alternatives)})(?![a-z])")
        self._offers = re.compile(rf"(?<![a-z])(?:{_alternation(words.alternatives)})(?![a-z])")
        self._follow_up = re.compile(rf"^(?:{_alternation(words.follow_ups)})(?![a-z])|^[\u4e00-\u9fff]{{1,2}}吗$")
        self._more = re.compile(rf"^(?:{_alternation(words.more)})[\s?.]*$")
        self._ellipsis = re.compile(rf"(?<![a-z])(?:{_alternation(words.same_question)})(?![a-z])")
        self._guess = re.compile(rf"^(?:{_alternation(words.guesses)})(?![a-z])"
                                 rf"|(?<![a-z])(?:{_alternation(words.guess_ends)})\s*$")

    def parts(self, norm: str) -> list[str]:
        """Split where a new question may start; a piece that asks nothing (context: "全托管的话，") joins
        the part after it. These go on asking the part before: an alternative ("does it pay, or is it a
        trap?"), options that ask nothing else ("who does the listing? seller or platform?"), a follow-up
        after a comma or a full stop ("what is FBT, is it tiktok's own warehouse"), a guess at the answer
        ("what do I have to do? just ship to the warehouse?", "…对吧"), the amount alone ("大概多少钱") and
        a word or two alone ("资金？团队？"). A mode's name with only "呢" / "and for" / "same question" after a part is a part of its own (that question about the mode named)."""
        both = _EACH.match(norm)                  # two questions sharing one ending
        if both:
            first, second, ending = both.groups()
            if self.names_only(first) and "的" in second:     # "全托管和半托管的物流链路分别…": the topic is shared too
                ending = second[second.index("的"):] + ending
                norm = f"{first}{ending}?{second}{both.group(3)}"
            else:
                norm = f"{first}{ending}?{second}{ending}"
        parts, carry, before, after = [], "", "", ""
        pieces = self.pieces(norm)
        for i, (piece, delimiter) in enumerate(pieces):
            joined = bool(self._joined.match(delimiter) or self._joined.match(before) or self._item.match(before))
            after, before = before, delimiter       # after: the delimiter this piece follows
            if not piece:
                continue
            if parts and not carry and self.same_question(piece):
                if delimiter.strip() == "," and any(p for p, _ in pieces[i + 1:]):
                    carry = piece       # "…? and in semi, what does the platform help with": the next one's mode
                else:
                    parts.append(piece)
                continue
            if parts and not carry and (self._alternative.match(piece) or self._guess.search(piece) or self._more.match(piece)
                                        or (self._offers.search(piece) and not self.asks(piece)
                                            and not self._joined.match(after))
                                        or (_ONE_WORD.match(piece) and not (self._joined.match(after) and "?" in delimiter)
                                            and not ("?" in after and not self.asks(parts[-1])))
                                        or (_SHORT_GUESS.match(piece) and not self._joined.match(after) and not self.asks(piece))
                                        or (_WEAK.match(after) and self._follow_up.match(piece))):
                parts[-1] = f"{parts[-1]} {piece}"
                continue
            if carry and (self._joined.match(after) and not self._item.match(after)) and not self.names_only(carry):
                parts.append(carry)         # "semi fees breakdown, and also how do goods travel": a request, then a question
                carry = ""
            text = f"{carry} {piece}".strip()
            if not self.names_only(piece) and ("?" in delimiter or joined or self.asks(piece)):  # "full? who?"
                parts.append(text)
                carry = ""
            else:
                carry = text
        if carry:
            if parts:
                parts[-1] = f"{parts[-1]} {carry}"
            else:
                parts.append(carry)
        return [half for part in parts for half in self._asked_both(part)]

    def numbered(self, norm: str) -> bool:
        """The message is a numbered list ("1) ... 2) ...", "Q1 ... Q2 ..."): its items are
        questions the asker set apart."""
        return len(re.findall(_NUMBERED, norm)) >= 2

    def same_question(self, piece: str) -> bool:
        """A mode's name and nothing else but words that ask the question before again ("半托管呢", "and
        for semi?", "semi: same question")."""
        rest = self._ellipsis.sub(" ", piece)
        if rest != piece and self.names_only(piece):     # "what about full", "and in full": the name takes the words
            return True
        return bool(re.search(r"[a-z\u4e00-\u9fff]", rest)) and self.names_only(rest)

    def _asked_both(self, part: str) -> list[str]:
        """A part cut at "和" or "、" when the words on both sides ask ("清关谁负责和头程运费谁付", "谁上架、谁做
        营销"); "全托管和半托管哪个好", "谁负责定价和营销" and "价格、主图" stay whole."""
        for m in _BOTH_ASK.finditer(part):
            left, right = part[:m.start()].strip(), part[m.end():].strip()
            if left and right and self.asks(left) and self.asks(right):
                return [left, right]
        return [part]

    def pieces(self, norm: str) -> list[tuple[str, str]]:
        """(piece, the delimiter after it): the message cut wherever a new question may start."""
        tokens = self._split.split(_PARTICLE_END.sub("?", _CJK_SPACE.sub(",", norm)))
        return [(tokens[i].strip(), tokens[i + 1] if i + 1 < len(tokens) else "") for i in range(0, len(tokens), 2)]
