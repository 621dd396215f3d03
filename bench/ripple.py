"""Where generated beats carry power that real ones do not: mean power spectrum of an export's beats
over real test beats', per frequency band (LUDB II, 500 Hz, 400-sample windows).

    LUDB_DIR=../shared/ludb-1.0.1 python bench/ripple.py --model results/ludb-ii-reference/best
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

BANDS = ((0, 40), (40, 100), (100, 150), (150, 200), (200, 250))


def power(x: np.ndarray) -> np.ndarray:
    """Mean power spectrum of beats [n, window] (each beat's mean removed)."""
    return (np.abs(np.fft.rfft(x - x.mean(axis=1, keepdims=True), axis=1)) ** 2).mean(axis=0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", required=True, help="export folder (repeatable)")
    p.add_argument("--n", type=int, default=512)
    args = p.parse_args(argv)
    import datasets
    from ecgmodels.export import load_generator

    ds, _ = datasets.load_or_build(None, datasets.DatasetConfig())
    real = ds.to_mv(ds.part("test"))[:, 0]
    freqs = np.fft.rfftfreq(real.shape[1], 1 / float(ds.meta["fs"]))
    p_real = power(real)
    print("| export | g_upsample | " + " | ".join(f"{lo}-{hi} Hz" for lo, hi in BANDS) + " | peak excess |")
    print("|---|---|" + "---:|" * (len(BANDS) + 1))
    for model in args.model:
        cfg = json.loads((Path(model) / "model.json").read_text())["config"]
        p_gen = power(load_generator(model).sample(args.n, seed=1)[:, 0])
        ratios = [p_gen[(freqs >= lo) & (freqs < hi)].sum() / p_real[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in BANDS]
        peak = int(np.argmax(p_gen / p_real))
        print(f"| {model} | {cfg.get('g_upsample', 'nearest')} | " + " | ".join(f"{r:.2f}" for r in ratios)
              + f" | {p_gen[peak] / p_real[peak]:.0f}x at {freqs[peak]:.0f} Hz |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
