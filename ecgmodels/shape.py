"""Shape checks of beats, beside the population metrics: is the R peak where real beats have it, how
much high-frequency energy (ripple) the beats carry, and where along the beat they vary. Pure numpy,
on beats [n, samples] or [n, leads, samples] in the dataset's scaled units. Each is declared, as a
ratio or a share against real beats, in ecgmodels.registry."""
from __future__ import annotations

import numpy as np


R_PEAK_TOLERANCE_S = 0.020  # a beat "has its R peak at the R index" when its largest deflection is this close


def r_peak_rate(beats: np.ndarray, r_index: int, fs: float, tolerance_s: float = R_PEAK_TOLERANCE_S) -> float:
    """Share of beats whose largest deflection from their median (the R peak, or a QS on a negative
    lead) lies within `tolerance_s` of `r_index`, where every real window puts its annotated R peak.
    Beats with no QRS there (sinusoids, noise, shifted templates) score low."""
    x = np.asarray(beats, dtype=np.float64).reshape(len(beats), -1, np.shape(beats)[-1])
    dev = np.abs(x - np.median(x, axis=-1, keepdims=True)).max(axis=1)  # [n, window], over leads
    return float((np.abs(dev.argmax(axis=1) - r_index) <= tolerance_s * fs).mean())


def roughness(beats: np.ndarray) -> float:
    """Mean squared second difference per sample: high-frequency energy. Divide a generator's by real
    beats' to see ripple (nearest-neighbour upsampling leaves one at its repeat period)."""
    return float(np.mean(np.diff(np.asarray(beats, dtype=np.float64), n=2, axis=-1) ** 2))


def spread_profile_corr(gen: np.ndarray, real: np.ndarray) -> float:
    """Pearson correlation, over the samples of the window, between the beat-to-beat standard
    deviation of generated and of real beats. Real beats vary most at the QRS and the T wave; a
    generator whose variation is a smooth wander spread evenly over the beat (which whole-beat MMD
    and k-NN metrics can let pass) scores near 0."""
    a, b = (np.asarray(x, dtype=np.float64).std(axis=0).ravel() for x in (gen, real))
    if np.ptp(a) == 0 or np.ptp(b) == 0:  # e.g. identical beats: no profile to correlate
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def steepest_slope(beats: np.ndarray) -> float:
    """Median over beats of the steepest sample-to-sample change (largest |first difference|, any
    lead): how sharp the QRS upstroke is. A generator's over real beats' below 1 is a blunted QRS, a
    clinical defect that whole-beat distances barely see."""
    x = np.asarray(beats, dtype=np.float64).reshape(len(beats), -1, np.shape(beats)[-1])
    return float(np.median(np.abs(np.diff(x, axis=-1)).max(axis=(1, 2))))
