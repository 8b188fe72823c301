"""FAQ answerer benchmark: index build time and per-question latency, at today's size and
with the knowledge base scaled synthetically to 500 / 2,000 / 5,000 entries.

Synthetic entries recombine the real knowledge base's vocabulary: each one starts from a
real entry, swaps a share of its English words and Chinese character pairs for others
drawn from the whole knowledge base, and adds a couple of invented product words, so
that the index has realistic document frequencies and a vocabulary that keeps growing
with size. Prints figures; asserts nothing.
"""
from __future__ import annotations

import random
import re
import statistics
import time
from dataclasses import replace

from bot.kb.evaluate import DEFAULT_SET, load_questions
from bot.kb.loader import load_knowledge
from bot.kb.models import KnowledgeBase, Text
from bot.kb.search import Answerer

SIZES = (500, 2000, 5000)
_WORD_RE = re.compile(r"[A-Za-z]+|[^A-Za-z]")
_CJK_RE = re.compile("[\u4e00-\u9fff]")


def _mutate_en(text: str, words: list[str], rng: random.Random, share: float) -> str:
    parts = text.split()
    for i, p in enumerate(parts):
        if rng.random() < share:
            parts[i] = rng.choice(words)
    return " ".join(parts)


def _mutate_zh(text: str, pairs: list[str], rng: random.Random, share: float) -> str:
    out, i = [], 0
    while i < len(text):
        if _CJK_RE.match(text[i]) and i + 1 < len(text) and _CJK_RE.match(text[i + 1]) and rng.random() < share:
            out.append(rng.choice(pairs))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def synthetic_kb(kb: KnowledgeBase, size: int, seed: int = 7) -> KnowledgeBase:
    rng = random.Random(seed)
    real = list(kb.entries)
    words, pairs = [], []
    for e in real:
        for t in (*e.questions_en, *e.keywords_en, e.title.en):
            words += re.findall(r"[A-Za-z]{3,}", t)
        for t in (*e.questions_zh, *e.keywords_zh, e.title.zh):
            pairs += [t[i:i + 2] for i in range(len(t) - 1) if _CJK_RE.match(t[i]) and _CJK_RE.match(t[i + 1])]
    words = words or ["item"]
    pairs = pairs or ["商品"]
    chars = sorted({c for p in pairs for c in p})
    entries = list(real)
    n = len(entries)
    while len(entries) < size:
        base = real[len(entries) % len(real)]
        invented_en = "".join(rng.choice("bcdfghjklmnprstvz") + rng.choice("aeiou") for _ in range(3))
        invented_zh = "".join(rng.choice(chars) for _ in range(2))
        qzh = tuple(_mutate_zh(q, pairs, rng, 0.4) + invented_zh for q in base.questions_zh)
        qen = tuple(_mutate_en(q, words, rng, 0.4) + " " + invented_en for q in base.questions_en)
        entries.append(replace(
            base, id=f"syn_{n}", related=(),
            title=Text(_mutate_zh(base.title.zh, pairs, rng, 0.5), _mutate_en(base.title.en, words, rng, 0.5)),
            questions_zh=qzh, questions_en=qen,
            keywords_zh=tuple(_mutate_zh(k, pairs, rng, 0.5) for k in base.keywords_zh) + (invented_zh,),
            keywords_en=tuple(_mutate_en(k, words, rng, 0.5) for k in base.keywords_en) + (invented_en,),
            answer=Text(_mutate_zh(base.answer.zh, pairs, rng, 0.3), _mutate_en(base.answer.en, words, rng, 0.3))))
        n += 1
    entries = entries[:size]
    return replace(kb, entries=tuple(entries), by_id={e.id: e for e in entries})


def _build_times(kb: KnowledgeBase, runs: int) -> tuple[float, Answerer]:
    times = []
    answerer = None
    for _ in range(runs):
        t0 = time.perf_counter()
        answerer = Answerer(kb)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), answerer


def _latencies(answerer: Answerer, questions: list[str], repeat: int) -> tuple[float, float, float]:
    lat = []
    for _ in range(repeat):
        for q in questions:
            t0 = time.perf_counter()
            answerer.ask(q)
            lat.append(time.perf_counter() - t0)
    lat.sort()
    p = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000  # noqa: E731
    return p(0.50), p(0.99), lat[-1] * 1000


def main() -> None:
    kb = load_knowledge(problems=[])
    try:
        questions = [q["q"] for q in load_questions(DEFAULT_SET)]
    except FileNotFoundError:
        questions = [q for e in kb.entries for q in (*e.questions_zh[:1], *e.questions_en[:1])]
    questions += ["", "   ", "🙂🙂", "<b>全托管</b>谁定价", "全托管" * 1700]
    rows = []
    sizes = [(len(kb.entries), kb, 7, 20)]
    for size in SIZES:
        sizes.append((size, synthetic_kb(kb, size), 3, 3 if size < 5000 else 2))
    for n, k, runs, repeat in sizes:
        build, answerer = _build_times(k, runs)
        p50, p99, worst = _latencies(answerer, questions, repeat)
        rows.append((n, build * 1000, p50, p99, worst, len(answerer.postings)))
    print(f"FAQ answerer: {len(questions)} questions (dev set + odd inputs) per pass")
    print(f"{'entries':>8} {'build ms':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'tokens':>8}")
    for n, build, p50, p99, worst, vocab in rows:
        print(f"{n:8d} {build:9.1f} {p50:8.3f} {p99:8.3f} {worst:8.2f} {vocab:8d}")
    print("build: median of several index builds; latency: Answerer.ask wall time per question")


if __name__ == "__main__":
    main()
