"""Evaluation: how close generated beats are to real ones, as a population. Pure numpy functions.

Beats are arrays [n, leads, samples] (or [n, samples]) in the dataset's scaled units (1.0 = the
dataset's `scale_mv` millivolts); everything is computed in float64 on each beat flattened to one
vector. Real beats come with their record (patient) ids: beats of one record are near copies of each
other, so anything that asks "how far is the nearest *other* real beat" looks across records.

Why these and not others: a generator can fail by drawing one template beat (mode collapse) or by
drawing noise. A useful evaluation ranks both below real beats, and below the trivial generator that
draws the average training beat. Each metric below sees at least one of the two failures:

- `mmd`: unbiased MMD^2 between the generated and real sets with a **fixed** kernel, fitted once on
  the training beats (`fit_kernel`): the mean of two RBF kernels of bandwidths 1 and 2 times the
  median distance between training beats. Fixed, because a bandwidth pooled with the generated set
  grows with the generator's own noise and so flatters noisy generators. No bandwidths below the
  median: between two distinct 400-sample beats a narrow kernel is ~0, so MMD^2 there only asks how
  alike each set's members are, and ranks noise above any plausible but less varied generator
  (measured on LUDB II test beats: at 0.25x and 0.5x the median, a committed export drawing ECG-free
  ripple scored better than the ECG-like reference export and the average beat; at 1x the median
  it scores 3.4x and 5.2x worse than those two, at 2x 8x and 20x worse).
- `prd`: PRD = 100*||x - y||/||x|| % (x real) with nearest-neighbour pairing in **both** directions,
  the worse of the two means: `prd_g2r` pairs each generated beat with its nearest real beat (fidelity: noise raises it)
  and `prd_r2g` each real beat with its nearest generated beat (missing modes raise it; a collapsed
  generator scores well on g2r alone, which is why the objective uses both).
- `precision`, `recall`, `density`, `coverage` (Kynkäänniemi et al. 2019; Naeem et al. 2020, k = 5):
  k-NN balls around real beats (radius: distance to the k-th nearest real beat *of another record*)
  and around generated beats (k-th nearest generated beat). Precision and density: generated beats
  inside real balls (fidelity); recall and coverage: real beats reached by the generator (diversity).
- `diversity`: generated beat-to-beat spread over real spread (spread = per-sample standard deviation
  across beats, averaged over the window); 1.0 for real beats, 0 for a single template.
- `rmse`: RMSE of each generated beat to its nearest real beat, scaled units (with `prd_g2r`).

Every metric comes with two baselines (`baselines`): the **floor** (training beats standing in for
generated ones: what real data scores) and the **average beat** (the mean training beat plus
N(0, 0.01^2) noise: what a generator that learned nothing but the template scores). On the test
split, `evaluate(..., bootstrap=B)` adds 95 % intervals from resampling *records* (patients) of
the real set together with the generated beats (`interval` says how they are centred). MMD^2's
within-real term pairs beats of different records only (`_within` says why).

The seed's definitions, kept only to set results beside its table (see ../shared/notes/seed.md):
random pairing: `rmse_random`, `prd_random`, `prd_seed` = PRD/10, and `mmd_seed`, a per-pair MMD^2
between the two beats' samples as sets of one-dimensional points (time order ignored), exp(-d^2).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .registry import METRICS, REGISTRY
from .shape import r_peak_rate

# Defaults, in one place.
K_NN = 5  # neighbours for the k-NN balls (Naeem et al. use 5)
KERNEL_SCALES = (1.0, 2.0)  # RBF bandwidths as multiples of the median training distance (see the docstring)
KERNEL_FIT_BEATS = 1000  # training beats the median distance is taken over (all pairs among them)
AVERAGE_BEAT_NOISE = 0.01  # sd of the noise on the average-beat baseline, scaled units (~9 uV on LUDB II)
BOOTSTRAP = 200  # record resamples for the test split's intervals
TEST_N = 512  # generated beats a test report scores by default (every CLI that writes one)
CI = (2.5, 97.5)
MIN_BEATS = K_NN + 1  # the fewest generated beats the k-NN metrics can score


def too_few_beats(flag: str, n: int) -> str | None:
    """The error for scoring `n` generated beats (given as `flag`) when that is too few, else None."""
    return f"{flag} {n}: at least {MIN_BEATS} generated beats are needed (k-NN metrics use k={K_NN})" if n < MIN_BEATS else None


# ---------------------------------------------------------------------------------------------
# Per-pair distances
# ---------------------------------------------------------------------------------------------


def _flat(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1) if x.ndim > 1 else x.reshape(1, -1)


def rmse(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Root-mean-square difference of each pair (rows of x and y), in the inputs' units."""
    x, y = _flat(x), _flat(y)
    return np.sqrt(np.mean((x - y) ** 2, axis=1))


