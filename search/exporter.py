"""Export one trial of a search: load its best epoch from its checkpoint, score it on the test split,
and write the export folder with its report and samples.png. `python -m search.export` is the
command line (search/export.py); the rule that picks the trial is `ecgmodels.policy.choose`."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from ecgmodels.export import export
from ecgmodels.metrics import Kernel, draw, report
from ecgmodels.registry import PER_EPOCH
from ecgmodels.page import plot_side_by_side
from ecgmodels.page import write as write_report
from ecgmodels.scorecard import verdict_of
from ecgmodels.checkpoint import load_training_checkpoint, networks
from ecgmodels.models import sampler



def load_trial_generator(checkpoint_dir: str):
    """(GanConfig, G, D, epoch, lineage) of a trial's best epoch on validation, from its checkpoint
    folder (a local path or a URI Tune can read). `lineage`: {'trained_by': the trial that trained
    that epoch, 'takeovers': the PBT exploits its weights came through, oldest first}."""
    from ray import tune

    with tune.Checkpoint(checkpoint_dir).as_directory() as d:
        ck = load_training_checkpoint(Path(d) / "best.pt")
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
               "validation": {k: float(row[k]) for k in (*PER_EPOCH, "score") if k in row and pd.notna(row[k])},
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
