"""Understanding benchmark: services load time, and the time to understand one message, with
today's content and with the knowledge base scaled synthetically to 500 / 2,000 / 5,000 entries.

    python -m bench nlu

Load time is measured in a fresh interpreter (imports included), with the model cache warm and
once cold (training). Latency is `Understanding.read` wall time per message over the development
sets (typed answers read with their question on screen, descriptions, FAQ questions) plus odd
inputs. Synthetic entries recombine the real knowledge base's vocabulary (a share of each real
entry's words and Chinese character pairs swapped for others, plus invented product words), so
the index has realistic document frequencies. A knowledge base above
bot.nlu.faq.CLASSIFIER_MAX_ENTRIES entries is ranked by nearest neighbours instead of the
softmax (see README). Prints figures; asserts nothing.
"""
from __future__ import annotations

import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = (500, 2000, 5000)
_CJK_RE = re.compile("[\u4e00-\u9fff]")
_LOAD = ("import time; t = time.perf_counter(); from bot.services import load_services; load_services(); "
         "print(time.perf_counter() - t)")


def _load_seconds(env_cache: str | None) -> float:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "PYTHONPATH": str(ROOT)}
    if env_cache:
        env["NLU_CACHE_DIR"] = env_cache
    out = subprocess.run([sys.executable, "-c", _LOAD], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _mutate_en(text: str, words: list[str], rng: random.Random, share: float) -> str:
    return " ".join(rng.choice(words) if rng.random() < share else p for p in text.split())


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


def scaled(content, size: int, seed: int = 7):
    """The content with its FAQ grown to `size` synthetic entries (see the module docstring)."""
    rng = random.Random(seed)
    real = list(content.faq)
    words = [w for d in real for q in d.questions.get("en", ()) for w in re.findall(r"[A-Za-z]{3,}", q)] or ["item"]
    pairs = [q[i:i + 2] for d in real for q in d.questions.get("zh", ()) for i in range(len(q) - 1)
             if _CJK_RE.match(q[i]) and _CJK_RE.match(q[i + 1])] or ["商品"]
    chars = sorted({c for p in pairs for c in p})
    docs = list(real)
    while len(docs) < size:
        base = real[len(docs) % len(real)]
        inv_en = "".join(rng.choice("bcdfghjklmnprstvz") + rng.choice("aeiou") for _ in range(3))
        inv_zh = "".join(rng.choice(chars) for _ in range(2))
        docs.append(replace(base, id=f"syn_{len(docs)}", related=(), titles=tuple(
            _mutate_zh(t, pairs, rng, 0.5) if _CJK_RE.search(t) else _mutate_en(t, words, rng, 0.5) for t in base.titles),
            questions={"zh": tuple(_mutate_zh(q, pairs, rng, 0.4) + inv_zh for q in base.questions.get("zh", ())),
                       "en": tuple(_mutate_en(q, words, rng, 0.4) + " " + inv_en for q in base.questions.get("en", ()))}))
    return replace(content, faq=tuple(docs[:size]))


def _messages() -> list[tuple[str, str | None]]:
    from bot.nlu.evaluate import DEV, load
    msgs = [(str(i["text"]), i["step"]) for i in load(DEV / "typed.yaml")]
    msgs += [(str(i["text"]), None) for i in load(DEV / "descriptions.yaml")]
    msgs += [(str(i["q"]), None) for i in load(DEV / "faq.yaml")]
    msgs += [("", None), ("🙂🙂", "factory"), ("<b>全托管</b>谁定价", None), ("全托管" * 1700, None),
             ("x" * 5000, "capital"), ("我们有工厂也没工厂，是贸易商也不是，资金充足又有限", None)]
    return msgs


def _latencies(nlu, msgs, repeat: int) -> tuple[float, float, float]:
    lat = []
    for _ in range(repeat):
        for text, step in msgs:
            t0 = time.perf_counter()
            nlu.read(text, step=step)
            lat.append(time.perf_counter() - t0)
    lat.sort()
    pick = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000  # noqa: E731
    return pick(0.50), pick(0.99), lat[-1] * 1000


def main() -> None:
    from bot.nlu.understand import CACHE_DIR, Understanding
    from bot.services import load_services
    services = load_services()          # warms the cache
    warm = statistics.median(_load_seconds(str(CACHE_DIR)) for _ in range(3))
    with tempfile.TemporaryDirectory() as empty:
        cold = _load_seconds(empty)
    print(f"services load (fresh interpreter, imports included): {warm * 1000:.0f} ms with the model cache, "
          f"{cold * 1000:.0f} ms without it (training)")
    msgs = _messages()
    rows = []
    p50, p99, worst = _latencies(services.nlu, msgs, 5)
    rows.append((len(services.content.faq) if hasattr(services, "content") else len(services.nlu.content.faq),
                 "softmax", 0.0, p50, p99, worst))
    for size in SIZES:
        content = scaled(services.nlu.content, size)
        t0 = time.perf_counter()
        nlu = Understanding(content, cache_dir=None)
        build = time.perf_counter() - t0
        ranker = "softmax" if nlu.faq_classifier is not None else "neighbours"
        p50, p99, worst = _latencies(nlu, msgs, 2)
        rows.append((size, ranker, build, p50, p99, worst))
    print(f"understanding one message: {len(msgs)} messages per pass (dev sets + odd inputs)")
    print(f"{'entries':>8} {'faq ranker':>11} {'build s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for n, ranker, build, p50, p99, worst in rows:
        print(f"{n:8d} {ranker:>11} {build:8.1f} {p50:8.3f} {p99:8.3f} {worst:8.2f}")
    print("build: training (step models and the FAQ ranker) and indexing without a cache; today's content was "
          "loaded from the cache")


if __name__ == "__main__":
    main()
