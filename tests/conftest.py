"""Shared fixtures: a synthetic LUDB-layout folder (no real data needed) and the real one if present."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from datasets.synthetic import write_ludb

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def synthetic_ludb(tmp_path_factory) -> Path:
    """12 synthetic records in LUDB's layout, with SHA256SUMS.txt. Read-only: copy it to modify."""
    return write_ludb(tmp_path_factory.mktemp("ludb") / "ludb", n_records=12, seed=0)


@pytest.fixture
def ludb_copy(synthetic_ludb, tmp_path) -> Path:
    """A private, modifiable copy of the synthetic LUDB folder."""
    return Path(shutil.copytree(synthetic_ludb, tmp_path / "ludb"))


@pytest.fixture
def real_ludb() -> Path:
    """The real LUDB from $LUDB_DIR; the test is skipped when it is not there."""
    path = os.environ.get("LUDB_DIR")
    if not path or not (Path(path) / "RECORDS").is_file():
        pytest.skip("real LUDB not available (set LUDB_DIR to the ludb-1.0.1 folder)")
    return Path(path)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Never touch the user's cache or a real LUDB_DIR unless a test asks for it."""
    monkeypatch.setenv("ECG_SEARCH_CACHE", str(tmp_path / "ecg-search-cache"))

