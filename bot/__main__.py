"""Command line: run | console | recommend | ask | understand | check | diagram | content."""
from __future__ import annotations

import argparse
import json
import sys

from bot import LANGS


def _services(overlay: bool = False):
    """The content files' services; with `overlay`, the examples decided in /review merged in (from the
    store DATABASE_URL names, when there is one)."""
    from bot.problems import ContentError
    from bot.services import load_services
    try:
        services = load_services()
    except ContentError as exc:
        print("Content problems (run `python -m bot check`):", file=sys.stderr)
        print(str(exc), file=sys.stderr)
        raise SystemExit(1)
    if overlay:
        from bot.check import overlay_store
        from bot.config import Settings
        from bot.content.live import with_overlay
        store = overlay_store(Settings.load().database_url)
        if store is not None:
            return with_overlay(services, store)
    return services


def cmd_check(args) -> int:
    import asyncio

    from bot.check import check_content, check_overlay, overlay_store
    from bot.config import Settings
    problems = check_content()
    store = None if problems else overlay_store(Settings.load().database_url)
    if store is not None:
        async def overlay() -> list:
            try:
                return await check_overlay(store)
            finally:
                await store.close()
        problems = asyncio.run(overlay())
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) found.", file=sys.stderr)
        return 1
    print("Content OK: dialogs/ and knowledge/ are valid" + (", and so is the overlay in the store." if store else "."))
    return 0


def cmd_content(args) -> int:
    """`content export`: the overlay as a YAML patch; `content apply FILE`: append a patch to the files;
    `content clear`: empty the overlay."""
    from pathlib import Path

    from bot import ROOT
    from bot.content import patch
    if args.action == "apply":
        try:
            changed = patch.apply(patch.load(Path(args.file).read_text(encoding="utf-8")), Path(args.root or ROOT))
        except (OSError, patch.PatchError) as exc:
            print(f"cannot apply {args.file}: {exc}", file=sys.stderr)
            return 1
        print("changed: " + (", ".join(changed) if changed else "nothing (every example is there already)"))
        if changed:
            print("now run `python -m bot check`, commit the files, deploy, then `python -m bot content clear`")
        return 0
    import asyncio

    from bot.check import overlay_store
    from bot.config import Settings
    database_url = Settings.load().database_url
    store = overlay_store(database_url)
    if store is None:               # no store, no overlay: nothing to export or clear, and no store made for it
        print(f"nothing to {args.action}: {_no_store(database_url)}, so no overlay", file=sys.stderr)
        return 0

    async def run(what):
        await store.open()
        try:
            return await what()
        finally:
            await store.close()
    if args.action == "clear":
        print(f"{asyncio.run(run(store.overlay_clear))} example(s) removed from the overlay")
        return 0
    overlay = asyncio.run(run(store.overlay_examples))
    text = patch.dump(overlay)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(overlay)} example(s) written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _no_store(database_url: str) -> str:
    """Why an SQLite DATABASE_URL names no store (bot.check.overlay_store gave None)."""
    from bot.store import sqlite_path
    path = sqlite_path(database_url)
    return "an in-memory store (DATABASE_URL) keeps nothing" if path == ":memory:" else \
        f"no store at {path} (DATABASE_URL)"


def cmd_diagram(args) -> int:
    from bot.engine.diagram import mermaid
    print(mermaid(_services().flow), end="")
    return 0


def cmd_recommend(args) -> int:
    from bot.engine.dialogue import ResultView
    from bot.engine.recommend import recommend
    from bot.render import PLAIN
    services = _services()
    answers = {}
    for step in services.flow.steps:
        value = getattr(args, step.id, None)
        if value is None:
            if step.core:
                print(f"--{step.id} is required", file=sys.stderr)
                return 2
            continue
        valid = [o.id for o in services.flow.choices(step)]
        if value not in valid:
            print(f"unknown {step.id} level {value!r}; valid levels: {', '.join(valid)}", file=sys.stderr)
            return 2
        answers[step.id] = value
    rec = recommend(services.flow, services.rules, answers)
    text = services.renderer(PLAIN).result(ResultView(rec, answers), args.lang)
    if args.json:
        print(json.dumps({
            "mode": rec.mode, "borderline": rec.borderline, "confidence": rec.confidence, "score": rec.score,
            "semi_later": rec.semi_later, "unsure": list(rec.unsure),
            "reasons": [{"factor": r.step, "answer": r.option, "favours": r.favours, "text": r.text(args.lang)}
                        for r in rec.reasons],
            "missing_for_semi": [g.step for g in rec.closed_gates],
            "tippers": [{"factor": t.step, "answer": t.option, "mode": t.mode} for t in rec.tippers],
            "text": text}, ensure_ascii=False, indent=2))
    else:
        print(text)
    return 0


