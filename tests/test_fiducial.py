"""P/QRS/T fiducials and features: annotations read by hand, features of a beat built by hand, the
delineator on beats whose waves sit where we put them, and on real LUDB: real beats close to real
beats, the average beat far in its spread, noise and sinusoids flagged as not ECG."""
from __future__ import annotations

import numpy as np
import pytest

from datasets import ludb
from datasets.synthetic import beat_signal
from ecgmodels import fiducial as F

FS, R, WIN = 500, 150, 400


def test_point_names_agree_between_cache_and_features():
    assert ludb.FIDUCIALS == F.POINTS


def test_fiducials_at_picks_the_beats_own_waves():
    # two beats; the second has no P wave (as in atrial fibrillation) and its T has no onset mark
    samples = np.array([10, 20, 30, 40, 50, 60, 100, 120, 140, 210, 230, 250, 260, 300, 310])
    symbols = np.array(["(", "p", ")", "(", "N", ")", "(", "t", ")", "(", "N", ")", "t", ")", "("])
    first = ludb.fiducials_at((samples, symbols), 50)
    np.testing.assert_array_equal(first, [10, 20, 30, 40, 60, 120, 140])
    second = ludb.fiducials_at((samples, symbols), 230)
    np.testing.assert_array_equal(second, [-1, -1, -1, 210, 250, 260, 300])  # the t before it is the first beat's
    assert (ludb.fiducials_at((samples, symbols), 77) == -1).all()  # no QRS annotated there


def _hand_beat() -> tuple[np.ndarray, np.ndarray]:
    """A beat of flat pieces (mV) whose every feature is known: isoelectric 0.1 mV, P +0.15 at 60,
    R +1.1 at 150, ST +0.2 at J+60 ms, T -0.2 (inverted) at 290."""
    x = np.full(WIN, 0.1)
    x[60] = 0.25
    x[R] = 1.2
    x[170 + 30] = 0.3  # J (QRS offset) at 170, ST read 60 ms = 30 samples later
    x[290] = -0.1
    pts = np.array([[40, 60, 80, 130, 170, 290, 330]])  # p_on, p_peak, p_off, qrs_on, qrs_off, t_peak, t_off
    return x[None], pts


def test_features_of_a_beat_worked_out_by_hand():
    x, pts = _hand_beat()
    f = F.features(x, pts, R, FS)
    assert f["p_present"][0] == 1.0
    assert f["pr_ms"][0] == pytest.approx((130 - 40) * 2)  # 180 ms
    assert f["qrs_ms"][0] == pytest.approx((170 - 130) * 2)  # 80 ms
    assert f["qt_ms"][0] == pytest.approx((330 - 130) * 2)  # 400 ms
    assert f["p_mv"][0] == pytest.approx(0.15)
    assert f["r_mv"][0] == pytest.approx(1.1)
    assert f["st_mv"][0] == pytest.approx(0.2)
    assert f["t_mv"][0] == pytest.approx(-0.2)
    # without a P wave marked: no P, no PR; the rest unchanged
    f = F.features(x, np.array([[-1, -1, -1, 130, 170, 290, 330]]), R, FS)
    assert f["p_present"][0] == 0.0 and np.isnan(f["pr_ms"][0]) and np.isnan(f["p_mv"][0])
    assert f["qrs_ms"][0] == pytest.approx(80)
    # a P bump below P_MIN_MV is not a P wave
    small = x.copy()
    small[0, 60] = 0.1 + F.P_MIN_MV / 2
    assert F.features(small, pts, R, FS)["p_present"][0] == 0.0


def test_fidelity_by_hand():
    real = {"p_present": np.array([1.0, 1.0, 0.0, 0.0]), "qrs_ms": np.array([80.0, 90.0, 100.0, np.nan])}
    same = F.fidelity(real, real)
    assert same["qrs_ms"]["w1"] == 0 and same["p_present"]["w1"] == 0 and same["qrs_ms"]["sd_ratio"] == 1
    shifted = {"p_present": np.ones(4), "qrs_ms": np.array([90.0, 100.0, 110.0, 120.0])}
    out = F.fidelity(shifted, real)
    # W1 = area between the CDFs of {90,100,110,120} and {80,90,100,(unmeasured)}: |F_a - F_b| is 1/3 on
    # [80,90), 2/3-1/4 on [90,100), 1-1/2 on [100,110), 1-3/4 on [110,120): 10/3 + 50/12 + 5 + 5/2 = 15 ms
    assert out["qrs_ms"]["w1"] == pytest.approx(15.0)
    assert out["qrs_ms"]["sd_ratio"] == pytest.approx(np.std([90, 100, 110, 120]) / np.std([80, 90, 100]))
    assert out["qrs_ms"]["rate"] == 1.0 and same["qrs_ms"]["rate"] == 0.75
    assert out["p_present"]["w1"] == 0.5  # P in every beat against half of them


