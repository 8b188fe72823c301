"""Layers point one way: kb, nlu <- engine <- channels; only bot.tg imports telegram."""
import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_telegram_adapter_imports_telegram():
    for path in BOT.rglob("*.py"):
        if "tg" in path.relative_to(BOT).parts:
            continue
        bad = {n for n in imports(path) if n == "telegram" or n.startswith("telegram.")}
        assert not bad, f"{path} imports {bad}"


def test_kb_imports_no_other_layer_and_engine_no_channel():
    for path in (BOT / "kb").rglob("*.py"):
        assert not {n for n in imports(path) if n.startswith(("bot.engine", "bot.tg", "bot.console", "bot.render"))}, path
    for path in (BOT / "engine").rglob("*.py"):
        assert not {n for n in imports(path) if n.startswith(("bot.tg", "bot.console", "bot.render", "bot.store"))}, path


def test_understanding_imports_no_engine_and_no_channel():
    for path in (BOT / "nlu").rglob("*.py"):
        bad = {n for n in imports(path) if n.startswith(("bot.engine", "bot.tg", "bot.console", "bot.render", "bot.store",
                                                          "bot.conversation"))}
        if path.name == "evaluate.py":      # the evaluation command loads the services like any CLI
            bad.discard("bot.services")
        assert not bad, f"{path} imports {bad}"


def test_the_old_matchers_are_gone():
    for old in ("engine/parse.py", "kb/search.py", "kb/textnorm.py"):
        assert not (BOT / old).exists(), old
