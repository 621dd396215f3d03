"""Keep a run's best epoch, chosen on the validation split.

GAN training on ~1.5k beats does not improve steadily: in the reference search the median trial
ended at twice the validation MMD of its best epoch (bench/best_epoch.py). So every run (a search trial, the seed reference, the train
CLI) scores each epoch on validation and keeps a frozen copy of the best epoch's checkpoint; that
epoch, not the last, is what gets ranked, reported on test and exported. The rule is one number,
`scalarised`: PRD over the real-vs-real floor's PRD, plus MMD^2 placed on a scale where real beats
(the floor) are 0 and the average training beat is 1. Real beats score about 1.0, the average beat
about 2.1 on LUDB II validation; higher is worse. (MMD^2 is not divided by its floor: the unbiased
estimate for real beats is ~0, sometimes negative, so it is no scale; the gap to the average beat is.)
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .metrics import POPULATION, Kernel, baselines, evaluate, fit_kernel
from .train import EpochReport, sampler


def scalarised(prd: float, mmd: float, floor: dict, average: dict) -> float:
    """PRD/floor_PRD + (MMD - floor_MMD)/(average_MMD - floor_MMD): one number for picking epochs,
    schedulers and the 'knee' rule."""
    return prd / floor["prd"] + (mmd - floor["mmd"]) / (average["mmd"] - floor["mmd"])


@dataclass
class Validation:
    """What every epoch is scored against: the validation beats and their records, the dataset's
    fixed kernel, and both baselines ('floor', 'average') at the same number of generated beats."""

    beats: np.ndarray
    records: np.ndarray
    kernel: Kernel
    n: int
    floor: dict
    average: dict

    @classmethod
    def of(cls, ds, n: int) -> "Validation":
        """The validation set-up of a WindowDataset (datasets.WindowDataset), `n` generated beats per epoch."""
        return cls.build(ds.part("train"), ds.part("val"), ds.records_of("val"), n,
                         train_records=ds.records_of("train"), train_leads=ds.leads_of("train"))

    @classmethod
    def build(cls, train: np.ndarray, val: np.ndarray, val_records: np.ndarray, n: int, kernel: Kernel | None = None,
              train_records: np.ndarray | None = None, train_leads: np.ndarray | None = None) -> "Validation":
        """Fit the kernel on `train` (unless given) and score both baselines against `val`
        (`train_records`, `train_leads`: see metrics.baselines)."""
        if n < 6:
            raise ValueError(f"eval_n {n}: at least 6 generated beats are needed to score an epoch (k-NN with k=5)")
        kernel = kernel or fit_kernel(train)
        base = baselines(train, val, val_records, kernel, n, seed=0, train_records=train_records, train_leads=train_leads)
        if not base["average"]["mmd"] > base["floor"]["mmd"]:
            raise ValueError(f"on the validation split the average beat scores MMD^2 {base['average']['mmd']:.3g}, no "
                             f"worse than real beats ({base['floor']['mmd']:.3g}): too few validation beats "
                             f"({len(val)}) to tell generators apart; use a larger validation fraction (--split)")
        return cls(np.ascontiguousarray(val), np.asarray(val_records), kernel, n, base["floor"], base["average"])

    def score(self, gen: np.ndarray) -> dict:
        """Every population metric of `gen` on validation, plus 'score' (scalarised)."""
        ev = evaluate(gen, self.beats, self.records, self.kernel)
        return {m: ev[m] for m in POPULATION} | {"score": scalarised(ev["prd"], ev["mmd"], self.floor, self.average)}


class BestEpoch:
    """Scores each epoch's generator on validation and keeps the lowest-`scalarised` epoch.

    `update(report)` returns this epoch's metrics (every population metric and 'score') and, when
    the epoch is the best so far, deep-copies its checkpoint (weights change in place afterwards).
    `checkpoint` is that copy, with a 'selection' entry holding its epoch and metrics; pass it back
    as `state` when a run resumes so the best of the epochs before the interruption is not lost.
    The validation noise seed is `seed`; the test split later uses another (metrics.report).
    """

    def __init__(self, validation: Validation, seed: int, state: dict | None = None):
        self.validation, self.seed = validation, seed
        self.checkpoint: dict | None = state

    @property
    def metrics(self) -> dict | None:
        """The best epoch's metrics plus 'epoch', or None before the first epoch."""
        return self.checkpoint["selection"] if self.checkpoint else None

    def update(self, report: EpochReport) -> dict:
        now = self.validation.score(sampler(report.generator)(self.validation.n, self.seed))
        if self.metrics is None or now["score"] < self.metrics["score"]:
            self.checkpoint = copy.deepcopy(report.checkpoint()) | {"selection": now | {"epoch": report.epoch}}
        return now
