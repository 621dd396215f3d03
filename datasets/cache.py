"""The content-addressed window cache: build once from raw LUDB, then load in milliseconds.

An entry lives in `<cache_dir>/windows-<key>/` as `data.npz` (arrays) + `meta.json` (everything
else, including the sha256 of data.npz). The key hashes the format version, every `DatasetConfig`
field and the sha256 of every raw file the build reads, so a changed parameter or file gives a new
entry. Entries are built in a temporary folder and renamed into place (atomic); a file lock makes a
second concurrent builder wait and then load the first one's entry; an entry that fails its
checksum is removed and rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from . import ludb
from .config import DatasetConfig
from .orphans import die_with_parent
from .split import SPLITS, split_records
from .windows import REJECT_REASONS, RecordWindows, cut_record, r_lead

# Part of every key: bump it whenever cutting, rejection, splitting or scaling code changes, so
# entries built by older code are not mistaken for current ones (the key cannot hash the code).
FORMAT_VERSION = 5  # 5: all chosen leads of a beat in one window, per-window labels
# Per-window labels: per record from ludb.csv (ludb.labels), per beat the RR intervals around it
LABELS = ("rhythm", "axis", "lvh", "sex", "age", "rr_before_ms", "rr_after_ms")
_ARRAYS = ("windows", "record", "peak", "split", "fiducials", *LABELS)


class CacheError(RuntimeError):
    """The dataset cannot be built from these records and settings; the message says why and the fix."""


# ---------------------------------------------------------------------------------------------
# The dataset object
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowDataset:
    """Scaled beat windows, every chosen lead of a beat in one window, with a row of metadata each.

    windows: float32 [n, leads, window] in [-1, 1] (leads in `meta['leads']` order); multiply by
    `scale_mv` for millivolts (one scale for every lead).
    record, peak: int32 record id and R-peak sample index in that record; split: str.
    fiducials: int16 [n, 7], LUDB's annotated P/QRS/T points of `meta['r_lead']` (`ludb.FIDUCIALS`) as
    window sample indices, -1 where not annotated or outside the window.
    Labels (LABELS; vocabularies in `meta['labels']`): rhythm, axis, sex (str), lvh (int8 1/0), age
    (float32, NaN unknown), rr_before_ms, rr_after_ms (float32, NaN at a record's ends).
    meta: counts, rejection counts (per reason, and per lead), skipped records, parameters, key.
    """

    windows: np.ndarray
    record: np.ndarray
    peak: np.ndarray
    split: np.ndarray
    fiducials: np.ndarray
    rhythm: np.ndarray
    axis: np.ndarray
    lvh: np.ndarray
    sex: np.ndarray
    age: np.ndarray
    rr_before_ms: np.ndarray
    rr_after_ms: np.ndarray
    meta: dict

    @property
    def scale_mv(self) -> float:
        return float(self.meta["scale_mv"])

    @property
    def key(self) -> str:
        return str(self.meta["key"])

    @property
    def config(self) -> DatasetConfig:
        return DatasetConfig.from_dict(self.meta["config"])

    @property
    def leads(self) -> tuple[str, ...]:
        return tuple(self.meta["leads"])

    @property
    def feature_lead(self) -> int:
        """Index of the lead whose P/QRS/T features are measured: the one that placed the R peaks."""
        return self.leads.index(self.meta["r_lead"])

    def part(self, split: str) -> np.ndarray:
        """Windows of one split ('train', 'val' or 'test'), float32 [k, leads, window]."""
        if split not in SPLITS:
            raise ValueError(f"split {split!r} is not one of {SPLITS}")
        return self.windows[self.split == split]

    def records_of(self, split: str) -> np.ndarray:
        """Record id of each window of `part(split)`, in the same order (for per-patient statistics)."""
        if split not in SPLITS:
            raise ValueError(f"split {split!r} is not one of {SPLITS}")
        return self.record[self.split == split]

    def fiducials_of(self, split: str) -> np.ndarray:
        """LUDB's annotated fiducial points of each window of `part(split)` (see the class docstring)."""
        if split not in SPLITS:
            raise ValueError(f"split {split!r} is not one of {SPLITS}")
        return self.fiducials[self.split == split]

    def evaluation_inputs(self, split: str) -> dict:
        """Keyword arguments for `ecgmodels.metrics.report` on `split`: train and held-out beats,
        their records, where the R peak sits, the lead the P/QRS/T features are measured on, the scale to
        mV and the held-out beats' annotated fiducials (for the P/QRS/T features)."""
        return {"train": self.part("train"), "real": self.part(split), "records": self.records_of(split),
                "r_index": self.config.r_index, "fs": float(self.meta["fs"]), "feature_lead": self.feature_lead,
                "train_records": self.records_of("train"), "scale_mv": self.scale_mv,
                "real_points": self.fiducials_of(split)}

    def to_mv(self, x: np.ndarray) -> np.ndarray:
        """Scaled windows (any shape) back to millivolts."""
        return np.asarray(x, dtype=np.float64) * self.scale_mv


# ---------------------------------------------------------------------------------------------
# Keys, paths, loading
# ---------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    return ludb.user_cache_dir() / "windows"


def raw_files(root: Path, cfg: DatasetConfig) -> set[str]:
    """Relative paths of every raw file a build with `cfg` reads."""
    files = {"RECORDS", "ludb.csv"}
    for name in ludb.record_names(root):
        files |= {f"{name}.hea", f"{name}.dat"} | {f"{name}.{lead}" for lead in cfg.leads}
    return files


def cache_key(root: Path, cfg: DatasetConfig) -> str:
    """Hex key over the format version, the config and the raw files' sha256 (verified against
    SHA256SUMS.txt when present, which raises LudbError on a mismatch)."""
    wanted = raw_files(root, cfg)
    hashes = ludb.verify_checksums(root, only=wanted)
    files = {rel: hashes.get(rel, "missing") for rel in sorted(wanted)}
    blob = json.dumps({"format": FORMAT_VERSION, "config": cfg.to_dict(), "files": files}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_entry(entry: Path) -> WindowDataset:
    """Load and check one cache entry; CacheError says what is wrong with it."""
    try:
        # meta.json carries the scale to millivolts and the split: an edited one must not pass as a hit
        if _sha256(entry / "meta.json") != (entry / "meta.sha256").read_text().strip():
            raise CacheError(f"{entry / 'meta.json'} does not match {entry / 'meta.sha256'} (edited or corrupted)")
        meta = json.loads((entry / "meta.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise CacheError(f"{entry}: format {meta.get('format')}, expected {FORMAT_VERSION}")
        if _sha256(entry / "data.npz") != meta["data_sha256"]:
            raise CacheError(f"{entry / 'data.npz'} does not match its checksum (truncated or corrupted)")
        with np.load(entry / "data.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in _ARRAYS}
    except CacheError:
        raise
    except Exception as exc:  # missing file, bad JSON, bad zip: all mean the entry is unusable
        raise CacheError(f"{entry} is unreadable ({type(exc).__name__}: {exc})") from exc
    n = len(arrays["windows"])
    if any(len(a) != n for a in arrays.values()):
        raise CacheError(f"{entry}: arrays of different lengths")
    return WindowDataset(meta=meta, **arrays)


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


def _cut_all(root: Path, names: list[str], cfg: DatasetConfig, workers: int, progress: bool) -> list[RecordWindows]:
    from tqdm import tqdm

    bar = dict(total=len(names), desc="Cutting beats", unit="record", disable=not progress, leave=False)
    if workers <= 1:
        return [cut_record(root, n, cfg) for n in tqdm(names, **bar)]
    # forkserver, not fork: the caller may already hold threads (torch, Ray) that fork would copy
    # mid-lock. Not spawn either: each spawned worker re-imports numpy/scipy/wfdb (~1 s), which ate
    # the whole gain of a second core; the fork server imports them once and forks clean workers.
    ctx = get_context("forkserver")
    # datasets.orphans: the fork server and its workers die with this process, even on SIGKILL.
    ctx.set_forkserver_preload(["datasets.orphans", "datasets.windows"])
    os.environ["ECG_SEARCH_FORKSERVER"] = "1"  # seen by the fork server (started inside map) as it imports them
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=die_with_parent) as pool:
            results = pool.map(cut_record, [root] * len(names), names, [cfg] * len(names), chunksize=4)
            return list(tqdm(results, **bar))
    finally:
        os.environ.pop("ECG_SEARCH_FORKSERVER", None)


def build(root: Path, cfg: DatasetConfig, key: str, workers: int | None = None, progress: bool = False) -> WindowDataset:
    """Cut, reject, split and scale every record under `root` into a WindowDataset (in memory)."""
    t0 = time.perf_counter()
    names = ludb.record_names(root)
    table = ludb.read_metadata(root)
    workers = workers or os.cpu_count() or 1
    cuts = _cut_all(root, names, cfg, min(workers, len(names)), progress)

    labels_of = ludb.labels(table)
    rhythm_of = {r: lab["rhythm"] for r, lab in labels_of.items()}
    used = [ludb.record_id(c.name) for c in cuts if len(c.windows)]
    if not used:
        reasons = "; ".join(f"{c.name}: {s}" for c in cuts[:5] for s in c.skipped)
        raise CacheError(f"no beat windows could be cut from any of the {len(names)} records in {root}. First reasons: {reasons}")
    # Split every record LUDB lists, before rejection: which records survive rejection (e.g. after a
    # change of --min-corr) must not move the other patients between train, val and test.
    listed = sorted({int(r) for r in table.index} | {ludb.record_id(n) for n in names})
    split_of = split_records(listed, rhythm_of, cfg.split, cfg.split_seed, cfg.stratify)

    rows = [c for c in cuts if len(c.windows)]
    rec_ids = np.concatenate([[ludb.record_id(c.name)] * len(c.windows) for c in rows]).astype(np.int32)
    mv = np.concatenate([c.windows for c in rows])
    split = np.array([split_of[int(r)] for r in rec_ids])
    for s, frac in zip(SPLITS, cfg.split):
        if frac > 0 and not (split == s).any():
            raise CacheError(
                f"the {s} split is empty: {len(used)} records gave windows, too few for split={cfg.split}. "
                "Use more records, other split fractions, or looser rejection thresholds."
            )
    scale = float(np.abs(mv[split == "train"]).max())  # fitted on train only: no peek at val/test
    scaled = mv / scale
    beyond = int((np.abs(scaled) > 1).any(axis=(1, 2)).sum())
    scaled = np.clip(scaled, -1.0, 1.0).astype(np.float32)

    unknown = ludb.labels_unknown()
    per_window = {k: [labels_of.get(int(r), unknown)[k] for r in rec_ids] for k in ("rhythm", "axis", "lvh", "sex", "age")}
    rr = np.concatenate([np.reshape(c.rr, (-1, 2)) for c in rows]).astype(np.float32)
    rhythm = np.array(per_window["rhythm"])
    rejected = sum((c.rejected for c in cuts), Counter())
    by_lead = {lead: sum((c.rejected_by_lead.get(lead, Counter()) for c in cuts), Counter()) for lead in cfg.leads}
    meta = {
        "format": FORMAT_VERSION,
        "key": key,
        "config": cfg.to_dict(),
        "source": str(root),
        "fs": cfg.fs,
        "scale_mv": scale,
        "leads": list(cfg.leads),
        "r_lead": r_lead(cfg.leads),
        "records": len(names),
        "records_used": len(used),
        "windows": int(len(scaled)),
        "per_split": {s: int((split == s).sum()) for s in SPLITS},
        "records_per_split": {s: sum(1 for r in used if split_of[r] == s) for s in SPLITS},
        "per_rhythm": {s: dict(Counter(rhythm[split == s].tolist()).most_common()) for s in SPLITS},
        "rejected": {r: int(rejected.get(r, 0)) for r in REJECT_REASONS},
        "rejected_by_lead": {lead: {r: int(n) for r, n in c.items()} for lead, c in by_lead.items() if c},
        "labels": {k: sorted({str(v) for v in per_window[k]}) for k in ("rhythm", "axis", "sex")} | {
            "lvh": [0, 1], "age": "years (NaN unknown; 90 = over 89)", "rr_before_ms": "ms", "rr_after_ms": "ms"},
        "clipped_to_unit": beyond,  # val/test windows beyond the train scale, clipped to [-1, 1]
        "skipped": [f"{c.name} {s}" for c in cuts for s in c.skipped],
        "detector_used": [f"{c.name} {lead}" for c in cuts for lead in c.detector_used],
        "build_seconds": round(time.perf_counter() - t0, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": {"python": platform.python_version(), "numpy": np.__version__},
    }
    arrays = dict(
        windows=scaled,
        record=rec_ids,
        peak=np.concatenate([c.peaks for c in rows]).astype(np.int32),
        split=split,
        fiducials=np.concatenate([np.reshape(c.fiducials, (-1, len(ludb.FIDUCIALS))) for c in rows]).astype(np.int16),
        rhythm=rhythm,
        axis=np.array(per_window["axis"]),
        lvh=np.array(per_window["lvh"], dtype=np.int8),
        sex=np.array(per_window["sex"]),
        age=np.array(per_window["age"], dtype=np.float32),
        rr_before_ms=rr[:, 0],
        rr_after_ms=rr[:, 1],
    )
    return WindowDataset(meta=meta, **arrays)


def _write_entry(ds: WindowDataset, entry: Path) -> None:
    """Write `ds` to a temporary sibling folder, then rename it to `entry` in one step."""
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{entry.name}-", dir=entry.parent))
    try:
        np.savez(tmp / "data.npz", **{k: getattr(ds, k) for k in _ARRAYS})
        meta = dict(ds.meta, data_sha256=_sha256(tmp / "data.npz"))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        (tmp / "meta.sha256").write_text(_sha256(tmp / "meta.json") + "\n")
        os.replace(tmp, entry)  # atomic on one filesystem; fails if a complete entry already exists
    except OSError:
        if not (entry / "meta.json").is_file():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_for_lock(lock: FileLock, entry: Path, patience_s: float = 20.0) -> None:
    """Take the builders' lock, saying once what is going on if it takes longer than a build does.
    The usual cause of a long wait: a script calling load_or_build at import time without an
    `if __name__ == "__main__":` guard; the cutting workers re-import it and wait on its own lock."""
    try:
        lock.acquire(timeout=patience_s)
    except Timeout:
        print(f"waiting for another process building {entry} (lock {lock.lock_file}). If it does not "
              "finish, a script of yours may call load_or_build at import time: multiprocessing "
              "workers re-import the main script, so put that call under `if __name__ == "
              "'__main__':`", file=sys.stderr, flush=True)
        lock.acquire()


def load_or_build(
    data_dir: str | os.PathLike | None = None,
    cfg: DatasetConfig | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> tuple[WindowDataset, bool]:
    """Return (dataset, hit): the cached window dataset for this LUDB copy and config, built if needed.

    `data_dir` is resolved by `ludb.locate` (argument, LUDB_DIR, user cache, download).
    """
    cfg = cfg or DatasetConfig()
    root = ludb.locate(data_dir)
    key = cache_key(root, cfg)
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        probe = cache / f".writable-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:  # found before the build, not after minutes of cutting beats
        raise CacheError(f"cannot write the window cache in {cache} ({exc.strerror}); give a writable --cache-dir "
                         "(or set ECG_SEARCH_CACHE)") from exc
    entry = cache / f"windows-{key}"

    def try_load() -> WindowDataset | None:
        if not entry.exists():
            return None
        try:
            return load_entry(entry)
        except CacheError as exc:
            print(f"warning: {exc}; rebuilding it")
            shutil.rmtree(entry, ignore_errors=True)
            return None

    ds = try_load()
    if ds is not None:
        return ds, True
    lock = FileLock(cache / f"windows-{key}.lock")
    _wait_for_lock(lock, entry)  # a concurrent builder of the same key waits here...
    try:
        ds = try_load()  # ...and then finds the entry the first one wrote
        if ds is not None:
            return ds, True
        ds = build(root, cfg, key, workers=workers, progress=progress)
        _write_entry(ds, entry)
    finally:
        lock.release()
    return ds, False