def prd(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Percentage root-mean-square difference of each pair, in %: 100*sqrt(sum((x-y)^2)/sum(x^2)), x real."""
    x, y = _flat(x), _flat(y)
    return 100.0 * np.sqrt(np.sum((x - y) ** 2, axis=1) / np.sum(x**2, axis=1))


def prd_seed(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The seed's PRD, sqrt(100 * ratio): the standard PRD divided by 10. For comparison only."""
    return prd(x, y) / 10.0


def sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between every row of a [n, d] and of b [m, d], [n, m], >= 0."""
    d = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def pair(real: np.ndarray, gen: np.ndarray, pairing: str, rng: np.random.Generator) -> np.ndarray:
    """For each generated beat, the real beat it is compared with: its nearest ('nn') or one drawn
    at random ('random', the seed's: shuffled real beats, with replacement when fewer than gen)."""
    r, g = _flat(real), _flat(gen)
    if pairing == "nn":
        return r[np.argmin(sq_distances(g, r), axis=1)]
    if pairing == "random":
        return r[rng.choice(len(r), size=len(g), replace=len(g) > len(r))]
    raise ValueError(f"pairing {pairing!r} must be 'nn' or 'random'")


# ---------------------------------------------------------------------------------------------
# The fixed kernel and MMD
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kernel:
    """k(a, b) = mean over s of exp(-||a - b||^2 / (2 (s * median)^2)), s in `scales`; k(a, a) = 1."""

    median: float  # median Euclidean distance between training beats, scaled units
    scales: tuple[float, ...] = KERNEL_SCALES

    def __post_init__(self) -> None:
        if not (np.isfinite(self.median) and self.median > 0):
            raise ValueError(f"Kernel.median={self.median!r}: must be a positive distance")
        if not self.scales or any(s <= 0 for s in self.scales):
            raise ValueError(f"Kernel.scales={self.scales!r}: must be positive multiples of the median")

    @property
    def bandwidths(self) -> tuple[float, ...]:
        return tuple(s * self.median for s in self.scales)

    def of_sq(self, d2: np.ndarray) -> np.ndarray:
        """The kernel of squared distances (any shape)."""
        return np.mean([np.exp(-d2 / (2.0 * b**2)) for b in self.bandwidths], axis=0)

    def to_dict(self) -> dict:
        return {"kind": "mean of RBF kernels", "median": self.median, "scales": list(self.scales),
                "bandwidths": list(self.bandwidths)}

    @classmethod
    def from_dict(cls, d: dict) -> "Kernel":
        return cls(median=float(d["median"]), scales=tuple(float(s) for s in d["scales"]))


def median_distance(x: np.ndarray) -> float:
    """Median Euclidean distance over distinct pairs of rows of `x`."""
    x = _flat(x)
    d = sq_distances(x, x)
    return float(np.sqrt(np.median(d[np.triu_indices(len(x), k=1)])))


def fit_kernel(train: np.ndarray, scales: tuple[float, ...] = KERNEL_SCALES, max_beats: int = KERNEL_FIT_BEATS) -> Kernel:
    """The evaluation kernel of a dataset, from its training beats only (deterministic: the same
    `max_beats` beats, drawn with seed 0, whoever calls it), so every trial, baseline and export of a
    dataset is scored with the same kernel."""
    t = _flat(train)
    if len(t) < 2:
        raise ValueError(f"fitting the MMD kernel needs at least 2 training beats, got {len(t)}")
    if len(t) > max_beats:
        t = t[np.random.default_rng(0).choice(len(t), max_beats, replace=False)]
    return Kernel(median=median_distance(t), scales=tuple(scales))


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, kernel: Kernel) -> float:
    """Unbiased MMD^2 between sample sets x [n, d] and y [m, d] under `kernel`:
    (sum_{i!=j} k(x_i,x_j))/(n(n-1)) + (sum_{i!=j} k(y_i,y_j))/(m(m-1)) - 2 mean k(x_i, y_j).
    Can be slightly negative when the sets come from the same distribution."""
    x, y = _flat(x), _flat(y)
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        raise ValueError(f"MMD needs at least 2 samples per set, got {n} and {m}")
    kxx, kyy, kxy = (kernel.of_sq(sq_distances(a, b)) for a, b in ((x, x), (y, y), (x, y)))
    return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2.0 * kxy.mean())


