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


def _module_imports(path: Path) -> set[str]:
    """The bot.* modules a file imports, at load time or inside a function (a deferred import still ties the
    two modules together), but not under `if TYPE_CHECKING:`; `from package import name` counts as the
    submodule when it is one."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names}
            found |= {m for m in subs if _module_path(m) is not None}
            if any(_module_path(m) is None for m in subs):     # a name defined in the module itself
                found.add(node.module)
    return {name for name in found if name.startswith("bot.") and _module_path(name) is not None}


def _module_path(name: str) -> Path | None:
    base = BOT.parent.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def _name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycles_between_modules():
    graph = {_name(p): {m for m in _module_imports(p) if m != _name(p)} for p in BOT.rglob("*.py")}
    cycles = []
    for start in graph:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.append(" -> ".join(trail + (start,)))
                elif nxt not in seen and not nxt.startswith(start + "."):
                    seen.add(nxt)
                    stack.append((nxt, trail + (nxt,)))
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles))


def test_picture_cards_do_not_import_the_telegram_adapter():
    for path in (BOT / "cards").rglob("*.py"):
        assert not {n for n in imports(path) if n.startswith("bot.tg")}, path


def test_tests_do_not_import_the_benchmarks():
    """What tests and benchmarks share lives in tests/ (process_harness, replica_harness, proxy); bench/ may
    import it, never the other way round."""
    for path in (BOT.parent / "tests").rglob("*.py"):
        assert not {n for n in imports(path) if n == "bench" or n.startswith("bench.")}, path
