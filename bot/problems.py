"""Content problems found while loading YAML, reported as file / entry / field / message."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# libyaml's loader when PyYAML was built with it (its wheels are): ten times faster on our content,
# which is most of the start-up time; the pure-Python safe loader otherwise.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem:
    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        where = " ".join(p for p in (self.entry and f"entry {self.entry!r}", self.field and f"field {self.field!r}") if p)
        return f"{self.file}: {where + ': ' if where else ''}{self.message}"


class ContentError(Exception):
    """Raised when content cannot be used; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def read_yaml(path: Path, problems: list[Problem]) -> Any:
    """Parse one YAML file; a missing file or a syntax error becomes a Problem, never a traceback."""
    name = path.name
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=YAML_LOADER)
    except FileNotFoundError:
        problems.append(Problem(name, "", "", "file is missing"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problems.append(Problem(name, "", "", f"invalid YAML{where}: {getattr(exc, 'problem', exc)}"))
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, "", "", f"not UTF-8: {exc}"))
    return None
