"""Run the benchmarks (figures only, nothing is asserted).

    python -m bench                  # every benchmark, in the order below
    python -m bench nlu              # one of them
    python -m bench load --quick     # one of them, with its own arguments

Issue 16's figures alone: `python -m bench load --only saturation human` (~5-6 min: CPU per update and
throughput against the baseline with and without cards, human-paced p99 with cards vs CARD_FONT=off)
and `python -m bench cards` (~10 s: drawing times, card worker request -> PNG bytes). See
docs/cards-and-performance.md.
"""
from __future__ import annotations

import importlib
import inspect
import sys

# name -> module with a main(); a main that takes a parameter receives the remaining
# command-line arguments (a list). Add new benchmarks here.
BENCHES = {
    "nlu": "bench.nlu",
    "load": "bench.load",
    "store": "bench.store_scale",
    "cards": "bench.cards",
    "replicas": "bench.replicas",
    "flood": "bench.flood_budget",
    "review": "bench.review",
}


def _run(name: str, args: list[str]) -> None:
    entry = importlib.import_module(BENCHES[name]).main
    if inspect.signature(entry).parameters:
        entry(args)
    elif args:
        raise SystemExit(f"benchmark {name!r} takes no arguments (got {' '.join(args)})")
    else:
        entry()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip())
        print(f"\nbenchmarks: {', '.join(BENCHES)}")
        return 0
    if args:
        name, rest = args[0], args[1:]
        if name not in BENCHES:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHES)}", file=sys.stderr)
            return 2
        _run(name, rest)
        return 0
    for name in BENCHES:
        print(f"== {name} ==", flush=True)
        _run(name, [])
    return 0


if __name__ == "__main__":
    sys.exit(main())
