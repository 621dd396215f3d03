"""A grid of example windows per split and rhythm, for a person to eyeball the dataset."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .cache import WindowDataset
from .split import SPLITS


def plot_examples(ds: WindowDataset, out: str | Path, per_cell: int = 8, max_rhythms: int = 6, seed: int = 0) -> Path:
    """Write a PNG: one row per rhythm (most common first), one column per split, `per_cell` beats
    overlaid per panel in mV against time in ms, R peak marked. Returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rhythms = [r for r, _ in sorted(ds.meta["per_rhythm"]["train"].items(), key=lambda kv: -kv[1])][:max_rhythms]
    fs, r_index = ds.meta["fs"], ds.meta["config"]["r_index"]
    t_ms = (np.arange(ds.windows.shape[-1]) - r_index) * 1000.0 / fs
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(rhythms), len(SPLITS), figsize=(4 * len(SPLITS), 2.2 * len(rhythms)),
                             sharex=True, sharey=True, squeeze=False)
    for i, rhythm in enumerate(rhythms):
        for j, split in enumerate(SPLITS):
            ax = axes[i, j]
            idx = np.flatnonzero((ds.split == split) & (ds.rhythm == rhythm))
            for k in rng.choice(idx, size=min(per_cell, len(idx)), replace=False):
                ax.plot(t_ms, ds.to_mv(ds.windows[k, 0]), lw=0.7, alpha=0.8)
            ax.axvline(0, color="k", lw=0.5, ls=":")
            ax.set_title(f"{split} | {rhythm} (n={len(idx)})", fontsize=8)
            if j == 0:
                ax.set_ylabel("mV")
    for ax in axes[-1]:
        ax.set_xlabel("ms from R peak")
    fig.suptitle(f"LUDB beat windows, lead(s) {','.join(ds.meta['config']['leads'])}, key {ds.key[:12]}")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