def mmd2_v(x: np.ndarray, y: np.ndarray, kernel: Kernel) -> float:
    """The biased (V-statistic) MMD^2: mean k(x, x') + mean k(y, y') - 2 mean k(x, y), every pair
    including each beat with itself. Positive even between two samples of one distribution (about
    1/n + 1/m of the kernel's range), so a generator's can be read as a multiple of real beats'
    ('x the floor', `report`'s 'mmd_v_ratio'); the population metric `mmd` is the unbiased one."""
    x, y = _flat(x), _flat(y)
    return float(sum(s * kernel.of_sq(sq_distances(a, b)).mean() for s, a, b in ((1, x, x), (1, y, y), (-2, x, y))))


def _within(k: np.ndarray, idx: np.ndarray, groups: np.ndarray) -> float:
    """Mean kernel over pairs of a (resampled) set whose members belong to different groups.

    For real beats the groups are records: two independent draws from a population of patients
    almost never share a patient, while a sample of ~9 beats per record is full of same-patient
    near-copies that would inflate the within-real term. For generated beats each beat is its own
    group, which also keeps bootstrap copies of one beat from pairing with each other."""
    g = groups[idx]
    distinct = g[:, None] != g[None, :]
    return float(k[np.ix_(idx, idx)][distinct].mean())


# ---------------------------------------------------------------------------------------------
# k-NN fidelity and diversity
# ---------------------------------------------------------------------------------------------


def knn_radii(d: np.ndarray, groups: np.ndarray, k: int = K_NN) -> np.ndarray:
    """For each point i, the distance to its k-th nearest point of another group (d: [n, n] distances).

    Groups are records for real beats (near-copies of one patient's beat do not count as
    neighbours) and single beats for generated ones. Fewer than k points in other groups: inf."""
    g = np.asarray(groups)
    masked = np.where(g[:, None] == g[None, :], np.inf, d)
    kk = min(k, masked.shape[1]) - 1
    return np.partition(masked, kk, axis=1)[:, kk]


def prdc(d_rg: np.ndarray, r_real: np.ndarray, r_gen: np.ndarray, k: int = K_NN) -> dict[str, float]:
    """Precision, recall, density, coverage from real-to-generated distances d_rg [n_real, n_gen] and
    the k-NN radii of the real (r_real) and generated (r_gen) beats. Ball membership is d <= radius."""
    in_real = d_rg <= r_real[:, None]  # generated beat j inside real beat i's ball
    in_gen = d_rg <= r_gen[None, :]  # real beat i inside generated beat j's ball
    return {"precision": float(in_real.any(axis=0).mean()),
            "recall": float(in_gen.any(axis=1).mean()),
            "density": float(in_real.sum() / (k * d_rg.shape[1])),
            "coverage": float(in_real.any(axis=1).mean())}


def spread(x: np.ndarray) -> float:
    """Beat-to-beat spread: the standard deviation across beats at each sample, averaged."""
    return float(_flat(x).std(axis=0).mean())


