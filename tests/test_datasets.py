"""The LUDB window dataset: locating, reading, cutting, rejecting, splitting, scaling, caching."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets import CacheError, DatasetConfig, LudbError, load_or_build, locate, parse_leads, read_metadata
from datasets import ludb
from datasets.ludb import read_record
from datasets.split import split_records
from datasets.synthetic import write_checksums, write_record
from datasets.windows import highpass

from .conftest import REPO


def build(root, cache, **cfg):
    return load_or_build(root, DatasetConfig(**cfg), cache_dir=cache, workers=1)


# --------------------------------------------------------------------------------------- packaging


def test_datasets_is_ours_not_hugging_face(tmp_path):
    """`import datasets` must give this project's package, from any working directory."""
    code = "import datasets, sys; print(datasets.__file__); print(getattr(datasets, 'ECG_SEARCH_DATASETS', False))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    path, marker = out.stdout.split()
    assert Path(path).resolve() == REPO / "datasets" / "__init__.py"
    assert marker == "True"


@pytest.mark.parametrize("module", ["search.tune", "ecgmodels.train"])
def test_a_shadowing_datasets_package_gets_a_clear_error(tmp_path, module):
    """With another `datasets` first on sys.path (as Hugging Face's could be), the CLIs say so."""
    fake = tmp_path / "fake" / "datasets"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": f"{fake.parent}{os.pathsep}{REPO}"}
    res = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path, env=env, capture_output=True,
                         text=True)
    assert res.returncode != 0 and "not ecg-search's dataset package" in res.stderr, res.stderr


# --------------------------------------------------------------------------------------- metadata


def test_metadata_parses_ludb_csv_quirks(synthetic_ludb):
    meta = read_metadata(synthetic_ludb)
    assert list(meta.index[:3]) == [1, 2, 3]
    assert meta.loc[1, "sex"] == "F" and meta.loc[2, "sex"] == "M"  # trailing newline stripped
    assert meta.loc[3, "age"] == 90.0 and meta.loc[3, "age_over_89"]  # '>89'
    assert meta.loc[2, "age"] == 44.0 and not meta.loc[2, "age_over_89"]  # 30 + 14
    assert meta.loc[1, "hypertrophies"] == ("Left atrial hypertrophy", "Left ventricular hypertrophy")
    assert meta.loc[1, "rhythm"] == "Sinus bradycardia"


def test_real_metadata(real_ludb):
    meta = read_metadata(real_ludb)
    assert len(meta) == 200
    assert meta["age_over_89"].sum() >= 1
    assert meta["rhythm"].value_counts().index[0] == "Sinus rhythm"


# --------------------------------------------------------------------------------------- windows


def test_r_peak_at_index_150_and_scale_round_trip(synthetic_ludb, tmp_path):
    ds, hit = build(synthetic_ludb, tmp_path)
    assert not hit and ds.windows.shape[1:] == (1, 400)
    assert ds.windows.dtype == np.float32 and np.abs(ds.windows).max() <= 1.0
    # The synthetic R wave is the largest deflection of lead II: it must sit at index 150 (noise of
    # 0.01 mV can move the maximum to a neighbouring sample, no further).
    peak_at = np.argmax(ds.windows[:, 0, :], axis=1)
    assert (np.abs(peak_at - 150) <= 1).all() and (peak_at == 150).mean() > 0.6
    # Scaled windows times the saved scale give back the filtered signal in mV, sample for sample.
    rec_id = int(ds.record[ds.split == "train"][0])
    rec = read_record(synthetic_ludb, f"data/{rec_id}")
    mv = highpass(rec.signal[:, rec.leads.index("ii")], 500, 0.5)
    rows = np.flatnonzero(ds.record == rec_id)
    for row in rows:
        start = int(ds.peak[row]) - 150
        np.testing.assert_allclose(ds.to_mv(ds.windows[row, 0]), mv[start:start + 400], atol=1e-5)
    # The scale is fitted on train: the largest training sample maps to exactly 1.
    assert np.abs(ds.part("train")).max() == pytest.approx(1.0)
    # The annotated waves, in window coordinates: synthetic records mark P at R-90, QRS at R and T at
    # R+140 samples, each with an onset 10 samples before and an offset 10 after (datasets.synthetic).
    assert (ds.fiducials == [150 - 100, 150 - 90, 150 - 80, 150 - 10, 150 + 10, 150 + 140, 150 + 150]).all()


