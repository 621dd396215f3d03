"""The import contract in pyproject.toml ([tool.importlinter], checked with import-linter): layers
datasets <- ecgmodels <- search, Ray only in search/, no library importing a command line, no
cycles. Also checked on a copy with one deliberate violation of each kind, so the contract is not
vacuous (a contract over misspelt modules would pass anything)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def lint(root: Path) -> subprocess.CompletedProcess:
    # import-linter reads the packages from sys.path: put the tree under test first
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([*LINT, "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_import_contract_holds():
    run = lint(REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 kept, 0 broken" in run.stdout


@pytest.mark.parametrize("module,line,broken", [
    ("ecgmodels/best.py", "from . import evaluate", "Libraries never import a command line"),
    ("ecgmodels/train.py", "from . import sample", "Libraries never import a command line"),
    ("search/board.py", "from . import tune", "Libraries never import a command line"),
    ("datasets/split.py", "import ray", "Ray only in search/"),
    ("datasets/split.py", "import ecgmodels.metrics", "Layers datasets <- ecgmodels <- search"),
    ("ecgmodels/metrics.py", "from . import best", "No cycles"),
])
def test_a_deliberate_violation_breaks_it(tmp_path, module, line, broken):
    for name in ("datasets", "ecgmodels", "search"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    with open(tmp_path / module, "a") as f:
        f.write(f"\n{line}  # deliberate violation\n")
    run = lint(tmp_path)
    assert run.returncode != 0, run.stdout
    assert any(broken in ln and "BROKEN" in ln for ln in run.stdout.splitlines()), run.stdout
