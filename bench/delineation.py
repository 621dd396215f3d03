"""How well the delineator finds P, QRS and T on real LUDB beats, against the cardiologists' marks.

The resolution of every P/QRS/T comparison in the reports (ecgmodels.fiducial): per fiducial point,
the share of annotated points the delineator also finds and its error (delineated - annotated, ms);
per feature, the error of the value measured from delineated points against the value from the
annotated ones; P-wave presence against the annotations. Two ways of feeding the same beats:

- `windows`: what the reports do: each 0.8 s window on its own, strung end to end (fiducial.delineate);
- `record`: the delineator's own use: the whole 10 s record (same 0.5 Hz high-pass), LUDB's R peaks.

If `windows` is about as good as `record`, cutting beats into windows costs the delineator nothing.

    python bench/delineation.py               # test split (the reports' comparison set), ~30 s
    python bench/delineation.py --split all   # every kept beat
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

import datasets
from datasets.ludb import FIDUCIALS, read_record
from datasets.windows import highpass
from ecgmodels import fiducial as F

OUT = Path(__file__).with_name("data")  # delineation-<split>.json


def by_record(ds, idx: np.ndarray, root: Path) -> np.ndarray:
    """Delineate each record's lead once, whole, with LUDB's R peaks; points of the windows `idx`."""
    import neurokit2 as nk

    cfg = ds.config
    out = np.full((len(idx), len(FIDUCIALS)), -1, dtype=np.int64)
    lead = ds.meta["r_lead"]  # the lead whose marks the windows' fiducials are
    for rec in np.unique(ds.record[idx]):
        rows = idx[ds.record[idx] == rec]
        r = read_record(root, f"data/{rec}", cfg.amplitude)
        x = highpass(r.signal[:, r.leads.index(lead)], r.fs, cfg.highpass_hz)
        peaks = ds.peak[rows].astype(np.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, waves = nk.ecg_delineate(x, rpeaks=peaks, sampling_rate=int(r.fs), method="dwt")
        for c, name in enumerate(F.POINTS):
            pos = np.asarray(waves[F._NEUROKIT[name]], dtype=np.float64) - (peaks - cfg.r_index)
            ok = np.isfinite(pos) & (pos >= 0) & (pos < cfg.window)
            out[np.searchsorted(idx, rows), c] = np.where(ok, np.nan_to_num(pos, nan=-1), -1)
    return out


def errors(found: np.ndarray, truth: np.ndarray, fs: float) -> dict:
    """Per point: share of annotated points found, mean/sd/median-|.| error in ms where both exist."""
    out = {}
    for c, name in enumerate(F.POINTS):
        ann, got = truth[:, c] >= 0, found[:, c] >= 0
        e = (found[ann & got, c] - truth[ann & got, c]) * 1000.0 / fs
        out[name] = {"annotated": int(ann.sum()), "found": float(got[ann].mean()) if ann.any() else None,
                     "mean_ms": float(e.mean()) if e.size else None, "sd_ms": float(e.std()) if e.size else None,
                     "median_abs_ms": float(np.median(np.abs(e))) if e.size else None}
    return out


def feature_errors(beats: np.ndarray, found: np.ndarray, truth: np.ndarray, r_index: int, fs: float) -> dict:
    """Per feature: mean and sd of (delineated value - annotated value) where both are measured."""
    a, b = F.features(beats, found, r_index, fs), F.features(beats, truth, r_index, fs)
    out = {}
    for name in F.FEATURES:
        if name == "p_present":
            # only beats whose lead was annotated (QRS onset marked): a window cut at a detector's peak
            # has no marks at all, and its missing P would be no evidence of a missing P wave
            marked = truth[:, F.POINTS.index("qrs_on")] >= 0
            ann = truth[:, F.POINTS.index("p_peak")] >= 0
            out[name] = {"sensitivity": float(a[name][marked & ann].mean()),
                         "specificity": float(1 - a[name][marked & ~ann].mean()),
                         "rate_delineated": float(a[name][marked].mean()), "rate_annotated": float(ann[marked].mean())}
            continue
        ok = np.isfinite(a[name]) & np.isfinite(b[name])
        d = a[name][ok] - b[name][ok]
        out[name] = {"n": int(ok.sum()), "mean": float(d.mean()), "sd": float(d.std()),
                     "real_sd": float(b[name][ok].std())}
    return out


def main() -> None:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--split", default="test", choices=("train", "val", "test", "all"))
    p.add_argument("--data-dir", help="LUDB folder (default: LUDB_DIR)")
    args = p.parse_args()
    root = datasets.locate(args.data_dir, download=False)
    ds, _ = datasets.load_or_build(root, datasets.DatasetConfig())
    idx = np.arange(len(ds.windows)) if args.split == "all" else np.flatnonzero(ds.split == args.split)
    beats, truth = ds.to_mv(ds.windows[idx, 0]), ds.fiducials[idx].astype(np.int64)
    r_index, fs = ds.config.r_index, float(ds.meta["fs"])
    result = {"split": args.split, "beats": int(len(idx)), "records": int(len(np.unique(ds.record[idx]))),
              "dataset_key": ds.key}
    for how, run in (("windows", lambda: F.delineate(beats, r_index, fs)), ("record", lambda: by_record(ds, idx, root))):
        t0 = time.perf_counter()
        found = run()
        result[how] = {"seconds": round(time.perf_counter() - t0, 2), "points": errors(found, truth, fs),
                       "features": feature_errors(beats, found, truth, r_index, fs)}
    OUT.mkdir(exist_ok=True)
    (OUT / f"delineation-{args.split}.json").write_text(json.dumps(result, indent=1))

    print(f"{result['beats']} beats of {result['records']} records ({args.split} split), LUDB lead(s) "
          f"{','.join(ds.config.leads)}. Error = delineated - annotated.\n")
    print("| point | annotated | found: windows | record | error ms: windows | record | median abs: windows | record |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in F.POINTS:
        w, r = result["windows"]["points"][name], result["record"]["points"][name]
        print(f"| {name} | {w['annotated']} | {w['found']:.0%} | {r['found']:.0%} | {w['mean_ms']:+.0f} ± {w['sd_ms']:.0f} "
              f"| {r['mean_ms']:+.0f} ± {r['sd_ms']:.0f} | {w['median_abs_ms']:.0f} | {r['median_abs_ms']:.0f} |")
    print("\n| feature | error: windows | record | real sd (annotated) |")
    print("|---|---:|---:|---:|")
    for name, (unit, _) in F.FEATURES.items():
        w, r = result["windows"]["features"][name], result["record"]["features"][name]
        if name == "p_present":
            print(f"| P wave present (sensitivity / specificity) | {w['sensitivity']:.0%} / {w['specificity']:.0%} | "
                  f"{r['sensitivity']:.0%} / {r['specificity']:.0%} | share {w['rate_annotated']:.0%} annotated |")
            continue
        digits = 0 if unit == "ms" else 3
        print(f"| {name} ({unit}) | {w['mean']:+.{digits}f} ± {w['sd']:.{digits}f} | {r['mean']:+.{digits}f} ± "
              f"{r['sd']:.{digits}f} | {w['real_sd']:.{digits}f} |")
    print(f"\ndelineation time: windows {result['windows']['seconds']} s, record {result['record']['seconds']} s "
          "(record includes reading the files)")


if __name__ == "__main__":
    main()
