"""Evaluation: how close generated beats are to real ones. Pure functions on numpy arrays.

Beats are arrays [n, leads, samples] (or [n, samples]) in the dataset's scaled units (1.0 = the
dataset's `scale_mv` millivolts); everything is computed in float64. Each beat is flattened to one
vector of leads*samples values.

Standard metrics (ours):
- `rmse(x, y)`  = sqrt(mean((x - y)^2)) per pair, in scaled units.
- `prd(x, y)`   = 100 * sqrt(sum((x - y)^2) / sum(x^2)) per pair, in %, x real, y generated.
- pairing `nn`: each generated beat is set against its nearest real beat (Euclidean). Without it, a
  generator that draws the average beat scores well against randomly paired real beats.
- `mmd`: unbiased MMD^2 between a generated and a real set, Gaussian kernel
  k(a, b) = exp(-||a - b||^2 / (2 sigma^2)) with sigma the median pairwise Euclidean distance of
  the pooled set (median heuristic), over random equal-size subsets: mean/min/max.

The seed's definitions, kept only to set results beside its table (see ../shared/notes/seed.md):
- pairing `random`; `prd_seed(x, y)` = sqrt(100 * sum((x-y)^2) / sum(x^2)) (10x too small);
- `mmd_seed(x, y)`: per pair, unbiased MMD^2 between the two beats' samples taken as two sets of
  one-dimensional points (time order ignored), kernel exp(-1 * d^2).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

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
# MMD
# ---------------------------------------------------------------------------------------------


def median_bandwidth(pooled: np.ndarray) -> float:
    """Median heuristic: the median Euclidean distance over distinct pairs of rows of `pooled`."""
    d = sq_distances(pooled, pooled)
    iu = np.triu_indices(len(pooled), k=1)
    return float(np.sqrt(np.median(d[iu])))


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    """Unbiased MMD^2 between sample sets x [n, d] and y [m, d], Gaussian kernel of bandwidth sigma.

    (sum_{i!=j} k(x_i,x_j))/(n(n-1)) + (sum_{i!=j} k(y_i,y_j))/(m(m-1)) - 2 mean k(x_i, y_j).
    Can be slightly negative when the sets come from the same distribution.
    """
    x, y = _flat(x), _flat(y)
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        raise ValueError(f"MMD needs at least 2 samples per set, got {n} and {m}")
    gamma = 1.0 / (2.0 * sigma**2)
    kxx, kyy, kxy = (np.exp(-gamma * sq_distances(a, b)) for a, b in ((x, x), (y, y), (x, y)))
    return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2.0 * kxy.mean())


def mmd(gen: np.ndarray, real: np.ndarray, *, subsets: int = 10, size: int | None = None,
        rng: np.random.Generator) -> np.ndarray:
    """Population MMD^2 over `subsets` random pairs of equal-size subsets (default size: the smaller
    set), each with its own median-heuristic bandwidth. Returns the `subsets` values."""
    g, r = _flat(gen), _flat(real)
    size = min(size or min(len(g), len(r)), len(g), len(r))
    out = []
    for _ in range(subsets):
        gs = g[rng.choice(len(g), size, replace=False)]
        rs = r[rng.choice(len(r), size, replace=False)]
        out.append(mmd2_unbiased(gs, rs, median_bandwidth(np.concatenate([gs, rs]))))
    return np.asarray(out)


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


# ---------------------------------------------------------------------------------------------
# One call for everything
# ---------------------------------------------------------------------------------------------


def summary(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}


def score(gen: np.ndarray, real: np.ndarray, *, seed: int = 0, seed_metrics: bool = True,
          mmd_subsets: int = 10) -> dict[str, dict[str, float]]:
    """Every metric of `gen` against `real`, each as {'mean', 'min', 'max'}.

    Keys: rmse, prd (nn pairing), mmd (population), and with `seed_metrics` also rmse_random,
    prd_random, prd_seed (random pairing, as the seed) and mmd_seed (per random pair, as the seed).
    """
    rng = np.random.default_rng(seed)
    g = _flat(gen)
    nn = pair(real, g, "nn", rng)
    out = {"rmse": summary(rmse(nn, g)), "prd": summary(prd(nn, g)),
           "mmd": summary(mmd(g, real, subsets=mmd_subsets, rng=rng))}
    if seed_metrics:
        rnd = pair(real, g, "random", rng)
        out |= {"rmse_random": summary(rmse(rnd, g)), "prd_random": summary(prd(rnd, g)),
                "prd_seed": summary(prd_seed(rnd, g)), "mmd_seed": summary(mmd_seed(rnd, g))}
    return out


def copy_ratio(gen: np.ndarray, train: np.ndarray, held_out: np.ndarray) -> float:
    """Median distance of generated beats to their nearest training beat, over the same for held-out
    real beats. About 1 or above: no copying; well below 1: the generator reproduces training beats."""
    t = _flat(train)
    d_gen = np.sqrt(sq_distances(_flat(gen), t).min(axis=1))
    d_real = np.sqrt(sq_distances(_flat(held_out), t).min(axis=1))
    return float(np.median(d_gen) / np.median(d_real))


def evaluate(generator: Callable[[int, int], np.ndarray] | np.ndarray, real_windows: np.ndarray, n: int,
             seed: int, *, reference: np.ndarray | None = None, seed_metrics: bool = True) -> dict:
    """Score `n` generated beats against `real_windows` (e.g. validation or test beats).

    `generator(n, seed)` returns beats [n, leads, samples] in [-1, 1] (or pass the array itself).
    With `reference` (training beats), also adds 'floor': the same metrics with `n` training beats
    standing in for generated ones (what real data scores), and 'copy_ratio'.
    Returns {metric: {'mean','min','max'}, ..., 'floor': {...}, 'copy_ratio': float, 'n': n}.
    """
    gen = generator(n, seed) if callable(generator) else np.asarray(generator)[:n]
    out: dict = score(gen, real_windows, seed=seed, seed_metrics=seed_metrics)
    if reference is not None:
        rng = np.random.default_rng(seed + 1)
        stand_in = reference[rng.choice(len(reference), size=min(n, len(reference)), replace=False)]
        out["floor"] = score(stand_in, real_windows, seed=seed, seed_metrics=seed_metrics)
        out["copy_ratio"] = copy_ratio(gen, reference, real_windows)
    out["n"] = int(len(gen))
    return out
