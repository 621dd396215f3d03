"""Every metric, declared once: its name, column label, direction (or target value), the range its
interval is kept in, and where it is shown. Tables (the test table, report.html, the leaderboard),
the leaderboard's ranking, the interval's bounds and a diverged trial's penalty all read this.

Adding a metric: one function (ecgmodels.metrics or the module of its kind), one entry here, and its
test. What the search optimises and the quality bar's thresholds are decisions about metrics, not
properties of them: ecgmodels.policy holds those.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .shape import r_peak_rate, roughness, spread_profile_corr, steepest_slope

# A diverged trial reports this for metrics where lower is better (the worst finite value Optuna takes).
WORST = 1e4
UNIT, NON_NEGATIVE, ANY = (0.0, 1.0), (0.0, math.inf), (-math.inf, math.inf)


@dataclass(frozen=True)
class Metric:
    """One metric. `direction`: 'lower' or 'higher' is better, 'one' (best at 1), 'log-one' (best at 1
    on a log scale: a ratio where 0.5 and 2 are equally far off). `bounds`: where its values, and so its
    95 % interval, can lie. `kind`: 'population' (metrics.evaluate, on every split and epoch), 'legacy'
    (the seed's definitions, test tables only), 'shape' (ecgmodels.shape: `compute(gen, real, r_index,
    fs)` on one lead, in every test report's 'shape'; `per_epoch`: also scored on validation every
    epoch and shown in the leaderboard). `page`: its row label in report.html's metrics table."""

    name: str
    label: str
    direction: str
    bounds: tuple[float, float]
    kind: str
    about: str
    page: str | None = None
    compute: Callable[..., float] | None = None
    per_epoch: bool = False

    def sort_key(self, values):
        """Values mapped so that smaller is better (numpy arrays or pandas Series)."""
        return {"lower": lambda v: v, "higher": lambda v: -v, "one": lambda v: abs(v - 1),
                "log-one": lambda v: abs(np.log(v))}[self.direction](values)

    @property
    def worst(self) -> float:
        """What a diverged trial reports for it: the worst finite value."""
        return 0.0 if self.direction in ("higher", "one") else WORST


METRICS = (
    # population metrics, in the order of the test table's columns
    Metric("mmd", "MMD²", "lower", ANY, "population", "unbiased MMD² with the dataset's fixed kernel",
           page="MMD² (fixed kernel)"),
    Metric("prd", "PRD %", "lower", NON_NEGATIVE, "population", "PRD with nearest-neighbour pairing, the worse way",
           page="PRD % to nearest real"),
    Metric("prd_g2r", "PRD g→r", "lower", NON_NEGATIVE, "population", "each generated beat to its nearest real one"),
    Metric("prd_r2g", "PRD r→g", "lower", NON_NEGATIVE, "population", "each real beat to its nearest generated one"),
    Metric("precision", "precision ↑", "higher", UNIT, "population", "generated beats inside a real beat's k-NN ball",
           page="precision"),
    Metric("recall", "recall ↑", "higher", UNIT, "population", "real beats inside a generated beat's k-NN ball",
           page="recall"),
    Metric("density", "density ↑", "higher", NON_NEGATIVE, "population", "real balls holding a generated beat, over k",
           page="density"),
    Metric("coverage", "coverage ↑", "higher", UNIT, "population", "real beats with a generated beat in their ball",
           page="coverage"),
    Metric("diversity", "diversity (1 = real)", "one", NON_NEGATIVE, "population",
           "beat-to-beat spread over real beats'", page="diversity (1 = as varied as real)"),
    Metric("rmse", "RMSE", "lower", NON_NEGATIVE, "population", "RMSE to the nearest real beat, scaled units"),
    # shape checks, beside them (ecgmodels.shape)
    Metric("roughness", "roughness", "log-one", NON_NEGATIVE, "shape",
           "mean squared second difference (high-frequency energy) over real beats'",
           compute=lambda g, r, r_index, fs: roughness(g) / roughness(r), per_epoch=True),
    Metric("r_peak_rate", "R at R ↑", "higher", UNIT, "shape", "share of beats whose largest deflection is at the R index",
           compute=lambda g, r, r_index, fs: r_peak_rate(g, r_index, fs)),
    Metric("spread_profile_corr", "spread profile r ↑", "higher", (-1.0, 1.0), "shape",
           "correlation along the beat of generated and real beats' beat-to-beat spread",
           compute=lambda g, r, r_index, fs: spread_profile_corr(g, r)),
    Metric("slope", "steepest slope ratio", "log-one", NON_NEGATIVE, "shape",
           "median steepest sample-to-sample change (the QRS upstroke) over real beats'",
           compute=lambda g, r, r_index, fs: steepest_slope(g) / steepest_slope(r)),
    # the seed's own definitions (random pairing), in the legacy table's order
    Metric("rmse_random", "RMSE (random)", "lower", NON_NEGATIVE, "legacy", "RMSE with random pairing"),
    Metric("prd_seed", "PRD_seed (random, /10)", "lower", NON_NEGATIVE, "legacy", "the seed's PRD/10, random pairing"),
    Metric("mmd_seed", "MMD_seed (per pair)", "lower", NON_NEGATIVE, "legacy", "the seed's per-pair 1-D MMD²"),
    Metric("prd_random", "PRD (random)", "lower", NON_NEGATIVE, "legacy", "PRD with random pairing"),
)
REGISTRY = {m.name: m for m in METRICS}


def names(kind: str) -> tuple[str, ...]:
    """The metrics of one kind, in the registry's order."""
    return tuple(m.name for m in METRICS if m.kind == kind)


POPULATION = names("population")
LEGACY = names("legacy")
# What a trial reports every epoch (validation): the leaderboard's metric columns
PER_EPOCH = POPULATION + tuple(m.name for m in METRICS if m.per_epoch)
