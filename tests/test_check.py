"""`python -m bot check` catches broken content with file, entry and field, never a traceback."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.check import check_content

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def content(tmp_path):
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    (tmp_path / "eval").symlink_to(ROOT / "eval")      # the learnt sets (knowledge/learned.yaml)
    shutil.copytree(ROOT / "dialogs", tmp_path / "dialogs")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(content):
    return [str(p) for p in check_content(content / "knowledge", content / "dialogs")]


def test_shipped_content_is_valid():
    assert check_content() == []


def test_missing_translation_is_named(content):
    edit(content / "knowledge" / "ui.yaml", "    en: Switched to English.\n", "")
    assert problems(content) == ["ui.yaml: entry 'lang.set' field 'lang.set.en': missing translation"]


def test_missing_translation_in_the_questionnaire(content):
    edit(content / "dialogs" / "seller_questionnaire.yaml", 'en: "Limited capital"', 'en: ""')
    assert any("capital.limited" in p and "label.en" in p and "missing translation" in p for p in problems(content))


def test_broken_reference_is_named(content):
    path = content / "knowledge" / "faq.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("sources: [article", "sources: [nosuchsource", 1), encoding="utf-8")
    found = problems(content)
    assert any("faq.yaml" in p and "unknown reference 'nosuchsource'" in p for p in found), found


def test_unknown_condition_and_state_are_named(content):
    edit(content / "dialogs" / "seller_questionnaire.yaml", "conditions: core_complete", "conditions: is_rich")
    edit(content / "dialogs" / "seller_questionnaire.yaml", "{trigger: next, source: content, dest: result}",
         "{trigger: next, source: content, dest: nowhere}")
    found = problems(content)
    assert any("unknown condition 'is_rich'" in p for p in found)
    assert any("unknown state 'nowhere'" in p for p in found)


def test_duplicate_ids_are_named(content):
    path = content / "knowledge" / "faq.yaml"
    import yaml
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["entries"].append(dict(data["entries"][0]))
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert any("duplicate id" in p for p in problems(content))


def test_bad_yaml_is_a_clear_message_not_a_traceback(content):
    (content / "knowledge" / "modes.yaml").write_text("modes: [unclosed\n", encoding="utf-8")
    found = problems(content)
    assert found and found[0].startswith("modes.yaml: invalid YAML (line")


def test_check_command_exit_codes(content):
    ok = subprocess.run([sys.executable, "-m", "bot", "check"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    (content / "knowledge" / "modes.yaml").write_text("modes: [unclosed\n", encoding="utf-8")
    code = ("import sys; from pathlib import Path; from bot.check import check_content; "
            f"p = check_content(Path({str(content / 'knowledge')!r}), Path({str(content / 'dialogs')!r})); "
            "print(*p, sep='\\n'); sys.exit(1 if p else 0)")
    bad = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "invalid YAML" in bad.stdout


def test_an_example_claimed_by_two_levels_is_named(content):
    edit(content / "dialogs" / "seller_questionnaire.yaml", "en: [we have our own factory,",
         "en: [we have our own factory, we're a trading company,")
    found = problems(content)
    assert any("factory.own_factory" in p and "we're a trading company" in p and "also claimed by factory.sourcing" in p
               for p in found), found


def test_a_question_claimed_by_an_entry_and_advice_or_out_of_scope_is_named(content):
    advice = content / "knowledge" / "advice_questions.yaml"
    edit(advice, "    - 两个模式我该怎么选\n", "    - 两个模式我该怎么选\n    - 什么是全托管\n")
    edit(content / "knowledge" / "out_of_scope.yaml", "    - 来首歌听听\n", "    - 来首歌听听\n    - 两个模式我该怎么选\n")
    found = problems(content)
    assert found == ["advice_questions.yaml: field 'questions': question '两个模式我该怎么选' is also claimed by "
                     "out_of_scope.yaml",
                     "advice_questions.yaml: field 'questions': question '什么是全托管' is also claimed by entry "
                     "'full_definition'"], found


def test_too_few_examples_in_one_language_is_named(content):
    import yaml
    path = content / "dialogs" / "seller_questionnaire.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["steps"][2]["options"][0]["examples"]["en"] = ["small budget", "tight budget"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    found = problems(content)
    assert any("capital.limited" in p and "examples.en" in p and "at least 10" in p for p in found), found


def test_a_reading_rule_with_an_unknown_level_is_named(content):
    edit(content / "dialogs" / "reading.yaml", "- {level: moderate, below: 300000}", "- {level: medium, below: 300000}")
    assert any("reading.yaml" in p and "unknown level 'medium'" in p for p in problems(content))
