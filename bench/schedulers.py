"""Schedulers side by side: none, ASHA and PBT at about equal total epochs, two searcher seeds each.

Runs `python -m search.tune` once per (scheduler, seed), one after the other on this machine, then
reads each run's per-epoch records (`<run>/tune/trial_*/progress.csv`) and exported `best/`:

- total epochs trained (ASHA gets twice the trials, as it stops about half the epochs early),
- wall time until the first trial is *usable* on validation (its best epoch's MMD² below the
  average beat's; with the mean-beat offset most trials are from their first epoch), until the
  first reaches a validation `score` of 1.2 (real beats score about 1.0, the average beat 2.1),
  and until the first meets the *quality bar* on validation: MMD² at most 0.13 on
  the scale where real beats are 0 and the average beat 1 (what "1.5x the floor" in the
  V-statistic MMD² is on LUDB II: the average beat sits at 4.8x), precision, recall and coverage
  each at least 0.85x real beats', spread (diversity) within 0.8-1.2,
- the exported generator's test metrics.

    LUDB_DIR=../shared/ludb-1.0.1 python bench/schedulers.py --num-samples 8 --max-epochs 30 --seeds 1 2
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from ecgmodels.policy import meets_bar, mmd_scale  # the quality bar (see the docstring)

BAR_SCORE = 1.2  # ecgmodels.policy.scalarised: real beats ~1.0, the average beat ~2.1


def timeline(run: Path) -> pd.DataFrame:
    """Every epoch report of every trial, with `t` = seconds since the search's first trial started."""
    frames = []
    for path in sorted((run / "tune").glob("trial_*/progress.csv")):
        df = pd.read_csv(path)
        frames.append(df.assign(trial_dir=path.parent.name))
    df = pd.concat(frames, ignore_index=True)
    start = (df["timestamp"] - df["time_this_iter_s"]).min()
    return df.assign(t=df["timestamp"] - start)


def first_time(df: pd.DataFrame, mask: pd.Series) -> float | None:
    hit = df[mask]
    return None if hit.empty else float(hit["t"].min())


def summarise(run: Path) -> dict:
    info = json.loads((run / "run.json").read_text())
    floor, average = info["baselines"]["floor"], info["baselines"]["average"]
    df = timeline(run)
    scale = mmd_scale(df["mmd"], floor, average)
    usable = df["mmd"] < average["mmd"]
    # judged here, not read from the 'bar' column: runs from before it have none
    bar = df.apply(lambda r: meets_bar(r, floor, average), axis=1)
    model = json.loads((run / "best" / "model.json").read_text())
    ev = model["evaluation"]
    g, f, a = ev["generated"], ev["floor"], ev["average"]
    return {"run": run.name, "scheduler": info["args"]["scheduler"], "seed": info["args"]["seed"],
            "trials": int(df["trial_dir"].nunique()), "epochs": int(len(df)), "wall_s": round(info["wall_s"]),
            "first_usable_s": first_time(df, usable), "first_score_s": first_time(df, df["score"] <= BAR_SCORE),
            "first_bar_s": first_time(df, bar), "best_val_score": float(df["score"].min()),
            "best_val_scale": float(scale.min()),
            "test": {"mmd_scale": mmd_scale(g["mmd"], f, a), "mmd_v_ratio": ev.get("mmd_v_ratio"),
                     "precision": g["precision"] / f["precision"], "recall": g["recall"] / f["recall"],
                     "coverage": g["coverage"] / f["coverage"], "diversity": g["diversity"],
                     "r_peak_rate": ev.get("shape", {}).get("r_peak_rate"),
                     "spread_profile_corr": ev.get("shape", {}).get("spread_profile_corr"),
                     "usable": model["verdict"]["usable"]}}


def table(rows: list[dict]) -> str:
    def s(v):
        return "not reached" if v is None else f"{v:.0f}"

    lines = ["| scheduler | seed | trials | epochs | wall s | first usable (s) | first at score 1.2 (s) | first at the "
             "bar (s) | best val score | best val MMD² (real 0, avg 1) | test MMD² (real 0, avg 1) | test MMD²ᵥ / floor | precision / real | recall / real | "
             "coverage / real | spread | R peak at R | spread profile r |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        t = r["test"]
        lines.append(f"| {r['scheduler']} | {r['seed']} | {r['trials']} | {r['epochs']} | {r['wall_s']} | "
                     f"{s(r['first_usable_s'])} | {s(r['first_score_s'])} | {s(r['first_bar_s'])} | {r['best_val_score']:.2f} | "
                     f"{r['best_val_scale']:.2f} | "
                     f"{t['mmd_scale']:.2f} | {t['mmd_v_ratio']:.2f} | {t['precision']:.2f} | {t['recall']:.2f} | "
                     f"{t['coverage']:.2f} | {t['diversity']:.2f} | {t['r_peak_rate']:.2f} | {t['spread_profile_corr']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--num-samples", type=int, default=8, help="trials for none and pbt; asha gets twice as many")
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--schedulers", nargs="+", default=["none", "asha", "pbt"])
    p.add_argument("--space", default="small")
    p.add_argument("--results-dir", default="bench/runs", help="where the runs go (default %(default)s; not committed)")
    p.add_argument("--summarise-only", action="store_true", help="only read runs already there")
    p.add_argument("--out", help="write the rows as JSON here")
    args = p.parse_args(argv)
    results = Path(args.results_dir).resolve()
    rows = []
    for seed in args.seeds:
        for sched in args.schedulers:
            name = f"sched-{sched}-s{seed}"
            if not args.summarise_only:
                n = args.num_samples * (2 if sched == "asha" else 1)
                cmd = [sys.executable, "-m", "search.tune", "--space", args.space, "--num-samples", str(n),
                       "--max-epochs", str(args.max_epochs), "--scheduler", sched, "--seed", str(seed),
                       "--reference-epochs", "0", "--results-dir", str(results), "--name", name]
                print(" ".join(cmd[1:]), flush=True)
                t0 = time.perf_counter()
                with tempfile.TemporaryDirectory(prefix="ray-bench-") as tmp:  # its own Ray temp folder
                    rc = subprocess.run(cmd, env={**os.environ, "TMPDIR": tmp}).returncode
                print(f"  exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
                if rc not in (0, 1):  # 1: some trial errored, the run is still there to read
                    print(f"error: {name} did not run (exit {rc}; see its message above)", file=sys.stderr)
                    return rc
            rows.append(summarise(results / name))
    print(table(rows))
    if args.out:
        Path(args.out).write_text(json.dumps({"argv": sys.argv[1:], "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
