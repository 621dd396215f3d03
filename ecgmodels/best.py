"""Keep a run's best epoch, chosen on the validation split.

GAN training on ~1.5k beats does not improve steadily: in the reference search the median trial
ended at twice the validation MMD of its best epoch (bench/best_epoch.py). So every run (a search trial, the seed reference, the train
CLI) scores each epoch on validation and keeps a frozen copy of the best epoch's checkpoint; that
epoch, not the last, is what gets ranked, reported on test and exported. The score is one number,
`policy.rank`: the lowest score among the epochs that meet the quality bar, or the lowest score
while none has (the score, the bar and the rank are defined once, in `ecgmodels.policy`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from . import fiducial
from .metrics import Kernel, baselines, evaluate, fit_kernel, too_few_beats
from .policy import meets_bar, rank, scalarised
from .registry import POPULATION
from .shape import r_peak_rate, roughness
from .checkpoint import networks
from .loop import EpochReport
from .models import sampler


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
    # For `plausibility` (set by `of`): where the R peak sits, mV per unit, the validation beats'
    # delineated P/QRS/T features (fiducial.features) and their share with the QRS at the R index
    r_index: int | None = None
    fs: float | None = None
    scale_mv: float | None = None
    real_features: dict | None = None
    real_r_rate: float | None = None
    real_roughness: float | None = None  # the validation beats' (metrics.roughness), set by `build`
    feature_lead: int = 0  # the lead the P/QRS/T features are measured on (WindowDataset.feature_lead)

    @classmethod
    def of(cls, ds, n: int) -> "Validation":
        """The validation set-up of a WindowDataset (datasets.WindowDataset), `n` generated beats per
        epoch; delineates (up to 2 x fiducial.FEATURE_BEATS of) the validation beats once, for
        `plausibility` (the delineator costs ~7 ms a beat)."""
        v = cls.build(ds.part("train"), ds.part("val"), ds.records_of("val"), n, train_records=ds.records_of("train"))
        v.r_index, v.fs, v.scale_mv, v.feature_lead = ds.config.r_index, float(ds.meta["fs"]), ds.scale_mv, ds.feature_lead
        mv = ds.to_mv(v.beats[fiducial.subset(len(v.beats), 2 * fiducial.FEATURE_BEATS), v.feature_lead])
        v.real_features = fiducial.features(mv, fiducial.delineate(mv, v.r_index, v.fs), v.r_index, v.fs)
        v.real_r_rate = r_peak_rate(v.beats[:, v.feature_lead], v.r_index, v.fs)
        return v

    @classmethod
    def build(cls, train: np.ndarray, val: np.ndarray, val_records: np.ndarray, n: int, kernel: Kernel | None = None,
              train_records: np.ndarray | None = None) -> "Validation":
        """Fit the kernel on `train` (unless given) and score both baselines against `val`
        (`train_records`: see metrics.baselines)."""
        if error := too_few_beats("eval_n", n):
            raise ValueError(error)
        kernel = kernel or fit_kernel(train)
        base = baselines(train, val, val_records, kernel, n, seed=0, train_records=train_records)
        if not base["average"]["mmd"] > base["floor"]["mmd"]:
            raise ValueError(f"on the validation split the average beat scores MMD^2 {base['average']['mmd']:.3g}, no "
                             f"worse than real beats ({base['floor']['mmd']:.3g}): too few validation beats "
                             f"({len(val)}) to tell generators apart; use a larger validation fraction (--split)")
        return cls(np.ascontiguousarray(val), np.asarray(val_records), kernel, n, base["floor"], base["average"],
                   real_roughness=roughness(val))

    def score(self, gen: np.ndarray) -> dict:
        """Every population metric of `gen` on validation, 'roughness' (over the validation beats'),
        and 'score', 'bar' and 'rank' (judged)."""
        ev = evaluate(gen, self.beats, self.records, self.kernel)
        return self.judged({m: ev[m] for m in POPULATION} | {"roughness": self.roughness(gen)})

    def roughness(self, gen: np.ndarray) -> float:
        """metrics.roughness of `gen` over the validation beats'; inf for non-finite output (which must
        fail the bar, where a missing or NaN roughness means 'not measured')."""
        if not self.real_roughness:  # set up without validation beats' roughness (or flat ones): not measured
            return float("nan")
        ratio = roughness(gen) / self.real_roughness
        return ratio if np.isfinite(ratio) else float("inf")

    def judged(self, m: dict) -> dict:
        """Population metrics `m` plus 'score', 'bar' (1.0 when they meet the quality bar, else 0.0)
        and 'rank' (bar first, then score), against this set-up's baselines."""
        score, bar = scalarised(m["prd"], m["mmd"], self.floor, self.average), meets_bar(m, self.floor, self.average)
        return m | {"score": score, "bar": float(bar), "rank": rank(score, bar)}

    def plausibility(self, gen: np.ndarray) -> dict:
        """Whether `gen` (scaled beats) are plausible ECG beside the validation beats
        (fiducial.plausibility): {'plausible': 1.0 or 0.0, and each check's share: 'r_at_r', 'qrs_ok',
        'p_wave', 't_wave'}; {} when the set-up has no features (built without a dataset). Once per
        trial, not per epoch: about 2 s for 256 beats, 30x an epoch's scoring."""
        if self.real_features is None:
            return {}
        lead = np.asarray(gen)[:, self.feature_lead]
        mv = lead.astype(np.float64) * self.scale_mv
        f = fiducial.features(mv, fiducial.delineate(mv, self.r_index, self.fs), self.r_index, self.fs)
        pl = fiducial.plausibility({"generated": fiducial.summary(f), "real": fiducial.summary(self.real_features)},
                                   r_peak_rate(lead, self.r_index, self.fs), self.real_r_rate)
        return {"plausible": float(pl["plausible"])} | {c["key"]: c["value"] for c in pl["checks"]}


