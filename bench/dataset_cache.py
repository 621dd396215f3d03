"""Dataset stage: cold build of the window cache from all LUDB records vs a cache hit, and a cache hit
vs what a trial would pay to read WFDB itself (one process, no cache). Prints seconds and ratios.

    LUDB_DIR=../shared/ludb-1.0.1 python bench/dataset_cache.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets import DatasetConfig, load_or_build, locate  # noqa: E402
from datasets.cache import build, cache_key  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    root, cfg = locate(args.data_dir, download=False), DatasetConfig()
    cold, hit, per_trial = [], [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as cache:
            t0 = time.perf_counter()
            ds, was_hit = load_or_build(root, cfg, cache_dir=cache)  # all cores
            cold.append(time.perf_counter() - t0)
            assert not was_hit
            t0 = time.perf_counter()
            _, was_hit = load_or_build(root, cfg, cache_dir=cache)
            hit.append(time.perf_counter() - t0)
            assert was_hit
        t0 = time.perf_counter()
        build(root, cfg, cache_key(root, cfg), workers=1)  # a trial cutting its own windows from WFDB
        per_trial.append(time.perf_counter() - t0)
    c, h, w = (statistics.median(x) for x in (cold, hit, per_trial))
    print(f"data: {root}, {ds.meta['records']} records, {ds.meta['windows']} windows (lead II)")
    print(f"cold build (all cores)      : {c:7.3f} s")
    print(f"cache hit (checksums + load): {h:7.3f} s")
    print(f"read WFDB in a trial (1 core): {w:7.3f} s")
    print(f"ratio cold/hit: {c / h:.0f}x; per-trial WFDB/hit: {w / h:.0f}x")


if __name__ == "__main__":
    main()
