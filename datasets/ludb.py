"""LUDB access: find a local copy, download it when absent, verify it, read records and metadata.

The Lobachevsky University Electrocardiography Database (LUDB) v1.0.1: 200 ten-second 12-lead
records at 500 Hz with per-lead wave annotations (one annotation file per lead, named after it).
Nothing here knows about beats or windows; see `datasets.windows` for that.
"""
from __future__ import annotations

import hashlib
import os
import re
import posixpath
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# ---------------------------------------------------------------------------------------------
# Constants of the database
# ---------------------------------------------------------------------------------------------

LUDB_VERSION = "1.0.1"
PHYSIONET_DB = f"ludb/{LUDB_VERSION}"
# Exit status of every CLI when the data is missing or unusable (LudbError, CacheError): distinct from
# 2 (bad options) so a script can tell "fetch LUDB / point LUDB_DIR at it" from "fix the command".
EXIT_DATA = 4
LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
FS = 500
# How raw samples become millivolts (DatasetConfig.amplitude). LUDB's header gains are not a device's
# calibration: each one scales its lead of its record to exactly 1.000 mV peak to peak over the 10 s
# (all 2,400 lead-records), so every record looks alike in voltage and the limb-lead laws break in
# them. The raw counts keep the laws exactly (III = II - I, residual 0 counts in all 200 records) and
# behave as microvolts (lead II peak to peak 5/50/95 % = 0.68 / 1.41 / 2.65 mV), so 'mv' reads counts
# x MV_PER_COUNT. 'ludb-header' keeps the old per-record normalisation, for exports trained in it.
AMPLITUDES = ("mv", "ludb-header")
MV_PER_COUNT = 0.001
TOP_FILES = ("RECORDS", "ludb.csv", "SHA256SUMS.txt")
HOW_TO_POINT = (
    "Point at a local copy with --data-dir DIR or the LUDB_DIR environment variable "
    "(the folder that holds RECORDS, ludb.csv and data/)."
)


class LudbError(RuntimeError):
    """LUDB could not be found, fetched, verified or read; the message says which file and the fix."""


# ---------------------------------------------------------------------------------------------
# Finding and fetching the data
# ---------------------------------------------------------------------------------------------