# ---------------------------------------------------------------------------------------------
# Everything at once, with record-bootstrap intervals
# ---------------------------------------------------------------------------------------------


class _Pairwise:
    """Distances and kernels among real (R) and generated (G) beats, computed once; `metrics(ri, gi)`
    scores any resample given as index arrays into R and G."""

    def __init__(self, gen: np.ndarray, real: np.ndarray, records: np.ndarray, kernel: Kernel, k: int,
                 gen_groups: np.ndarray | None = None):
        self.g, self.r, self.records, self.kernel, self.k = _flat(gen), _flat(real), np.asarray(records), kernel, k
        # Generated beats are each their own group; real beats standing in for generated ones (the
        # floor) are grouped by record, since a generator drawing from the population of patients
        # would not draw one patient's near-copies.
        self.gen_groups = np.arange(len(self.g)) if gen_groups is None else np.asarray(gen_groups)
        if len(self.gen_groups) != len(self.g):
            raise ValueError(f"{len(self.gen_groups)} group ids for {len(self.g)} generated beats")
        if self.r.shape[1] != self.g.shape[1]:
            raise ValueError(f"generated beats have {self.g.shape[1]} values each, real beats {self.r.shape[1]}")
        if len(self.records) != len(self.r):
            raise ValueError(f"{len(self.records)} record ids for {len(self.r)} real beats")
        d2 = {"rr": sq_distances(self.r, self.r), "gg": sq_distances(self.g, self.g), "rg": sq_distances(self.r, self.g)}
        self.d = {key: np.sqrt(v) for key, v in d2.items()}
        self.kern = {key: kernel.of_sq(v) for key, v in d2.items()}
        self.norm_r = np.sqrt((self.r**2).sum(axis=1))

    def metrics(self, ri: np.ndarray, gi: np.ndarray) -> dict[str, float]:
        d_rg = self.d["rg"][np.ix_(ri, gi)]
        r_real = knn_radii(self.d["rr"][np.ix_(ri, ri)], self.records[ri], self.k)
        # a bootstrap copy of a generated beat is in its original's group (gi), or its record's
        r_gen = knn_radii(self.d["gg"][np.ix_(gi, gi)], self.gen_groups[gi], self.k)
        nearest_real = d_rg.argmin(axis=0)
        g2r = 100.0 * d_rg[nearest_real, np.arange(len(gi))] / self.norm_r[ri][nearest_real]
        r2g = 100.0 * d_rg.min(axis=1) / self.norm_r[ri]
        mmd = (_within(self.kern["rr"], ri, self.records) + _within(self.kern["gg"], gi, self.gen_groups)
               - 2.0 * self.kern["rg"][np.ix_(ri, gi)].mean())
        # The objective PRD is the worse of the two directions: their mean let the average beat score
        # within 5 % of real beats (its low g2r, sitting at the centre, offset its high r2g).
        out = {"prd": float(max(g2r.mean(), r2g.mean())), "mmd": float(mmd),
               "prd_g2r": float(g2r.mean()), "prd_r2g": float(r2g.mean()),
               "rmse": float((d_rg[nearest_real, np.arange(len(gi))] / np.sqrt(self.r.shape[1])).mean())}
        out |= prdc(d_rg, r_real, r_gen, self.k)
        out["diversity"] = spread(self.g[gi]) / spread(self.r[ri])
        return out