class BestEpoch:
    """Scores each epoch's generator on validation and keeps the best, the lowest `rank`: the
    lowest-`scalarised` epoch among those that meet the quality bar, or the lowest-`scalarised` one
    while none has.

    `update(report)` returns this epoch's metrics (every population metric and 'score') and, when
    the epoch is the best so far, deep-copies its checkpoint (weights change in place afterwards).
    `checkpoint` is that copy, with a 'selection' entry holding its epoch and metrics; pass it back
    as `state` when a run resumes so the best of the epochs before the interruption is not lost.
    The validation noise seed is `seed`; the test split later uses another (metrics.report).
    """

    def __init__(self, validation: Validation, seed: int, state: dict | None = None):
        self.validation, self.seed = validation, seed
        if state is not None and not {"rank", "roughness"} <= state["selection"].keys():
            # kept before the quality bar existed, or before roughness was part of it: judge it now, its
            # roughness measured on the kept generator (one sampling), so that a rippled epoch kept by an
            # older version does not go on winning
            sel = {m: state["selection"][m] for m in POPULATION}
            if "generator" in state:
                sel["roughness"] = validation.roughness(sampler(networks(state)[1])(validation.n, seed))
            state = state | {"selection": validation.judged(sel) | {"epoch": state["selection"]["epoch"]}}
        self.checkpoint: dict | None = state

    @property
    def metrics(self) -> dict | None:
        """The best epoch's metrics plus 'epoch', or None before the first epoch."""
        return self.checkpoint["selection"] if self.checkpoint else None

    def update(self, report: EpochReport) -> dict:
        now = self.validation.score(sampler(report.generator)(self.validation.n, self.seed))
        if self.metrics is None or now["rank"] < self.metrics["rank"]:
            self.checkpoint = copy.deepcopy(report.checkpoint()) | {"selection": now | {"epoch": report.epoch}}
        return now