def user_cache_dir() -> Path:
    """Root of this project's per-user cache (`$ECG_SEARCH_CACHE`, else `$XDG_CACHE_HOME/ecg-search`)."""
    if os.environ.get("ECG_SEARCH_CACHE"):
        return Path(os.environ["ECG_SEARCH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "ecg-search"


def default_data_dir() -> Path:
    """Where LUDB is downloaded to when neither --data-dir nor LUDB_DIR is given."""
    return user_cache_dir() / f"ludb-{LUDB_VERSION}"


def locate(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Return the LUDB folder: `data_dir`, else `$LUDB_DIR`, else the user cache (downloading there).

    An explicit folder (argument or environment) must already hold LUDB: we never download into a
    folder the user named, so a typo does not silently fetch 200 records somewhere unexpected.
    """
    for source, value in (("--data-dir", data_dir), ("LUDB_DIR", os.environ.get("LUDB_DIR"))):
        if value:
            path = Path(value).expanduser().resolve()
            if not path.is_dir():
                raise LudbError(f"LUDB folder {path} (from {source}) does not exist. {HOW_TO_POINT}")
            if not (path / "RECORDS").is_file():
                raise LudbError(
                    f"{path} (from {source}) has no RECORDS file, so it is not an LUDB folder. {HOW_TO_POINT}"
                )
            return path
    path = default_data_dir()
    if (path / "RECORDS").is_file():
        return path
    if not download:
        raise LudbError(f"LUDB not found in {path}. {HOW_TO_POINT}")
    return fetch(path)


def _remote_files(record_names: list[str]) -> list[str]:
    files = []
    for name in record_names:
        files += [f"{name}.hea", f"{name}.dat"] + [f"{name}.{lead}" for lead in LEADS]
    return files


def physionet_url() -> str:
    """Where PhysioNet's files are served: $ECG_SEARCH_PHYSIONET_URL (a mirror), else PhysioNet itself."""
    return os.environ.get("ECG_SEARCH_PHYSIONET_URL", "https://physionet.org/files/")


def _download(url: str, dest: Path, timeout_s: float = 60.0) -> None:
    """`url` to `dest`, through a temporary file renamed into place: a file that exists is complete,
    so a rerun skips it. (wfdb.dl_files, wfdb's public downloader, always fetches a database's latest
    version; this project pins LUDB 1.0.1, whose checksums it verifies.)"""
    import urllib.request

    if dest.is_file():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    with urllib.request.urlopen(url, timeout=timeout_s) as r, open(tmp, "wb") as f:
        shutil.copyfileobj(r, f)
    os.replace(tmp, dest)


def fetch(target: Path, *, progress: bool = True) -> Path:
    """Download LUDB from PhysioNet into `target` (records, 12 annotation files each, ludb.csv,
    RECORDS, SHA256SUMS.txt), verify it, and only then move it into place.

    Files go to `<target>.partial` first, so an interrupted download never looks like a complete
    copy; a rerun resumes there (wfdb skips files already complete).
    """
    from tqdm import tqdm

    partial = target.with_name(target.name + ".partial")
    (partial / "data").mkdir(parents=True, exist_ok=True)
    base = f"{physionet_url().rstrip('/')}/{PHYSIONET_DB}/"
    try:
        for name in TOP_FILES:
            _download(base + name, partial / name)
        names = (partial / "RECORDS").read_text().split()
        bad = [n for n in names if not re.fullmatch(r"data/\d+", n)]
        if bad:  # names become paths under the download folder: nothing else may come from a mirror
            raise LudbError(f"{base}RECORDS lists {bad[:3]}: not LUDB record names (data/<number>)")
        files = _remote_files(names)  # RECORDS lists 'data/1', so these are 'data/1.hea', ...
        for rel in tqdm(files, desc="Downloading LUDB", unit="file", disable=not progress):
            _download(base + rel, partial / rel)
    except Exception as exc:  # network errors come as many types (URLError, HTTPError, OSError, ...)
        raise LudbError(
            f"Could not download LUDB from {base} into {partial}: {exc}. "
            f"No local copy was found at --data-dir, LUDB_DIR or {target}. {HOW_TO_POINT} "
            "LUDB is at https://physionet.org/content/ludb/1.0.1/ (ODC-By)."
        ) from exc
    # Only what was fetched: SHA256SUMS.txt also lists ANNOTATORS, LICENSE.txt, README, not downloaded.
    verify_checksums(partial, only=set(TOP_FILES) | set(files))
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    return target


def verify_checksums(root: Path, only: set[str] | None = None) -> dict[str, str]:
    """Check files against `root/SHA256SUMS.txt` (when present) and return {relative path: sha256}.

    `only` limits the check to those relative paths. Without SHA256SUMS.txt the hashes are computed
    and returned but nothing is compared. A mismatch raises LudbError naming the file.
    """
    listed: dict[str, str] = {}
    sums = root / "SHA256SUMS.txt"
    if sums.is_file():
        for line in sums.read_text().splitlines():
            if line.strip():
                digest, rel = line.split(maxsplit=1)
                listed[rel.strip()] = digest
    wanted = sorted(only) if only is not None else sorted(listed)
    hashes = {}
    for rel in wanted:
        path = root / rel
        if not path.is_file():
            if rel in listed:  # LUDB ships it: a gap would silently drop a record and reshuffle the split
                raise LudbError(f"{path} is missing, though {sums} lists it: the LUDB copy is incomplete. Restore "
                                "the file from PhysioNet (or delete the folder to re-download).")
            continue  # not part of LUDB's own list: whoever reads it reports its absence, with context
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if rel in listed and listed[rel] != digest:
            raise LudbError(
                f"Checksum mismatch for {path}: SHA256SUMS.txt says {listed[rel][:12]}..., the file "
                f"hashes to {digest[:12]}.... The file is corrupt or was modified: restore it from "
                "PhysioNet (or delete the folder to re-download)."
            )
        hashes[rel] = digest
    return hashes


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def record_names(root: Path) -> list[str]:
    """Record paths relative to `root` as listed in RECORDS, e.g. ['data/1', 'data/2', ...]."""
    path = root / "RECORDS"
    if not path.is_file():
        raise LudbError(f"{path} is missing. {HOW_TO_POINT}")
    names = path.read_text().split()
    if not names:
        raise LudbError(f"{path} lists no records.")
    return names


def record_id(name: str) -> int:
    """'data/17' -> 17."""
    return int(posixpath.basename(name))


@dataclass(frozen=True)
class Record:
    """One record: `signal` float64 [samples, leads] in mV, lead names, sampling rate in Hz."""

    name: str
    signal: np.ndarray
    leads: tuple[str, ...]
    fs: float


def read_record(root: Path, name: str, amplitude: str = "mv") -> Record:
    """Read one record's signals with wfdb, in true millivolts (`amplitude` 'mv': raw counts x
    MV_PER_COUNT) or in LUDB's per-record normalised header units ('ludb-header'); LudbError names the
    file on any failure."""
    if amplitude not in AMPLITUDES:
        raise ValueError(f"amplitude={amplitude!r}: choose from {', '.join(AMPLITUDES)}")
    import wfdb

    base = root / name
    for ext in ("hea", "dat"):
        if not base.with_suffix(f".{ext}").is_file():
            raise LudbError(f"{base}.{ext} is missing.")
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises ValueError/IndexError/... for a corrupt header
        raise LudbError(f"{base}.hea could not be read by wfdb ({type(exc).__name__}: {exc}).") from exc
    if set(header.fmt or []) == {"16"} and header.sig_len:
        # Check the size first: wfdb's own error for a short file is an opaque reshape failure.
        expected, actual = header.sig_len * header.n_sig * 2, base.with_suffix(".dat").stat().st_size
        if actual < expected:
            raise LudbError(f"{base}.dat is truncated: {actual} bytes, {base}.hea declares {expected}.")
    try:
        rec = wfdb.rdrecord(str(base), physical=amplitude == "ludb-header")
    except Exception as exc:
        raise LudbError(f"{base}.hea/.dat could not be read by wfdb ({type(exc).__name__}: {exc}).") from exc
    signal = rec.p_signal if amplitude == "ludb-header" else rec.d_signal.astype(np.float64) * MV_PER_COUNT
    if amplitude == "mv":  # wfdb's "missing sample" code (-32768 in format 16) is NaN in p_signal: keep it so
        signal[rec.d_signal == -(2 ** 15)] = np.nan
    return Record(name=name, signal=signal, leads=tuple(s.lower() for s in rec.sig_name), fs=float(rec.fs))


# What LUDB's wave annotations hold: onsets '(' and offsets ')' around P ('p'), QRS ('N') and T ('t') peaks.
ANNOTATION_SYMBOLS = frozenset("()pNt")


def read_waves(root: Path, name: str, lead: str, n_samples: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The wave annotations of `lead`: (sample indices int64, symbols str), in order, or None when the
    lead's annotation file is missing or empty (the caller then falls back to a detector).

    A file that wfdb cannot parse, or that parses into something LUDB never writes (other symbols,
    samples out of order or outside the record's `n_samples`), raises LudbError naming it: garbage
    read as annotations would silently cut the wrong beats."""
    import wfdb

    path = (root / name).with_suffix(f".{lead}")
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        ann = wfdb.rdann(str(root / name), lead)
    except Exception as exc:
        raise LudbError(f"{path} is not a readable WFDB annotation file ({type(exc).__name__}): corrupt") from exc
    samples = np.asarray(ann.sample, dtype=np.int64)
    odd = set(ann.symbol) - ANNOTATION_SYMBOLS
    if odd or (samples.size and (samples.min() < 0 or np.any(np.diff(samples) < 0)
                                 or (n_samples is not None and samples.max() >= n_samples))):
        raise LudbError(f"{path} does not hold LUDB wave annotations (symbols {sorted(map(str, odd))[:5] or 'ok'}, samples "
                        f"{samples.min() if samples.size else '-'}..{samples.max() if samples.size else '-'} for a "
                        f"record of {n_samples} samples): corrupt; restore it from PhysioNet")
    return samples, np.asarray(ann.symbol, dtype=str)


def qrs_peaks(waves: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray | None:
    """Sample indices of the QRS peaks (symbol 'N') among `read_waves`' annotations, or None if none."""
    if waves is None:
        return None
    samples, symbols = waves
    peaks = samples[symbols == "N"]
    return peaks if peaks.size else None


# Annotated fiducial points kept per window, in this order (window-relative sample index, -1 = absent).
FIDUCIALS = ("p_on", "p_peak", "p_off", "qrs_on", "qrs_off", "t_peak", "t_off")


def fiducials_at(waves: tuple[np.ndarray, np.ndarray], peak: int) -> np.ndarray:
    """Record sample indices of FIDUCIALS for the beat whose QRS peak is annotated at `peak`: its own
    QRS onset/offset, the P wave annotated between the previous QRS and it, and the T wave annotated
    between it and the next QRS. -1 where LUDB's cardiologists marked none (no P in atrial fibrillation,
    a wave without its onset or offset)."""
    samples, symbols = waves
    out = np.full(len(FIDUCIALS), -1, dtype=np.int64)
    at = np.flatnonzero((symbols == "N") & (samples == peak))
    if not at.size:
        return out
    i = int(at[0])

    def edges(j: int) -> tuple[int, int]:  # the '(' and ')' right around the peak symbol at j
        on = samples[j - 1] if j > 0 and symbols[j - 1] == "(" else -1
        off = samples[j + 1] if j + 1 < len(symbols) and symbols[j + 1] == ")" else -1
        return int(on), int(off)

    out[3], out[4] = edges(i)
    for step, wave in ((-1, "p"), (1, "t")):
        j = i + step
        while 0 <= j < len(symbols) and symbols[j] != "N":
            if symbols[j] == wave:
                on, off = edges(j)
                if wave == "p":
                    out[0], out[1], out[2] = on, samples[j], off
                else:
                    out[5], out[6] = samples[j], off
                break
            j += step
    return out


def read_metadata(root: Path) -> pd.DataFrame:
    """Parse `ludb.csv` into one tidy row per record, indexed by integer record id.

    Columns: sex ('F'/'M'), age (float; '>89' becomes 90.0, missing NaN), age_over_89 (bool),
    rhythm (the first listed rhythm, e.g. 'Sinus rhythm'), rhythms (all, as a tuple), and the
    remaining diagnostic columns in snake_case, each a tuple of strings (cells list several values
    separated by newlines, and every cell ends in one).
    """
    path = root / "ludb.csv"
    if not path.is_file():
        raise LudbError(f"{path} is missing. {HOW_TO_POINT}")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise LudbError(f"{path} could not be parsed as CSV: {exc}") from exc
    if "ID" not in raw.columns or "Rhythms" not in raw.columns:
        raise LudbError(f"{path} lacks the ID/Rhythms columns of ludb.csv; columns are {list(raw.columns)}.")

    def values(cell: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in cell.splitlines() if v.strip())

    def age(cell: str) -> float:
        cell = cell.strip()
        if not cell:
            return float("nan")
        return 90.0 if cell.startswith(">") else float(cell)

    out = pd.DataFrame(index=pd.Index(raw["ID"].str.strip().astype(int), name="record"))
    out["sex"] = raw["Sex"].str.strip().to_numpy() if "Sex" in raw else ""
    ages = raw["Age"].to_numpy() if "Age" in raw else np.full(len(raw), "")
    out["age"] = [age(a) for a in ages]
    out["age_over_89"] = [a.strip().startswith(">") for a in ages]
    rhythms = [values(c) for c in raw["Rhythms"]]
    out["rhythm"] = [r[0] if r else "Unknown" for r in rhythms]
    out["rhythms"] = rhythms
    for col in raw.columns:
        if col in ("ID", "Sex", "Age", "Rhythms"):
            continue
        key = col.strip().lower().replace(" ", "_").replace("-", "_")
        out[key] = [values(c) for c in raw[col]]
    return out


def labels(table: pd.DataFrame) -> dict[int, dict]:
    """Per-record labels from `read_metadata`'s table, {record id: {'rhythm', 'axis', 'lvh', 'sex',
    'age'}}: the first listed rhythm; the electric axis without ludb.csv's 'Electric axis of the
    heart: ' prefix ('none' where it lists none, as for paced hearts); left ventricular hypertrophy
    1/0; 'F'/'M'; age in years (NaN unknown)."""
    prefix = "electric axis of the heart: "
    out = {}
    for rid, row in table.iterrows():
        axis = row.get("electric_axis_of_the_heart") or ()
        out[int(rid)] = {
            "rhythm": str(row["rhythm"]),
            "axis": axis[0].lower().removeprefix(prefix) if axis else "none",
            "lvh": int("Left ventricular hypertrophy" in (row.get("hypertrophies") or ())),
            "sex": str(row["sex"]) or "unknown",
            "age": float(row["age"]),
        }
    return out


def labels_unknown() -> dict:
    """The labels of a record that ludb.csv does not list."""
    return {"rhythm": "Unknown", "axis": "none", "lvh": 0, "sex": "unknown", "age": float("nan")}
