"""P, QRS and T of any beats: fiducial points, the features a cardiologist checks first, how far a
generator's feature distributions lie from real beats', and whether its beats are ECG at all.

Points come from LUDB's cardiologists (real beats: the window cache keeps them) or from a
delineator (any beats, generated or real): neurokit2's discrete-wavelet delineator (Martinez et al.
2004's method). Comparisons are always delineator against delineator (generated vs held-out real,
beside training vs held-out real, the floor), so the delineator's own error, measured against the
annotations by bench/delineation.py, is the resolution of the comparison rather than a bias in it.

A window holds one beat (0.8 s, R at a fixed index); the delineator expects a stretch of ECG, so
`delineate` strings the windows end to end (each tilted to start and end at 0, so the joins have no
step) and gives it the R indices: a 75 bpm rhythm of different beats.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import wasserstein_distance

# Same order as datasets.ludb.FIDUCIALS (window sample indices, -1 = absent); tests check they agree.
POINTS = ("p_on", "p_peak", "p_off", "qrs_on", "qrs_off", "t_peak", "t_off")
_NEUROKIT = {"p_on": "ECG_P_Onsets", "p_peak": "ECG_P_Peaks", "p_off": "ECG_P_Offsets", "qrs_on": "ECG_R_Onsets",
             "qrs_off": "ECG_R_Offsets", "t_peak": "ECG_T_Peaks", "t_off": "ECG_T_Offsets"}
CHUNK = 2000  # beats per delineator call (memory stays ~tens of MB at 2 kHz analysis rate)
# Beats per set that `compare` delineates (the delineator costs ~7 ms a beat): generated, floor and
# average-beat sets, and twice this of the real beats, drawn at random (seeded) when there are more.
FEATURE_BEATS = 256

# name -> (unit, why a cardiologist looks at it). Amplitudes are from the isoelectric level (the
# end of the PR segment, just before QRS onset); intervals are not rate-corrected (a window has no RR).
FEATURES = {
    "p_present": ("share", "a P wave before the QRS: atrial depolarisation, sinus rhythm (absent in atrial fibrillation)"),
    "pr_ms": ("ms", "PR interval, P onset to QRS onset: AV conduction (120-200 ms normal; long in AV block)"),
    "qrs_ms": ("ms", "QRS duration: ventricular depolarisation (< 120 ms normal; wide in bundle branch block)"),
    "qt_ms": ("ms", "QT interval, QRS onset to T end: repolarisation (long QT: arrhythmia risk)"),
    "p_mv": ("mV", "P amplitude (atrial enlargement when large; < 0.25 mV in lead II normally)"),
    "r_mv": ("mV", "R amplitude at the R index (voltage: hypertrophy, body habitus, lead placement)"),
    "t_mv": ("mV", "T amplitude, signed (inverted or flat T: ischaemia, strain, electrolytes)"),
    "st_mv": ("mV", "ST level 60 ms after the QRS end (elevation or depression: ischaemia, injury)"),
}
P_MIN_MV = 0.03  # a delineated P peak counts as a P wave only this far from the isoelectric level
ISO_S = 0.016  # the isoelectric level: mean over this long before QRS onset (end of the PR segment)
ISO_FALLBACK_S = 0.064  # ... or, without a QRS onset, before this long before the R peak
ST_AFTER_S = 0.060  # ST measured this long after the J point (QRS offset), a common convention


def delineate(beats_mv: np.ndarray, r_index: int, fs: float) -> np.ndarray:
    """Fiducial points of each beat by neurokit2's DWT delineator, with the R peak given at `r_index`.

    `beats_mv`: [n, window] or [n, 1, window], mV. Returns int64 [n, len(POINTS)], window sample
    indices, -1 where the delineator found nothing (or something outside the beat's own window)."""
    import neurokit2 as nk

    x = np.asarray(beats_mv, dtype=np.float64).reshape(len(beats_mv), -1)
    n, window = x.shape
    out = np.full((n, len(POINTS)), -1, dtype=np.int64)
    if n == 0:
        return out
    # A beat with NaN/inf samples (a diverged generator) or no signal at all has no points; it is
    # delineated as zeros so that it cannot disturb its neighbours, and blanked afterwards.
    bad = ~np.isfinite(x).all(axis=1) | (np.ptp(np.nan_to_num(x), axis=1) == 0)
    x = np.where(bad[:, None], 0.0, x)
    # Tilt each beat so it starts and ends at 0: neighbours then join without a step for the wavelets.
    x = x - np.linspace(x[:, :1], x[:, -1:], window, axis=1)[..., 0]
    for lo in range(0, n, CHUNK):
        part = x[lo:lo + CHUNK]
        starts = window * np.arange(len(part))
        if bad[lo:lo + CHUNK].all():
            continue
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # neurokit2 warns per beat it cannot delineate
            _, waves = nk.ecg_delineate(part.ravel(), rpeaks=starts + r_index, sampling_rate=int(fs), method="dwt")
        for c, name in enumerate(POINTS):
            pos = np.asarray(waves[_NEUROKIT[name]], dtype=np.float64) - starts
            ok = np.isfinite(pos) & (pos >= 0) & (pos < window)
            out[lo:lo + len(part), c] = np.where(ok, np.nan_to_num(pos, nan=-1), -1).astype(np.int64)
    out[bad] = -1
    return out


def features(beats_mv: np.ndarray, points: np.ndarray, r_index: int, fs: float) -> dict[str, np.ndarray]:
    """FEATURES of each beat from its fiducial `points` ([n, len(POINTS)], -1 absent): float arrays
    [n], NaN where a point the feature needs is absent; `p_present` is 0/1."""
    x = np.asarray(beats_mv, dtype=np.float64).reshape(len(beats_mv), -1)
    n, window = x.shape
    pt = {name: np.asarray(points)[:, c].astype(np.int64) for c, name in enumerate(POINTS)}
    rows = np.arange(n)
    iso_n = max(1, round(ISO_S * fs))
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(x, axis=1)], axis=1)
    q = pt["qrs_on"]
    # Where the QRS onset was not found, the level just before a typical one (ISO_FALLBACK_S before R),
    # so a missing onset does not also read as a missing P or T wave.
    end = np.where(q >= iso_n, q, max(iso_n, r_index - round(ISO_FALLBACK_S * fs)))
    iso = (csum[rows, end] - csum[rows, end - iso_n]) / iso_n

    def level(idx: np.ndarray) -> np.ndarray:  # x at idx minus the isoelectric level; NaN if absent
        ok = (idx >= 0) & (idx < window)
        return np.where(ok, x[rows, np.clip(idx, 0, window - 1)], np.nan) - iso

    def interval(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # ms from point a to point b
        return np.where((a >= 0) & (b > a), (b - a) * 1000.0 / fs, np.nan)

    p_mv = level(pt["p_peak"])
    j = pt["qrs_off"]
    return {
        "p_present": (np.abs(p_mv) >= P_MIN_MV).astype(np.float64),
        "pr_ms": interval(pt["p_on"], q),
        "qrs_ms": interval(q, j),
        "qt_ms": interval(q, pt["t_off"]),
        "p_mv": p_mv,
        "r_mv": level(np.full(n, r_index)),
        "t_mv": level(pt["t_peak"]),
        "st_mv": level(np.where(j >= 0, j + round(ST_AFTER_S * fs), -1)),
    }


def summary(f: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per feature: share of beats where it could be measured ('rate'; for p_present, the share with a
    P wave), median and standard deviation of the measured values (None when none were); for qrs_ms
    also 'in_range', the share of beats with a QRS inside QRS_RANGE_MS."""
    out = {}
    for name, v in f.items():
        if name == "p_present":
            out[name] = {"rate": float(v.mean()) if len(v) else 0.0}
            continue
        ok = v[np.isfinite(v)]
        out[name] = {"rate": float(ok.size / max(len(v), 1)),
                     "median": float(np.median(ok)) if ok.size else None, "sd": float(ok.std()) if ok.size else None}
    lo, hi = QRS_RANGE_MS
    q = f["qrs_ms"]
    out["qrs_ms"]["in_range"] = float(np.mean((q >= lo) & (q <= hi))) if len(q) else 0.0  # NaN compares False
    return out


def fidelity(f: dict[str, np.ndarray], real: dict[str, np.ndarray]) -> dict[str, dict]:
    """How far the feature distributions `f` lie from `real`'s, per feature: Wasserstein-1 distance
    between the measured values ('w1', in the feature's unit; None if either side measured none),
    the sd ratio ('sd_ratio': 1 = as varied as real; an average beat has ~0) and `summary`'s fields.
    For p_present, 'w1' is the difference in P-wave rate (the W1 of two 0/1 distributions)."""
    out = {}
    mine, theirs = summary(f), summary(real)
    for name, v in f.items():
        row = dict(mine[name])
        if name == "p_present":
            row["w1"] = abs(row["rate"] - theirs[name]["rate"])
        else:
            a, b = v[np.isfinite(v)], real[name][np.isfinite(real[name])]
            row["w1"] = float(wasserstein_distance(a, b)) if a.size and b.size else None
            row["sd_ratio"] = float(a.std() / b.std()) if a.size > 1 and b.size > 1 and b.std() > 0 else None
        out[name] = row
    return out


# ---------------------------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------------------------

# Smallest W1 the comparison resolves, per unit: a floor of 0 (two identical sets) must not make
# every generator "far".
RESOLUTION = {"share": 0.02, "ms": 2.0, "mV": 0.005}
CLOSE, NEAR = 2.0, 4.0  # W1 within this many times the floor's: close to real / near; beyond: far

# Basic plausibility of a population of beats (population shares; real LUDB II beats: QRS at the R
# index in 92-98 %, a measurable QRS of 40-200 ms in ~97 %, T measurable in ~97 %).
MIN_R_RATE = 0.8  # share of beats whose largest deflection is at the R index (metrics.r_peak_rate)
QRS_RANGE_MS = (40.0, 200.0)  # a QRS outside this is not a QRS of a conducted beat
MIN_QRS_RATE = 0.8  # share of beats with a measurable QRS inside QRS_RANGE_MS
MAX_P_GAP = 0.3  # largest difference in P-wave share from the held-out real beats
MIN_T_RATIO = 0.8  # share of beats with a measurable T wave, as a fraction of real beats' share


def fmt(v: float | None, unit: str, with_unit: bool = False) -> str:
    """A feature value for tables and sentences: shares as %, ms to 1 ms, mV to 1 uV; '-' if None."""
    if v is None:
        return "-"
    if unit == "share":
        return f"{v:.0%}"
    return f"{v:.0f}" + (" ms" if with_unit else "") if unit == "ms" else f"{v:.3f}" + (" mV" if with_unit else "")


def standing(w1: float | None, floor_w1: float | None, unit: str) -> str:
    """'close' / 'near' / 'far' (or 'not measured'): a feature's W1 against the real-vs-real floor's."""
    if w1 is None or floor_w1 is None:
        return "not measured"
    ratio = w1 / max(floor_w1, RESOLUTION[unit])
    return "close" if ratio <= CLOSE else "near" if ratio <= NEAR else "far"


def subset(n: int, cap: int, seed: int = 0) -> np.ndarray:
    """Indices of at most `cap` of `n` items: all of them, or a random choice (seeded) in order."""
    return np.arange(n) if n <= cap else np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


def compare(gen_mv: np.ndarray, floor_mv: np.ndarray, average_mv: np.ndarray, real_mv: np.ndarray, r_index: int,
            fs: float, real_points: np.ndarray | None = None) -> dict:
    """The feature-fidelity section of a report: every set delineated the same way and compared with
    the held-out real beats `real_mv` (FEATURE_BEATS of each set, twice that of the real beats).
    Returns {'generated', 'floor', 'average': fidelity(...), 'real': summary(...), 'annotated': summary of the real beats' features from LUDB's annotations
    (with `real_points`), 'standing': {feature: close/near/far}} (all in mV / ms / shares)."""
    pick = subset(len(real_mv), 2 * FEATURE_BEATS)
    real_mv = np.asarray(real_mv)[pick]
    real_f = features(real_mv, delineate(real_mv, r_index, fs), r_index, fs)
    out = {label: fidelity(features(x, delineate(x, r_index, fs), r_index, fs), real_f)
           for label, x in (("generated", gen_mv[:FEATURE_BEATS]), ("floor", floor_mv[:FEATURE_BEATS]),
                            ("average", average_mv[:FEATURE_BEATS]))}
    out["real"] = summary(real_f)
    if real_points is not None:
        out["annotated"] = summary(features(real_mv, np.asarray(real_points)[pick], r_index, fs))
    out["standing"] = {name: standing(out["generated"][name]["w1"], out["floor"][name]["w1"], FEATURES[name][0])
                       for name in FEATURES}
    return out


def plausibility(feat: dict, r_rate: float, real_r_rate: float) -> dict:
    """Whether generated beats are ECG beats at all, from `compare`'s result (or any dict with
    'generated' and 'real' `summary`s) and the share of beats with their QRS at the R index
    (generated, real). Returns {'plausible': bool, 'checks': [{'key', 'check', 'value', 'real', 'ok'}],
    'failed': [one line per failed check]}: a sinusoid or noise fails."""
    g, r = feat["generated"], feat["real"]
    checks = [
        ("r_at_r", "QRS at the R index", r_rate, real_r_rate, r_rate >= MIN_R_RATE),
        ("qrs_ok", f"QRS of {QRS_RANGE_MS[0]:.0f}-{QRS_RANGE_MS[1]:.0f} ms", g["qrs_ms"]["in_range"],
         r["qrs_ms"]["in_range"], g["qrs_ms"]["in_range"] >= MIN_QRS_RATE),
        ("p_wave", "P wave", g["p_present"]["rate"], r["p_present"]["rate"],
         abs(g["p_present"]["rate"] - r["p_present"]["rate"]) <= MAX_P_GAP),
        ("t_wave", "T wave", g["t_mv"]["rate"], r["t_mv"]["rate"], g["t_mv"]["rate"] >= MIN_T_RATIO * r["t_mv"]["rate"]),
    ]
    rows = [{"key": k, "check": c, "value": float(v), "real": float(rv), "ok": bool(ok)} for k, c, v, rv, ok in checks]
    failed = [f"{c['check']} in {c['value']:.0%} of beats (real {c['real']:.0%})" for c in rows if not c["ok"]]
    return {"plausible": not failed, "checks": rows, "failed": failed}
