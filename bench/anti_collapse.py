"""Anti-collapse ablation: each anti-collapse option of `GanConfig`, alone, on one config, side by side.

One base config (the committed reference search's best trial, trial 58 of the small space, with the
EMA decay the small space now searches) is trained for the same epochs and seed with one option
turned on at a time. Every run keeps its best validation epoch (ecgmodels.best, as a search trial
does) and is scored on the test split with the evaluation module, beside the real-vs-real floor and
the average beat, all in this one run. Two runs at a time, one CPU thread each.

    LUDB_DIR=../shared/ludb-1.0.1 python bench/anti_collapse.py --epochs 40 --out bench/anti_collapse.json
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

BASE = dict(latent_len=50, latent_channels=8, g_position=True, g_lstm_units=32, g_lstm_layers=1, g_bidirectional=True,
            g_channels=(32, 16, 8), g_kernel=5, d_channels=(8, 16, 32), d_kernel=9, d_pool_every=1, loss="hinge",
            g_lr=8.15e-4, d_lr=7.63e-4, batch_size=32, d_steps=2, g_ema=0.99)

# name -> the one change from BASE. Weights are the usual ones from each method's paper or a first
# guess scaled to this loss (mmd: the probe).
VARIANTS = {
    "base": {},
    "moment matching (mmd 50)": {"mmd_weight": 50.0},
    "minibatch std (group 4)": {"d_mbstd": 4},
    "spectral norm in D": {"d_spectral": True},
    "R1 penalty (gamma 1)": {"r1_weight": 1.0},
    "WGAN-GP (betas 0/0.9, 5 critic steps)": {"loss": "wgan-gp", "g_beta1": 0.0, "g_beta2": 0.9, "d_beta1": 0.0,
                                              "d_beta2": 0.9, "d_steps": 5},
    "feature matching (1)": {"fm_weight": 1.0},
    "mode seeking (0.1)": {"ms_weight": 0.1},
    "linear upsampling": {"g_upsample": "linear"},
}


def run_one(job: tuple) -> dict:
    name, change, epochs, seed, eval_n, data_dir, base = job
    import torch

    torch.set_num_threads(1)
    import datasets
    from ecgmodels.best import BestEpoch, Validation
    from ecgmodels.config import GanConfig
    from ecgmodels.metrics import report
    from ecgmodels.checkpoint import networks
    from ecgmodels.loop import train
    from ecgmodels.models import sampler

    ds, _ = datasets.load_or_build(data_dir, datasets.DatasetConfig())
    cfg = GanConfig(**(base | change), epochs=epochs, seed=seed, collapse_patience=0)
    validation = Validation.of(ds, 256)
    best = BestEpoch(validation, seed)
    t0 = time.perf_counter()
    result = train(cfg, ds.part("train"), "cpu", best.update)
    seconds = time.perf_counter() - t0
    _, G, _ = networks(best.checkpoint)
    rep = report(sampler(G), **ds.evaluation_inputs("test"), kernel=validation.kernel, n=eval_n, seed=seed,
                 bootstrap=0)
    g = rep["generated"]
    print(f"  {name}: {result.outcome.value}, {seconds:.0f} s, best epoch {best.metrics['epoch']}", flush=True)
    return {"name": name, "change": change, "outcome": result.outcome.value, "seconds": seconds,
            "epoch": best.metrics["epoch"], "validation_score": best.metrics["score"],
            "test": {m: g[m] for m in ("mmd", "prd", "precision", "recall", "coverage", "density", "diversity")},
            "floor": {m: rep["floor"][m] for m in ("mmd", "prd", "precision", "recall", "coverage", "diversity")},
            "average": {m: rep["average"][m] for m in ("mmd", "prd", "precision", "recall", "coverage")},
            "copy_ratio": rep["copy_ratio"], "mmd_v_ratio": rep["mmd_v_ratio"], **rep["shape"]}


def table(rows: list[dict]) -> str:
    f, a = rows[0]["floor"], rows[0]["average"]
    lines = ["| option (alone) | MMD² (real 0, average 1) | MMD²ᵥ / floor | PRD / floor | precision / floor | recall / floor | "
             "coverage / floor | spread / real | R peak at R | roughness / real | copy ratio | best epoch | s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        t = r["test"]
        lines.append(f"| {r['name']} | {(t['mmd'] - f['mmd']) / (a['mmd'] - f['mmd']):.2f} | {r['mmd_v_ratio']:.2f} | {t['prd'] / f['prd']:.2f} | "
                     f"{t['precision'] / f['precision']:.2f} | {t['recall'] / f['recall']:.2f} | "
                     f"{t['coverage'] / f['coverage']:.2f} | {t['diversity']:.2f} | {r['r_peak_rate']:.2f} | "
                     f"{r['roughness']:.1f} | {r['copy_ratio']:.2f} | {r['epoch']} | {r['seconds']:.0f} |")
    lines.append(f"\nFloor (real training beats) on test: MMD² {f['mmd']:.4f}, PRD {f['prd']:.1f}, precision "
                 f"{f['precision']:.2f}, recall {f['recall']:.2f}, coverage {f['coverage']:.2f}; average beat: "
                 f"MMD² {a['mmd']:.4f}, precision {a['precision']:.2f}, recall {a['recall']:.2f}, coverage "
                 f"{a['coverage']:.2f}. Real test beats: R peak at R {rows[0]['r_peak_rate_real']:.2f}.")
    return "\n".join(lines)


def variant_parser(doc: str, epochs: int, seed: int, example: str) -> argparse.ArgumentParser:
    """The options every one-config-many-variants benchmark takes (this one and bench/wander.py)."""
    p = argparse.ArgumentParser(allow_abbrev=False, description=doc.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--seed", type=int, default=seed)
    p.add_argument("--eval-n", type=int, default=512, help="generated beats scored on test (default %(default)s)")
    p.add_argument("--only", action="append", help="run only the variants whose name starts with this (repeatable)")
    p.add_argument("--extra", action="append", default=[], metavar="NAME=JSON", help=f"an extra variant, e.g. {example}")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--data-dir", default=None, help="LUDB folder (default $LUDB_DIR)")
    p.add_argument("--out", help="write the rows as JSON here")
    return p


def run_variants(args, variants: dict, run_one, table, base: dict, *extra) -> int:
    """Train the base (every variant named 'base...') and the chosen variants, `args.processes` at a
    time; print `table(rows)` and write the rows to `args.out`. Every job is (name, change, epochs,
    seed, eval_n, data_dir, base, *extra): `base` is the config the changes apply to."""
    variants = dict(variants)
    for item in args.extra:
        name, _, text = item.partition("=")
        variants[name] = json.loads(text)
    names = [n for n in variants if n.startswith("base") or not args.only or any(n.startswith(o) for o in args.only)]
    jobs = [(n, variants[n], args.epochs, args.seed, args.eval_n, args.data_dir, base, *extra) for n in names]
    import datasets

    # Build (or find) the window cache here: the pool's workers are daemons, and a build's helper
    # processes cannot start from one ("daemonic processes are not allowed to have children").
    datasets.load_or_build(args.data_dir, datasets.DatasetConfig())
    print(f"{len(jobs)} runs x {args.epochs} epochs, {args.processes} at a time", flush=True)
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(args.processes) as pool:
        rows = pool.map(run_one, jobs, chunksize=1)
    print(table(rows))
    print(f"\n{time.perf_counter() - t0:.0f} s in all")
    if args.out:
        Path(args.out).write_text(json.dumps({"argv": sys.argv[1:], "base": base, "rows": rows}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = variant_parser(__doc__, 40, 1, '\'mmd+linear={"mmd_weight": 50, "g_upsample": "linear"}\'')
    return run_variants(p.parse_args(argv), VARIANTS, run_one, table, BASE)


if __name__ == "__main__":
    sys.exit(main())
