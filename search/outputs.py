"""What a finished (or interrupted) search writes: leaderboard files, plots, and the export of the chosen trial."""
from __future__ import annotations

import time
from pathlib import Path

from ecgmodels.atomic import replace_file, write_text
from ecgmodels.policy import BAR_MMD, BAR_ROUGHNESS, BAR_SHARE, BAR_SPREAD, choose, meets_bar

from .space import param_names

# The seed's published table (its own definitions, its leaky split): mean and [min, max], in the
# shape of an evaluation result so it can sit in the legacy table.
SEED_PUBLISHED = {"rmse_random": 0.078, "prd_seed": 14.82, "mmd_seed": 9e-4,
                  "ci": {"rmse_random": [0.021, 0.169], "prd_seed": [4.55, 49.19], "mmd_seed": [-6e-5, 1e-2]}}

def write_outputs(run_dir: Path, grid, args, info: dict, ds, validation, seed_ref: dict | None,
                  cut: set[str] = frozenset()):
    """Leaderboard files, plots, and the export of the chosen trial (re-evaluated on the test split).
    Returns the leaderboard (one row per trial Tune created; `cut`: ids of trials a Ctrl-C ended)."""
    import pandas as pd

    from ecgmodels.scorecard import markdown as test_markdown

    from . import board as lb
    from .exporter import export_row
    params = param_names(args.space)
    board = lb.from_results(grid, params, cut)
    if board.empty:  # interrupted before any trial was created
        write_text(run_dir / "leaderboard.md", f"# Search `{info['name']}`\n\nNo trial had started.\n")
        return board
    base = info["baselines"]
    # A trial that finished before the quality bar existed (a resumed older run) reported none: judge its
    # metrics now, so that it can still be chosen beside the new ones
    old = board["bar"].isna() & lb.completed(board)
    board.loc[old, "bar"] = [float(meets_bar(r, base["floor"], base["average"])) for _, r in board[old].iterrows()]
    # checkpoint paths relative to the run folder, so a moved or shared folder still exports its trials
    rel = board.assign(checkpoint=[lb.relative_to_run(run_dir, c) if c else c for c in board["checkpoint"]])
    replace_file(run_dir / "leaderboard.csv", lambda tmp: rel.to_csv(tmp, index=False))
    full = pd.concat([board, lb.baseline_rows(base, seed_ref)], ignore_index=True)
    lb.plot_pareto(board, base, run_dir / "pareto.png", seed_ref["val"] if seed_ref else None)

    test_md, exported = "", ""
    try:
        row, usable = choose(board, args.select, average_mmd=base["average"]["mmd"])
        rep = export_row(row, ds, run_dir / "best", args.test_n, args.select, run_dir / "samples.png", validation.kernel, usable)
        extra = [(f"seed variant (epoch {seed_ref['best_epoch']} of {seed_ref['epochs']})", seed_ref["test"]["generated"])] \
            if seed_ref else []
        published = [("the seed's published table (mean [min, max]; its leaky split, hand-cleaned)", SEED_PUBLISHED)]
        seed_features = [("seed variant", seed_ref["test"]["features"]["generated"])] \
            if seed_ref and "features" in seed_ref["test"] else []
        test_md = test_markdown(rep, f"best searched (trial {row['trial']}, {args.select})", extra, published,
                                seed_features)
        exported = f"trial {row['trial']} (rule: {args.select}) exported to `best/`"
        if isinstance(row.get("lineage"), str) and row["lineage"]:
            exported += f"; its weights came through PBT from {row['lineage']}"
        if not usable:
            exported += (". **No trial's validation MMD² is below the average beat's "
                         f"({base['average']['mmd']:.4g}): nothing usable was found; best/ is marked NOT USABLE**")
            print(f"NOT USABLE: no trial's validation MMD² is below the average beat's ({base['average']['mmd']:.4g}); "
                  f"exporting trial {row['trial']} anyway, marked as such", flush=True)
        elif not rep["verdict"]["beats_average_beat"]:
            exported += ". **On the test split it does not beat the average beat: marked NOT USABLE**"
        if rep["verdict"].get("plausible") is False:
            exported += f". **Its beats are NOT PLAUSIBLE ECG ({'; '.join(rep['plausibility']['failed'])})**"
        print(f"best: trial {row['trial']}. Test split: {rep['verdict']['summary']}", flush=True)
    except ValueError as exc:
        exported = f"nothing exported: {exc}"
    lines = [f"# Search `{info['name']}`", "",
             f"- command: `{info['command']}`",
             f"- finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, wall time {info['wall_s']:.0f} s, "
             f"machine: {info['machine']}",
             f"- versions: {', '.join(f'{k} {v}' for k, v in info['versions'].items())}",
             f"- data: LUDB lead(s) {','.join(ds.meta['config']['leads'])}, {ds.meta['per_split']}, key `{ds.key[:12]}`",
             f"- MMD² kernel (fixed for the whole run): {info['kernel']['kind']}, bandwidths "
             f"{', '.join(f'{b:.3g}' for b in info['kernel']['bandwidths'])}",
             f"- {exported}", "",
             "## Test split: the chosen generator, the seed variant and the baselines", "",
             test_md or "(nothing exported)", "",
             "## Leaderboard (validation split)", "",
             "Every metric is the trial's best validation epoch's (`best_epoch`). `score` = PRD/floor PRD + MMD² "
             "on a scale where real beats are 0 and the average beat 1 (real beats score about 1, the average beat "
             "about 2; lower is better). Pareto "
             "front of PRD and MMD² over trials that ran every epoch. `plausible` (1/0): the best epoch's beats pass the "
             "P/QRS/T checks on validation (`r_at_r`, `qrs_ok`, `p_wave`, `t_wave`: their shares; see the README). `bar` "
             f"(1/0): the best epoch meets the quality bar on validation (MMD² within {BAR_MMD} of the floor on that scale, "
             f"precision, recall and coverage each at least {BAR_SHARE}x the floor's, diversity {BAR_SPREAD[0]}-{BAR_SPREAD[1]}, "
             f"`roughness` at most {BAR_ROUGHNESS}x the validation beats'); an epoch that meets it "
             "is kept before any that does not. The export is chosen among plausible trials below the average beat "
             "when there are any, and among those that meet the bar when any does. Baseline rows: `floor` = training beats in "
             "place of generated ones, `average` = the average training beat + small noise. Higher is better for "
             "precision, recall, density and coverage; diversity is best at 1; lower is better for the rest.", "",
             lb.markdown(full, ["trial", "status", "pareto", "bar", "plausible", "epochs", "best_epoch", "wall_s", "score",
                                *lb.METRIC_COLS, *lb.PLAUSIBILITY_COLS[1:]]
                         + params + (["lineage"] if args.scheduler == "pbt" else [])), ""]
    write_text(run_dir / "leaderboard.md", "\n".join(lines))
    return board