def test_split_by_record_never_shares_a_record(synthetic_ludb, tmp_path):
    ds, _ = build(synthetic_ludb, tmp_path)
    sides = {}
    for rec, split in zip(ds.record.tolist(), ds.split.tolist()):
        sides.setdefault(rec, set()).add(split)
    assert all(len(s) == 1 for s in sides.values())
    assert {s for v in sides.values() for s in v} == {"train", "val", "test"}
    assert sum(ds.meta["per_split"].values()) == len(ds.windows)


def test_a_record_that_drops_out_moves_no_other_patient(ludb_copy, tmp_path):
    """The split is drawn over every record ludb.csv lists, before rejection: one record giving no
    windows (here: gone from RECORDS) leaves every other record on its side."""
    before, _ = build(ludb_copy, tmp_path / "a")
    side = dict(zip(before.record.tolist(), before.split.tolist()))
    names = (ludb_copy / "RECORDS").read_text().split()
    (ludb_copy / "RECORDS").write_text("".join(f"{n}\n" for n in names if not n.endswith("/3")))
    (ludb_copy / "SHA256SUMS.txt").unlink()  # the checksum list names the dropped record's files
    after, _ = build(ludb_copy, tmp_path / "b")
    assert 3 in side and 3 not in set(after.record.tolist())
    assert all(side[r] == s for r, s in zip(after.record.tolist(), after.split.tolist()))


def test_split_is_deterministic_and_stratified():
    recs = list(range(1, 201))
    rhythms = {r: ("rare" if r % 10 == 0 else "common") for r in recs}  # 20 rare, 180 common
    a = split_records(recs, rhythms, (0.8, 0.1, 0.1), seed=3)
    assert a == split_records(recs, rhythms, (0.8, 0.1, 0.1), seed=3)
    assert a != split_records(recs, rhythms, (0.8, 0.1, 0.1), seed=4)
    counts = {s: sum(1 for v in a.values() if v == s) for s in ("train", "val", "test")}
    assert counts == {"train": 160, "val": 20, "test": 20}
    rare = {s: sum(1 for r, v in a.items() if v == s and rhythms[r] == "rare") for s in counts}
    assert rare == {"train": 16, "val": 2, "test": 2}


def test_several_leads_share_one_window_cut_at_one_r_position(synthetic_ludb, tmp_path):
    one, _ = build(synthetic_ludb, tmp_path)
    two, _ = build(synthetic_ludb, tmp_path, leads=("avr", "ii"))
    assert two.windows.shape[1:] == (2, 400) and two.leads == ("avr", "ii") and two.meta["r_lead"] == "ii"
    assert two.feature_lead == 1 and np.array_equal(two.peak, one.peak)  # lead II's marks place every beat
    # one scale for every lead: lead II's samples, in mV, are the single-lead dataset's
    assert np.allclose(two.to_mv(two.windows[:, 1]), one.to_mv(one.windows[:, 0]), atol=1e-5)
    # aVR is written upside down (negative gain): its R wave is the window's minimum, at index 150.
    assert (np.abs(np.argmin(two.windows[:, 0], axis=1) - 150) <= 1).all()
    assert two.key != one.key


def test_twelve_lead_windows_obey_einthoven_and_carry_labels(real_ludb, tmp_path):
    """On the project's own 12-lead windows of LUDB: III = II - I and aVF = (II + III)/2 within the
    counts' rounding (1 uV; aVF is stored rounded to a count), every lead at the same R position; the
    labels of record 1 are those of its header and ludb.csv (51, F), and its RR intervals are the gaps
    between lead II's QRS marks."""
    ds, _ = load_or_build(real_ludb, DatasetConfig(leads=ludb.LEADS), cache_dir=tmp_path)
    mv = ds.to_mv(ds.windows)
    lead = {name: mv[:, i] for i, name in enumerate(ds.leads)}
    assert np.abs(lead["iii"] - (lead["ii"] - lead["i"])).max() < 1e-5  # float32 rounding of ~2 mV
    assert np.abs(lead["avf"] - (lead["ii"] + lead["iii"]) / 2).max() < 0.001  # half a count, 0.5 uV
    m = ds.meta
    assert m["r_lead"] == "ii" and sum(m["rejected"].values()) == sum(sum(c.values()) for c in m["rejected_by_lead"].values())
    first = np.flatnonzero(ds.record == 1)
    assert set(ds.sex[first]) == {"F"} and set(ds.age[first]) == {51.0} and set(ds.axis[first]) <= set(m["labels"]["axis"])
    peaks = ludb.qrs_peaks(ludb.read_waves(real_ludb, "data/1", "ii"))
    k = int(np.flatnonzero(peaks == ds.peak[first[0]])[0])
    assert ds.rr_after_ms[first[0]] == pytest.approx((peaks[k + 1] - peaks[k]) * 2.0)  # 2 ms per sample
    assert {"normal", "left axis deviation", "vertical", "horizontal", "right axis deviation"} <= set(m["labels"]["axis"])
    assert set(np.unique(ds.lvh)) == {0, 1} and "Atrial fibrillation" in m["labels"]["rhythm"]


