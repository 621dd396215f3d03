"""Choose a trial of a finished search, re-evaluate it on the **test** split, and export it.

Selection rules on the Pareto front of finished trials (`--select`):
- `knee` (default): the lowest PRD/floor_PRD + MMD/floor_MMD, i.e. the best balance of the two,
  each measured against what real beats score. The minimiser of a positive weighted sum is always
  on the front.
- `prd` or `mmd`: the lowest of that one metric.

`python -m search.export --run results/<name> [--trial N] [--select knee]` exports any trial later.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ecgmodels.export import export
from ecgmodels.metrics import evaluate
from ecgmodels.sample import plot_side_by_side
from ecgmodels.train import load_checkpoint, networks, sampler

SELECT = ("knee", "prd", "mmd")


def choose(board: pd.DataFrame, select: str = "knee", trial: int | None = None) -> pd.Series:
    """The leaderboard row to export: `trial` if given, else by `select` on the Pareto front."""
    if trial is not None:
        rows = board[board["trial"].astype(str) == str(trial)]
        if rows.empty:
            raise ValueError(f"trial {trial} is not in the leaderboard (trials: {', '.join(map(str, board['trial']))})")
        return rows.iloc[0]
    front = board[board["pareto"].astype(bool)]
    if front.empty:
        raise ValueError("no trial finished all its epochs, so there is no Pareto front to choose from; "
                         "pass --trial N to export one anyway")
    key = {"knee": "score", "prd": "prd", "mmd": "mmd"}[select]
    return front.sort_values(key).iloc[0]


def load_trial_generator(checkpoint_dir: str):
    """(GanConfig, G, D, epoch) of a trial's best epoch on validation, from its checkpoint folder (a
    local path or a URI Tune can read)."""
    from ray import tune

    with tune.Checkpoint(checkpoint_dir).as_directory() as d:
        ck = load_checkpoint(Path(d) / "best.pt")
    cfg, G, D = networks(ck)
    return cfg, G, D.eval(), int(ck["epoch"])


def export_row(row: pd.Series, ds, out_dir: Path, eval_n: int, select: str, samples_png: Path) -> dict:
    """Export one leaderboard row's generator to `out_dir` with test metrics, and plot its beats beside
    real held-out ones to `samples_png`; return the test metrics."""
    cfg, G, D, epoch = load_trial_generator(row["checkpoint"])
    test, train = ds.part("test"), ds.part("train")
    ev = evaluate(sampler(G), test, eval_n, seed=cfg.seed, reference=train)
    metrics = {"split": "test", "selected_by": select, "trial": str(row["trial"]), "epoch": epoch,
               "epochs_trained": int(row["epochs"]), "test": ev,
               "validation": {k: row[k] for k in ("prd", "mmd", "rmse", "score") if k in row}}
    export(out_dir, G, D, cfg, dataset=ds.meta, metrics=metrics)
    pick = np.random.default_rng(cfg.seed).choice(len(test), size=min(8, len(test)), replace=False)
    real = ds.to_mv(test[pick])  # random held-out beats: the first few all come from one record
    gen = sampler(G)(8, 0) * ds.scale_mv
    info = {"r_index": ds.meta["config"]["r_index"], "fs": ds.meta["fs"], "leads": ds.meta["config"]["leads"]}
    plot_side_by_side(gen, real, info, samples_png)
    return ev


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m search.export",
                                description="Export a trial of a finished search (re-evaluated on the test split).")
    p.add_argument("--run", required=True, help="the run folder, e.g. results/quickstart")
    p.add_argument("--trial", type=int, help="trial number (the leaderboard's 'trial' column); default: --select")
    p.add_argument("--select", default="knee", choices=SELECT, help="rule on the Pareto front (default %(default)s)")
    p.add_argument("--out", help="export folder (default <run>/best, or <run>/trial-N with --trial)")
    p.add_argument("--data-dir", help="LUDB folder (default: as at search time: LUDB_DIR or the user cache)")
    p.add_argument("--eval-n", type=int, default=512, help="generated beats scored on test (default %(default)s)")
    args = p.parse_args(argv)
    run = Path(args.run)
    if not (run / "leaderboard.csv").is_file() or not (run / "run.json").is_file():
        print(f"error: {run} has no leaderboard.csv/run.json: not a finished search folder", file=sys.stderr)
        return 2
    board = pd.read_csv(run / "leaderboard.csv")
    try:
        row = choose(board, args.select, args.trial)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    info = json.loads((run / "run.json").read_text())
    import datasets

    ds, _ = datasets.load_or_build(args.data_dir or info["data_dir"],
                                   datasets.DatasetConfig.from_dict(info["dataset_config"]))
    out = Path(args.out) if args.out else run / ("best" if args.trial is None else f"trial-{args.trial}")
    # The run's samples.png shows its best; a later export of another trial plots into its own folder.
    png = run / "samples.png" if args.trial is None and args.out is None else out / "samples.png"
    ev = export_row(row, ds, out, args.eval_n, args.select if args.trial is None else f"trial {args.trial}", png)
    print(f"exported trial {row['trial']} to {out}: test PRD {ev['prd']['mean']:.1f} % "
          f"(floor {ev['floor']['prd']['mean']:.1f}), MMD {ev['mmd']['mean']:.4f} (floor {ev['floor']['mmd']['mean']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
