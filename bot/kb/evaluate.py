"""Accuracy of the FAQ answerer on a labelled question set.

    python -m bot.kb.evaluate [--set eval/faq_dev.yaml] [--verbose] [--calibrate] [--knowledge DIR]

Per language and overall it prints: in-scope top-1 accuracy (a fallback counts as a
miss), the in-scope fallback rate, the out-of-scope fallback rate (recall) and the
fallback precision (share of fallbacks that were out-of-scope questions). `--verbose`
lists every miss; `--calibrate` fits the logistic confidence curve to the set and shows
how the metrics move with the threshold.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import yaml

from bot import ROOT
from bot.kb.lang import detect_lang
from bot.kb.search import Answerer

DEFAULT_SET = ROOT / "eval" / "faq_dev.yaml"
FALLBACK = "fallback"


def load_questions(path: Path = DEFAULT_SET) -> list[dict]:
    with Path(path).open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    out = []
    for i, item in enumerate(data.get("questions") or []):
        if not isinstance(item, dict) or "q" not in item or "expect" not in item:
            raise ValueError(f"{path}: questions[{i}] needs q and expect")
        out.append({"q": str(item["q"]), "lang": str(item.get("lang", "en")), "expect": str(item["expect"])})
    return out


def _rates(rows: list[dict]) -> dict:
    ins = [r for r in rows if r["expect"] != FALLBACK]
    oos = [r for r in rows if r["expect"] == FALLBACK]
    fallbacks = [r for r in rows if r["got"] is None]

    def share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    return {
        "questions": len(rows),
        "in_scope": len(ins),
        "out_of_scope": len(oos),
        "top1": share(sum(r["got"] == r["expect"] for r in ins), len(ins)),
        "in_scope_fallback": share(sum(r["got"] is None for r in ins), len(ins)),
        "oos_fallback": share(sum(r["got"] is None for r in oos), len(oos)),
        "fallback_precision": share(sum(r["expect"] == FALLBACK for r in fallbacks), len(fallbacks)),
        "lang_detect": share(sum(r["detected"] == r["lang"] for r in rows), len(rows)),
    }


def evaluate(answerer: Answerer, questions: list[dict]) -> dict:
    """Run every question; returns {"zh": rates, "en": rates, "all": rates, "misses": [...],
    "unknown_labels": [...]} where rates are the figures described in the module docstring."""
    rows = []
    unknown = []
    for item in questions:
        expect = item["expect"]
        if expect != FALLBACK and answerer.kb.entry(expect) is None:
            unknown.append(expect)
        ans = answerer.ask(item["q"], lang=item.get("lang", "en"))
        ranked = answerer.rank(item["q"], limit=3)
        rows.append({
            "q": item["q"], "lang": item.get("lang", "en"), "expect": expect,
            "got": ans.entry.id if ans.entry else None, "score": ans.score,
            "best": answerer.entries[ranked[0].index].id if ranked else None,
            "raw": ranked[0].raw if ranked else 0.0,
            "detected": detect_lang(item["q"], "?"),
        })
    result = {lang: _rates([r for r in rows if r["lang"] == lang]) for lang in ("zh", "en")}
    result["all"] = _rates(rows)
    result["misses"] = [r for r in rows if r["got"] != (None if r["expect"] == FALLBACK else r["expect"])]
    result["unknown_labels"] = sorted(set(unknown))
    result["rows"] = rows
    return result


def _pct(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def report(result: dict, out=sys.stdout) -> None:
    head = f"{'n':>4} {'in':>4} {'oos':>4}  {'top-1':>6}  {'in-fb':>6}  {'oos-fb':>6}  {'fb-prec':>7}  {'lang':>6}"
    print(f"{'':4} {head}", file=out)
    for key in ("zh", "en", "all"):
        r = result[key]
        print(f"{key:4} {r['questions']:4d} {r['in_scope']:4d} {r['out_of_scope']:4d}  {_pct(r['top1'])}  "
              f"{_pct(r['in_scope_fallback'])}  {_pct(r['oos_fallback'])}  {_pct(r['fallback_precision']):>7}  "
              f"{_pct(r['lang_detect'])}", file=out)
    print("top-1: in-scope top-1 accuracy; in-fb: in-scope fallback rate; oos-fb: out-of-scope fallback "
          "rate; fb-prec: fallback precision; lang: answer-language detection agrees with the label", file=out)
    if result["unknown_labels"]:
        print(f"unknown entry ids in the set: {', '.join(result['unknown_labels'])}", file=out)


def _fit_logistic(xs: list[float], ys: list[int], steps: int = 50) -> tuple[float, float]:
    """Newton's method on the (lightly L2-regularised) log-loss of p = sigmoid(w*x + c);
    returns (slope, midpoint) = (w, -c/w)."""
    w, c, lam = 1.0, 0.0, 1e-3
    for _ in range(steps):
        gw, gc, hww, hwc, hcc = lam * w, 0.0, lam, 0.0, 1e-9
        for x, y in zip(xs, ys):
            z = max(-60.0, min(60.0, w * x + c))
            p = 1.0 / (1.0 + math.exp(-z))
            r = p * (1 - p)
            gw += (p - y) * x
            gc += p - y
            hww += r * x * x
            hwc += r * x
            hcc += r
        det = hww * hcc - hwc * hwc
        if abs(det) < 1e-12:
            break
        dw = (hcc * gw - hwc * gc) / det
        dc = (hww * gc - hwc * gw) / det
        w, c = w - dw, c - dc
        if abs(dw) < 1e-9 and abs(dc) < 1e-9:
            break
    return w, (-c / w if w else 0.0)


def calibration_report(answerer: Answerer, questions: list[dict]) -> None:
    xs, ys, kinds = [], [], []
    for item in questions:
        ranked = answerer.rank(item["q"], limit=3)
        raw = ranked[0].raw if ranked else 0.0
        best = answerer.entries[ranked[0].index].id if ranked else None
        xs.append(raw)
        ys.append(int(item["expect"] != FALLBACK and best == item["expect"]))
        kinds.append(item["expect"] != FALLBACK)
    a, b = _fit_logistic(xs, ys)
    print(f"logistic fit: slope {a:.2f}, midpoint {b:.3f} (confidence = 1/(1+exp(-slope*(raw-midpoint))))")
    print(f"{'raw>=':>6} {'top-1':>6} {'in-fb':>6} {'oos-fb':>6}")
    n_in = sum(kinds) or 1
    n_oos = (len(kinds) - sum(kinds)) or 1
    for k in range(20, 62, 2):
        t = k / 100
        top1 = sum(1 for x, y, ki in zip(xs, ys, kinds) if ki and y and x >= t) / n_in
        infb = sum(1 for x, ki in zip(xs, kinds) if ki and x < t) / n_in
        oosfb = sum(1 for x, ki in zip(xs, kinds) if not ki and x < t) / n_oos
        print(f"{t:6.2f} {_pct(top1)} {_pct(infb)} {_pct(oosfb)}")
    print("raw scores, in-scope correct / in-scope wrong / out-of-scope (sorted):")
    for label, sel in (("ok", lambda y, ki: ki and y), ("wrong", lambda y, ki: ki and not y),
                       ("oos", lambda y, ki: not ki)):
        vals = sorted(round(x, 3) for x, y, ki in zip(xs, ys, kinds) if sel(y, ki))
        print(f"  {label:5} {vals}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.kb.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--set", default=str(DEFAULT_SET), help="question set (YAML)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every miss")
    parser.add_argument("--calibrate", action="store_true", help="fit the confidence curve on this set")
    parser.add_argument("--knowledge", default=None, help="knowledge directory (default: knowledge/)")
    args = parser.parse_args(argv)

    from bot.kb.loader import KNOWLEDGE_DIR, load_knowledge
    problems: list = []
    directory = Path(args.knowledge) if args.knowledge else KNOWLEDGE_DIR
    kb = load_knowledge(directory, problems=problems)
    if problems:
        print(f"note: {len(problems)} content problem(s) while loading; evaluating what loaded", file=sys.stderr)
    answerer = Answerer(kb)
    questions = load_questions(Path(args.set))
    print(f"{args.set}: {len(questions)} questions, {len(kb.entries)} FAQ entries, threshold {answerer.threshold}")
    result = evaluate(answerer, questions)
    report(result)
    if args.verbose:
        print(f"\nmisses ({len(result['misses'])}):")
        for r in result["misses"]:
            got = r["got"] or "fallback"
            print(f"  [{r['lang']}] expect {r['expect']:<22} got {got:<22} conf {r['score']:.2f} "
                  f"raw {r['raw']:.3f} best {r['best']}  | {r['q']}")
    if args.calibrate:
        print()
        calibration_report(answerer, questions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
