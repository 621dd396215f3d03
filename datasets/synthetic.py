"""Write small synthetic records in LUDB's exact layout, so tests and smoke runs need no real data.

Layout: `RECORDS`, `ludb.csv`, `data/N.hea` + `data/N.dat` (12 leads, format 16, 500 Hz, mV) and one
annotation file per lead (`data/N.ii`, ...) marking each P wave, QRS ('N') and T wave with '(' and ')'
around it, as LUDB does. Beats are sums of Gaussians (P, Q, R, S, T) with per-record rate,
amplitude and noise, so they look like beats and differ between records.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .ludb import FS, LEADS

RHYTHMS = ("Sinus rhythm", "Sinus bradycardia", "Sinus tachycardia")
# (centre in s from R, width in s, amplitude in mV) of each wave; lead gains vary the amplitudes.
_WAVES = {"p": (-0.18, 0.025, 0.12), "q": (-0.03, 0.010, -0.10), "r": (0.0, 0.012, 1.0),
          "s": (0.03, 0.010, -0.20), "t": (0.28, 0.050, 0.30)}


def beat_signal(t: np.ndarray, r_times: np.ndarray, gain: float, rng: np.random.Generator) -> np.ndarray:
    """ECG-like samples at times `t` (s) with R peaks at `r_times` (s), in mV."""
    x = np.zeros_like(t)
    for r in r_times:
        jitter = rng.normal(1.0, 0.05)
        for centre, width, amp in _WAVES.values():
            x += gain * amp * jitter * np.exp(-0.5 * ((t - r - centre) / width) ** 2)
    return x


def write_record(root: Path, rec_id: int, *, seconds: float = 10.0, rate_bpm: float = 70.0,
                 seed: int = 0, annotate: bool = True, fs: int = FS, leads: tuple[str, ...] = LEADS) -> list[int]:
    """Write `data/<rec_id>.hea/.dat` and, if `annotate`, one annotation file per lead; return the
    R-peak sample indices. `fs` and `leads` differ from LUDB's only to make bad records for tests."""
    import wfdb

    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    rr = 60.0 / rate_bpm
    r_times = np.round(np.arange(0.6 + rng.uniform(0, 0.2), seconds - 0.3, rr) * fs) / fs  # on the sample grid
    gains = 0.5 + rng.uniform(0, 1.0, size=len(leads))
    if "avr" in leads:
        gains[leads.index("avr")] *= -1  # aVR looks at the heart from the other side
    sig = np.stack([beat_signal(t, r_times, g, rng) + rng.normal(0, 0.01, n) for g in gains], axis=1)
    (root / "data").mkdir(parents=True, exist_ok=True)
    name = str(rec_id)
    # 1 count = 1 uV, as in LUDB's raw counts, so both amplitude modes read the same millivolts here.
    wfdb.wrsamp(name, fs=fs, units=["mV"] * len(leads), sig_name=list(leads), p_signal=sig,
                fmt=["16"] * len(leads), adc_gain=[1000.0] * len(leads), baseline=[0] * len(leads),
                write_dir=str(root / "data"))
    r_samples = [int(round(r * fs)) for r in r_times]
    if annotate:
        samples, symbols = [], []
        for r in r_samples:
            for centre, sym in ((-0.18, "p"), (0.0, "N"), (0.28, "t")):
                c = r + int(centre * fs)
                samples += [c - 10, c, c + 10]
                symbols += ["(", sym, ")"]
        keep = [(s, y) for s, y in zip(samples, symbols) if 0 <= s < n]
        for lead in leads:
            if not keep:  # wrann refuses an empty annotation; LUDB-style readers see an empty file
                (root / "data" / f"{name}.{lead}").write_bytes(b"")
                continue
            # wfdb.wrann rejects extensions containing digits (v1..v6): write under a neutral one, rename.
            wfdb.wrann(name, "tmpann", np.array([s for s, _ in keep]), [y for _, y in keep],
                       write_dir=str(root / "data"))
            os.replace(root / "data" / f"{name}.tmpann", root / "data" / f"{name}.{lead}")
    return r_samples


def write_ludb(root: str | os.PathLike, n_records: int = 12, *, seed: int = 0, checksums: bool = True,
               seconds: float = 10.0) -> Path:
    """Write a synthetic LUDB-layout folder with `n_records` records under `root`; return it.

    With `checksums`, also write SHA256SUMS.txt for every file, as PhysioNet does.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(1, n_records + 1):
        rhythm = RHYTHMS[i % len(RHYTHMS)]
        rate = {"Sinus rhythm": 72, "Sinus bradycardia": 52, "Sinus tachycardia": 105}[rhythm]
        write_record(root, i, seconds=seconds, rate_bpm=rate + rng.uniform(-5, 5), seed=seed * 1000 + i)
        sex = "F" if i % 2 else "M"
        age = ">89" if i == 3 else str(30 + (i * 7) % 55)
        # ludb.csv quirks reproduced: every cell but ID and Rhythms ends in a newline; multi-valued
        # cells hold newline-separated values.
        rows.append(f'{i},"{sex}\n","{age}\n",{rhythm},Electric axis of the heart: normal,,,'
                    f'"Left atrial hypertrophy\nLeft ventricular hypertrophy",,,,')
    header = ("ID,Sex,Age,Rhythms,Electric axis of the heart,Conduction abnormalities,Extrasystolies,"
              "Hypertrophies,Cardiac pacing,Ischemia,Non-specific repolarization abnormalities,Other states")
    (root / "ludb.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    (root / "RECORDS").write_text("".join(f"data/{i}\n" for i in range(1, n_records + 1)))
    if checksums:
        write_checksums(root)
    return root


def write_checksums(root: Path) -> None:
    """(Re)write SHA256SUMS.txt over every file under `root` except itself."""
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "SHA256SUMS.txt"):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.relative_to(root).as_posix()}")
    (root / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")
