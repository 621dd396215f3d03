"""What the search optimises, what counts as good enough, how trials and epochs are ranked, and
which trial is exported: each defined once, here, and read by Optuna, ASHA, PBT, the best-epoch
keeper, the export and the leaderboard.

- **Objectives** (`OBJECTIVES`): Optuna minimises validation PRD and MMD^2 (with the dataset's fixed
  kernel) of each trial's kept epoch.
- **Score** (`scalarised`): PRD over the real-vs-real floor's PRD, plus MMD^2 on a scale where real
  beats (the floor) are 0 and the average training beat is 1. Real beats score about 1.0, the average
  beat about 2.1 on LUDB II validation; higher is worse. (MMD^2 is not divided by its floor: the
  unbiased estimate for real beats is ~0, sometimes negative, so it is no scale; the gap to the
  average beat is.)
- **Quality bar** (`meets_bar`): `score` rewards beats that sit close to real ones, and a generator
  that draws only the commonest kinds of beat scores well on it (an earlier reference's choice:
  validation score 0.79, below real beats', at recall 0.57 against real beats' 0.92), so every epoch
  and trial is first asked whether it meets the bar.
- **Rank** (`rank`): bar first, then score, in one number. The best-epoch keeper keeps the lowest
  rank; ASHA stops trials on their kept epoch's (`ASHA_METRIC`); PBT exploits on the epoch just
  trained (`PBT_METRIC`).
- **Choice** (`choose`): the trial exported, and the leaderboard's default order (`order`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

# Optuna's objectives, both minimised on validation: (metric, mode) pairs.
OBJECTIVES = (("prd", "min"), ("mmd", "min"))
# ASHA stops a trial on its kept epoch's rank, so a trial whose kept epoch moved to one that meets the
# bar (at a higher score) is not the one stopped. PBT exploits on the epoch just trained, judged bar
# first: on the last score alone it copied and kept a trial whose perturbed learning rate had left a
# ripple on every beat.
ASHA_METRIC = "rank"
PBT_METRIC = "last_rank"


def mmd_scale(mmd: float, floor: dict, average: dict) -> float:
    """MMD^2 on the scale where the floor (real beats) is 0 and the average beat is 1."""
    return (mmd - floor["mmd"]) / (average["mmd"] - floor["mmd"])


def scalarised(prd: float, mmd: float, floor: dict, average: dict) -> float:
    """PRD/floor_PRD + MMD^2 on the floor-0 / average-beat-1 scale: one number for picking epochs,
    schedulers and the 'knee' rule."""
    return prd / floor["prd"] + mmd_scale(mmd, floor, average)


# The quality bar, on validation against the real-vs-real floor's values (bench/schedulers.py also
# times how soon a search first meets it):
BAR_MMD = 0.13  # MMD^2 at most this on the real-0 / average-beat-1 scale: what 1.5x the floor's V-statistic
#                 MMD^2 is on LUDB II (the average beat sits at 4.8x)
BAR_SHARE = 0.85  # precision, recall and coverage each at least this share of real beats'
BAR_SPREAD = (0.8, 1.2)  # diversity (beat-to-beat spread over real beats') within this range
# Roughness (high-frequency energy, metrics.roughness) at most this times real beats'. The k-NN and
# MMD metrics let a fine ripple on every beat pass: the previous reference's export met every other
# target at 7x real beats' roughness, a fuzz visible on every trace (bench/RESULTS.md); the
# ablations' ECG-like generators sit at 0.1-1x.
BAR_ROUGHNESS = 2.0
# Added to the score of metrics that miss the bar, for `rank`: more than any score of a generator that
# draws anything (noise scores ~40; a diverged trial reports 1e4), so rank orders bar first, then score.
BAR_MISSED = 1000.0


def meets_bar(m: dict, floor: dict, average: dict) -> bool:
    """Whether population metrics `m` (metrics.evaluate's keys) meet the quality bar: MMD^2 within
    BAR_MMD of the floor on the floor-0 / average-beat-1 scale, precision, recall and coverage at
    least BAR_SHARE of the floor's, diversity within BAR_SPREAD, and 'roughness' (over real beats')
    at most BAR_ROUGHNESS. NaN fails; a missing or NaN roughness is one not measured (trials from before
    it; a generator whose output is NaN fails on every other metric)."""
    rough = m.get("roughness", np.nan)
    return bool(mmd_scale(m["mmd"], floor, average) <= BAR_MMD and BAR_SPREAD[0] <= m["diversity"] <= BAR_SPREAD[1]
                and all(m[k] >= BAR_SHARE * floor[k] for k in ("precision", "recall", "coverage"))
                and (np.isnan(rough) or rough <= BAR_ROUGHNESS))


def rank(score: float, bar: bool) -> float:
    """One number that orders metrics bar first, then by score (lower is better): what picks an
    epoch (BestEpoch) and what ASHA stops trials on."""
    return score + (0.0 if bar else BAR_MISSED)


def pareto_mask(prd: np.ndarray, mmd: np.ndarray) -> np.ndarray:
    """True where no other point is at least as good in both and strictly better in one (minimising)."""
    pts = np.stack([prd, mmd], axis=1)
    mask = np.ones(len(pts), dtype=bool)
    for i, p in enumerate(pts):
        dominated = np.all(pts <= p, axis=1) & np.any(pts < p, axis=1)
        mask[i] = not dominated.any()
    return mask


def completed(board: pd.DataFrame) -> pd.Series:
    """Rows of trials that ran every epoch and have both objectives: the ones a Pareto front is over."""
    return board["status"].eq("completed") & board["prd"].notna() & board["mmd"].notna()


def order(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard's default order, the order the export is chosen in: trials that meet the
    quality bar, then the Pareto front, then score."""
    return (board.assign(_bar=board["bar"].fillna(0)).sort_values(["_bar", "pareto", "score"], ascending=[False, False, True])
            .drop(columns="_bar").reset_index(drop=True))


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
