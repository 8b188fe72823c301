"""What runs in the training process (bot.content.live): kept free of heavy imports at module level, so
that `setup` runs before numpy is imported there."""
from __future__ import annotations

import os

NICE = 19               # the highest niceness: on a busy machine the bot's replies come first
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def setup() -> None:
    """One thread of linear algebra (a pool of spinning BLAS threads would take every core from the
    bot), at the highest niceness. (Linux's SCHED_IDLE was tried: on the 2 shared cores of the bench a
    retrain then took ~19 s instead of ~5 s, close to the 30 s a decision may take to show, for no
    clearer gain in replies.)"""
    for name in THREAD_VARS:
        os.environ[name] = "1"
    os.nice(NICE)


def train(content, cache_dir: str) -> str:
    """Fit the models into the cache (keyed by the content's hash); returns the hash."""
    from pathlib import Path

    from bot.nlu.understand import Understanding
    return Understanding(content, cache_dir=Path(cache_dir)).digest
