"""Labelled questions learnt from as examples (knowledge/learned.yaml, bot/kb/learned.py)."""
from __future__ import annotations

import shutil
from dataclasses import replace

import yaml

from bot import ROOT
from bot.kb.learned import load_learned, text_key, unseen_keys
from bot.nlu.evaluate import load
from bot.services import understanding_content


def _write(tmp_path, sets, questions=None):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "learned.yaml").write_text(yaml.safe_dump({"sets": sets}), encoding="utf-8")
    if questions is not None:
        (tmp_path / "set.yaml").write_text(yaml.safe_dump({"questions": questions}, allow_unicode=True),
                                           encoding="utf-8")
    return knowledge


def test_a_set_teaches_single_entries_and_out_of_scope_and_skips_the_rest(tmp_path):
    knowledge = _write(tmp_path, ["set.yaml"], [
        {"q": "全托谁定价呀", "lang": "zh", "expect": "full_pricing"},                        # a FAQ set's item
        {"q": "what's the weather", "lang": "en", "expect": "fallback"},
        {"q": "who sets semi prices", "lang": "en", "kind": "in_scope", "expect": ["semi_pricing"]},
        {"q": "either of two", "lang": "en", "kind": "in_scope", "expect": ["fbt", "semi_last_mile"]},
        {"q": "a and b?", "lang": "en", "kind": "two_part", "parts": [["fbt"], ["deposit"]]},
        {"q": "temu y2?", "lang": "zh", "kind": "other_platform", "platforms": ["temu"]},
        {"q": "vat in the uk", "lang": "en", "kind": "out_of_scope"},
    ])
    problems = []
    learned = load_learned(knowledge, {"full_pricing", "semi_pricing", "fbt", "semi_last_mile", "deposit"},
                           problems, root=tmp_path)
    assert not problems
    assert learned.faq == {"full_pricing": {"zh": ("全托谁定价呀",)}, "semi_pricing": {"en": ("who sets semi prices",)}}
    assert learned.out_of_scope == {"en": ("what's the weather", "vat in the uk")} and learned.count() == 4


def test_gauges_and_held_out_sets_are_never_learnt_from(tmp_path):
    knowledge = _write(tmp_path, ["eval/holdout/edge.yaml", "eval/dev/edge_check/edge.yaml",
                                  "eval/dev/extra_check/faq.yaml"])
    problems = []
    assert load_learned(knowledge, set(), problems, root=ROOT).count() == 0
    assert [p.message for p in problems] == ["a gauge or held-out set is never learnt from"] * 3


def test_an_unknown_entry_in_a_learned_set_is_a_problem_bot_check_names(tmp_path):
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    (tmp_path / "set.yaml").write_text('questions:\n  - {q: "x y z", lang: en, expect: no_such_entry}\n',
                                       encoding="utf-8")
    (tmp_path / "knowledge" / "learned.yaml").write_text("sets: [set.yaml]\n", encoding="utf-8")
    problems = []
    load_learned(tmp_path / "knowledge", {"full_pricing"}, problems, root=tmp_path)
    assert [(p.file, p.entry, p.message) for p in problems] == [
        ("learned.yaml", "set.yaml", "unknown FAQ entry id 'no_such_entry'")]


def test_learned_questions_are_training_examples(services):
    learned = services.kb.learned
    assert learned.count() > 500 and "eval/dev/dev4/edge.yaml" in learned.sets
    content = understanding_content(services.flow, services.reading, services.kb)
    docs = {d.id: d for d in content.faq}
    entry, per = next(iter(learned.faq.items()))
    lang, questions = next(iter(per.items()))
    own = getattr(services.kb.by_id[entry], f"questions_{lang}")
    # learnt beside the entry's own questions, never folded into them (a blind writer may repeat one word for word)
    assert set(questions) <= set(docs[entry].examples()[lang]) and tuple(docs[entry].questions[lang]) == tuple(own)
    assert set(learned.out_of_scope["zh"]) <= set(content.faq_out_of_scope()["zh"])
    # the step models never take a learned question as "says nothing": many describe the asker first
    from bot.nlu.slots import SlotReader
    unlearned = replace(content, faq=tuple(replace(d, learned={}) for d in content.faq), learned_out_of_scope={})
    assert SlotReader.training_sets(content) == SlotReader.training_sets(unlearned)
    assert content.digest("v") != unlearned.digest("v")         # ...while the FAQ models' cache key moves


def test_no_learned_text_is_in_a_gauge_or_a_held_out_set(services):
    """What is learnt from is never what the product is measured on: a text in both is left out."""
    key = text_key
    learned = {key(q) for per in services.kb.learned.faq.values() for qs in per.values() for q in qs}
    learned |= {key(q) for qs in services.kb.learned.out_of_scope.values() for q in qs}
    learned |= {key(t) for levels in services.kb.learned.typed.values() for per in levels.values()
                for ts in per.values() for t in ts}
    unseen = [p for p in (ROOT / "eval").rglob("*.yaml")
              if p.relative_to(ROOT).as_posix().startswith(("eval/holdout", "eval/dev/edge_check", "eval/dev/extra_check"))]
    assert unseen and len(unseen_keys()) > 1000
    shared = [item for path in unseen for item in load(path) if key(str(item.get("q", item.get("text", "")))) in learned]
    assert not shared, shared


