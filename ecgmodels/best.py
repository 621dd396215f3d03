"""Keep a run's best epoch, chosen on the validation split.

GAN training on ~1.5k beats does not improve steadily: in the reference search the median trial
ended at twice the validation MMD of its best epoch (bench/best_epoch.py). So every run (a search trial, the seed reference, the train
CLI) scores each epoch on validation and keeps a frozen copy of the best epoch's checkpoint; that
epoch, not the last, is what gets ranked, reported on test and exported. The rule is one number,
`scalarised`: PRD and MMD each over its real-vs-real floor, summed (2.0 = as good as real beats).
"""
from __future__ import annotations

import copy

import numpy as np

from .metrics import evaluate
from .train import EpochReport, sampler

METRICS = ("prd", "mmd", "rmse")


def scalarised(prd: float, mmd: float, floor: dict) -> float:
    """PRD/floor_PRD + MMD/floor_MMD: one number for picking epochs, schedulers and the 'knee' rule."""
    return prd / floor["prd"] + mmd / max(floor["mmd"], 1e-12)


def validation_floor(train_w: np.ndarray, val_w: np.ndarray, n: int) -> dict:
    """{'prd', 'mmd'} that `n` real training beats score against the validation beats: the floor."""
    rng = np.random.default_rng(0)
    stand_in = train_w[rng.choice(len(train_w), size=min(n, len(train_w)), replace=False)]
    ev = evaluate(stand_in, val_w, len(stand_in), seed=0, seed_metrics=False)
    return {"prd": ev["prd"]["mean"], "mmd": ev["mmd"]["mean"]}


def flat_metrics(ev: dict) -> dict:
    """{'prd': mean, 'prd_min': ..., 'prd_max': ..., 'mmd': ..., ...} from an `evaluate` result."""
    out = {}
    for m in METRICS:
        out[m] = ev[m]["mean"]
        out[f"{m}_min"] = ev[m]["min"]
        out[f"{m}_max"] = ev[m]["max"]
    return out


class BestEpoch:
    """Scores each epoch's generator on validation and keeps the lowest-`scalarised` epoch.

    `update(report)` returns this epoch's metrics ({prd, mmd, rmse (+_min/_max), score}) and, when
    the epoch is the best so far, deep-copies its checkpoint (weights change in place afterwards).
    `checkpoint` is that copy, with a 'selection' entry holding its epoch and metrics; pass it back
    as `state` when a run resumes so the best of the epochs before the interruption is not lost.
    """

    def __init__(self, val_w: np.ndarray, floor: dict, eval_n: int, seed: int, state: dict | None = None):
        self.val_w, self.floor, self.eval_n, self.seed = val_w, floor, eval_n, seed
        self.checkpoint: dict | None = state

    @property
    def metrics(self) -> dict | None:
        """The best epoch's metrics plus 'epoch', or None before the first epoch."""
        return self.checkpoint["selection"] if self.checkpoint else None

    def update(self, report: EpochReport) -> dict:
        ev = evaluate(sampler(report.generator), self.val_w, self.eval_n, seed=self.seed, seed_metrics=False)
        now = flat_metrics(ev) | {"score": scalarised(ev["prd"]["mean"], ev["mmd"]["mean"], self.floor)}
        if self.metrics is None or now["score"] < self.metrics["score"]:
            self.checkpoint = copy.deepcopy(report.checkpoint()) | {"selection": now | {"epoch": report.epoch}}
        return now
