"""`python -m ecgmodels.evaluate --model DIR`: score an exported generator on the test split with
every metric, beside the real-vs-real floor and the average-beat baseline, with 95 % intervals from
a bootstrap over test records (patients).

`--write` records the result in the export: `evaluation` in model.json, `evaluation.md`, and, when
the export sits in a search's run folder, the section of that run's leaderboard.md between the
markers of `ecgmodels.scorecard` (so an older run can be re-scored with the current metrics without re-running it).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .atomic import write_text
from .metrics import TEST_N, report, too_few_beats
from .scorecard import ExportUnusable, markdown, open_export, recorded_validation_flag, verdict_of, write_into_leaderboard


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m ecgmodels.evaluate", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="example:\n  python -m ecgmodels.evaluate --model results/ludb-ii-reference/best --write")
    p.add_argument("--model", required=True, help="export folder (holds model.json and checkpoint.pt)")
    p.add_argument("--n", type=int, default=TEST_N, help="generated beats to score (default %(default)s)")
    p.add_argument("--bootstrap", type=int, default=200, help="record resamples for the intervals (default %(default)s)")
    p.add_argument("--data-dir", help="LUDB folder (default: LUDB_DIR or the user cache, as datasets.build)")
    p.add_argument("--write", action="store_true", help="record the result in model.json, evaluation.md and the "
                   "run's leaderboard.md (when the export is a run's best/)")
    args = p.parse_args(argv)
    if error := too_few_beats("--n", args.n):
        p.error(error)
    if args.bootstrap < 0:
        p.error(f"--bootstrap {args.bootstrap}: at least 0")
    from .models import sampler

    folder = Path(args.model)
    try:
        info, cfg, G, ds, kernel = open_export(folder, args.data_dir)
    except ExportUnusable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    try:
        rep = report(sampler(G), **ds.evaluation_inputs("test"), kernel=kernel, n=args.n, seed=cfg.seed,
                     bootstrap=args.bootstrap)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    section = ("## Test split, current metrics\n\n" + markdown(rep, f"generator ({folder.name})")
               + f"\n\nFrom `python -m ecgmodels.evaluate --model {folder.as_posix()} --write`, with the metrics of "
               "ecg-search " + __version__ + ". Where older sections of this file disagree, they were computed with "
               "earlier metric definitions.\n")
    print(section)
    if args.write:
        info["evaluation"] = rep
        info["kernel"] = kernel.to_dict()
        info["verdict"] = verdict_of(rep, recorded_validation_flag(info))
        write_text(folder / "model.json", json.dumps(info, indent=1))  # model.json is not among the hashed files
        write_text(folder / "evaluation.md", section)
        board = folder.parent / "leaderboard.md"
        if folder.name == "best" and board.is_file():
            write_into_leaderboard(board, section)
        print(f"written: {folder / 'model.json'} ('evaluation'), {folder / 'evaluation.md'}"
              + (f", {board}" if folder.name == "best" and board.is_file() else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