def test_unannotated_lead_falls_back_to_detector(ludb_copy, tmp_path):
    (ludb_copy / "data" / "1.ii").write_bytes(b"")  # empty annotation file
    (ludb_copy / "data" / "2.ii").unlink()  # missing annotation file
    write_checksums(ludb_copy)
    ds, _ = build(ludb_copy, tmp_path)
    assert sorted(ds.meta["detector_used"]) == ["data/1 ii", "data/2 ii"]
    for rec in (1, 2):
        rows = ds.windows[ds.record == rec, 0]
        assert len(rows) >= 8 and (np.abs(np.argmax(rows, axis=1) - 150) <= 1).all()


def test_rejection_counts_flat_and_atypical_beats(ludb_copy, tmp_path):
    import wfdb

    # Record 1: flatten the middle of lead II (lead off) and add a big artefact on one beat.
    rec = wfdb.rdrecord(str(ludb_copy / "data" / "1"))
    sig = rec.p_signal.copy()
    ii = rec.sig_name.index("ii")
    sig[2000:3500, ii] = 0.0
    ann = wfdb.rdann(str(ludb_copy / "data" / "1"), "ii")
    first_r = int(ann.sample[list(ann.symbol).index("N")])  # ~0.7 s in: its window lies inside the record
    sig[first_r + 20:first_r + 220, ii] += np.sin(np.linspace(0, 40 * np.pi, 200)) * 1.0  # noise burst
    wfdb.wrsamp("1", fs=500, units=["mV"] * 12, sig_name=rec.sig_name, p_signal=sig, fmt=["16"] * 12,
                write_dir=str(ludb_copy / "data"))
    write_checksums(ludb_copy)
    ds, _ = build(ludb_copy, tmp_path)
    rej = ds.meta["rejected"]
    assert rej["flat"] >= 1 and rej["low_corr"] + rej["amplitude"] >= 1
    assert all(np.ptp(w) > 0 for w in ds.windows[ds.record == 1, 0])


# --------------------------------------------------------------------------------------- cache


def test_cache_hit_miss_and_key_changes(ludb_copy, tmp_path):
    ds1, hit1 = build(ludb_copy, tmp_path)
    ds2, hit2 = build(ludb_copy, tmp_path)
    assert (hit1, hit2) == (False, True)
    np.testing.assert_array_equal(ds1.windows, ds2.windows)
    assert ds1.meta["key"] == ds2.meta["key"]
    # A changed parameter is a new entry...
    ds3, hit3 = build(ludb_copy, tmp_path, min_corr=0.5)
    assert not hit3 and ds3.key != ds1.key
    # ...and so is a changed raw file.
    write_record(ludb_copy, 5, seed=99)
    write_checksums(ludb_copy)
    ds4, hit4 = build(ludb_copy, tmp_path)
    assert not hit4 and ds4.key != ds1.key
    assert len(list(tmp_path.glob("windows-*/"))) == 3


