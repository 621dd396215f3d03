"""Replace a file whole or not at all: write a temporary sibling, then rename it over the target.

A reader (or a crash, or Ctrl-C) never sees half a checkpoint, run.json, leaderboard or picture.
The temporary file is created exclusively under a fresh random name (never an existing file or a
planted link), and a target that is a symbolic link is refused: output never lands outside the
folder the user named. Export folders have their own, folder-level swap (ecgmodels.export)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


class UnsafeTarget(OSError):
    """An output path is a symbolic link: writing there could overwrite a file outside the folder."""


def replace_file(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` to fill a temporary file beside `path`, then rename it onto `path`.
    Raises UnsafeTarget when `path` is a symbolic link."""
    path = Path(path)
    if path.is_symlink():
        raise UnsafeTarget(f"refusing to write {path}: it is a symbolic link (to {os.readlink(path)}), and writing "
                           "through it would change a file outside this folder; remove the link, or write elsewhere")
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; outputs are shared as an ordinary file would be
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """`Path.write_text`, atomically."""
    return replace_file(path, lambda tmp: tmp.write_text(text))
