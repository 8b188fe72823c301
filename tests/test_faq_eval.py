"""The FAQ answerer meets its accuracy floors on the development set (eval/faq_dev.yaml).

Floors, per language: in-scope top-1 accuracy >= 95%, out-of-scope questions fall back
>= 95% of the time, in-scope questions fall back <= 5%. Run `python -m bot.kb.evaluate
--verbose` to see the misses behind a failure.
"""
from __future__ import annotations

import pytest

from bot.kb.evaluate import DEFAULT_SET, FALLBACK, evaluate, load_questions
from bot.kb.loader import load_knowledge
from bot.kb.search import Answerer


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    return load_questions(DEFAULT_SET)


@pytest.fixture(scope="module")
def result(questions) -> dict:
    return evaluate(Answerer(load_knowledge(problems=[])), questions)


def test_dev_set_shape(questions):
    assert len(questions) >= 120
    langs = [q["lang"] for q in questions]
    assert set(langs) == {"zh", "en"}
    assert abs(langs.count("zh") - langs.count("en")) <= 0.1 * len(questions)
    for lang in ("zh", "en"):
        assert sum(q["lang"] == lang and q["expect"] == FALLBACK for q in questions) >= 10


def test_labels_name_real_entries(result):
    assert result["unknown_labels"] == []


@pytest.mark.parametrize("lang", ["zh", "en", "all"])
def test_in_scope_top1(result, lang):
    assert result[lang]["top1"] >= 0.95, _misses(result, lang)


@pytest.mark.parametrize("lang", ["zh", "en", "all"])
def test_out_of_scope_falls_back(result, lang):
    assert result[lang]["oos_fallback"] >= 0.95, _misses(result, lang)


@pytest.mark.parametrize("lang", ["zh", "en", "all"])
def test_in_scope_rarely_falls_back(result, lang):
    assert result[lang]["in_scope_fallback"] <= 0.05, _misses(result, lang)


def _misses(result: dict, lang: str) -> str:
    rows = [r for r in result["misses"] if lang == "all" or r["lang"] == lang]
    return "\n".join(f"[{r['lang']}] expect {r['expect']} got {r['got'] or 'fallback'} "
                     f"({r['score']:.2f}): {r['q']}" for r in rows)
