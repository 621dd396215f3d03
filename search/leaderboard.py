"""The leaderboard of a search: every trial with its params, epochs, time, metrics, status and
whether it is on the PRD/MMD Pareto front; written as CSV and Markdown, and a PRD-vs-MMD plot.
A trial's metrics are those of its best epoch on validation (`best_epoch`), the one it exports.

`python -m search.leaderboard results/<name> [--by mmd]` prints it, re-ranked.
Only trials that ran every epoch can be on the front: ASHA's early-stopped trials (reported to
Optuna as complete with partial metrics) and collapsed or diverged ones are listed but not ranked
against finished ones.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from .board import METRIC_COLS, RANKS, baseline_rows, rank, read_board


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m search.leaderboard",
                                description="Print a search's leaderboard (results/<name>/leaderboard.csv), re-ranked.")
    p.add_argument("run", help="the run folder, e.g. results/quickstart")
    p.add_argument("--by", default="score", choices=RANKS,
                   help="score = PRD/floor PRD + MMD on a real 0 / average beat 1 scale (default), or any one metric "
                   "(see ecgmodels/metrics.py)")
    p.add_argument("--top", type=int, default=0, help="show only the first N rows")
    args = p.parse_args(argv)
    path = Path(args.run) / "leaderboard.csv"
    try:
        df = rank(read_board(Path(args.run)), args.by)
    except ValueError as exc:  # a missing or damaged file; --by coverage on a run made before that metric
        print(f"error: {exc if str(path) in str(exc) else f'{path}: {exc}'}", file=sys.stderr)
        return 2
    if args.top:
        df = df.head(args.top)
    info = Path(args.run) / "run.json"
    if info.is_file() and "baselines" in (meta := json.loads(info.read_text())):
        df = pd.concat([df, baseline_rows(meta["baselines"])], ignore_index=True)
    cols = ["trial", "status", "pareto", "bar", "plausible", "epochs", "best_epoch", "wall_s", "score", *METRIC_COLS, "loss", "g_lr", "d_lr",
            "g_lstm_units", "batch_size", "d_steps"]
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(df[[c for c in cols if c in df.columns]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