@pytest.mark.parametrize("damage", ["truncate", "garbage_meta", "missing_data", "edited_scale"])
def test_corrupt_cache_entry_is_rebuilt(ludb_copy, tmp_path, damage, capsys):
    ds, _ = build(ludb_copy, tmp_path)
    entry = tmp_path / f"windows-{ds.key}"
    if damage == "truncate":
        data = (entry / "data.npz").read_bytes()
        (entry / "data.npz").write_bytes(data[: len(data) // 2])
    elif damage == "garbage_meta":
        (entry / "meta.json").write_text("{not json")
    elif damage == "edited_scale":  # valid JSON, wrong millivolts: exports would draw beats 10x too large
        meta = json.loads((entry / "meta.json").read_text())
        (entry / "meta.json").write_text(json.dumps(meta | {"scale_mv": 10.0}, indent=1))
    else:
        (entry / "data.npz").unlink()
    ds2, hit = build(ludb_copy, tmp_path)
    assert not hit and "rebuilding" in capsys.readouterr().out
    np.testing.assert_array_equal(ds.windows, ds2.windows)
    assert json.loads((entry / "meta.json").read_text())["key"] == ds.key
    assert ds2.scale_mv == ds.scale_mv


def _descendants(pid: int) -> set[int]:
    """PIDs of every live descendant of `pid` (from /proc)."""
    parent_of = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent_of[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parent_of.items() if pp in frontier} - out
        out |= frontier
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_sigkill_of_a_build_leaves_no_helper_processes(tmp_path):
    """The fork server and its workers die with a SIGKILLed build (datasets.orphans)."""
    import signal
    import time

    from datasets.synthetic import write_ludb

    root = write_ludb(tmp_path / "ludb", n_records=60, seed=3)
    proc = subprocess.Popen([sys.executable, "-m", "datasets.build", "--data-dir", str(root), "--cache-dir",
                             str(tmp_path / "cache"), "--workers", "2"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    helpers: set[int] = set()
    deadline = time.time() + 60
    while time.time() < deadline and len(helpers) < 3 and proc.poll() is None:  # tracker, fork server, a worker
        helpers |= _descendants(proc.pid)
        time.sleep(0.05)
    assert len(helpers) >= 3, "the build finished before its workers could be seen; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(3)
    alive = {p for p in helpers if Path(f"/proc/{p}").exists()
             and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"}
    assert not alive, f"helper processes outlived the build: {sorted(alive)}"


def _build_in_child(root, cache, queue):
    ds, hit = load_or_build(root, DatasetConfig(), cache_dir=cache, workers=1)
    queue.put((ds.key, hit, float(ds.windows.sum())))


def test_concurrent_builds_make_one_good_entry(synthetic_ludb, tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_build_in_child, args=(synthetic_ludb, tmp_path, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len({r[0] for r in results}) == 1 and len({r[2] for r in results}) == 1
    assert sorted(r[1] for r in results) == [False, True]  # one built, the other waited and hit
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [f"windows-{results[0][0]}"]  # no temp left


def test_a_long_wait_for_the_build_lock_says_why(tmp_path, capsys):
    """Another process holds the lock past the patience: one message naming the entry and the usual
    cause (a script without a __main__ guard), then the lock is taken once it is free."""
    import time

    from filelock import FileLock

    from datasets.cache import _wait_for_lock

    path = tmp_path / "windows-k.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from filelock import FileLock; "
                               f"lock = FileLock({str(path)!r}); lock.acquire(); print('held', flush=True); "
                               "time.sleep(1.5)"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"  # another process holds it
    lock = FileLock(path)
    t0 = time.monotonic()
    _wait_for_lock(lock, tmp_path / "windows-k", patience_s=0.3)
    assert lock.is_locked and time.monotonic() - t0 > 0.5
    lock.release()
    holder.wait()
    err = capsys.readouterr().err
    assert err.count("waiting for another process building") == 1
    assert str(tmp_path / "windows-k") in err and "if __name__ ==" in err


def test_real_ludb_lead_ii(real_ludb, tmp_path):
    ds, hit = load_or_build(real_ludb, DatasetConfig(), cache_dir=tmp_path)
    m = ds.meta
    assert not hit and m["records"] == 200
    total = m["windows"] + sum(m["rejected"].values())
    assert 1800 <= total <= 2200, total
    assert m["per_split"]["train"] > 8 * m["per_split"]["test"] / 2
    # LUDB's 'N' marks sit 0-1 samples before the lead-II maximum; allow 3 samples (6 ms).
    assert (np.abs(np.argmax(np.abs(ds.windows[:, 0]), axis=1) - 150) <= 3).mean() > 0.9
    # the cardiologists' marks, in window coordinates: QRS onset before R and offset after it in every
    # annotated beat; a P wave before the QRS in most (LUDB has atrial fibrillation, without one)
    f = {name: ds.fiducials[:, i] for i, name in enumerate(ludb.FIDUCIALS)}
    on, off = f["qrs_on"][f["qrs_on"] >= 0], f["qrs_off"][f["qrs_off"] >= 0]
    assert len(on) > 0.98 * len(ds.windows) and (on < 150).all() and (off > 150).all()
    p = f["p_peak"] >= 0
    assert 0.7 < p.mean() < 0.95 and (f["p_peak"][p] < f["qrs_on"][p]).all()
    ds2, hit2 = load_or_build(real_ludb, DatasetConfig(), cache_dir=tmp_path)
    assert hit2 and ds2.key == ds.key


def test_real_ludb_in_true_millivolts(real_ludb):
    """Worked from the raw file: record 1's .dat is 12 interleaved little-endian int16 leads (i, ii,
    iii, ...). Its first three lead-II counts are 25, 97, 195 and lead II spans 1,206 counts, which
    its header's gain (1206/mV) turns into exactly 1 mV: the gains normalise, the counts are uV."""
    counts = np.fromfile(real_ludb / "data/1.dat", dtype="<i2").reshape(-1, 12).astype(np.float64)
    assert counts[:3, 1].tolist() == [25, 97, 195] and np.ptp(counts[:, 1]) == 1206
    rec = read_record(real_ludb, "data/1")
    assert rec.signal[:3, 1] == pytest.approx([0.025, 0.097, 0.195], abs=1e-12)
    assert np.ptp(rec.signal[:, 1]) == pytest.approx(1.206, abs=1e-12)
    old = read_record(real_ludb, "data/1", "ludb-header")
    assert np.ptp(old.signal, axis=0) == pytest.approx(np.ones(12), abs=1e-9)  # every lead: 1 "mV"
    # Einthoven: III = II - I, exact in counts, so exact (to float rounding) in the project's mV, also
    # after the (linear) baseline filter its windows are cut from; in header units it is broken.
    i, ii, iii = (rec.signal[:, rec.leads.index(lead)] for lead in ("i", "ii", "iii"))
    assert np.abs(iii - (ii - i)).max() < 1e-12
    f = {lead: highpass(x, 500, 0.5) for lead, x in (("i", i), ("ii", ii), ("iii", iii))}
    assert np.abs(f["iii"] - (f["ii"] - f["i"])).max() < 1e-9
    hi, hii, hiii = (old.signal[:, old.leads.index(lead)] for lead in ("i", "ii", "iii"))
    assert np.abs(hiii - (hii - hi)).max() > 0.05


def test_real_ludb_windows_are_true_millivolts(real_ludb, tmp_path):
    """The cached windows times scale_mv are the raw counts / 1000 (filtered) at each window's R peak;
    a config recorded before `amplitude` existed means LUDB's header units."""
    ds, _ = load_or_build(real_ludb, DatasetConfig(), cache_dir=tmp_path)
    assert ds.config.amplitude == "mv"
    first = np.flatnonzero(ds.record == 1)[0]
    rec = read_record(real_ludb, "data/1")
    filt = highpass(rec.signal[:, rec.leads.index("ii")], 500, 0.5)
    start = int(ds.peak[first]) - 150
    assert ds.to_mv(ds.windows[first, 0]) == pytest.approx(filt[start:start + 400], abs=2e-6 * ds.scale_mv)
    # lead II beats span about 0.7-2.7 mV peak to peak in true units (5th-95th percentile); in header
    # units every record's whole lead spans 1 mV, so no filtered beat spans much more
    ptp = np.ptp(ds.to_mv(ds.windows[:, 0]), axis=1)
    lo, hi = np.percentile(ptp, [5, 95])
    assert 0.4 < lo < 0.9 and 1.8 < hi < 3.5, (lo, hi)
    legacy = DatasetConfig.from_dict({k: v for k, v in DatasetConfig().to_dict().items() if k != "amplitude"})
    assert legacy.amplitude == "ludb-header"
    old, _ = load_or_build(real_ludb, legacy, cache_dir=tmp_path)
    assert old.key != ds.key and np.ptp(old.to_mv(old.windows[:, 0]), axis=1).max() < 1.05  # (after the filter)


# --------------------------------------------------------------------------------------- bad input


def test_missing_folder(tmp_path):
    with pytest.raises(LudbError, match="does not exist"):
        locate(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LudbError, match="no RECORDS"):
        locate(tmp_path / "empty")


def test_ludb_dir_env_is_used(synthetic_ludb, monkeypatch):
    monkeypatch.setenv("LUDB_DIR", str(synthetic_ludb))
    assert locate() == synthetic_ludb.resolve()


def test_checksum_mismatch_names_the_file(ludb_copy, tmp_path):
    with open(ludb_copy / "data" / "4.dat", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(LudbError, match=r"Checksum mismatch for .*data/4\.dat"):
        build(ludb_copy, tmp_path)
    assert not list(tmp_path.glob("windows-*/"))


def test_an_unwritable_cache_dir_is_named_before_any_work(synthetic_ludb, tmp_path):
    (tmp_path / "afile").write_text("not a folder")  # (chmod would not stop root, who runs CI)
    with pytest.raises(CacheError, match=r"cannot write the window cache in .*afile/c .*--cache-dir"):
        build(synthetic_ludb, tmp_path / "afile" / "c")


def test_a_file_ludb_lists_but_is_missing_is_an_error(ludb_copy, tmp_path):
    (ludb_copy / "data" / "4.hea").unlink()  # SHA256SUMS.txt still lists it
    with pytest.raises(LudbError, match=r"data/4\.hea is missing, though .*SHA256SUMS\.txt lists it"):
        build(ludb_copy, tmp_path)
    assert not list(tmp_path.glob("windows-*/"))


def test_a_garbage_annotation_file_is_not_read_as_annotations(ludb_copy, tmp_path):
    rng = np.random.default_rng(9)
    (ludb_copy / "data" / "9.ii").write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    (ludb_copy / "SHA256SUMS.txt").unlink()  # nothing else could catch it
    ds, _ = build(ludb_copy, tmp_path)
    skipped = [s for s in ds.meta["skipped"] if s.startswith("data/9 ")]
    assert len(skipped) == 1 and "9.ii" in skipped[0] and "corrupt" in skipped[0], ds.meta["skipped"]
    assert 9 not in ds.record.tolist()


@pytest.mark.parametrize("fault,reason", [
    ("missing_hea", "4.hea is missing"),
    ("truncated_dat", "truncated"),
    ("corrupt_hea", "could not be read"),
    ("no_lead", "lead(s) ii not in"),
    ("wrong_fs", "sampling rate 250"),
    ("nan", "NaN samples"),
    ("short", "shorter than one"),
])
def test_bad_record_is_a_counted_skip(ludb_copy, tmp_path, fault, reason):
    import wfdb

    data = ludb_copy / "data"
    if fault == "missing_hea":
        (data / "4.hea").unlink()
    elif fault == "truncated_dat":
        raw = (data / "4.dat").read_bytes()
        (data / "4.dat").write_bytes(raw[: len(raw) // 3])
    elif fault == "corrupt_hea":
        (data / "4.hea").write_text("this is not a header\n")
    elif fault == "no_lead":
        write_record(ludb_copy, 4, leads=("i", "iii", "avr"))
    elif fault == "wrong_fs":
        write_record(ludb_copy, 4, fs=250)
    elif fault == "nan":
        rec = wfdb.rdrecord(str(data / "4"))
        sig = rec.p_signal.copy()
        sig[1000:1010, rec.sig_name.index("ii")] = np.nan
        wfdb.wrsamp("4", fs=500, units=["mV"] * 12, sig_name=rec.sig_name, p_signal=sig, fmt=["16"] * 12,
                    write_dir=str(data))
    elif fault == "short":
        write_record(ludb_copy, 4, seconds=0.5)
    (ludb_copy / "SHA256SUMS.txt").unlink()  # these faults are about the records, not checksums
    ds, _ = build(ludb_copy, tmp_path)
    skipped = [s for s in ds.meta["skipped"] if s.startswith("data/4 ")]
    assert len(skipped) == 1 and reason in skipped[0], ds.meta["skipped"]
    assert 4 not in ds.record.tolist() and ds.meta["records_used"] == 11


def test_unknown_lead_and_bad_config():
    with pytest.raises(ValueError, match="unknown lead"):
        parse_leads("ii,v7")
    with pytest.raises(ValueError, match="unknown lead"):
        DatasetConfig(leads=("II-ish",))
    with pytest.raises(ValueError, match="r_index"):
        DatasetConfig(r_index=500)
    with pytest.raises(TypeError):
        DatasetConfig.from_dict({"leads": ["ii"], "windw": 400})
    assert parse_leads("ALL")[:2] == ("i", "ii") and len(parse_leads("all")) == 12


def test_empty_split_is_an_error(ludb_copy, tmp_path):
    with pytest.raises(CacheError, match="val split is empty"):  # 4 % of 12 records: none
        build(ludb_copy, tmp_path, split=(0.95, 0.04, 0.01))
    assert not list(tmp_path.glob("windows-*/"))
    for split in ((0.9, 0.1, 0.0), (1.0, 0.0, 0.0), (float("nan"), 0.5, 0.5), (0.5, 0.6, -0.1)):
        with pytest.raises(ValueError, match="each above 0 and below 1"):  # before any work, naming the value
            DatasetConfig(split=split)


def test_download_from_a_mirror_is_verified_and_moved_into_place(synthetic_ludb, tmp_path, monkeypatch):
    """The download path end to end, from a local HTTP server laid out as PhysioNet's files/ tree."""
    import functools
    import http.server
    import shutil
    import threading

    served = tmp_path / "served"
    shutil.copytree(synthetic_ludb, served / "ludb" / "1.0.1")
    with open(served / "ludb" / "1.0.1" / "SHA256SUMS.txt", "a") as f:  # as LUDB's: files it does not need
        f.write("0" * 64 + " README\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("LUDB_DIR", raising=False)
        monkeypatch.setenv("ECG_SEARCH_CACHE", str(tmp_path / "cache"))
        monkeypatch.setenv("ECG_SEARCH_PHYSIONET_URL", f"http://127.0.0.1:{server.server_address[1]}/")
        root = locate()
    finally:
        server.shutdown()
    assert root == tmp_path / "cache" / "ludb-1.0.1" and (root / "data" / "12.ii").is_file()
    assert not root.with_name("ludb-1.0.1.partial").exists()
    ds, _ = build(root, tmp_path / "windows")
    assert ds.meta["records_used"] == 12


def test_failed_download_says_what_was_tried(tmp_path, monkeypatch):
    monkeypatch.delenv("LUDB_DIR", raising=False)
    monkeypatch.setenv("ECG_SEARCH_PHYSIONET_URL", "http://127.0.0.1:9/")  # nothing listens there
    with pytest.raises(LudbError) as err:
        locate()
    msg = str(err.value)
    assert "Could not download LUDB" in msg and "--data-dir" in msg and "LUDB_DIR" in msg
    assert not (tmp_path / "ecg-search-cache" / "ludb-1.0.1").exists()  # nothing half-written in place


# --------------------------------------------------------------------------------------- CLI


def test_cli_builds_then_hits(synthetic_ludb, tmp_path):
    cmd = [sys.executable, "-m", "datasets.build", "--data-dir", str(synthetic_ludb), "--cache-dir", str(tmp_path),
           "--workers", "2"]
    first = subprocess.run(cmd + ["--plot", str(tmp_path / "x.png")], capture_output=True, text=True, cwd=REPO)
    assert first.returncode == 0, first.stderr
    assert "built" in first.stdout and "12 listed" in first.stdout and (tmp_path / "x.png").stat().st_size > 10_000
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert "cache hit" in second.stdout


def test_cli_rejects_bad_options(synthetic_ludb, tmp_path):
    bad = subprocess.run([sys.executable, "-m", "datasets.build", "--data-dir", str(synthetic_ludb), "--lead", "v9"],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "unknown lead" in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "datasets.build", "--data-dir", str(tmp_path / "none")],
                             capture_output=True, text=True, cwd=REPO)
    assert missing.returncode == 4 and "does not exist" in missing.stderr  # data, not options


def test_every_dataset_field_has_an_option_in_help():
    """The CLIs' dataset options come from DatasetConfig itself, so none can be missing or drift."""
    import dataclasses

    from datasets import DatasetConfig

    out = subprocess.run([sys.executable, "-m", "datasets.build", "--help"], cwd=REPO, capture_output=True,
                         text=True).stdout
    for f in dataclasses.fields(DatasetConfig):
        flag = "--lead" if f.name == "leads" else "--" + f.name.replace("_", "-")
        assert flag in out, flag
    assert "(default 0.8,0.1,0.1)" in out and "--no-stratify" in out
