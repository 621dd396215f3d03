"""The reference's wander: which loss term makes generated beats vary where real beats do?

The reference search's best generator (trial 14) varies by a smooth wander spread along the whole
beat, so its P and T waves drown and it is flagged as implausible ECG. This trains its exact config
(base) and variants, each changing one thing, for the same epochs and seed, keeps each run's best
validation epoch (as a search trial does) and scores it on the test split with the evaluation module:
population metrics beside the floor, the spread profile, P/QRS/T plausibility and feature standings.
Two runs at a time, one CPU thread each.

    LUDB_DIR=../shared/ludb-1.0.1 python bench/wander.py --epochs 30 --out bench/data/wander.json
"""
from __future__ import annotations

import sys
import time

from anti_collapse import run_variants, variant_parser  # bench/ is on sys.path when run as a script

# the config of trial 14 of the reference PBT search before G's principal-component mix (its
# results/ludb-ii-reference/best/model.json then; the folder has held later references since)
BASE = dict(latent_len=50, latent_channels=8, g_position=True, g_lstm_units=16, g_lstm_layers=1, g_bidirectional=True,
            g_channels=(32, 16, 8, 8), g_kernel=9, g_upsample="linear", g_mean_beat=True, d_channels=(8, 16, 32),
            d_kernel=5, d_pool_every=1, d_mbstd=4, d_spectral=True, loss="hinge", g_lr=3.759e-4, d_lr=4.748e-4,
            batch_size=32, d_steps=2, mmd_weight=188.7, ms_weight=0.2615)

VARIANTS = {
    "base (reference trial 14)": {},
    "+ G mixes 8 principal components": {"g_pca": 8},
    "+ G mixes 16 principal components": {"g_pca": 16},
    "+ G mixes 32 principal components": {"g_pca": 32},
    "+ G mixes 16 principal components, no raw moment matching": {"g_pca": 16, "mmd_weight": 0.0},
    "+ G mixes 16 principal components, no mode seeking": {"g_pca": 16, "ms_weight": 0.0},
}


def run_one(job: tuple) -> dict:
    name, change, epochs, seed, eval_n, data_dir, base, trace = job
    import torch

    torch.set_num_threads(1)
    import datasets
    from ecgmodels.best import BestEpoch, Validation
    from ecgmodels.config import GanConfig
    from ecgmodels.metrics import report, stand_in
    from ecgmodels.shape import spread_profile_corr
    from ecgmodels.checkpoint import networks
    from ecgmodels.loop import train
    from ecgmodels.models import sampler

    ds, _ = datasets.load_or_build(data_dir, datasets.DatasetConfig())
    cfg = GanConfig.from_dict(base | change | {"epochs": epochs, "seed": seed, "collapse_patience": 0})
    validation = Validation.of(ds, 256)
    best = BestEpoch(validation, seed)
    t0 = time.perf_counter()

    def epoch_done(rep) -> None:
        best.update(rep)
        if trace and rep.epoch % trace == 0:  # where the beats vary, on validation, as training goes on
            gen = sampler(rep.generator)(validation.n, seed)
            print(f"  {name} epoch {rep.epoch}: validation spread profile r "
                  f"{spread_profile_corr(gen, validation.beats):.2f}", flush=True)

    result = train(cfg, ds.part("train"), "cpu", epoch_done)
    seconds = time.perf_counter() - t0
    _, G, _ = networks(best.checkpoint)
    rep = report(sampler(G), **ds.evaluation_inputs("test"), kernel=validation.kernel, n=eval_n, seed=seed,
                 bootstrap=0)
    print(f"  {name}: {result.outcome.value}, {seconds:.0f} s, best epoch {best.metrics['epoch']}", flush=True)
    keep = ("mmd", "prd", "precision", "recall", "coverage", "diversity")
    return {"name": name, "change": change, "outcome": result.outcome.value, "seconds": seconds,
            "epoch": best.metrics["epoch"], "validation_score": best.metrics["score"],
            "test": {m: rep["generated"][m] for m in keep}, "floor": {m: rep["floor"][m] for m in keep},
            "average": {m: rep["average"][m] for m in keep}, "mmd_v_ratio": rep["mmd_v_ratio"], **rep["shape"],
            "plausibility": rep["plausibility"], "standing": rep["features"]["standing"],
            "features": {k: rep["features"][k] for k in ("generated", "floor", "real")},
            "floor_spread_profile_corr": spread_profile_corr(stand_in(ds.part("train"), eval_n, seed), ds.part("test"))}


def table(rows: list[dict]) -> str:
    f = rows[0]["floor"]
    lines = ["| run | MMD²ᵥ / floor | precision / floor | recall / floor | coverage / floor | spread / real | "
             "spread profile r | plausible ECG | QRS 40-200 ms | P wave | far features | best epoch | s |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|"]
    for r in rows:
        t, pl = r["test"], {c["key"]: c for c in r["plausibility"]["checks"]}
        far = ", ".join(k for k, v in r["standing"].items() if v == "far") or "none"
        lines.append(f"| {r['name']} | {r['mmd_v_ratio']:.2f} | {t['precision'] / f['precision']:.2f} | "
                     f"{t['recall'] / f['recall']:.2f} | {t['coverage'] / f['coverage']:.2f} | {t['diversity']:.2f} | "
                     f"{r['spread_profile_corr']:.2f} | {'yes' if r['plausibility']['plausible'] else 'NO'} | "
                     f"{pl['qrs_ok']['value']:.0%} | {pl['p_wave']['value']:.0%} | {far} | {r['epoch']} | "
                     f"{r['seconds']:.0f} |")
    real = {c["key"]: c["real"] for c in rows[0]["plausibility"]["checks"]}
    lines.append(f"\nReal test beats: QRS 40-200 ms {real['qrs_ok']:.0%}, P wave {real['p_wave']:.0%}. Floor (training "
                 f"beats against test): precision {f['precision']:.2f}, recall {f['recall']:.2f}, coverage "
                 f"{f['coverage']:.2f}, spread profile r {rows[0]['floor_spread_profile_corr']:.2f}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = variant_parser(__doc__, 30, 14, '\'pca 64={"g_pca": 64}\'')
    p.add_argument("--trace", type=int, default=0, metavar="N",
                   help="print each run's validation spread profile every N epochs (default: off)")
    args = p.parse_args(argv)
    return run_variants(args, VARIANTS, run_one, table, BASE, args.trace)


if __name__ == "__main__":
    sys.exit(main())
