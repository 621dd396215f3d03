"""Choose a trial of a finished search, re-evaluate it on the **test** split, and export it.

Selection rules on the Pareto front of finished trials (`--select`), among the front's trials whose
validation MMD^2 is below the average-beat baseline's (a generator that is not is no use; when no
trial is, the rule's choice is exported anyway and marked NOT USABLE in the console, model.json
and leaderboard.md) and whose beats are plausible ECG; and when any of those trials' best epoch
meets the quality bar on validation (ecgmodels.policy.meets_bar: without it the knee rule preferred
generators that draw only the commonest beats), the front is taken over those that meet it:
- `knee` (default): the lowest score, PRD/floor_PRD + (MMD - floor_MMD)/(average_MMD - floor_MMD)
  (ecgmodels.policy.scalarised),
  the best balance of the two. The minimiser of a positive weighted sum is always on the front.
- `prd` or `mmd`: the lowest of that one metric.

`python -m search.export --run results/<name> [--trial N] [--select knee]` exports any trial later.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecgmodels.atomic import UnsafeTarget
from ecgmodels.checkpoint import CheckpointError
from ecgmodels.metrics import TEST_N, Kernel, fit_kernel, too_few_beats
from ecgmodels.policy import SELECT, choose

from .board import read_board, read_run_json, resolve_in_run
from .exporter import export_row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m search.export",
                                description="Export a trial of a finished search (re-evaluated on the test split).")
    p.add_argument("--run", required=True, help="the run folder, e.g. results/quickstart")
    p.add_argument("--trial", type=int, help="trial number (the leaderboard's 'trial' column); default: --select")
    p.add_argument("--select", default="knee", choices=SELECT, help="rule on the Pareto front (default %(default)s)")
    p.add_argument("--out", help="export folder (default <run>/best, or <run>/trial-N with --trial)")
    p.add_argument("--data-dir", help="LUDB folder (default: as at search time: LUDB_DIR or the user cache)")
    p.add_argument("--test-n", "--eval-n", dest="test_n", type=int,
                   help="generated beats scored on test (default: the search's --test-n, else 512)")
    args = p.parse_args(argv)
    run = Path(args.run)
    try:
        board, info = read_board(run), read_run_json(run)
        average = info.get("baselines", {}).get("average")  # runs before the fixed-kernel metrics have none
        row, usable = choose(board, args.select, args.trial, average["mmd"] if average else None)
        if not isinstance(row["checkpoint"], str) or not row["checkpoint"]:
            raise ValueError(f"trial {row['trial']} has no checkpoint recorded in {run / 'leaderboard.csv'}")
        row = row.copy()
        row["checkpoint"] = resolve_in_run(run, row["checkpoint"])  # recorded relative to the run folder
        # the search's own --test-n; a run from before that option scored TEST_N (512)
        test_n = args.test_n if args.test_n is not None else info.get("args", {}).get("test_n", TEST_N)
        if error := too_few_beats("--test-n", test_n):
            raise ValueError(error)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import datasets

    try:
        ds, _ = datasets.load_or_build(args.data_dir or info["data_dir"],
                                       datasets.DatasetConfig.from_dict(info["dataset_config"]))
    except (datasets.LudbError, datasets.CacheError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return datasets.EXIT_DATA
    out = Path(args.out) if args.out else run / ("best" if args.trial is None else f"trial-{args.trial}")
    # The run's samples.png shows its best; a later export of another trial plots into its own folder.
    png = run / "samples.png" if args.trial is None and args.out is None else out / "samples.png"
    try:
        # the kernel the search scored with (runs from before the fixed kernel have none: fit it as it did)
        kernel = Kernel.from_dict(info["kernel"]) if "kernel" in info else fit_kernel(ds.part("train"))
        rep = export_row(row, ds, out, test_n, args.select if args.trial is None else f"trial {args.trial}", png,
                         kernel, usable if average else None)
    except UnsafeTarget as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (CheckpointError, OSError, RuntimeError) as exc:
        # Ray's trial checkpoints (<run>/tune, or --storage-path) are not part of a copied or committed run
        print(f"error: cannot read trial {row['trial']}'s checkpoint {row['checkpoint']}: {exc}. Trial checkpoints live "
              "in the run's Tune storage (<run>/tune unless --storage-path was given); re-run the search's command "
              "(run.json) to recreate them", file=sys.stderr)
        return 2
    if not usable:
        print(f"warning: trial {row['trial']}'s validation MMD^2 is not below the average beat's: not a usable "
              "generator", file=sys.stderr)
    print(f"exported trial {row['trial']} to {out}. Test split: {rep['verdict']['summary']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
