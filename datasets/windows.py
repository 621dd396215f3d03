"""Cut one record into single-lead beat windows, R peak at a fixed index, and reject bad beats.

Rejection rules (replacing the seed's hand cleaning; thresholds are `DatasetConfig` fields), checked
in this order, each beat counted under the first rule it fails:

- ``edge``: the window would cross the start or end of the record.
- ``clipped``: ``max_flat_run`` identical consecutive raw samples at the lead's record-wide min or
  max (the signal sat on a rail: amplifier or ADC saturation). A flat run elsewhere is only a
  quiet, quantised baseline, which LUDB has plenty of, so it is not counted.
- ``flat``: peak-to-peak amplitude below ``min_ptp_mv`` (lead off, or no beat).
- ``amplitude``: any filtered sample beyond ``max_abs_mv`` (electrode motion artefact).
- ``low_corr``: Pearson correlation below ``min_corr`` with the median of the record's remaining
  beats on that lead (noise, or an ectopic beat unlike the record's usual one). Needs three beats.

Whole (record, lead) pairs are skipped, with a reason, when the lead is absent, the sampling rate
differs, a sample is NaN, the record is shorter than one window, or no beat is found.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal as sps

from .config import DatasetConfig
from .ludb import FIDUCIALS, LudbError, fiducials_at, qrs_peaks, read_record, read_waves

REJECT_REASONS = ("edge", "clipped", "flat", "amplitude", "low_corr")


@dataclass
class RecordWindows:
    """Windows cut from one record: `windows` float32 [k, window] in mV (filtered)."""

    name: str
    windows: np.ndarray
    leads: list[str] = field(default_factory=list)  # lead of each window
    peaks: list[int] = field(default_factory=list)  # R-peak sample index in the record, per window
    # Annotated FIDUCIALS per window, window-relative samples, -1 absent (all -1 for detected peaks)
    fiducials: list[np.ndarray] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)  # reason -> beats rejected
    skipped: list[str] = field(default_factory=list)  # "lead: reason" for (record, lead) pairs skipped
    detector_used: list[str] = field(default_factory=list)  # leads whose peaks came from the detector


def highpass(x: np.ndarray, fs: float, cutoff_hz: float) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth high-pass (forward-backward, so no delay of the R peak)."""
    sos = sps.butter(2, cutoff_hz, btype="highpass", fs=fs, output="sos")
    return sps.sosfiltfilt(sos, x)


def detect_r_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices by wfdb's XQRS, moved onto the local maximum of |x| (±50 ms)."""
    from wfdb import processing

    found = processing.xqrs_detect(x, fs, verbose=False)
    if len(found) == 0:
        return np.zeros(0, dtype=np.int64)
    radius = int(0.05 * fs)
    return np.asarray(processing.correct_peaks(x, found, radius, radius, peak_dir="compare"), dtype=np.int64)


def _longest_run_at(x: np.ndarray, value: float) -> int:
    """Length of the longest run of consecutive samples equal to `value`."""
    hit = np.concatenate(([0], (x == value).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(hit))
    return int((edges[1::2] - edges[::2]).max()) if edges.size else 0


def reject_reason(raw: np.ndarray, filt: np.ndarray, rails: tuple[float, float], cfg: DatasetConfig) -> str | None:
    """First of clipped/flat/amplitude that a window fails, or None.

    `raw` and `filt` are one window in mV; `rails` is (min, max) of the raw lead over the record.
    """
    if max(_longest_run_at(raw, rails[0]), _longest_run_at(raw, rails[1])) >= cfg.max_flat_run:
        return "clipped"
    if np.ptp(filt) < cfg.min_ptp_mv:
        return "flat"
    if np.abs(filt).max() > cfg.max_abs_mv:
        return "amplitude"
    return None


def correlation_with_median(windows: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of `windows` [k, n] with their sample-wise median."""
    med = np.median(windows, axis=0)
    a = windows - windows.mean(axis=1, keepdims=True)
    b = med - med.mean()
    denom = np.linalg.norm(a, axis=1) * np.linalg.norm(b)
    return np.divide(a @ b, denom, out=np.zeros(len(windows)), where=denom > 0)


def cut_record(root: Path, name: str, cfg: DatasetConfig) -> RecordWindows:
    """Read record `name` under `root` and return its accepted windows and what was rejected.

    Unreadable records come back with everything skipped and the reason (naming the file), so one
    bad record never stops a build of 200.
    """
    out = RecordWindows(name=name, windows=np.zeros((0, cfg.window), np.float32))
    try:
        rec = read_record(root, name, cfg.amplitude)
    except LudbError as exc:
        out.skipped.append(f"*: {exc}")
        return out
    if rec.fs != cfg.fs:
        out.skipped.append(f"*: sampling rate {rec.fs:g} Hz in {root / name}.hea, expected {cfg.fs} Hz")
        return out
    if rec.signal.shape[0] < cfg.window:
        out.skipped.append(f"*: {rec.signal.shape[0]} samples, shorter than one {cfg.window}-sample window")
        return out

    kept: list[np.ndarray] = []
    for lead in cfg.leads:
        if lead not in rec.leads:
            out.skipped.append(f"{lead}: lead not in {root / name}.hea (has {', '.join(rec.leads)})")
            continue
        raw = rec.signal[:, rec.leads.index(lead)]
        if not np.isfinite(raw).all():
            out.skipped.append(f"{lead}: NaN samples in {root / name}.dat")
            continue
        filt = highpass(raw, rec.fs, cfg.highpass_hz) if cfg.highpass_hz else raw
        try:
            waves = read_waves(root, name, lead, len(raw))
        except LudbError as exc:
            out.skipped.append(f"{lead}: {exc}")
            continue
        peaks = qrs_peaks(waves)
        if peaks is None:
            peaks = detect_r_peaks(filt, rec.fs)
            out.detector_used.append(lead)
        if peaks.size == 0:
            out.skipped.append(f"{lead}: no QRS annotated or detected")
            continue

        starts = peaks - cfg.r_index
        inside = (starts >= 0) & (starts + cfg.window <= len(raw))
        out.rejected["edge"] += int((~inside).sum())
        rails = (float(raw.min()), float(raw.max()))
        cand, cand_peaks = [], []
        for start, peak in zip(starts[inside], peaks[inside]):
            sl = slice(start, start + cfg.window)
            reason = reject_reason(raw[sl], filt[sl], rails, cfg)
            if reason:
                out.rejected[reason] += 1
            else:
                cand.append(filt[sl])
                cand_peaks.append(int(peak))
        if len(cand) >= 3:
            corr = correlation_with_median(np.stack(cand))
            good = corr >= cfg.min_corr
            out.rejected["low_corr"] += int((~good).sum())
            cand = [w for w, g in zip(cand, good) if g]
            cand_peaks = [p for p, g in zip(cand_peaks, good) if g]
        kept += cand
        out.peaks += cand_peaks
        for peak in cand_peaks:  # the cardiologists' P/QRS/T marks, moved into window coordinates
            fid = fiducials_at(waves, peak) - (peak - cfg.r_index) if waves is not None else np.full(len(FIDUCIALS), -1)
            out.fiducials.append(np.where((fid >= 0) & (fid < cfg.window), fid, -1))
        out.leads += [lead] * len(cand)
    if kept:
        out.windows = np.stack(kept).astype(np.float32)
    return out