def test_the_sets_make_eval_never_lists_are_the_ones_never_learnt_from():
    """bot.nlu.evaluate's unlisted sets and bot.kb.learned's never-learnt prefixes name the same sets."""
    from bot.kb.learned import NEVER
    from bot.nlu.evaluate import UNLISTED
    assert all(d.relative_to(ROOT).as_posix().startswith(NEVER) for d in UNLISTED)
    assert all(any(d.relative_to(ROOT).as_posix().startswith(p) for d in UNLISTED) for p in NEVER)


def test_a_typed_set_teaches_its_steps_and_levels(tmp_path):
    knowledge = _write(tmp_path, ["typed.yaml"])
    (tmp_path / "typed.yaml").write_text(yaml.safe_dump({"items": [
        {"step": "brand", "lang": "en", "text": "money > brand lol", "expect": "volume"},
        {"step": "capital", "lang": "zh", "text": "要问老板", "expect": "unsure"},
        {"step": "capital", "lang": "fr", "text": "beaucoup", "expect": "strong"},          # no such language
    ]}, allow_unicode=True), encoding="utf-8")
    problems = []
    learned = load_learned(knowledge, set(), problems, root=tmp_path)
    assert not problems and learned.count() == 2
    assert learned.typed == {"brand": {"volume": {"en": ("money > brand lol",)}}, "capital": {"unsure": {"zh": ("要问老板",)}}}


def test_a_typed_answer_naming_an_unknown_level_stops_the_load(services):
    import pytest

    from bot.kb.models import Learned
    from bot.problems import ContentError
    kb = replace(services.kb, learned=Learned(typed={"capital": {"billions": {"en": ("loads",)}}}))
    with pytest.raises(ContentError, match="capital: billions"):
        understanding_content(services.flow, services.reading, kb)


def test_learnt_typed_answers_teach_the_typed_answer_models_only(services):
    """Answers learnt from teach the step's whole-message model with the question on screen; the clause models
    (descriptions) never see them: a short "500万" answers the capital question, in a description it may be
    turnover."""
    from bot.nlu.slots import SlotReader
    content = services.nlu.content
    learnt = {t for slot in content.slots for lvl in slot.levels for ts in lvl.learned.values() for t in ts}
    assert len(learnt) > 1000
    clause_rows = {t for rows in SlotReader.training_sets(content).values() for t, _, _ in rows}
    typed_rows = {t for rows in SlotReader.training_sets(content, learned=True).values() for t, _, _ in rows}
    own = {t for slot in content.slots for lvl in slot.levels for ts in lvl.examples.values() for t in ts}
    assert not (learnt - own) & clause_rows and learnt <= typed_rows
    slots = services.nlu.slots
    assert slots.typed_models is not None and set(slots.typed_models.models) == {s.step for s in content.slots}
    # phrasings only the learnt answers teach (blind-written, eval/dev/dev10): read at their step, nowhere else
    for text, step, level in (("money > brand lol", "brand", "volume"), ("why not both", "brand", "balanced"),
                              ("yolo", "risk", "high")):
        assert services.nlu.read(text, step=step).answers == {step: level}, text
        assert services.nlu.read(text).answers == {}, text


def test_what_was_read_is_cached_and_a_changed_set_is_read_again(tmp_path):
    knowledge = _write(tmp_path, ["set.yaml"], [{"q": "全托谁定价呀", "lang": "zh", "expect": "full_pricing"}])
    cache = tmp_path / "cache"
    first = load_learned(knowledge, {"full_pricing", "semi_pricing"}, [], root=tmp_path, cache_dir=cache)
    assert len(list(cache.glob("*.json"))) == 1
    again = load_learned(knowledge, {"full_pricing", "semi_pricing"}, [], root=tmp_path, cache_dir=cache)
    assert again == first and again.faq == {"full_pricing": {"zh": ("全托谁定价呀",)}}
    (tmp_path / "set.yaml").write_text(yaml.safe_dump({"questions": [
        {"q": "半托谁定价", "lang": "zh", "expect": "semi_pricing"}]}, allow_unicode=True), encoding="utf-8")
    changed = load_learned(knowledge, {"full_pricing", "semi_pricing"}, [], root=tmp_path, cache_dir=cache)
    assert changed.faq == {"semi_pricing": {"zh": ("半托谁定价",)}}
    # a set with a problem is never cached: the problem is reported at every load
    (tmp_path / "set.yaml").write_text('questions:\n  - {q: "x", lang: en, expect: no_such_entry}\n', encoding="utf-8")
    for _ in range(2):
        problems = []
        load_learned(knowledge, {"full_pricing"}, problems, root=tmp_path, cache_dir=cache)
        assert [p.message for p in problems] == ["unknown FAQ entry id 'no_such_entry'"]
