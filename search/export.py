"""Choose a trial of a finished search, re-evaluate it on the **test** split, and export it.

Selection rules on the Pareto front of finished trials (`--select`), among the front's trials whose
validation MMD^2 is below the average-beat baseline's (a generator that is not is no use; when no
trial is, the rule's choice is exported anyway and marked NOT USABLE in the console, model.json
and leaderboard.md) and whose beats are plausible ECG; and when any of those trials' best epoch
meets the quality bar on validation (ecgmodels.best.meets_bar: without it the knee rule preferred
generators that draw only the commonest beats), the front is taken over those that meet it:
- `knee` (default): the lowest score, PRD/floor_PRD + (MMD - floor_MMD)/(average_MMD - floor_MMD)
  (ecgmodels.best.scalarised),
  the best balance of the two. The minimiser of a positive weighted sum is always on the front.
- `prd` or `mmd`: the lowest of that one metric.

`python -m search.export --run results/<name> [--trial N] [--select knee]` exports any trial later.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from ecgmodels.evaluate import verdict_of
from ecgmodels.export import export
from ecgmodels.metrics import POPULATION, TEST_N, Kernel, draw, fit_kernel, report, too_few_beats
from ecgmodels.report import write as write_report
from ecgmodels.sample import plot_side_by_side
from ecgmodels.train import CheckpointError, load_checkpoint, networks, sampler

from .leaderboard import completed, pareto_mask, read_board, read_run_json, resolve_in_run

SELECT = ("knee", "prd", "mmd")


def choose(board: pd.DataFrame, select: str = "knee", trial: int | None = None,
           average_mmd: float | None = None) -> tuple[pd.Series, bool]:
    """(the leaderboard row to export, whether its validation MMD^2 beats the average beat's).

    `trial` if given; else by `select` on the Pareto front of the completed trials that are usable:
    validation MMD^2 below `average_mmd` (the average-beat baseline) and beats not flagged as
    implausible ECG (the `plausible` column; a run from before it has none), narrowed to those whose
    best epoch meets the quality bar (the `bar` column) when any does. When no trial is usable,
    the rule's choice on the whole front among those below the average beat, else on the whole front,
    flagged False, so the run can say plainly that nothing usable was found."""
    if trial is not None:
        rows = board[board["trial"].astype(str) == str(trial)]
        if rows.empty:
            raise ValueError(f"trial {trial} is not in the leaderboard (trials: {', '.join(map(str, board['trial']))})")
        row = rows.iloc[0]
        return row, average_mmd is None or bool(row["mmd"] < average_mmd)
    front = board[board["pareto"].astype(bool)]
    if front.empty:
        raise ValueError("no trial finished all its epochs, so there is no Pareto front to choose from; "
                         "pass --trial N to export one anyway")
    key = {"knee": "score", "prd": "prd", "mmd": "mmd"}[select]
    below = (board["mmd"] < average_mmd) if average_mmd is not None else pd.Series(True, index=board.index)
    ecg = board["plausible"].ne(0) if "plausible" in board else pd.Series(True, index=board.index)  # NaN: unchecked
    done = completed(board)
    good = board[done & below & ecg]
    if "bar" in good and good["bar"].eq(1).any():
        good = good[good["bar"].eq(1)]
    if not good.empty:
        good = good[pareto_mask(good["prd"].to_numpy(float), good["mmd"].to_numpy(float))]
        return good.sort_values(key).iloc[0], True
    usable = front[below[front.index]]
    pool = usable if not usable.empty else front
    return pool.sort_values(key).iloc[0], not usable.empty


def load_trial_generator(checkpoint_dir: str):
    """(GanConfig, G, D, epoch, lineage) of a trial's best epoch on validation, from its checkpoint
    folder (a local path or a URI Tune can read). `lineage`: {'trained_by': the trial that trained
    that epoch, 'takeovers': the PBT exploits its weights came through, oldest first}."""
    from ray import tune

    with tune.Checkpoint(checkpoint_dir).as_directory() as d:
        ck = load_checkpoint(Path(d) / "best.pt")
    cfg, G, D = networks(ck)
    return cfg, G, D.eval(), int(ck["epoch"]), {"trained_by": ck.get("owner"), "takeovers": list(ck.get("lineage", []))}


def export_row(row: pd.Series, ds, out_dir: Path, eval_n: int, select: str, samples_png: Path,
               kernel: Kernel, usable: bool | None = None) -> dict:
    """Export one leaderboard row's generator to `out_dir` with its full test evaluation
    (ecgmodels.metrics.report: every metric, both baselines, record-bootstrap intervals, verdict),
    and plot its beats beside real held-out ones to `samples_png`; return that evaluation."""
    cfg, G, D, epoch, lineage = load_trial_generator(row["checkpoint"])
    rep = report(sampler(G), **ds.evaluation_inputs("test"), kernel=kernel, n=eval_n, seed=cfg.seed)
    metrics = {"selected_by": select, "trial": str(row["trial"]), "epoch": epoch, "epochs_trained": int(row["epochs"]),
               "validation": {k: float(row[k]) for k in (*POPULATION, "roughness", "score") if k in row and pd.notna(row[k])},
               # whether its validation MMD^2 beat the average beat's (None: the run recorded no baseline)
               "validation_beats_average_beat": usable,
               # its best epoch's P/QRS/T check on validation (1/0; None: a run from before the check)
               "validation_plausible": float(row["plausible"]) if "plausible" in row and pd.notna(row["plausible"])
               else None,
               # PBT: who trained this epoch, and each takeover of another trial's weights before it
               # ({'from': trial, 'epoch': e, 'set': {knob: value}}), oldest first
               "lineage": lineage}
    verdict = verdict_of(rep, usable)
    export(out_dir, G, D, cfg, dataset=ds.meta, metrics=metrics,
           extra={"kernel": kernel.to_dict(), "evaluation": rep, "verdict": verdict})
    gen = draw(sampler(G), eval_n, rep["noise_seed"]) * ds.scale_mv  # the very beats the test report scored
    real = ds.to_mv(ds.part("test"))
    info = {"r_index": ds.meta["config"]["r_index"], "fs": ds.meta["fs"], "leads": ds.meta["config"]["leads"]}
    plot_side_by_side(gen, real, info, samples_png, seed=cfg.seed,
                      title=f"trial {row['trial']} (epoch {epoch}): {short_verdict(rep)}")
    try:  # the export above is complete and valid whatever happens to its report
        write_report(out_dir, rep, gen, real, info["r_index"], float(info["fs"]), f"trial {row['trial']} (epoch {epoch})",
                     f"exported by search.export / search.tune (rule: {select}); re-create with "
                     f"python -m ecgmodels.report --model {out_dir.as_posix()}", verdict["usable"])
    except (OSError, ValueError) as exc:
        print(f"warning: {out_dir / 'report.html'} not written ({exc}); the export is complete: "
              f"python -m ecgmodels.report --model {out_dir} retries it", file=sys.stderr)
    return rep


def short_verdict(rep: dict) -> str:
    """One plot-title line: usable or not, and the diversity figures beside real beats'."""
    g, f = rep["generated"], rep["floor"]
    head = "usable (MMD² below the average beat's)" if rep["verdict"]["beats_average_beat"] else \
        "NOT USABLE (MMD² not below the average beat's)"
    if rep["verdict"].get("plausible") is False:
        head = "NOT PLAUSIBLE ECG; " + head
    return (f"{head}; test coverage {g['coverage']:.2f} (real {f['coverage']:.2f}), recall {g['recall']:.2f} "
            f"(real {f['recall']:.2f}), diversity {g['diversity']:.2f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m search.export",
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