def test_delineator_finds_waves_where_they_were_put():
    # synthetic beats: P peak 90 samples (180 ms) before R, T peak 140 samples after, QRS ~±40 ms
    rng = np.random.default_rng(0)
    t = np.arange(WIN) / FS
    beats = np.stack([beat_signal(t, np.array([R / FS]), g, rng) + rng.normal(0, 0.01, WIN)
                      for g in rng.uniform(0.6, 1.4, 40)])
    pts = F.delineate(beats, R, FS)
    assert pts.shape == (40, len(F.POINTS))
    col = {n: pts[:, i] for i, n in enumerate(F.POINTS)}
    assert np.median(np.abs(col["p_peak"] - (R - 90))) <= 5  # within 10 ms
    assert np.median(np.abs(col["t_peak"] - (R + 140))) <= 5
    assert ((col["qrs_on"] > R - 40) & (col["qrs_on"] < R)).mean() >= 0.9
    assert ((col["qrs_off"] > R) & (col["qrs_off"] < R + 40)).mean() >= 0.9
    # beats it cannot delineate give absent points, not an error, and do not blank their neighbours
    assert (F.delineate(np.zeros((3, WIN)), R, FS) == -1).all()
    assert (F.delineate(np.full((2, WIN), np.nan), R, FS) == -1).all()
    mixed = beats.copy()
    mixed[3, 200] = np.nan
    mixed[5] = 0.0
    again = F.delineate(mixed, R, FS)
    assert (again[[3, 5]] == -1).all()
    keep = np.setdiff1d(np.arange(40), [2, 3, 4, 5, 6])  # the blanked beats' neighbours may shift a little
    np.testing.assert_array_equal(again[keep], pts[keep])


def test_plausibility_checks_by_hand():
    def feat(p, qrs_in, t):
        rows = {"p_present": {"rate": p}, "qrs_ms": {"rate": 1.0, "in_range": qrs_in}, "t_mv": {"rate": t}}
        return rows
    real = feat(0.75, 0.95, 0.95)
    ok = F.plausibility({"generated": feat(0.6, 0.9, 0.9), "real": real}, 0.97, 0.98)
    assert ok["plausible"] and not ok["failed"]
    bad = F.plausibility({"generated": feat(0.3, 0.5, 0.9), "real": real}, 0.1, 0.98)
    assert not bad["plausible"]
    assert [c["check"] for c in bad["checks"] if not c["ok"]] == ["QRS at the R index", "QRS of 40-200 ms", "P wave"]
    assert bad["failed"][0] == "QRS at the R index in 10% of beats (real 98%)"


@pytest.mark.ludb
@pytest.mark.slow(33)
def test_real_average_sinusoid_and_noise_on_ludb(real_ludb):
    """On the test split: training beats are close to test beats in every feature; the average beat
    lacks real beats' spread (R amplitude, QT); a sinusoid and flat noise are flagged as not ECG."""
    import datasets
    from ecgmodels.metrics import average_beat, stand_in
    from ecgmodels.shape import r_peak_rate

    ds, _ = datasets.load_or_build(real_ludb, datasets.DatasetConfig())
    real = ds.to_mv(ds.part("test"))[:, 0]
    floor = ds.to_mv(stand_in(ds.part("train"), 400, 0))[:, 0]
    avg = average_beat(ds.part("train"), 400, 0)[:, 0] * ds.scale_mv
    rng = np.random.default_rng(0)
    t = np.arange(WIN) / FS
    sinus = 0.8 * np.sin(2 * np.pi * rng.uniform(0.8, 3, (400, 1)) * t + rng.uniform(0, 2 * np.pi, (400, 1)))
    noise = rng.normal(0, 0.1, (400, WIN))
    feat = {name: F.features(x, F.delineate(x, R, FS), R, FS)
            for name, x in (("real", real), ("train", floor), ("average", avg), ("sinusoid", sinus), ("noise", noise))}
    fl, av = F.fidelity(feat["train"], feat["real"]), F.fidelity(feat["average"], feat["real"])
    # real vs real: small, in the feature's own units
    assert fl["qrs_ms"]["w1"] < 15 and fl["qt_ms"]["w1"] < 25 and fl["pr_ms"]["w1"] < 15
    # (in true millivolts, R amplitudes spread 0.5 mV (sd) over patients; measured W1 0.12 mV)
    assert fl["r_mv"]["w1"] < 0.2 and fl["t_mv"]["w1"] < 0.06 and fl["st_mv"]["w1"] < 0.03
    assert 0.7 < fl["r_mv"]["sd_ratio"] < 1.4 and 0.7 < fl["qt_ms"]["sd_ratio"] < 1.4
    # the average beat: one amplitude and one QT for every beat (only the noise varies them)
    assert av["r_mv"]["sd_ratio"] < 0.2 and av["r_mv"]["w1"] > 2.5 * fl["r_mv"]["w1"]
    assert av["qt_ms"]["sd_ratio"] < 0.6 and av["qt_ms"]["w1"] > 2.5 * fl["qt_ms"]["w1"]
    # the annotations agree with the delineator on what is measured (resolution: bench/delineation.py)
    annotated = F.summary(F.features(real, ds.fiducials_of("test"), R, FS))
    assert abs(annotated["r_mv"]["median"] - F.summary(feat["real"])["r_mv"]["median"]) < 0.05
    rate = lambda x: r_peak_rate(x[:, None], R, FS)  # noqa: E731
    verdicts = {name: F.plausibility({"generated": F.summary(feat[name]), "real": F.summary(feat["real"])},
                                     rate(x), rate(real))["plausible"]
                for name, x in (("train", floor), ("average", avg), ("sinusoid", sinus), ("noise", noise))}
    assert verdicts == {"train": True, "average": True, "sinusoid": False, "noise": False}
