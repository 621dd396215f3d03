"""Cut one record into beat windows [leads, window], every chosen lead cut at one R position, and
reject bad beats as a whole.

The R positions come from one lead (`r_lead`: lead II when chosen, else the first chosen lead): its
QRS annotations, or wfdb's XQRS detector when it has none. LUDB's cardiologists annotated each lead
on its own, a sample or two apart, so cutting each lead at its own marks would misalign a beat's
leads; one position keeps them aligned (and III = II - I holds in every window).

Rejection rules (replacing the seed's hand cleaning; thresholds are `DatasetConfig` fields), checked
on every lead in this order; a beat is rejected when any lead fails one, and counted under the first
rule and lead that failed (per reason, and per lead and reason):

- ``edge``: the window would cross the start or end of the record.
- ``clipped``: ``max_flat_run`` identical consecutive raw samples at the lead's record-wide min or
  max (the signal sat on a rail: amplifier or ADC saturation). A flat run elsewhere is only a
  quiet, quantised baseline, which LUDB has plenty of, so it is not counted.
- ``flat``: peak-to-peak amplitude below ``min_ptp_mv`` (lead off, or no beat).
- ``amplitude``: any filtered sample beyond ``max_abs_mv`` (electrode motion artefact).
- ``low_corr``: Pearson correlation below ``min_corr`` with the median of the record's remaining
  beats on that lead (noise, or an ectopic beat unlike the record's usual one). Needs three beats.

A whole record is skipped, with a reason, when a chosen lead is absent or has a NaN sample, the
sampling rate differs, the record is shorter than one window, or no beat is found.
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


def r_lead(leads: tuple[str, ...]) -> str:
    """The lead whose QRS marks place every window's R peak: lead II when chosen, else the first."""
    return "ii" if "ii" in leads else leads[0]


@dataclass
class RecordWindows:
    """Windows cut from one record: `windows` float32 [k, leads, window] in mV (filtered)."""

    name: str
    windows: np.ndarray
    peaks: list[int] = field(default_factory=list)  # R-peak sample index in the record, per window
    rr: list[tuple[float, float]] = field(default_factory=list)  # RR before and after each window's beat, ms
    # Annotated FIDUCIALS of r_lead per window, window-relative samples, -1 absent (all -1 for detected peaks)
    fiducials: list[np.ndarray] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)  # reason -> beats rejected
    rejected_by_lead: dict = field(default_factory=dict)  # lead -> Counter(reason -> beats)
    skipped: list[str] = field(default_factory=list)  # "*: reason" when the record gave nothing
    detector_used: list[str] = field(default_factory=list)  # [r_lead] when its peaks came from the detector

    def reject(self, lead: str, reason: str, n: int = 1) -> None:
        self.rejected[reason] += n
        self.rejected_by_lead.setdefault(lead, Counter())[reason] += n


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
    out = RecordWindows(name=name, windows=np.zeros((0, len(cfg.leads), cfg.window), np.float32))
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
    missing = [lead for lead in cfg.leads if lead not in rec.leads]
    if missing:
        out.skipped.append(f"*: lead(s) {', '.join(missing)} not in {root / name}.hea (has {', '.join(rec.leads)})")
        return out
    raw = rec.signal[:, [rec.leads.index(lead) for lead in cfg.leads]]  # [samples, leads]
    bad = [lead for lead, ok in zip(cfg.leads, np.isfinite(raw).all(axis=0)) if not ok]
    if bad:
        out.skipped.append(f"*: NaN samples in lead(s) {', '.join(bad)} of {root / name}.dat")
        return out
    filt = np.stack([highpass(x, rec.fs, cfg.highpass_hz) for x in raw.T], axis=1) if cfg.highpass_hz else raw
    ref = r_lead(cfg.leads)
    try:
        waves = read_waves(root, name, ref, len(raw))
    except LudbError as exc:
        out.skipped.append(f"*: {exc}")
        return out
    peaks = qrs_peaks(waves)
    if peaks is None:
        peaks = detect_r_peaks(filt[:, cfg.leads.index(ref)], rec.fs)
        out.detector_used.append(ref)
    if peaks.size == 0:
        out.skipped.append(f"*: no QRS annotated or detected on lead {ref}")
        return out
    ms = 1000.0 / rec.fs  # RR intervals to the neighbouring beats (NaN at the record's ends)
    rr_before = np.concatenate([[np.nan], np.diff(peaks) * ms])
    rr_after = np.concatenate([np.diff(peaks) * ms, [np.nan]])

    starts = peaks - cfg.r_index
    inside = (starts >= 0) & (starts + cfg.window <= len(raw))
    if (~inside).any():
        out.reject(ref, "edge", int((~inside).sum()))
    rails = [(float(x.min()), float(x.max())) for x in raw.T]
    cand: list[int] = []  # indices into peaks of beats every lead accepts
    for k in np.flatnonzero(inside):
        sl = slice(starts[k], starts[k] + cfg.window)
        for j, lead in enumerate(cfg.leads):
            reason = reject_reason(raw[sl, j], filt[sl, j], rails[j], cfg)
            if reason:
                out.reject(lead, reason)
                break
        else:
            cand.append(int(k))
    beats = np.stack([filt[starts[k]:starts[k] + cfg.window].T for k in cand]) if cand else out.windows
    if len(cand) >= 3:
        corr = np.stack([correlation_with_median(beats[:, j]) for j in range(len(cfg.leads))], axis=1)
        good = (corr >= cfg.min_corr).all(axis=1)
        for row in np.flatnonzero(~good):
            out.reject(cfg.leads[int(np.argmax(corr[row] < cfg.min_corr))], "low_corr")
        beats, cand = beats[good], [k for k, g in zip(cand, good) if g]
    for k in cand:  # the cardiologists' P/QRS/T marks on r_lead, moved into window coordinates
        peak = int(peaks[k])
        out.peaks.append(peak)
        out.rr.append((float(rr_before[k]), float(rr_after[k])))
        fid = fiducials_at(waves, peak) - (peak - cfg.r_index) if waves is not None else np.full(len(FIDUCIALS), -1)
        out.fiducials.append(np.where((fid >= 0) & (fid < cfg.window), fid, -1))
    if cand:
        out.windows = beats.astype(np.float32)
    return out
