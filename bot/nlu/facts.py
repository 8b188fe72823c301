"""Plain facts in a message: money amounts, durations and platforms named.

Numbers are read in the forms sellers type: 二十万, 50w, 20个w, 十来万, 几千块, 一两万, 1.5万,
RMB 80,000, ¥200,000, $20k, 30k USD, 3 yrs, 干了五年, 一年多, half a year. What the numbers
*mean* for the questionnaire (which capital level an amount is, which experience a number of
years is) is content, in dialogs/reading.yaml; this module only reads them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9, "几": 3}
_EN_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
               "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
               "a couple of": 2, "couple of": 2, "a couple": 2, "a few": 3, "few": 3, "several": 3, "many": 5,
               "half a": 0.5, "a half": 0.5}
_UNITS = {"w": 1e4, "万": 1e4, "个w": 1e4, "个万": 1e4, "k": 1e3, "千": 1e3, "thousand": 1e3, "grand": 1e3, "m": 1e6, "mn": 1e6,
          "mil": 1e6, "mln": 1e6, "million": 1e6, "百万": 1e6, "亿": 1e8, "百": 1e2}
_USD = ("$", "usd", "us$", "us", "dollar", "dollars", "bucks", "美元", "美金", "刀")
_CNY = ("¥", "rmb", "cny", "yuan", "元", "块", "块钱", "人民币")
_BELOW = ("不到", "不足", "少于", "低于", "以内", "以下", "less than", "under", "below", "at most", "up to")
_ABOVE = ("超过", "多于", "以上", "至少", "起码", "more than", "over", "above", "at least", "upwards of")

_ZH_NUM = "[零〇一二两俩三四五六七八九十百千几来多]+"
_EN_AMOUNT_RE = re.compile(
    r"(?P<num>half a|a|one|two|three|four|five|six|seven|eight|nine|ten|a few|several|a couple of|a couple|a hundred|"
    r"two hundred|three hundred|five hundred)\s(?P<unit>million|thousand|hundred thousand|hundred grand|grand)"
    r"(?:\s(?P<cur>dollars?|usd|bucks|yuan|rmb|cny))?")
_EN_AMOUNT_WORDS = {"half a": 0.5, "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a few": 3, "several": 3, "a couple of": 2, "a couple": 2,
                    "a hundred": 100, "two hundred": 200, "three hundred": 300, "five hundred": 500}
_EN_UNITS = {"million": 1e6, "thousand": 1e3, "hundred thousand": 1e5, "hundred grand": 1e5, "grand": 1e3}
_NUM = r"\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CUR_BEFORE = r"(?P<cur1>us\$|\$|¥|usd|rmb|cny)\s?"
_UNIT = r"(?P<unit>个w|个万|w(?![a-z])|万|k(?![a-z])|千|thousand|grand|million|mil(?![a-z])|mln(?![a-z])|mn(?![a-z])|m(?![a-z])|百万|亿)"
_CUR_AFTER = r"(?P<cur2>usd|dollars?|bucks|美元|美金|刀|rmb|cny|yuan|块钱|块|元|人民币|us(?![a-z]))"
_AMOUNT_RE = re.compile(
    rf"(?:{_CUR_BEFORE})?(?P<num>{_NUM}|{_ZH_NUM})(?:-?ish)?\s?(?:{_UNIT})?\s?(?:{_CUR_AFTER})?")   # "120-ish grand"
_DURATION_ZH_RE = re.compile(
    r"(?P<num>\d+(?:\.\d+)?|[一二两三四五六七八九十几半]+)(?P<more>多)?(?:个)?(?P<unit>年|个月|月)(?P<half>半)?")
_DURATION_EN_RE = re.compile(
    r"(?P<num>\d+(?:\.\d+)?|a couple of|couple of|a few|few|several|many|half a|an|a|one|two|three|four|five"
    r"|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty)\s?(?P<plus>\+|or more|or so)?\s?-?\s?"
    r"(?P<unit>years?|yrs?|months?|mos?|decades?)\b")


# Durations stated as a start: "去年才开始做", "从2019年开始", "since last year", "started in 2021".
_START_ZH = r"(?:开始|起|入行|入驻|开店|开的店|上线|做起|才做|刚做|接触)"
_SINCE_ZH_RE = re.compile(r"(?P<rel>大前年|前年|去年|今年)[^，,。；;\s]{0,5}?" + _START_ZH +
                          r"|(?:从|自)?(?P<year>(?:19|20)\d\d)\s?年?(?:底|初|中)?(?:就|才|开始|起|入行|进入)"
                          r"|(?:从|自)?(?<![\d了])(?P<yy>[012]\d)年(?:底|初|中)?(?:就|才)?(?:开始|起|入行|进入)")     # "24年开始"
_SINCE_EN_RE = re.compile(r"\bsince (?P<rel>last year|this year|the year before last)|\bsince (?P<year>(?:19|20)\d\d)\b"
                          r"|\b(?:started|began|start|launched|opened|joined)\b[^,.;]{0,30}?\b(?:(?P<rel2>last year|this year)"
                          r"|in (?P<year2>(?:19|20)\d\d))\b")
_RELATIVE_YEARS = {"大前年": 3.0, "前年": 2.0, "去年": 1.0, "今年": 0.5, "last year": 1.0, "this year": 0.5,
                   "the year before last": 2.0}

# Amounts said by their size: 七位数 (seven digits), "six figures", "multi-million"; 大几万 / 小几十万
# (the high or low end of "几": read as 8 and 2).
_DIGITS_ZH_RE = re.compile(r"([四五六七八九])位数")
_FIGURES_EN_RE = re.compile(r"\b(?:(low|mid|high)[- ])?(four|five|six|seven|eight)[- ]figures?\b"
                            r"|\b(multi[- ]?million|millions)\b")
_FIGURES = {"four": 1e3, "five": 1e4, "six": 1e5, "seven": 1e6, "eight": 1e7}
_FIGURE_PART = {None: 1.5, "low": 1.5, "mid": 5.0, "high": 8.0}
_ZH_DIGIT_COUNT = {"四": 1e3, "五": 1e4, "六": 1e5, "七": 1e6, "八": 1e7, "九": 1e8}
_MONEY_WORDS = ("$", "usd", "dollar", "rmb", "yuan", "cny", "budget", "capital", "cash", "fund", "money", "invest")
_ROUGH_ZH_RE = re.compile(r"([大小])几")
# ...and by their order of magnitude, read like 几万 / 几十万 (three of the unit): "tens of thousands of
# dollars", "hundreds of thousands", "a few hundred bucks" (hundreds only with a currency).
_EN_LOOSE_RE = re.compile(
    r"\b(?P<few>a few |several )?(?P<size>tens of thousands|hundreds of thousands|hundreds?)\b"
    r"(?:\s(?:of\s)?(?P<cur>dollars?|usd|bucks|yuan|rmb|cny)\b|(?!\sof\s))")     # not "tens of thousands of units"
_EN_LOOSE = {"tens of thousands": 3e4, "hundreds of thousands": 3e5, "hundreds": 300, "hundred": 300}

MAX_AMOUNT = 1e13        # beyond any seller's budget: a typo or a joke, not an amount


@dataclass(frozen=True)
class Amount:
    value: float        # in CNY
    text: str           # as typed (normalised)
    usd: bool


@dataclass(frozen=True)
class Duration:
    years: float
    text: str


@dataclass
class Facts:
    amounts: list[Amount] = field(default_factory=list)
    durations: list[Duration] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)     # names as typed (normalised)

    def to_dict(self) -> dict:
        return {"amounts": [{"cny": round(a.value), "text": a.text, "usd": a.usd} for a in self.amounts],
                "durations": [{"years": round(d.years, 2), "text": d.text} for d in self.durations],
                "platforms": list(self.platforms)}


def zh_number(text: str) -> float | None:
    """二十 -> 20, 一百五 -> 150, 十来 -> 10, 三四十 -> 35, 几 -> 3, 一两 -> 1.5; None if unreadable."""
    text = text.replace("来", "").replace("多", "")
    if not text:
        return None
    if text.isdigit():
        return float(text)
    total, last_unit = 0.0, None
    pending: list[float] = []        # adjacent digits (三四 = "three or four") average out
    for ch in text:
        if ch in _ZH_DIGITS:
            pending.append(_ZH_DIGITS[ch])
            continue
        digit = sum(pending) / len(pending) if pending else None
        pending = []
        last_unit = {"十": 10, "百": 100, "千": 1000}.get(ch)
        if last_unit is None:
            return None
        total += (digit if digit is not None else 1) * last_unit
    if pending:
        digit = sum(pending) / len(pending)
        # 一百五 = 150: a trailing digit after a unit counts a tenth of that unit.
        total += digit * (last_unit / 10 if last_unit and last_unit >= 100 else 1)
    return total if total > 0 else None


def _number(raw: str) -> float | None:
    raw = raw.replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        return zh_number(raw)
    return value if value < MAX_AMOUNT else None


def _modifier(text: str, start: int, end: int) -> float:
    before, after = text[max(0, start - 12):start], text[end:end + 4]
    if any(w in before for w in _BELOW) or after.startswith(("以内", "以下", "不到", "不足", "没到")):     # "三十万不到"
        return 0.99
    if any(w in before for w in _ABOVE) or after.startswith(("以上", "多", "+", "出头")):
        return 1.01
    return 1.0


def amounts(text: str, usd_rate: float, bare_ok: bool = False) -> list[Amount]:
    """Money amounts in a normalised text, in CNY. A number needs a currency or a magnitude
    (万, w, k, 块...) to count, unless `bare_ok` (the capital question is on screen) and it is
    at least 1,000. An amount in another currency is left out (see `foreign_amount`)."""
    text = _unbracket(text)
    return [a for a in _amounts(text, usd_rate, bare_ok) if not _other_currency(text, a.text)]


def foreign_amount(text: str) -> bool:
    """Whether a normalised text states an amount in a currency other than the yuan or the dollar ("£20k",
    "1 million baht", "20 juta rupiah"): its size is unknown here, so no capital level is read from it at all."""
    return _FOREIGN_AMOUNT_RE.search(_unbracket(text)) is not None


def _unbracket(text: str) -> str:
    """"10 grand (usd)": a bracket and the spaces around it become one space, so a currency in brackets is
    next to its amount."""
    return _BRACKET_RE.sub(" ", text) if "(" in text or ")" in text else text


_BRACKET_RE = re.compile(r"\s*[()]\s*")


def _amounts(text: str, usd_rate: float, bare_ok: bool) -> list[Amount]:
    out = []
    if "几" in text:
        text = _ROUGH_ZH_RE.sub(lambda m: "八" if m.group(1) == "大" else "二", text).replace("好几", "几")   # 二十好几万
    if "位数" in text:
        for m in _DIGITS_ZH_RE.finditer(text):
            usd = any(c in text[m.end():m.end() + 4] for c in ("美元", "美金", "刀")) or "$" in text
            value = _ZH_DIGIT_COUNT[m.group(1)] * 1.5 * (usd_rate if usd else 1.0)
            out.append(Amount(value * _modifier(text, m.start(), m.end()), m.group(0), usd))
    if "figure" in text or "million" in text:
        for m in _FIGURES_EN_RE.finditer(text):
            near = text[max(0, m.start() - 16):m.end() + 16]
            usd = "$" in near or "usd" in near or "dollar" in near
            if m.group(3):
                if not any(w in near for w in _MONEY_WORDS) and not (bare_ok and m.group(0) == text.strip(" .!")):
                    continue            # "millions of views" is no budget; "millions" at the capital question is
                value = 2e6
            else:
                value = _FIGURES[m.group(2)] * _FIGURE_PART[m.group(1)]
            out.append(Amount(value * (usd_rate if usd else 1.0) * _modifier(text, m.start(), m.end()), m.group(0), usd))
    for m in _AMOUNT_RE.finditer(text):
        raw, unit = m.group("num"), m.group("unit")
        cur = m.group("cur1") or m.group("cur2")
        if not raw or (raw[0] in "来多" and len(raw) == 1):
            continue
        if not unit and not cur and not bare_ok:
            continue            # "十来个人", "三年": no money; a bare number is one at the capital question ("三千", "8000")
        value = _number(raw)
        if value is None:
            continue
        if unit:
            value *= _UNITS[unit]
        usd = cur is not None and cur in _USD
        if usd:
            value *= usd_rate
        if not unit and not cur and value < 1000:
            continue
        if value < 100 or not value < MAX_AMOUNT:    # "2块" is not a budget, nor "9999...万"
            continue
        value *= _modifier(text, m.start(), m.end())
        out.append(Amount(value, m.group(0).strip(), usd))
    for m in _EN_AMOUNT_RE.finditer(text):     # "half a million yuan", "a few thousand bucks"
        value = _EN_AMOUNT_WORDS[m.group("num")] * _EN_UNITS[m.group("unit")]
        cur = m.group("cur")
        usd = cur is not None and cur in _USD or (cur is None and "$" in text[max(0, m.start() - 2):m.start()])
        if usd:
            value *= usd_rate
        value *= _modifier(text, m.start(), m.end())
        out.append(Amount(value, m.group(0).strip(), usd))
    for m in _EN_LOOSE_RE.finditer(text):
        cur, size = m.group("cur"), m.group("size")
        if size.startswith("hundred") and cur is None:
            continue                    # "hundreds of orders": money only with its currency
        usd = cur is not None and cur in _USD or (cur is None and "$" in text[max(0, m.start() - 2):m.start()])
        value = (100 if size == "hundred" and not m.group("few") else _EN_LOOSE[size]) * (usd_rate if usd else 1.0) * _modifier(text, m.start(), m.end())
        out.append(Amount(value, m.group(0).strip(), usd))
    return [a for a in out if a.value < MAX_AMOUNT]


# Currencies other than the yuan and the dollar: the capital bands are set in those two only (DEFINITIONS),
# and a rate for the dong or the baht would be a guess that ages; such an amount is not read (asked again).
_OTHER_CURRENCY_RE = re.compile(
    r"^\s?(?:vnd|dong|idr|rupiah|thb|baht|myr|ringgit|php|pesos?|mxn|sgd|eur|euros?|gbp|pounds?|inr|rupees?|yen|jpy|"
    r"krw|won|brl|reais|aed|dirhams?|sar|riyals?|rub|roubles?|rubles?|越南盾|印尼盾|泰铢|马币|林吉特|比索|新币|欧元|英镑|"
    r"卢比|日元|韩元|卢布|迪拉姆|里亚尔|台币|台幣|新台币|港币|港幣|澳币|加币|hkd|twd|ntd|aud|cad|rupiah)(?![a-z])")
_OTHER_SIGN_RE = re.compile(r"(?:€|£|₫|฿|₱|₹|(?<![a-z])(?:rp|rm|sgd|hkd|twd|ntd|myr|thb|php|idr|vnd|eur|gbp|aud|cad))\s?$")
_OTHER_DOLLAR_RE = re.compile(r"(?<![a-z])(?:s|hk|nt|a|c|r)$")     # "s$30k", "hk$": another dollar (not "us$")
# A number (with its size, if any) and another currency after it, or another currency's sign or code before it.
_FOREIGN_AMOUNT_RE = re.compile(
    r"\d[\d.,]*\s?(?:k|m|mil|mn|million|thousand|grand|juta|ribu|lakh|crore|万|千|百万|亿)?\s?"
    + _OTHER_CURRENCY_RE.pattern.removeprefix("^\\s?")
    + r"|(?:€|£|₫|฿|₱|₹|(?<![a-z])(?:rp|rm|sgd|hkd|twd|ntd|myr|thb|php|idr|vnd|eur|gbp|aud|cad|(?:s|hk|nt|a|c|r)\$))\s?\d")


def _other_currency(text: str, amount: str) -> bool:
    """Whether an amount found in `text` is in another currency ("40 million vnd", "€20k", "rm 5000")."""
    at = text.find(amount)
    if at < 0:
        return False
    before = text[max(0, at - 6):at]
    return bool(_OTHER_CURRENCY_RE.search(text[at + len(amount):at + len(amount) + 12])
                or _OTHER_SIGN_RE.search(before) or (amount.startswith("$") and _OTHER_DOLLAR_RE.search(before)))


def _since(text: str, this_year: int) -> list[Duration]:
    out = []
    for rx in (_SINCE_ZH_RE, _SINCE_EN_RE):
        for m in rx.finditer(text):
            groups = m.groupdict()
            rel = groups.get("rel") or groups.get("rel2")
            year = groups.get("year") or groups.get("year2") or (groups.get("yy") and str(this_year // 100) + groups["yy"])
            if rel:
                out.append(Duration(_RELATIVE_YEARS[rel], m.group(0)))
            elif year and int(year) <= this_year:
                out.append(Duration(max(0.5, float(this_year - int(year))), m.group(0)))
    return out


# Said just before a duration, these put it a little under the number: "不满三年", "not even 3 years".
_UNDER_YEARS = ("不到", "不满", "没到", "没满", "未满", "不足", "少于", "快", "将近", "接近", "less than", "under",
                "not even", "not quite", "almost", "nearly", "just shy of", "shy of")


def _under(text: str, start: int, end: int) -> bool:
    return text[max(0, start - 12):start].rstrip().endswith(_UNDER_YEARS) or text[end:end + 2] in ("不到", "不满", "没到")


def durations(text: str, this_year: int | None = None) -> list[Duration]:
    """Durations in years: 三年, 3年多, 一年半, 半年, 五六年, 3 yrs, about a year, 6 months,
    and starts: 去年才开始 (1), 从2019年开始, since last year, started in 2021 (counted to `this_year`)."""
    out = _since(text, this_year or date.today().year)
    for m in _DURATION_ZH_RE.finditer(text):
        if any(m.group(0) in d.text for d in out):
            continue                          # "2019年" of "从2019年开始", read above
        raw = m.group("num")
        if raw == "半":
            value = 0.5
        else:
            value = _number(raw)
            if value is None:
                continue
        if m.group("unit") == "年" and value >= 1900:
            continue                          # a calendar year, not a duration
        if m.group("unit") != "年":
            value /= 12
        if m.group("half") or m.group("more"):
            value += 0.5 if m.group("unit") == "年" else 0.0
        if _under(text, m.start(), m.end()):
            value -= 0.25
        out.append(Duration(value, m.group(0)))
    for m in _DURATION_EN_RE.finditer(text):
        raw = m.group("num")
        value = float(raw) if raw[0].isdigit() else _EN_NUMBERS.get(raw)
        if value is None:
            continue
        if m.group("unit").startswith("m"):
            value /= 12
        elif m.group("unit").startswith("d"):
            value *= 10                   # "about a decade", "two decades"
        if _under(text, m.start(), m.end()):
            value -= 0.25
        out.append(Duration(value, m.group(0)))
    return out


_TOKEN_RE = re.compile(r"[a-z0-9]+")


class WordLists:
    """Several named word lists matched in one pass over a short text, overlaps included: a
    clause is scanned once for every list understanding looks at (platforms, OEM words, price
    words, topics...) instead of once per list. Chinese terms match as substrings, Latin ones as
    whole words (a term's words in a row: "cross-border" = "cross border")."""

    def __init__(self, lists: dict[str, tuple[str, ...]]):
        self._cjk: dict[str, list[tuple[str, str]]] = {}
        self._latin: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        for name, terms in lists.items():
            for term in terms:
                if not term:
                    continue
                if term.isascii():
                    key = tuple(_TOKEN_RE.findall(term))
                    if key:
                        self._latin.setdefault(key, []).append((name, term))
                else:
                    self._cjk.setdefault(term, []).append((name, term))
        self._cjk_first = frozenset(t[0] for t in self._cjk)
        self._cjk_lengths = tuple(sorted({len(t) for t in self._cjk}))
        self._latin_first = frozenset(k[0] for k in self._latin)
        self._latin_lengths = tuple(sorted({len(k) for k in self._latin}))

    def scan(self, text: str) -> dict[str, tuple[str, ...]]:
        """list name -> the terms of that list found in the text."""
        found: dict[str, list[str]] = {}
        cjk, first, lengths = self._cjk, self._cjk_first, self._cjk_lengths
        if cjk:
            for i, ch in enumerate(text):
                if ch in first:
                    for n in lengths:
                        hits = cjk.get(text[i:i + n])
                        if hits:
                            for name, term in hits:
                                found.setdefault(name, []).append(term)
        tokens = _TOKEN_RE.findall(text) if self._latin else ()
        if tokens:
            latin, lfirst = self._latin, self._latin_first
            for i, tok in enumerate(tokens):
                if tok in lfirst:
                    for n in self._latin_lengths:
                        hits = latin.get(tuple(tokens[i:i + n]))
                        if hits:
                            for name, term in hits:
                                found.setdefault(name, []).append(term)
        return {k: tuple(v) for k, v in found.items()}