def legacy(gen: np.ndarray, real: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """The seed's metrics (random pairing), means: rmse_random, prd_random, prd_seed, mmd_seed."""
    g = _flat(gen)
    rnd = pair(real, g, "random", rng)
    return {"rmse_random": float(rmse(rnd, g).mean()), "prd_random": float(prd(rnd, g).mean()),
            "prd_seed": float(prd_seed(rnd, g).mean()), "mmd_seed": float(mmd_seed(rnd, g).mean())}


def mmd_seed(x: np.ndarray, y: np.ndarray, chunk: int = 64) -> np.ndarray:
    """The seed's per-pair MMD^2: each beat's samples as a set of 1-D points, kernel exp(-d^2), unbiased."""
    x, y = _flat(x), _flat(y)
    n = x.shape[1]
    out = np.empty(len(x))
    for s in range(0, len(x), chunk):
        a, b = x[s:s + chunk], y[s:s + chunk]

        def ksum(p, q):
            return np.exp(-((p[:, :, None] - q[:, None, :]) ** 2)).sum(axis=(1, 2))

        within = (ksum(a, a) - n) / (n * (n - 1)) + (ksum(b, b) - n) / (n * (n - 1))
        out[s:s + chunk] = within - 2.0 * ksum(a, b) / (n * n)
    return out


def copy_ratio(gen: np.ndarray, train: np.ndarray, held_out: np.ndarray) -> float:
    """Median distance of generated beats to their nearest training beat, over the same for held-out
    real beats. About 1 or above: no copying; well below 1: the generator reproduces training beats."""
    t = _flat(train)
    d_gen = np.sqrt(sq_distances(_flat(gen), t).min(axis=1))
    d_real = np.sqrt(sq_distances(_flat(held_out), t).min(axis=1))
    return float(np.median(d_gen) / np.median(d_real))


def shape(gen: np.ndarray, real: np.ndarray, r_index: int, fs: float) -> dict:
    """The registry's shape checks (ecgmodels.shape) of `gen` against `real`, both one lead, scaled
    units: {name: value} for each, plus 'r_peak_rate_real' (real beats' own share, for the P/QRS/T
    plausibility check)."""
    return {m.name: m.compute(gen, real, r_index, fs) for m in METRICS if m.compute} | {
        "r_peak_rate_real": r_peak_rate(real, r_index, fs)}


def evaluate(gen: np.ndarray, real: np.ndarray, records: np.ndarray, kernel: Kernel, *, k: int = K_NN,
             bootstrap: int = 0, seed: int = 0, seed_metrics: bool = False, gen_groups: np.ndarray | None = None) -> dict:
    """Score generated beats `gen` against real beats `real` (with their record ids `records`).

    Returns {metric: value} for every name in POPULATION (and LEGACY with `seed_metrics`), plus
    'n_gen', 'n_real', 'records'; with `bootstrap` = B > 0 also 'ci': {metric: [lo, hi]}, a 95 %
    interval (see `interval`) over B resamples of the real set's records (with replacement, each
    record's beats together; resamples with a single distinct record are drawn again) and of the
    generated beats. `gen_groups`: record ids when `gen` are real beats standing in for generated ones.
    """
    pw = _Pairwise(gen, real, records, kernel, k, gen_groups)
    n_g, n_r = len(pw.g), len(pw.r)
    if n_g < k + 1 or n_r < 2:
        raise ValueError(f"evaluation needs more than k={k} generated beats and 2 real ones, got {n_g} and {n_r}")
    if np.isinf(knn_radii(pw.d["rr"], pw.records, k)).any():
        raise ValueError(f"some held-out beats have fewer than k={k} beats of other records to size their k-NN "
                         f"ball ({len(np.unique(pw.records))} record(s) in the split): give validation and test more "
                         "records (a larger --split share, e.g. 0.5,0.25,0.25 for a dozen records)")
    out: dict = pw.metrics(np.arange(n_r), np.arange(n_g))
    rng = np.random.default_rng(seed)
    if seed_metrics:
        out |= legacy(pw.g, pw.r, rng)
    uniq = np.unique(pw.records)
    out |= {"n_gen": n_g, "n_real": n_r, "records": int(len(uniq))}
    if bootstrap:
        if len(uniq) < 2:
            raise ValueError("a record bootstrap needs real beats from at least 2 records")
        members = [np.flatnonzero(pw.records == r) for r in uniq]
        draws = []
        while len(draws) < bootstrap:
            picks = rng.integers(0, len(uniq), len(uniq))
            if len(np.unique(picks)) < 2:  # no pair of records to size balls or pair beats across
                continue
            ri = np.concatenate([members[j] for j in picks])
            gi = rng.integers(0, n_g, n_g)
            draws.append(pw.metrics(ri, gi))
        out["ci"] = {m: interval(out[m], np.array([d[m] for d in draws]), m) for m in draws[0]}
    return out


def interval(estimate: float, draws: np.ndarray, metric: str) -> list[float]:
    """95 % interval from bootstrap draws: the 2.5th-97.5th percentiles shifted by the bootstrap's
    bias (mean of draws - estimate), then kept within the metric's range and around the estimate.

    A resample of records with replacement holds only ~63 % distinct records, so nearest-neighbour
    statistics (PRD, precision, coverage...) and MMD^2 drift in one direction under resampling; the
    plain percentile interval then need not even contain the estimate. Shifting it by the estimated
    bias keeps its width (the uncertainty) and moves it back to where the measurement is."""
    bias = float(draws.mean() - estimate)
    lo, hi = (float(np.percentile(draws, q)) - bias for q in CI)
    lo, hi = min(lo, estimate), max(hi, estimate)
    floor, ceiling = REGISTRY[metric].bounds
    return [min(max(lo, floor), ceiling), min(max(hi, floor), ceiling)]


def average_beat(train: np.ndarray, n: int, seed: int, noise: float = AVERAGE_BEAT_NOISE) -> np.ndarray:
    """The average-beat baseline: the mean training beat (every lead) plus N(0, noise^2) per sample, n times."""
    t = np.asarray(train, dtype=np.float64)
    eps = np.random.default_rng(seed).normal(0.0, noise, size=(n, *t.shape[1:]))
    return t.mean(axis=0)[None] + eps


def stand_in(train: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` training beats drawn at random (without replacement): the floor's 'generated' set."""
    return np.asarray(train)[stand_in_index(len(train), n, seed)]


def stand_in_index(n_train: int, n: int, seed: int) -> np.ndarray:
    """Which training beats `stand_in` draws."""
    return np.random.default_rng(seed).choice(n_train, size=min(n, n_train), replace=False)


def baselines(train: np.ndarray, real: np.ndarray, records: np.ndarray, kernel: Kernel, n: int, *, seed: int = 0,
              train_records: np.ndarray | None = None, **kw) -> dict[str, dict]:
    """{'floor': evaluate(training beats), 'average': evaluate(average beat + noise)} against `real`.

    `train_records` groups the floor's training beats by record (see `_Pairwise`). Other keyword
    arguments go to `evaluate`."""
    pick = stand_in_index(len(train), n, seed)
    groups = None if train_records is None else np.asarray(train_records)[pick]
    return {"floor": evaluate(np.asarray(train)[pick], real, records, kernel, seed=seed, gen_groups=groups, **kw),
            "average": evaluate(average_beat(train, n, seed), real, records, kernel, seed=seed, **kw)}


def draw(generator: Callable[[int, int], np.ndarray] | np.ndarray, n: int, seed: int) -> np.ndarray:
    """`generator(n, seed)` when callable, else the first n rows of the array."""
    return generator(n, seed) if callable(generator) else np.asarray(generator)[:n]


def beats_average(ev: dict, average: dict) -> bool:
    """Whether a generator's MMD^2 is below the average-beat baseline's (both on the same split)."""
    return bool(ev["mmd"] < average["mmd"])


TEST_SEED_OFFSET = 1_000_000_000  # test-split noise seed = the run's seed + this: never seen by selection


def report(generator: Callable[[int, int], np.ndarray] | np.ndarray, train: np.ndarray, real: np.ndarray,
           records: np.ndarray, kernel: Kernel, n: int, seed: int, *, bootstrap: int = BOOTSTRAP,
           train_records: np.ndarray | None = None, r_index: int | None = None, fs: float = 500.0,
           feature_lead: int = 0, scale_mv: float | None = None, real_points: np.ndarray | None = None) -> dict:
    """The full evaluation of a generator on a held-out split (the test split, for a chosen generator).

    Draws `n` beats with noise seed `seed` + TEST_SEED_OFFSET (validation, which chose the generator,
    used `seed` itself), scores them and both baselines with record-bootstrap intervals, and adds the
    seed's legacy metrics, the copy ratio, the V-statistic MMD^2 as a multiple of real beats'
    (`mmd2_v`), the shape checks (with `r_index`; on lead `feature_lead`, whose marks placed the R
    peaks, as the P/QRS/T features) and a verdict. With `r_index` and `scale_mv` (mV per
    scaled unit) also the P/QRS/T features of every set against the held-out beats' (`real_points`:
    their annotated fiducials, when known) and whether the generated beats are plausible ECG at all.
    Returns {'generated', 'floor', 'average': evaluate(...) results, 'copy_ratio', 'mmd_v_ratio',
    'kernel', 'noise_seed', 'verdict': {...}, with `r_index` 'shape': shape(...), and with `scale_mv`
    'features': fiducial.compare(...) and 'plausibility': fiducial.plausibility(...)}.
    """
    noise_seed = seed + TEST_SEED_OFFSET
    gen = draw(generator, n, noise_seed)
    ev = evaluate(gen, real, records, kernel, bootstrap=bootstrap, seed=seed, seed_metrics=True)
    base = baselines(train, real, records, kernel, n, seed=seed, bootstrap=bootstrap, seed_metrics=True,
                     train_records=train_records)
    one = lambda x: np.asarray(x)[:, feature_lead:feature_lead + 1] if np.ndim(x) == 3 else x  # noqa: E731
    extra = {} if r_index is None else {"shape": shape(one(gen), one(real), r_index, fs)}
    if r_index is not None and scale_mv is not None:
        from . import fiducial  # the delineator (neurokit2) loads only when features are asked for

        mv = [np.asarray(one(x), dtype=np.float64) * scale_mv for x in
              (gen, stand_in(train, n, seed), average_beat(train, n, seed), real)]
        extra["features"] = fiducial.compare(*mv, r_index, fs, real_points)
        extra["plausibility"] = fiducial.plausibility(extra["features"], extra["shape"]["r_peak_rate"],
                                                      extra["shape"]["r_peak_rate_real"])
    # generated vs real beats' V-statistic MMD^2, each against the held-out split, at the same n
    v_ratio = mmd2_v(gen, real, kernel) / mmd2_v(stand_in(train, n, seed), real, kernel)
    return {"generated": ev, **base, "copy_ratio": copy_ratio(gen, train, real), "mmd_v_ratio": v_ratio,
            "kernel": kernel.to_dict(), "noise_seed": noise_seed, "feature_lead": feature_lead,
            "verdict": verdict(ev, base, extra.get("plausibility")), **extra}


def verdict(ev: dict, base: dict, plausibility: dict | None = None) -> dict:
    """Plain-language standing of a generator against the baselines on one split.

    `beats_average_beat`: its MMD^2 is below the average-beat baseline's (the least a usable generator
    must do; a generator that fails it draws something less like the real population than one fixed
    beat). `plausible` (with `plausibility`, from fiducial.plausibility; None without): its beats
    have a QRS at the R index, P and T waves about as often as real beats: noise and sinusoids fail,
    whatever their MMD^2. `summary`: one sentence for the console, model.json and leaderboard.md."""
    ok = beats_average(ev, base["average"])
    f, a = base["floor"]["mmd"], base["average"]["mmd"]
    fraction = (ev["mmd"] - f) / (a - f)
    summary = (f"MMD^2 {ev['mmd']:.3g} ({fraction:.2f} on a scale where real beats, {f:.3g}, are 0 and the average "
               f"beat, {a:.3g}, is 1); coverage {ev['coverage']:.2f} (real {base['floor']['coverage']:.2f}), "
               f"recall {ev['recall']:.2f} (real {base['floor']['recall']:.2f}), diversity {ev['diversity']:.2f} of real")
    plausible = None if plausibility is None else bool(plausibility["plausible"])
    if plausible is False:
        summary = f"NOT PLAUSIBLE ECG: {'; '.join(plausibility['failed'])}. " + summary
    if not ok:
        summary = "NOT USABLE: worse than drawing the average training beat. " + summary
    return {"beats_average_beat": ok, "plausible": plausible, "mmd_real0_average1": fraction, "summary": summary}
