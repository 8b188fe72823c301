"""`python -m bot.cards [FOLDER]`: write sample cards in both languages to look at (default: cards/)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from bot import LANGS, ROOT
from bot.cards.maker import CardMaker
from bot.engine.recommend import recommend
from bot.services import load_services

# Answers that give each kind of result (checked when written: a sample that stops being what its
# name says is reported).
SAMPLES = {
    "full": ({"factory": "none", "experience": "none", "capital": "limited", "brand": "volume"},
             lambda r: r.mode == "full" and not r.borderline and not r.semi_later),
    "semi": ({"factory": "own_factory", "experience": "mature", "capital": "strong", "brand": "brand",
              "category": "high_ticket", "risk": "high", "content": "strong"},
             lambda r: r.mode == "semi" and not r.borderline),
    "borderline": ({"factory": "own_factory", "experience": "some", "capital": "moderate", "brand": "brand",
                    "category": "light_small", "risk": "low", "content": "unsure"},
                   lambda r: r.borderline),
    "full-now-semi-later": ({"factory": "sourcing", "experience": "mature", "capital": "limited",
                             "brand": "brand", "category": "high_ticket", "content": "strong"},
                            lambda r: r.semi_later and not r.borderline),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.cards", description=__doc__)
    parser.add_argument("folder", nargs="?", default=str(ROOT / "cards"))
    parser.add_argument("--bot", default="ModeAdvisorBot", help="the bot username printed on the cards")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    services = load_services()
    cards = CardMaker.for_services(services)
    for lang, font in cards.fonts.describe().items():
        print(f"font {lang}: {font}")
    out = Path(args.folder)
    out.mkdir(parents=True, exist_ok=True)
    wrong = 0
    for lang in LANGS:
        for name, (answers, is_kind) in SAMPLES.items():
            rec = recommend(services.flow, services.rules, answers)
            if not is_kind(rec):
                print(f"sample {name!r} no longer gives that kind of result: {rec.mode}, borderline={rec.borderline}")
                wrong += 1
            _write(out / f"result-{name}-{lang}.png", cards.result_png(rec, lang, args.bot))
        _write(out / f"compare-{lang}.png", cards.compare_png(lang, args.bot))
    return 1 if wrong else 0


def _write(path: Path, png: bytes | None) -> None:
    if png is None:
        print(f"{path.name}: not drawn (no font for this language; the bot sends text)")
        return
    path.write_bytes(png)
    print(f"{path}: {len(png) / 1024:.0f} KB")


if __name__ == "__main__":
    raise SystemExit(main())
