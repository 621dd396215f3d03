"""`python -m ecgmodels.sample`: draw beats from an exported generator and write them in millivolts."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .export import ExportError, load_generator
from .page import plot_side_by_side

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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m ecgmodels.sample",
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