def cmd_ask(args) -> int:
    from bot.render import PLAIN
    services = _services(overlay=True)
    answer = services.answerer.ask(args.question, args.lang)
    text = services.renderer(PLAIN).faq_answer(answer)
    if args.json:
        print(json.dumps(answer.to_dict(text), ensure_ascii=False, indent=2))
    else:
        print(text)
    return 0


def cmd_understand(args) -> int:
    """What understanding reads in one message (the public contract used by evaluation)."""
    services = _services(overlay=True)
    steps = [s.id for s in services.flow.steps]
    if args.step is not None and args.step not in steps:
        print(f"unknown step {args.step!r}; valid steps: {', '.join(steps)}", file=sys.stderr)
        return 2
    reading = services.nlu.read(args.text, step=args.step, lang=args.lang)
    data = reading.to_dict()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for key in ("answers", "confidence", "question", "advice", "faq", "facts"):
            print(f"{key}: {json.dumps(data[key], ensure_ascii=False)}")
    return 0


def cmd_console(args) -> int:
    from bot.config import Settings
    from bot.console import run_console
    from bot.conversation import Conversations
    from bot.store import open_store
    settings = Settings.load()
    run_console(Conversations(_services(overlay=True), open_store(settings.database_url)), args.lang,
                settings.default_lang)
    return 0


def cmd_run(args) -> int:
    from bot.config import Settings
    settings = Settings.load()
    if not settings.token:
        from bot.render import PLAIN
        print(_services().renderer(PLAIN).raw("console.no_token", args.lang or settings.default_lang))
        return cmd_console(args)
    from bot.tg.main import run_bot
    return run_bot(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Mode Advisor (托管模式顾问)")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="start the Telegram bot, or the console chat when no token is set")
    run.add_argument("--lang", choices=LANGS)
    console = sub.add_parser("console", help="the whole dialogue in a terminal")
    console.add_argument("--lang", choices=LANGS)
    rec = sub.add_parser("recommend", help="print the recommendation for a set of answers")
    for step in ("factory", "experience", "capital", "brand", "category", "risk", "content"):
        rec.add_argument(f"--{step}")
    rec.add_argument("--lang", choices=LANGS, default="en")
    rec.add_argument("--json", action="store_true")
    ask = sub.add_parser("ask", help="answer a follow-up question from the knowledge base")
    ask.add_argument("question")
    ask.add_argument("--lang", choices=LANGS, default=None)
    ask.add_argument("--json", action="store_true")
    und = sub.add_parser("understand", help="what understanding reads in a message (answers, question, FAQ)")
    und.add_argument("text")
    und.add_argument("--step", default=None, help="read it as an answer to this question first")
    und.add_argument("--lang", choices=LANGS, default=None)
    und.add_argument("--json", action="store_true")
    sub.add_parser("check", help="validate dialogs/ and knowledge/")
    sub.add_parser("diagram", help="print the questionnaire state machine as a Mermaid diagram")
    content = sub.add_parser("content", help="the content overlay decided in /review (docs/review.md)")
    content_sub = content.add_subparsers(dest="action", required=True)
    export = content_sub.add_parser("export", help="write the overlay as a YAML patch for knowledge/ and dialogs/")
    export.add_argument("--out", help="file to write (default: standard output)")
    apply = content_sub.add_parser("apply", help="append a patch's examples to knowledge/ and dialogs/")
    apply.add_argument("file")
    apply.add_argument("--root", help="the checkout to change (default: this one)")
    content_sub.add_parser("clear", help="empty the overlay once its patch is applied and deployed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "command", None) == "ask" and args.lang is None:
        from bot.kb.lang import detect_lang
        args.lang = detect_lang(args.question, "en")
    handlers = {"run": cmd_run, "console": cmd_console, "recommend": cmd_recommend, "ask": cmd_ask,
                "understand": cmd_understand, "check": cmd_check, "diagram": cmd_diagram, "content": cmd_content}
    if args.command is None:
        args.command, args.lang = "run", None
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
