"""Replace a file whole or not at all: write a temporary sibling, then rename it over the target.

A reader (or a crash, or Ctrl-C) never sees half a checkpoint, run.json or leaderboard. Export
folders have their own, folder-level swap (ecgmodels.export)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


def replace_file(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` to fill a temporary file beside `path`, then rename it onto `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """`Path.write_text`, atomically."""
    return replace_file(path, lambda tmp: tmp.write_text(text))
