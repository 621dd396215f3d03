"""The leaderboard of a search: one row per trial (its params, epochs, time, metrics of its best
epoch on validation, status, whether it is on the PRD/MMD Pareto front), the baseline rows, the
markdown table and the PRD-vs-MMD plot; reading back a run's leaderboard.csv and run.json.
`python -m search.leaderboard` prints it (search/leaderboard.py)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ecgmodels.registry import PER_EPOCH, REGISTRY
from ecgmodels.atomic import replace_file
from ecgmodels.policy import completed, order, pareto_mask

from .space import params_of

# Reported instead of real values by a diverged trial (Optuna refuses NaN): PRD >= this means "no metrics".
NO_METRICS = 1e4

# the population metrics, and roughness over the validation beats' (part of the quality bar)
METRIC_COLS = list(PER_EPOCH)
# A completed trial's best epoch, checked once on validation (ecgmodels.best.Validation.plausibility):
# plausible (1/0) and the share of its beats passing each check
PLAUSIBILITY_COLS = ["plausible", "r_at_r", "qrs_ok", "p_wave", "t_wave"]
RANKS = ("score", *METRIC_COLS)
BASELINE_LABELS = {"floor": "real-vs-real floor", "average": "average beat"}


REQUIRED_COLS = ("trial", "status", "pareto", "epochs", "prd", "mmd", "score", "checkpoint")


def read_run_json(run: Path) -> dict:
    """A run folder's run.json; ValueError naming the file when it is missing, truncated or not an object."""
    path = Path(run) / "run.json"
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path} not found: not a search run folder (give the folder `python -m search.tune "
                         "--name NAME` wrote, e.g. results/NAME)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is unreadable ({exc}): truncated or edited; the run's results cannot be used "
                         "without it") from exc
    if not isinstance(info, dict):
        raise ValueError(f"{path} is not a JSON object: not a search's run.json")
    return info


def read_board(run: Path) -> pd.DataFrame:
    """A run folder's leaderboard.csv; ValueError naming the file when it is missing, truncated or empty."""
    path = Path(run) / "leaderboard.csv"
    if not path.is_file():
        raise ValueError(f"{path} not found; run `python -m search.tune --name NAME` first, or let it finish")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is unreadable ({exc}): truncated or edited") from exc
    missing = [c for c in REQUIRED_COLS if c not in df.columns]
    if missing or df.empty:
        raise ValueError(f"{path} {'lacks the column(s) ' + ', '.join(missing) if missing else 'holds no trials'}: "
                         "truncated, edited, or written by another version")
    return df


def relative_to_run(run_dir: Path, path: str) -> str:
    """`path` relative to the run folder when it lies inside it (so the folder can move), else as is."""
    if "://" in path:
        return path
    try:
        return Path(path).resolve().relative_to(run_dir.resolve()).as_posix()
    except ValueError:
        return path


def resolve_in_run(run_dir: Path, path: str) -> str:
    """Inverse of relative_to_run: an absolute path or URI as recorded, a relative one inside the run folder."""
    return path if "://" in path or Path(path).is_absolute() else str((Path(run_dir) / path).resolve())


def trial_states(grid) -> dict[str, str]:
    """{trial_id: Tune status} of a ResultGrid's experiment, read back from its saved state with the
    public `tune.ExperimentAnalysis` (a running trial is saved as PENDING)."""
    from ray import tune

    return {t.trial_id: t.status for t in tune.ExperimentAnalysis(grid.experiment_path).trials}


def status_of(metrics: dict, error: bool, tune_status: str | None, interrupted: bool = False) -> str:
    """completed / diverged / collapsed (the trial's own outcome), error, interrupted (a Ctrl-C ended
    it), stopped early (terminated by the scheduler before its last epoch), or unfinished (not
    started, or still pending when the search stopped)."""
    if error:
        return "error"
    outcome = metrics.get("outcome", "running")
    if outcome == "running":
        if interrupted:
            return "interrupted"
        return "stopped early" if tune_status == "TERMINATED" else "unfinished"
    return outcome


def error_line(error) -> str:
    """The exception's own message (the last line of Ray's wrapped traceback), without colour codes."""
    if error is None:
        return ""
    lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(error)).splitlines() if ln.strip()]
    return lines[-1][:200] if lines else type(error).__name__


