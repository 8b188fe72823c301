"""How well understanding reads what sellers type, on labelled sets (`make eval`).

    python -m bot.nlu.evaluate [--dir eval/dev] [--verbose]     # one directory
    python -m bot.nlu.evaluate --all                            # every development set, then eval/holdout

`--all` reports, each on its own: the original development sets (eval/dev), then every directory of
eval/dev in the order DEV_TITLES gives (blind writers' sets, the earlier held-out sets after their one
look, the gauges: extra_check, edge_check and typed_check, never tuned on, so `--verbose` does not list
their misses), the retired held-out sets (eval/holdout_v1 .. _v3, holdout_edge_v1: printed for comparison,
never listed) and the held-out sets (eval/holdout, never listed either).

A directory holds up to four files:
  typed.yaml         items: [{step, lang, text, expect}]       expect: a level or "unsure"
  descriptions.yaml  items: [{lang, text, expect: {step: level}}]   only the facts the text states
  faq.yaml           questions: [{q, lang, expect}]            expect: an entry id or "fallback"
  edge.yaml          questions: [{q, lang, kind, ...}]         questions around the subject (docs/scope.md):
                     in_scope (expect), two_part (parts), other_platform (platforms), other_mode (modes),
                     choosing (expect optional), out_of_scope
  edge_blind.yaml    the same schema: eval/dev's second edge set, written blind by someone who never saw
                     the code or the first set (development: tuned on after its first figures were kept)
  edge_single.yaml   the same schema: a probe set of one-question messages shaped to tempt the part
                     splitter, and two-part questions shaped alike (development, tuned on)

Per language it prints: typed-answer accuracy and wrong-level rate (a miss is not wrong: the
bot asks again); description slot precision, recall and read-wrong rate (share of stated facts
read as another level); FAQ top-1 on in-scope questions, in-scope fallback rate and
out-of-scope fallback rate. Everything goes through the same `Understanding.read` the dialogue
and `python -m bot understand` use.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from bot import ROOT

DEV = ROOT / "eval" / "dev"
EXTRA = DEV / "extra"
EXTRA_CHECK = DEV / "extra_check"      # the second writer's untouched third: a gauge, never tuned on
EDGE_CHECK = DEV / "edge_check"        # a fifth blind writer's edge set, kept as a gauge: never tuned on
TYPED_CHECK = DEV / "typed_check"      # a blind writer's typed answers, kept as a gauge of learning: never tuned on
HOLDOUT = ROOT / "eval" / "holdout"
RETIRED = (ROOT / "eval" / "holdout_v1", ROOT / "eval" / "holdout_v2", ROOT / "eval" / "holdout_v3",
           ROOT / "eval" / "holdout_edge_v1")
# What each directory of eval/dev is, in the order `--all` prints them; a directory not named here is printed
# after these, as "development". (eval/holdout's v4, v5 and the edge sets v4 and v5 each became development
# after their one look: v4, v5, v6, v7.)
DEV_TITLES = {
    "extra": "development, extra (second writer, tuned on)",
    "extra_check": "development, extra kept untouched (second writer, not tuned on)",
    "ablation": "development (blind writer, used for the ablation, tuned on from round 2)",
    "dev3": "development (third blind writer, tuned on)",
    "v4": "development (held-out v4 and edge v2, each seen once at the end of a round, then tuned on)",
    "dev4": "development (fourth blind writer, tuned on)",
    "dev5": "development (sixth blind writer: two-part and choosing questions, tuned on)",
    "dev6": "development (a blind FAQ set written to be learnt from)",
    "dev7": "development (a blind edge set written to be learnt from)",
    "dev8": "development (a blind edge set written to be learnt from, English-heavy)",
    "dev9": "development (a blind FAQ set written to be learnt from, Chinese-heavy)",
    "v5": "development (held-out v5 and edge v3, each seen once at the end of a round, then learnt from)",
    "v6": "development (the edge set v4, held-out until its one look at 17:55 on 2026-12-06, learnt from since 19:20)",
    "v7": "development (the edge set v5, held-out until its one look at 18:13 on 2026-12-06, learnt from since 19:20)",
    "dev10": "development (a blind typed-answer set written to be learnt from, English-heavy)",
    "dev11": "development (a blind edge set written to be learnt from, English-heavy)",
    "dev12": "development (a blind typed-answer set written to be learnt from, English-heavy)",
    "dev13": "development (a blind edge set in forum registers, written to be learnt from)",
    "dev14": "development (a blind typed-answer set from many kinds of writer, written to be learnt from)",
    "dev15": "development (blind descriptions that tempt a reader, tuned on)",
    "dev16": "development (a blind edge set heavy in choosing questions, written to be learnt from)",
    "dev17": "development (a blind edge set, written to be learnt from)",
    "dev18": "development (a blind edge set from many kinds of seller, written to be learnt from)",
    "dev19": "development (a blind edge set heavy in choosing and two-part questions, written to be learnt from)",
    "dev20": "development (a blind edge set in many registers, written to be learnt from)",
    "dev21": "development (a blind edge set heavy in neighbouring in-scope and two-part questions, written to be learnt from)",
    "dev22": "development (a blind edge set heavy in choosing questions and other TikTok modes, written to be learnt from)",
    "dev23": "development (a blind edge set of sellers at different moments, written to be learnt from)",
    "dev24": "development (a blind edge set in colloquial Chinese, heavy in in-scope and near-subject out-of-scope questions, written to be learnt from)",
    "dev25": "development (a blind edge set in many kinds of English, heavy in choosing and two-part questions, written to be learnt from)",
    "dev26": "development (a blind edge set, written to be learnt from)",
    "dev27": "development (a blind edge set heavy in neighbouring in-scope and two-part questions, written to be learnt from)",
    "dev28": "development (a blind edge set, English-heavy: choosing questions in factual words, neighbouring entries, near-subject out-of-scope questions; written to be learnt from)",
    "dev29": "development (a blind edge set heavy in in-scope questions over every entry, written to be learnt from)",
    "dev30": "development (a blind edge set from ten kinds of seller, written to be learnt from)",
    "dev31": "development (a blind edge set heavy in two-part and choosing questions, written to be learnt from)",
    "dev32": "development (a blind edge set all in English, from English-speaking sellers' forums; written to be learnt from)",
    "dev33": "development (a blind edge set mostly in Chinese, from Chinese sellers' forums and groups; written to be learnt from)",
    "dev34": "development (a blind edge set of near misses: out-of-scope questions in the subject's words, neighbouring entries; written to be learnt from)",
    "dev35": "development (a blind edge set as a sellers' group would send it in a week, written to be learnt from)",
    "dev36": "development (a blind edge set heavy in English two-part questions and one-question look-alikes, written to be learnt from)",
    "dev37": "development (a blind edge set heavy in English in-scope questions over every entry, written to be learnt from)",
    "dev38": "development (a blind edge set from a month of forums, groups and DMs, written to be learnt from)",
    "dev39": "development (a blind edge set of near misses: history on another platform, choosing dressed as facts; written to be learnt from)",
    "dev40": "development (a blind edge set from five very different sellers, written to be learnt from)",
    "dev41": "development (a blind edge set mostly in English, naming markets and categories; written to be learnt from)",
    "dev42": "development (a blind edge set mostly in Chinese, in every register, naming markets and categories; written to be learnt from)",
    "dev43": "development (a blind edge set heavy in two-part questions and other TikTok modes, written to be learnt from)",
    "dev44": "development (a blind edge set from sellers at different stages, written to be learnt from)",
    "dev45": "development (a blind edge set of English near misses: rumours, choosing in factual words, out-of-scope in the subject's words; written to be learnt from)",
    "dev46": "development (a blind edge set of Chinese near misses, written to be learnt from)",
    "dev47": "development (a blind edge set as a community moderator would collect it, every entry at least once; written to be learnt from)",
    "dev48": "development (a blind edge set as answers to a survey's open question, written to be learnt from)",
    "dev49": "development (a blind edge set all in English, every kind of writer; written to be learnt from)",
    "dev50": "development (a blind edge set all in Chinese, every kind of writer; written to be learnt from)",
    "dev51": "development (a blind edge set of in-scope questions that borrow a neighbouring topic's words, written to be learnt from)",
    "dev52": "development (a blind edge set of forwarded and pasted questions, written to be learnt from)",
    "dev53": "development (a blind edge set mostly in hurried English, written to be learnt from)",
    "dev54": "development (a blind edge set mostly in voice-typed and colloquial Chinese, written to be learnt from)",
    "dev55": "development (a blind edge set heavy in other platforms and two-part questions, written to be learnt from)",
    "v9": "development (the edge set v7 and FAQ set v7, held-out until their one look at 20:28 on 2026-12-06, then learnt from)",
    "v10": "development (the edge set v8 and FAQ set v8, held-out until their one look at 20:31 on 2026-12-06, then learnt from)",
    "v11": "development (the night's last held-out sets: edge v9 and FAQ v9 seen once at 20:38, typed and descriptions v7 at 20:28 on 2026-12-06; learnt from)",
    "v12": "development (the night's final held-out sets v10: edge, typed, descriptions, FAQ, seen once at 21:18 on 2026-12-06, then learnt from)",
    "v13": "development (the fifth round's held-out sets v11: edge, typed, descriptions, FAQ, seen once at 23:03 on 2026-12-06 with the round's final model; not learnt from yet)",
    "v8": "development (held-out v6 and edge v6, each seen once at the end of 2026-12-06's third round, then learnt from)",
    "edge_check": "development, edge gauge (fifth blind writer, not tuned on)",
    "typed_check": "development, typed-answer gauge (the dev12 writer's second set, not tuned on or learnt from)",
}
TITLES = {DEV: "development", HOLDOUT: "held-out", **{DEV / name: title for name, title in DEV_TITLES.items()},
          **{d: f"retired held-out {d.name.removeprefix('holdout_')} (its figures were seen once, then development went on; not tuned on)"
             for d in RETIRED}}
UNLISTED = (EXTRA_CHECK, EDGE_CHECK, TYPED_CHECK, *RETIRED, HOLDOUT)   # sets whose misses are never printed: nobody tunes on them


def all_dirs() -> list[Path]:
    """`--all`: eval/dev, each of its directories (the named ones first), the retired sets, eval/holdout."""
    present = {d.name for d in DEV.iterdir() if d.is_dir()} if DEV.is_dir() else set()
    names = [n for n in DEV_TITLES if n in present] + sorted(present - set(DEV_TITLES))
    return [DEV, *(DEV / n for n in names), *RETIRED, HOLDOUT]


EDGE_FILES = ("edge.yaml", "edge_blind.yaml", "edge_single.yaml")
OPTIONAL_EDGE = ("edge_blind.yaml", "edge_single.yaml")    # read only where present
EDGE_KINDS = ("in_scope", "two_part", "other_platform", "other_mode", "choosing", "out_of_scope")
FALLBACK = "fallback"
LANGS = ("zh", "en")


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    is_edge = path.name in EDGE_FILES
    key = "questions" if path.name == "faq.yaml" or is_edge else "items"
    items = data.get(key) or []
    for i, item in enumerate(items):
        need = ("q", "kind") if is_edge else ("q", "expect") if key == "questions" else (
            ("text", "expect", "step") if path.name == "typed.yaml" else ("text", "expect"))
        if is_edge and isinstance(item, dict) and item.get("kind") not in EDGE_KINDS:
            raise ValueError(f"{path}: {key}[{i}] has kind {item.get('kind')!r}; one of {', '.join(EDGE_KINDS)}")
        if not isinstance(item, dict) or any(k not in item for k in need):
            raise ValueError(f"{path}: {key}[{i}] needs {', '.join(need)}")
    return items


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def typed(nlu, items: list[dict]) -> dict:
    rows = []
    for it in items:
        r = nlu.read(str(it["text"]), step=it["step"], lang=it.get("lang"))
        got = r.answers.get(it["step"]) if r.on_screen == it["step"] else None
        rows.append({**it, "got": got})
    out = {}
    for lang in LANGS + ("all",):
        sel = [r for r in rows if lang == "all" or r.get("lang") == lang]
        out[lang] = {"n": len(sel), "right": _share(sum(r["got"] == r["expect"] for r in sel), len(sel)),
                     "wrong": _share(sum(r["got"] is not None and r["got"] != r["expect"] for r in sel), len(sel))}
    out["misses"] = [r for r in rows if r["got"] != r["expect"]]
    return out


def descriptions(nlu, items: list[dict]) -> dict:
    rows = []
    for it in items:
        r = nlu.read(str(it["text"]), lang=it.get("lang"))
        rows.append({**it, "got": dict(r.answers), "read_lang": r.lang})
    out = {}
    for lang in LANGS + ("all",):
        sel = [r for r in rows if lang == "all" or r.get("lang") == lang]
        stated = sum(len(r["expect"]) for r in sel)
        read = sum(len(r["got"]) for r in sel)
        right = sum(r["got"].get(s) == lvl for r in sel for s, lvl in r["expect"].items())
        wrong = sum(s in r["got"] and r["got"][s] != lvl for r in sel for s, lvl in r["expect"].items())
        out[lang] = {"n": len(sel), "facts": stated, "precision": _share(right, read), "recall": _share(right, stated),
                     "wrong": _share(wrong, stated),
                     "lang": _share(sum(r["read_lang"] == r.get("lang") for r in sel), len(sel))}
    out["misses"] = [r for r in rows if r["got"] != r["expect"]]
    return out


def faq(nlu, items: list[dict]) -> dict:
    rows = []
    for it in items:
        r = nlu.read(str(it["q"]), lang=it.get("lang"))
        got = r.faq[0].id if r.faq and r.answerable else None
        rows.append({**it, "got": got, "p": r.faq_probability, "best": r.faq[0].id if r.faq else None})
    out = {}
    for lang in LANGS + ("all",):
        sel = [r for r in rows if lang == "all" or r.get("lang") == lang]
        ins = [r for r in sel if r["expect"] != FALLBACK]
        oos = [r for r in sel if r["expect"] == FALLBACK]
        out[lang] = {"n": len(sel), "in": len(ins), "oos": len(oos),
                     "top1": _share(sum(r["got"] == r["expect"] for r in ins), len(ins)),
                     "in_fb": _share(sum(r["got"] is None for r in ins), len(ins)),
                     "oos_fb": _share(sum(r["got"] is None for r in oos), len(oos))}
    out["misses"] = [r for r in rows if r["got"] != (None if r["expect"] == FALLBACK else r["expect"])]
    out["unknown_labels"] = sorted({r["expect"] for r in rows if r["expect"] != FALLBACK
                                    and r["expect"] not in {d.id for d in nlu.content.faq}})
    return out


def _as_list(x) -> list:
    return [] if x is None else list(x) if isinstance(x, (list, tuple)) else [x]


def edge_verdict(item: dict, answer, choosing: set[str]) -> tuple[bool, bool]:
    """(handled right, misleading) for one edge question and the Answer it got (bot.nlu.answer).

    Misleading: an answer about the wrong platform, mode or topic given as if it answered: a plain
    answer (or advice) to another platform's or mode's question, an entry outside the expected ones,
    or any answer to an out-of-scope question."""
    kind, handling = item["kind"], answer.handling
    ids = [e.id for e in answer.entries]
    answered = handling in ("answer", "advice")
    if kind == "in_scope":
        expect = set(_as_list(item.get("expect")))
        right = answered and bool(ids) and ids[0] in expect
        return right, answered and bool(ids) and not set(ids) <= expect
    if kind == "two_part":
        parts = [set(_as_list(p)) for p in item.get("parts") or []]
        allowed = set().union(*parts) if parts else set()
        right = answered and bool(parts) and all(p & set(ids) for p in parts)
        return right, answered and bool(ids) and not set(ids) <= allowed
    if kind == "other_platform":
        return handling == "other_platform", answered
    if kind == "other_mode":
        wanted = set(_as_list(item.get("modes")))
        named = {m.id for m in answer.modes}
        return handling == "other_mode" and (not wanted or bool(wanted & named)), answered
    if kind == "choosing":
        expect = set(_as_list(item.get("expect")))
        if expect:
            right = (answered and bool(ids) and ids[0] in expect) or (handling == "advice" and not ids)
            return right, answered and bool(ids) and not set(ids) <= (expect | choosing)
        right = handling == "advice" or (answered and bool(ids) and ids[0] in choosing)
        return right, answered and bool(ids) and not set(ids) <= choosing
    # out_of_scope: an honest "I don't know", or another platform's/mode's facts with no TikTok entry
    right = handling == "fallback" or (handling in ("other_platform", "other_mode") and not ids)
    return right, answered


def edge(answerer, items: list[dict]) -> dict:
    """The edge set through the same FaqAnswerer every channel uses."""
    choosing = set(answerer.choosing_entries)
    rows = []
    for it in items:
        a = answerer.ask(str(it["q"]), it.get("lang") or "en")
        right, misleading = edge_verdict(it, a, choosing)
        rows.append({**it, "right": right, "misleading": misleading, "handling": a.handling,
                     "got": [e.id for e in a.entries], "p": a.score})
    out = {}
    for lang in LANGS + ("all",):
        sel = [r for r in rows if lang == "all" or r.get("lang") == lang]
        by = {k: [r for r in sel if r["kind"] == k] for k in EDGE_KINDS}
        rate = lambda rs: _share(sum(r["right"] for r in rs), len(rs))   # noqa: E731
        out[lang] = {"n": len(sel), **{f"n_{k}": len(v) for k, v in by.items()},
                     "in_top1": rate(by["in_scope"]), "two_part": rate(by["two_part"]),
                     "other_platform": rate(by["other_platform"]), "other_mode": rate(by["other_mode"]),
                     "choosing": rate(by["choosing"]), "oos_fb": rate(by["out_of_scope"]),
                     "in_fb": _share(sum(r["handling"] == "fallback" for r in by["in_scope"]), len(by["in_scope"])),
                     "right": rate(sel), "misleading": _share(sum(r["misleading"] for r in sel), len(sel))}
    out["misses"] = [r for r in rows if not r["right"] or r["misleading"]]
    known = {e.id for e in answerer.kb.entries}
    labels = {x for r in rows
              for x in _as_list(r.get("expect")) + [i for p in r.get("parts") or [] for i in _as_list(p)]}
    out["unknown_labels"] = sorted(labels - known)
    return out


def _pct(x: float | None) -> str:
    return "    -  " if x is None else f"{100 * x:6.1f}%"


TABLES = {   # file -> (what it measures, its columns: header, result key)
    "typed.yaml": ("typed answers (the question on screen)", (("n", "n"), ("right", "right"), ("wrong", "wrong"))),
    "descriptions.yaml": ("one-message descriptions (slots)", (("n", "n"), ("facts", "facts"), ("prec", "precision"),
                                                                ("recall", "recall"), ("wrong", "wrong"), ("lang", "lang"))),
    "faq.yaml": ("follow-up questions (FAQ)", (("n", "n"), ("in", "in"), ("oos", "oos"), ("top-1", "top1"),
                                               ("in-fb", "in_fb"), ("oos-fb", "oos_fb"))),
    "edge.yaml": ("questions around the subject (edge set)", (
        ("n", "n"), ("in-top1", "in_top1"), ("2-part", "two_part"), ("oth-pf", "other_platform"),
        ("oth-md", "other_mode"), ("choose", "choosing"), ("oos-fb", "oos_fb"), ("in-fb", "in_fb"),
        ("right", "right"), ("mislead", "misleading"))),
}
TABLES["edge_blind.yaml"] = ("questions around the subject (blind edge set: another writer, never saw the code)",
                             TABLES["edge.yaml"][1])
TABLES["edge_single.yaml"] = ("one question or two, shaped to tempt the part splitter (probe set, tuned on)",
                              TABLES["edge.yaml"][1])


def evaluate_dir(nlu, directory: Path, verbose: bool = False, out=sys.stdout, answerer=None,
                 learned: tuple[str, ...] = ()) -> dict:
    """Every set in `directory`; a set listed in `learned` (knowledge/learned.yaml) is marked as training
    accuracy: its questions are examples."""
    results = {}
    for name, fn in (("typed.yaml", typed), ("descriptions.yaml", descriptions), ("faq.yaml", faq),
                     ("edge.yaml", edge), ("edge_blind.yaml", edge), ("edge_single.yaml", edge)):
        path = directory / name
        if name in EDGE_FILES and (answerer is None or (directory != HOLDOUT and not path.exists())):
            continue
        if name in OPTIONAL_EDGE and not path.exists():
            continue
        if not path.exists() and directory != HOLDOUT:
            continue                # a development or retired set holds the files it was written with, no more
        if not path.exists():
            print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
                  f"held-out set not present" if directory.name == "holdout" else f"{path}: not present", file=out)
            continue
        res = fn(answerer if name in EDGE_FILES else nlu, load(path))
        results[name] = res
        label = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        title, cols = TABLES[name]
        if isinstance(label, Path) and label.as_posix() in learned:
            title += " [learnt from (knowledge/learned.yaml): training accuracy, not generalisation]"
        print(f"{label}: {title}", file=out)
        print("  " + f"{'':4}" + "".join(f" {c:>7}" for c, _ in cols), file=out)
        for lang in LANGS + ("all",):
            r = res[lang]
            print(f"  {lang:4}" + "".join(f" {r[k]:7d}" if isinstance(r[k], int) else f" {_pct(r[k])}"
                                          for _, k in cols), file=out)
        if name in EDGE_FILES:
            r = res["all"]
            print("  counts: " + ", ".join(f"{k} {r['n_' + k]}" for k in EDGE_KINDS), file=out)
        if res.get("unknown_labels"):
            print(f"  unknown entry ids in the set: {', '.join(res['unknown_labels'])}", file=out)
        if verbose and name in EDGE_FILES:
            for m in res["misses"]:
                label_ = m.get("expect") or m.get("parts") or m.get("platforms") or m.get("modes") or ""
                flag = "MISLEADING " if m["misleading"] else ""
                print(f"    [{m.get('lang')}] {flag}{m['kind']} {label_} got {m['handling']} {m['got']} | {m['q']}",
                      file=out)
        elif verbose:
            for m in res["misses"]:
                text = m.get("text", m.get("q"))
                extra = f" p={m['p']:.2f} best={m['best']}" if "p" in m else ""
                where = f"{m['step']} " if "step" in m else ""
                print(f"    [{m.get('lang')}] {where}expect {m['expect']} got {m['got']}{extra} | {text}", file=out)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.nlu.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=None, help="a directory with typed/descriptions/faq.yaml (default eval/dev)")
    parser.add_argument("--all", action="store_true", help="the development sets, then the held-out sets")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every miss")
    args = parser.parse_args(argv)
    from bot.services import load_services
    services = load_services()
    nlu = services.nlu
    dirs = all_dirs() if args.all else [Path(args.dir).resolve() if args.dir else DEV]
    for d in dirs:
        title = TITLES.get(d, "development" if d.parent == DEV else str(d))
        print(f"== {title} ({d.relative_to(ROOT) if d.is_relative_to(ROOT) else d}) ==")
        evaluate_dir(nlu, d, verbose=args.verbose and d not in UNLISTED, answerer=services.answerer,
                     learned=services.kb.learned.sets)
    print("typed right/wrong: share of answers read as the expected level / as another level (the rest are asked "
          "again); descriptions: precision and recall of stated facts, wrong = stated facts read as another level, "
          "lang = read-back language; FAQ: top-1 on in-scope, in-scope and out-of-scope fallback rates; edge: "
          "in-scope top-1, two-part questions with both parts answered, other-platform / other-mode / choosing "
          "questions handled as docs/scope.md says, out-of-scope fallbacks, in-scope fallbacks, all handled "
          "right, misleading answers (about the wrong platform, mode or topic, given as if they answered)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
