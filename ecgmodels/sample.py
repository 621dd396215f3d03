"""`python -m ecgmodels.sample`: draw beats from an exported generator and write them in millivolts."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .export import ExportError, load_generator

FORMATS = ("npy", "csv", "wfdb")


def write_beats(beats_mv: np.ndarray, info: dict, fmt: str, out: Path) -> list[Path]:
    """Write beats [n, leads, samples] in mV as `fmt` under `out`; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    leads = info["leads"]
    if fmt == "npy":
        path = out / "beats_mv.npy"
        np.save(path, beats_mv.astype(np.float32))
        return [path]
    if fmt == "csv":
        import pandas as pd

        n, c, s = beats_mv.shape
        df = pd.DataFrame(beats_mv.reshape(n * c, s), columns=[f"s{i:03d}" for i in range(s)])
        df.insert(0, "lead", np.tile(leads[:c] if len(leads) >= c else [str(i) for i in range(c)], n))
        df.insert(0, "beat", np.repeat(np.arange(n), c))
        path = out / "beats_mv.csv"
        df.to_csv(path, index=False, float_format="%.5f")
        return [path]
    import wfdb

    written = []
    names = []
    for i, beat in enumerate(beats_mv):
        name = f"beat_{i:05d}"
        wfdb.wrsamp(name, fs=info["fs"], units=["mV"] * beat.shape[0], sig_name=list(leads[: beat.shape[0]]),
                    p_signal=beat.T.astype(np.float64), fmt=["16"] * beat.shape[0], write_dir=str(out),
                    comments=[f"synthetic beat from ecg-search generator, R peak at sample {info['r_index']}"])
        names.append(name)
        written += [out / f"{name}.hea", out / f"{name}.dat"]
    (out / "RECORDS").write_text("".join(f"{n}\n" for n in names))
    return written + [out / "RECORDS"]


def plot_side_by_side(gen_mv: np.ndarray, real_mv: np.ndarray | None, info: dict, path: Path, k: int = 16,
                      seed: int = 0, title: str | None = None) -> Path:
    """PNG, in mV against ms from the R peak: `k` real beats drawn at random (left; the first ones
    would all come from one record), `k` generated beats drawn at random (middle), and the
    beat-to-beat spread of all of each set (right: the standard deviation across beats at each
    sample, with each set's mean beat): a generator that draws one template shows a flat spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    t = (np.arange(gen_mv.shape[-1]) - info["r_index"]) * 1000.0 / info["fs"]
    pick = lambda x: x[rng.choice(len(x), size=min(k, len(x)), replace=False)]  # noqa: E731
    panels = [(f"real (test split), {k} at random", real_mv), (f"generated, {k} at random", gen_mv)]
    panels = [(ttl, x) for ttl, x in panels if x is not None]
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(5.2 * (len(panels) + 1), 3.8), squeeze=False)
    for ax, (ttl, beats) in zip(axes[0], panels):
        for b in pick(beats):
            ax.plot(t, b[0], lw=0.7, alpha=0.8)
        ax.set_title(f"{ttl}, lead {info['leads'][0]}", fontsize=9)
        ax.set_xlabel("ms from R peak")
        ax.set_ylabel("mV")
    lo = min(x[:, 0].min() for _, x in panels)
    hi = max(x[:, 0].max() for _, x in panels)
    for ax in axes[0][:len(panels)]:
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))  # one scale: amplitudes compare at a glance
    ax = axes[0][-1]
    for (ttl, beats), colour in zip(panels, ("tab:green", "tab:purple")):
        name = ttl.split(",")[0]
        ax.plot(t, beats[:, 0].std(axis=0), c=colour, lw=1.2, label=f"{name}: spread (sd), n={len(beats)}")
        ax.plot(t, beats[:, 0].mean(axis=0), c=colour, lw=0.8, ls="--", label=f"{name}: mean beat")
    ax.set_title("beat-to-beat spread and mean", fontsize=9)
    ax.set_xlabel("ms from R peak")
    ax.set_ylabel("mV")
    ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ecgmodels.sample",
                                description="Generate ECG beats in millivolts from an exported generator folder.")
    p.add_argument("--model", required=True, help="export folder (holds generator.pt2, model.json, checkpoint.pt)")
    p.add_argument("--n", type=int, default=16, help="beats to generate (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="noise seed; same seed, same beats (default %(default)s)")
    p.add_argument("--format", choices=FORMATS, default="npy",
                   help="npy: one array [n, leads, samples]; csv: one row per beat and lead; wfdb: one record "
                   "per beat (format 16, readable by wfdb.rdrecord) (default %(default)s)")
    p.add_argument("--out", required=True, help="folder to write into")
    p.add_argument("--plot", metavar="PNG", help="also write real and generated beats side by side")
    p.add_argument("--data-dir", help="LUDB folder for the real beats of --plot (default: as datasets.build)")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error(f"--n {args.n}: must be at least 1")
    try:
        gen = load_generator(args.model)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    beats = gen.sample(args.n, args.seed)
    files = write_beats(beats, gen.info, args.format, Path(args.out))
    print(f"wrote {args.n} beats ({beats.shape[1]} lead(s), {beats.shape[2]} samples at {gen.info['fs']} Hz, mV) "
          f"as {args.format}: {files[0]}{' ...' if len(files) > 1 else ''}")
    if args.plot:
        real = None
        try:
            import datasets
            from datasets import DatasetConfig

            ds, _ = datasets.load_or_build(args.data_dir, DatasetConfig.from_dict(gen.info["dataset"]["config"]))
            real = ds.to_mv(ds.part("test"))
        except Exception as exc:  # no LUDB here: plot the generated beats alone, and say so
            print(f"note: real beats not shown ({exc})")
        print(f"plot: {plot_side_by_side(beats, real, gen.info, Path(args.plot))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
