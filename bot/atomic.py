"""Writing a file whole or not at all: into a temporary file beside it, then renamed over it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """A reader sees the old file or the new one, never half of one. A process killed while writing leaves
    a `<name>...tmp` file beside it, for the caller's clean-up."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
