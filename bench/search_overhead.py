"""Search overhead: wall time of N equal small trials run the way `search.tune` runs them
(max_concurrent_trials = CPUs, reuse_actors=True) against the ideal (sum of the trials' own times /
concurrency) and against Ray Tune's defaults with a searcher (one pending trial at a time, a fresh
actor process per trial). Same trainable, same config, same data, one Ray session.

    python bench/search_overhead.py [--trials 8] [--epochs 3] [--data-dir D]

Target: ours within 15 % of ideal (ratio ideal/ours >= 0.87).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402
import ray  # noqa: E402
from ray import tune  # noqa: E402
from ray.tune.search.optuna import OptunaSearch  # noqa: E402

import datasets  # noqa: E402
from search.space import SMOKE_FIXED  # noqa: E402
from search.trainable import data_payload, run_trial  # noqa: E402


def fixed_space(trial) -> dict:
    """Every trial the same small network: equal work, so the ideal is easy to state."""
    trial.suggest_categorical("g_lstm_units", [16])
    return {**SMOKE_FIXED, "latent_len": 50, "g_width": 16, "d_width": 8, "g_lr": 4e-4, "loss": "hinge",
            "trial_number": trial.number}


def run(mode: str, payload_ref, settings: dict, trials: int, cpus: int, storage: str) -> tuple[float, float]:
    """(wall seconds of fit(), sum of the trials' own time_total_s)."""
    ours = mode == "ours"
    trainable = tune.with_resources(tune.with_parameters(run_trial, data=payload_ref, settings=settings), {"cpu": 1})
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=OptunaSearch(space=fixed_space, metric=["prd", "mmd"], mode=["min", "min"], seed=0),
            num_samples=trials, max_concurrent_trials=cpus if ours else None, reuse_actors=ours),
        run_config=tune.RunConfig(name=mode, storage_path=storage, verbose=0))
    t0 = time.perf_counter()
    grid = tuner.fit()
    wall = time.perf_counter() - t0
    assert grid.num_errors == 0 and len(grid) == trials
    return wall, sum(r.metrics["time_total_s"] for r in grid)


def main() -> None:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--data-dir")
    args = p.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ds, _ = datasets.load_or_build(args.data_dir)
    cpus = os.cpu_count() or 1
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    ref = ray.put(data_payload(ds, 128))
    settings = {"max_epochs": args.epochs, "seed": 0, "eval_n": 128, "gpus": 0, "threads": 1, "checkpoint_every": 1}
    with tempfile.TemporaryDirectory() as storage:
        wall_ours, busy_ours = run("ours", ref, settings, args.trials, cpus, storage)
        wall_def, busy_def = run("defaults", ref, settings, args.trials, cpus, storage)
    ideal = busy_ours / cpus
    print(f"{args.trials} equal trials x {args.epochs} epochs, {cpus} CPUs, data {ds.meta['windows']} windows")
    print(f"ideal (sum of trial times / {cpus}) : {ideal:7.1f} s")
    print(f"search.tune settings               : {wall_ours:7.1f} s   ideal/ours = {ideal / wall_ours:.2f}")
    print(f"Ray Tune defaults with a searcher  : {wall_def:7.1f} s   ours/defaults = {wall_ours / wall_def:.2f}")
    print(f"(trial time summed: ours {busy_ours:.1f} s, defaults {busy_def:.1f} s)")


if __name__ == "__main__":
    main()
