"""The command-line contract: recommend, ask, diagram, console."""
import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_recommend_json_contract():
    out = run_cli("recommend", "--factory", "own_factory", "--experience", "none", "--capital", "limited",
                  "--brand", "volume", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["mode"] == "full" and data["borderline"] is False and 0 <= data["confidence"] <= 1
    assert {r["factor"] for r in data["reasons"]} == {"factory", "experience", "capital", "brand"}
    assert all(set(r) >= {"factor", "favours", "text"} and r["favours"] in ("full", "semi", "neutral")
               for r in data["reasons"])
    assert data["text"].startswith("Recommendation: Full-managed")


def test_recommend_optional_levels_and_chinese(capsys):
    assert main(["recommend", "--factory", "sourcing", "--experience", "mature", "--capital", "strong",
                 "--brand", "brand", "--category", "fast_moving", "--risk", "high", "--content", "strong",
                 "--lang", "zh", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mode"] == "semi" and data["text"].startswith("推荐：半托管")
    assert len(data["reasons"]) == 7


def test_recommend_unknown_level_exits_2_listing_valid_levels(capsys):
    code = main(["recommend", "--factory", "castle", "--experience", "none", "--capital", "limited", "--brand", "volume"])
    err = capsys.readouterr().err
    assert code == 2 and "castle" in err and "none, sourcing, own_factory" in err


def test_ask_json_contract(capsys):
    assert main(["ask", "全托管谁来定价?", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"answer", "entry", "score", "fallback", "suggestions"}
    assert data["fallback"] is False and data["entry"] and data["answer"]
    assert main(["ask", "what's the weather in Paris?", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fallback"] is True and data["answer"] is None and data["entry"] is None
    assert len(data["suggestions"]) == 3
    # another TikTok mode with no entry answered: the text shown, not null
    assert main(["ask", "TikTok Shop POP模式是什么", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["handling"] == "other_mode" and data["entry"] is None
    assert "自运营（POP）店" in data["answer"] and "<b>" not in data["answer"]


def test_understand_json_contract(capsys):
    assert main(["understand", "大概有二十万现金", "--step", "capital", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"answers", "confidence", "question", "faq"}
    assert data["answers"] == {"capital": "moderate"} and 0 < data["confidence"]["capital"] <= 1
    assert data["question"] is False and data["amounts"] == {"capital": 200000}
    assert main(["understand", "全托管谁来定价？", "--lang", "zh", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["question"] is True and data["faq"]["id"] == "full_pricing" and 0 < data["faq"]["score"] <= 1
    assert main(["understand", "what's the weather in Paris?", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["faq"] is None


def test_understand_unknown_step_exits_2_listing_the_steps(capsys):
    assert main(["understand", "hi", "--step", "castle", "--json"]) == 2
    err = capsys.readouterr().err
    assert "castle" in err and "factory, experience, capital, brand, category, risk, content" in err


def test_diagram_file_is_up_to_date(capsys):
    assert main(["diagram"]) == 0
    printed = capsys.readouterr().out
    committed = (ROOT / "dialogs" / "seller_questionnaire.mmd").read_text(encoding="utf-8")
    assert printed == committed, "run: python -m bot diagram > dialogs/seller_questionnaire.mmd"
    assert "factory --> experience: next" in printed and "[*] --> factory" in printed


@pytest.mark.parametrize("lang,first", [("zh", "托管模式顾问"), ("en", "Mode Advisor")])
def test_console_runs_a_whole_dialogue_from_stdin(tmp_path, lang, first):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path}/c.sqlite3", "HOME": str(tmp_path)}
    script = "\n".join(["3", "1", "1", "1", "result", "change", "3", "3", "compare", "quit"]) + "\n"
    out = subprocess.run([sys.executable, "-m", "bot", "console", "--lang", lang], cwd=ROOT, input=script,
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == first
    if lang == "en":
        assert "Recommendation: Full-managed" in out.stdout
        assert out.stdout.count("Confidence:") == 2   # the first result, then after changing capital
        assert "Your earlier answer: Limited capital" in out.stdout
        assert out.stdout.count("Recommendation: Full-managed") == 2   # own factory, new, volume: still full
        assert "Full-managed vs Semi-managed" in out.stdout
    else:
        assert "推荐：全托管" in out.stdout


def test_run_without_token_starts_the_console(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path}/c.sqlite3", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "bot", "run", "--lang", "en"], cwd=ROOT, input="quit\n",
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0 and "No TELEGRAM_BOT_TOKEN set" in out.stdout and "Bye" in out.stdout


# -- content export | clear: the overlay in DATABASE_URL's store ---------------------------------------------------
def test_content_export_and_clear_without_a_store_say_so_and_create_none(tmp_path, monkeypatch, capsys):
    db = tmp_path / "data" / "bot.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    out = tmp_path / "review.yaml"
    for argv in (["content", "export"], ["content", "export", "--out", str(out)], ["content", "clear"]):
        assert main(argv) == 0, argv                     # nothing to do, as `content apply` with nothing new
        printed = capsys.readouterr()
        assert printed.out == "" and f"no store at {db} (DATABASE_URL)" in printed.err, (argv, printed)
        assert "no overlay" in printed.err
    assert not db.exists() and not db.parent.exists(), "a store was created"
    assert not out.exists()


async def test_content_export_and_clear_read_and_empty_the_store_there_is(tmp_path, monkeypatch, capsys):
    from bot.content.overlay import example
    from bot.store import SQLiteStore
    db = tmp_path / "bot.sqlite3"
    store = SQLiteStore(db)
    await store.overlay_add(example("faq", "full_pricing", "zh", "全托的价格到底谁说了算呀"))
    await store.close()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert await asyncio.to_thread(main, ["content", "export"]) == 0
    assert "全托的价格到底谁说了算呀" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["content", "clear"]) == 0
    assert capsys.readouterr().out == "1 example(s) removed from the overlay\n"