def from_results(grid, param_names: list[str], cut: set[str] = frozenset()) -> pd.DataFrame:
    """One row per trial of a Tune ResultGrid (`cut`: ids of trials a Ctrl-C ended)."""
    states = trial_states(grid)
    rows = []
    for res in grid:
        m = res.metrics or {}
        config = params_of(res.config or {})  # a trial still PENDING when the search stopped has neither
        trial_id = m.get("trial_id") or Path(res.path).name
        # the number the trial reports is its own; under PBT its config's is its donor's
        row = {"trial": m.get("trial_number", config.get("trial_number", -1)),
               "trial_id": trial_id,
               "status": status_of(m, res.error is not None, states.get(trial_id), trial_id in cut),
               **{p: config.get(p) for p in param_names},
               "epochs": m.get("epoch", 0),
               "best_epoch": m.get("best_epoch", 0),  # the epoch whose metrics these are (ecgmodels.best)
               "wall_s": round(float(m.get("time_total_s", 0.0)), 1),
               # a metric a trial never reported stays empty (NaN) and keeps the trial off the front
               **{c: m.get(c, np.nan) for c in METRIC_COLS},
               "score": m.get("score", np.nan),
               # 1 when its best epoch meets the quality bar on validation (ecgmodels.policy.meets_bar)
               "bar": m.get("bar", np.nan),
               "trial_seed": m.get("trial_seed"),
               "node": str(m.get("node", ""))[:8],
               "resumed_from": m.get("resumed_from", 0),
               "lineage": m.get("lineage", ""),  # PBT: whose weights its best epoch grew from
               # P/QRS/T plausibility of its best epoch on validation (measured once, when it completes)
               **{c: m.get(c, np.nan) for c in PLAUSIBILITY_COLS},
               "checkpoint": res.checkpoint.path if res.checkpoint else "",
               "error": error_line(res.error)}
        if row["status"] == "diverged":  # its reported values are the penalty Optuna needed, not measurements
            row.update({c: np.nan for c in (*METRIC_COLS, "score", "bar")})
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["pareto"] = False
    ok = completed(df).to_numpy()
    if ok.any():
        df.loc[ok, "pareto"] = pareto_mask(df.loc[ok, "prd"].to_numpy(float), df.loc[ok, "mmd"].to_numpy(float))
    return order(df)


def rank(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Finished trials first, then best first by `by` (the metric's direction in ecgmodels.registry; by
    score, lowest first, those that meet the quality bar first)."""
    if by not in df.columns:
        raise ValueError(f"cannot rank by {by!r}; choose from {', '.join(RANKS)}")
    done = df["status"].eq("completed") if "status" in df else True
    key = REGISTRY[by].sort_key(df[by]) if by in REGISTRY else df[by]
    # by score, trials that meet the quality bar come first (ecgmodels.policy.rank), as the export is chosen
    bar = df["bar"].fillna(0) if by == "score" and "bar" in df else 0
    return (df.assign(_done=done, _bar=bar, _key=key).sort_values(["_done", "_bar", "_key"], ascending=[False, False, True])
            .drop(columns=["_done", "_bar", "_key"]))


def baseline_rows(baselines: dict, seed_ref: dict | None = None) -> pd.DataFrame:
    """Leaderboard rows for the validation baselines ({'floor': metrics, 'average': metrics}, each
    with its 'score') and the seed variant when it ran."""
    rows = [{"trial": name, "status": "baseline", **{c: baselines[name].get(c, np.nan) for c in RANKS}}
            for name in ("floor", "average")]
    if seed_ref:
        rows.append({"trial": "seed-variant", "status": f"reference ({seed_ref['outcome']})",
                     "epochs": seed_ref["epochs"], "best_epoch": seed_ref["best_epoch"], "wall_s": seed_ref["seconds"],
                     **{c: seed_ref["val"].get(c, np.nan) for c in RANKS}})
    return pd.DataFrame(rows)


def _fmt(v) -> str:
    if isinstance(v, float):
        return "" if np.isnan(v) else f"{v:.4g}"
    return str(v)


def markdown(df: pd.DataFrame, columns: list[str]) -> str:
    cols = [c for c in columns if c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(" --- " for _ in cols) + "|"]
    lines += ["| " + " | ".join(_fmt(r[c]) for c in cols) + " |" for _, r in df.iterrows()]
    return "\n".join(lines)


def plot_pareto(df: pd.DataFrame, baselines: dict, out: Path, seed_ref: dict | None = None) -> Path:
    """PRD vs MMD on validation, one dot per trial that has metrics, the front highlighted, and the
    baselines (real-vs-real floor, average beat, seed variant) marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ok = df[df["status"] == "completed"]
    other = df[(df["status"] != "completed") & (df["prd"] < NO_METRICS)]
    ax.scatter(other["prd"], other["mmd"], c="lightgray", s=18, label="not finished (early-stopped, collapsed)")
    ax.scatter(ok["prd"], ok["mmd"], c="tab:blue", s=22, label="finished trials")
    front = ok[ok["pareto"]].sort_values("prd")
    ax.plot(front["prd"], front["mmd"], "o-", c="tab:red", label="Pareto front")
    f, a = baselines["floor"], baselines["average"]
    ax.scatter([f["prd"]], [f["mmd"]], marker="*", s=150, c="tab:green", label="real-vs-real floor", zorder=3)
    ax.scatter([a["prd"]], [a["mmd"]], marker="D", s=60, c="tab:orange", label="average training beat", zorder=3)
    ax.axhline(a["mmd"], c="tab:orange", lw=0.8, ls="--", label="usable: MMD² below the average beat's")
    if seed_ref:
        ax.scatter([seed_ref["prd"]], [seed_ref["mmd"]], marker="X", s=90, c="k", label="seed variant", zorder=3)
    ax.set_xlabel("validation PRD, nn pairing, worse direction (%)")
    ax.set_ylabel("validation MMD² (fixed kernel)")
    ax.set_yscale("symlog", linthresh=1e-2)  # linear near 0, where real beats (MMD² ~ 0, +-) sit
    ax.legend(fontsize=7)
    ax.set_title("Search: PRD vs MMD (lower is better)")
    fig.tight_layout()
    replace_file(out, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)
    return out
