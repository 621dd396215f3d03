"""What keeping each trial's best validation epoch (ecgmodels.best) buys over taking its last epoch.

Reads the per-epoch records Tune keeps for a finished search (`<run>/tune/<name>/trial_*/progress.csv`,
written by `python -m search.tune`; not committed, so re-run the search's recorded command first)
and, over the trials that ran every epoch, compares the validation score of each trial's last epoch
with that of the epoch it keeps (ecgmodels.best.scalarised; the kept epoch is chosen bar first, so
it can score higher than the lowest-scoring epoch). Prints the ratio of the medians (last / kept).

    python bench/best_epoch.py results/ludb-ii-reference
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from search.board import resolve_in_run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a search's run folder, e.g. results/ludb-ii-reference")
    args = p.parse_args(argv)
    run = Path(args.run)
    info = json.loads((run / "run.json").read_text())
    board = pd.read_csv(run / "leaderboard.csv")
    done = board[board["status"] == "completed"]
    experiment = Path(resolve_in_run(run, info["experiment_path"]))  # relative to the run folder since session 3
    if not experiment.is_dir() and (run / "tune").is_dir():  # an older, absolute record of a moved folder
        experiment = run / "tune"
    rows = []
    for trial in done["trial"]:
        path = experiment / f"trial_{trial}" / "progress.csv"
        if not path.is_file():
            print(f"error: {path} is missing; re-run the search's command ({info['command']}) to regenerate "
                  "Tune's per-epoch records", file=sys.stderr)
            return 2
        epochs = pd.read_csv(path)
        rows.append({"trial": trial, "last": epochs["last_score"].iloc[-1], "kept": epochs["score"].iloc[-1],
                     "kept_epoch": int(epochs["best_epoch"].iloc[-1]), "epochs": int(epochs["epoch"].iloc[-1])})
    df = pd.DataFrame(rows)
    if df.empty:
        print("error: no trial ran every epoch", file=sys.stderr)
        return 2
    # `score` (ecgmodels.best.scalarised; real beats ~1.0, the average beat ~2.1), not MMD^2 alone: now
    # that trials reach real beats' MMD^2, which sits near 0 and below, a ratio of MMD^2s says nothing
    print(f"{len(df)} trials that ran all {df['epochs'].max()} epochs; validation score, median [best]:")
    print(f"  last epoch   {df['last'].median():.3f} [{df['last'].min():.3f}]")
    print(f"  kept epoch   {df['kept'].median():.3f} [{df['kept'].min():.3f}]  (median kept epoch "
          f"{df['kept_epoch'].median():.0f})")
    print(f"  trials whose last epoch scores > 1.1x the kept one's: {(df['last'] > 1.1 * df['kept']).sum()}")
    print(f"ratio last/kept (medians): {df['last'].median() / df['kept'].median():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
