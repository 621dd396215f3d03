"""Evaluation metrics against values worked out by hand, and their ranking of real LUDB beats."""
from __future__ import annotations

import numpy as np
import pytest

from ecgmodels import metrics as M
from ecgmodels import shape as S
from ecgmodels.registry import POPULATION

E = np.exp


def test_prd_rmse_of_a_known_pair():
    x = np.array([[3.0, 4.0]])  # sum x^2 = 25
    y = np.array([[3.0, 1.0]])  # sum (x-y)^2 = 9
    assert M.prd(x, y)[0] == pytest.approx(60.0)  # 100 sqrt(9/25)
    assert M.prd_seed(x, y)[0] == pytest.approx(6.0)  # sqrt(100 * 9/25): the seed's 10x smaller figure
    assert M.rmse(x, y)[0] == pytest.approx(np.sqrt(9 / 2))
    assert M.prd(x, x)[0] == 0.0 and M.rmse(x, x)[0] == 0.0


def test_mmd_with_a_fixed_bandwidth_on_tiny_sets():
    x = np.array([[0.0], [1.0]])
    one = M.Kernel(median=1.0, scales=(1.0,))
    # k(0,1) = e^-0.5. Within x (off-diagonal pairs only): e^-0.5, twice (x and its copy); cross term
    # over all 4 pairs: (1 + 1 + 2e^-0.5)/4. So e^-0.5 + e^-0.5 - 2(2 + 2e^-0.5)/4 = e^-0.5 - 1.
    assert M.mmd2_unbiased(x, x, one) == pytest.approx(E(-0.5) - 1.0)
    # Shifted far away: the cross term vanishes, leaving the two within terms.
    assert M.mmd2_unbiased(x, x + 100.0, one) == pytest.approx(2 * E(-0.5))
    # Two scales (bandwidths 1 and 2): k(0,1) = (e^-0.5 + e^-0.125)/2, and the same algebra.
    two = M.Kernel(median=1.0, scales=(1.0, 2.0))
    k01 = (E(-0.5) + E(-0.125)) / 2
    assert two.bandwidths == (1.0, 2.0)
    assert M.mmd2_unbiased(x, x, two) == pytest.approx(k01 - 1.0)
    # The bandwidth is fixed: a noisier generated set cannot widen its own kernel.
    assert M.mmd2_unbiased(x * 3, x, one) > M.mmd2_unbiased(x * 2, x, one)


def test_kernel_is_fitted_on_training_beats_only_and_recorded():
    # Distances among {0, 1, 2}: 1, 2, 1 -> median 1.
    k = M.fit_kernel(np.array([[0.0], [1.0], [2.0]]), scales=(1.0, 2.0))
    assert k.median == pytest.approx(1.0) and k.bandwidths == (1.0, 2.0)
    assert M.Kernel.from_dict(k.to_dict()) == k
    with pytest.raises(ValueError, match="median"):
        M.Kernel(median=0.0)


def test_within_real_term_pairs_beats_of_different_records_only():
    """evaluate's MMD^2 on 1-D beats, k=1: real {1, 1.5} (record 1) and {4} (record 2); generated
    {1, 4, 11} (each its own group). Worked out with bandwidth 1 (k(d) = e^(-d^2/2))."""
    real, records = np.array([[1.0], [1.5], [4.0]]), np.array([1, 1, 2])
    gen = np.array([[1.0], [4.0], [11.0]])
    k = lambda d: E(-d**2 / 2)  # noqa: E731
    within_real = (k(3.0) + k(2.5)) / 2  # pairs (1,4) and (1.5,4); the same-record pair (1, 1.5) is left out
    within_gen = (k(3.0) + k(10.0) + k(7.0)) / 3
    cross = np.mean([k(abs(r - g)) for r in (1, 1.5, 4) for g in (1, 4, 11)])
    ev = M.evaluate(gen, real, records, M.Kernel(median=1.0, scales=(1.0,)), k=1)
    assert ev["mmd"] == pytest.approx(within_real + within_gen - 2 * cross)


def test_floor_beats_are_grouped_by_record_on_the_generated_side():
    """Training beats standing in for generated ones: two near-copies per record. Grouped by record, a
    beat's ball reaches the other record (radius ~5) and holds the real beat at 2.5 (recall 1);
    as independent beats each ball reaches only the near-copy (radius 0.1) and holds nothing."""
    gen, groups = np.array([[0.0], [0.1], [5.0], [5.1]]), np.array([7, 7, 8, 8])
    real, records = np.array([[2.5], [2.6]]), np.array([1, 2])
    kernel = M.Kernel(median=1.0, scales=(1.0,))
    assert M.evaluate(gen, real, records, kernel, k=1, gen_groups=groups)["recall"] == 1.0
    assert M.evaluate(gen, real, records, kernel, k=1)["recall"] == 0.0


def test_bootstrap_with_few_records_stays_finite_and_around_the_estimate():
    rng = np.random.default_rng(0)
    real, records = rng.normal(size=(12, 1, 8)), np.repeat([1, 2], 6)
    ev = M.evaluate(rng.normal(size=(20, 1, 8)), real, records, M.fit_kernel(real), k=3, bootstrap=30, seed=1)
    for m, (lo, hi) in ev["ci"].items():
        assert np.isfinite([lo, hi]).all() and lo <= ev[m] <= hi, m


def test_average_beat_keeps_each_lead_of_a_multi_lead_window():
    # Two leads of opposite polarity in one window: the average beat is +1 on one and -1 on the other
    # (pooling single-lead samples of both, as the dataset once did, averaged them to a flat line).
    train = np.concatenate([np.ones((30, 1, 4)), -np.ones((30, 1, 4))], axis=1)
    avg = M.average_beat(train, 5, seed=0, noise=0.0)
    assert avg.shape == (5, 2, 4) and (avg[:, 0] == 1.0).all() and (avg[:, 1] == -1.0).all()


def test_knn_radii_look_across_records():
    # Real beats 0, 0.1 (record 1) and 5, 5.2 (record 2), k = 1: each ball reaches the other record.
    x = np.array([0.0, 0.1, 5.0, 5.2])
    d = np.abs(x[:, None] - x[None, :])
    assert M.knn_radii(d, np.array([1, 1, 2, 2]), k=1) == pytest.approx([5.0, 4.9, 4.9, 5.1])
    # Every beat its own group: plain k-NN (self excluded).
    assert M.knn_radii(d, np.arange(4), k=1) == pytest.approx([0.1, 0.1, 0.2, 0.2])


def test_coverage_of_a_set_against_itself_and_of_a_single_point():
    x = np.arange(5.0)  # 0..4 on a line, k = 1: every radius is 1
    d = np.abs(x[:, None] - x[None, :])
    r = M.knn_radii(d, np.arange(5), k=1)
    self_ = M.prdc(d, r, r, k=1)
    assert self_["precision"] == self_["recall"] == self_["coverage"] == 1.0
    # Generated j lies in real i's ball when |i - j| <= 1: 2 + 3 + 3 + 3 + 2 = 13 memberships over k*M = 5.
    assert self_["density"] == pytest.approx(13 / 5)
    # One generated beat at 2 with a zero radius: it covers the balls of 1, 2 and 3 (coverage 3/5),
    # lies in a real ball (precision 1), and its own ball holds only the real beat at 2 (recall 1/5).
    one = M.prdc(np.abs(x - 2.0)[:, None], r, np.array([0.0]), k=1)
    assert one == {"precision": 1.0, "recall": pytest.approx(0.2), "density": 3.0, "coverage": pytest.approx(0.6)}


def test_prd_both_ways_sees_the_missing_mode_and_diversity_the_template():
    """Real beats: two shapes (+bump, -bump). A generator drawing only +bump matches its nearest real
    beat exactly (g->r 0 %), but half the real beats are 200 % from it (r->g mean 100 %)."""
    t = np.linspace(-1, 1, 50)
    bump = E(-(t / 0.2) ** 2)
    real = np.stack([bump, -bump] * 10)[:, None, :]
    records = np.arange(20)
    half = np.stack([bump] * 20)[:, None, :] + 1e-9 * np.arange(20)[:, None, None]
    ev = M.evaluate(half, real, records, M.fit_kernel(real), k=1)
    assert ev["prd_g2r"] == pytest.approx(0.0, abs=1e-4) and ev["prd_r2g"] == pytest.approx(100.0)
    assert ev["prd"] == pytest.approx(100.0)  # the worse direction
    assert ev["diversity"] == pytest.approx(0.0, abs=1e-6) and ev["coverage"] == pytest.approx(0.5)
    both = M.evaluate(real, real, records, M.fit_kernel(real), k=1)
    assert both["prd"] == pytest.approx(0.0) and both["diversity"] == pytest.approx(1.0)


def test_random_pairing_prefers_the_average_beat():
    """The seed's flaw, kept visible: under random pairing the flat average of +bump and -bump scores a
    lower PRD than a generator drawing both shapes; nearest-neighbour pairing gets it the right way."""
    t = np.linspace(-1, 1, 50)
    bump = E(-(t / 0.2) ** 2)
    real = np.stack([bump, -bump] * 50)[:, None, :]
    average = np.zeros_like(real) + real.mean(axis=0)
    rng = np.random.default_rng(0)
    rnd = [M.prd(M.pair(real, g, "random", rng), g.reshape(len(g), -1)).mean() for g in (real, average)]
    nn = [M.prd(M.pair(real, g, "nn", rng), g.reshape(len(g), -1)).mean() for g in (real, average)]
    assert rnd[0] > rnd[1] and nn == pytest.approx([0.0, 100.0])


def test_mmd_seed_of_a_known_pair():
    # Two 2-sample beats: x = (0, 1), y = (0, 0), kernel exp(-d^2). Within x: e^-1; within y: 1;
    # cross: (2 + 2e^-1)/4.
    x, y = np.array([[0.0, 1.0]]), np.array([[0.0, 0.0]])
    assert M.mmd_seed(x, y)[0] == pytest.approx(E(-1) + 1 - 2 * (1 + E(-1)) / 2)


def test_bootstrap_interval_is_centred_on_the_estimate():
    draws = np.array([2.0, 3.0, 4.0] * 100)  # mean 3; the estimate 1 lies outside the raw percentiles
    lo, hi = M.interval(1.0, draws, "prd")
    assert lo == pytest.approx(2.0 - 2.0) and hi == pytest.approx(4.0 - 2.0)
    assert M.interval(0.5, np.array([0.1, 0.9] * 50), "coverage") == pytest.approx([0.1, 0.9])
    assert M.interval(0.9, np.array([0.5, 1.0] * 50), "coverage")[1] == 1.0  # clipped to [0, 1]


def test_v_statistic_mmd_by_hand():
    x = np.array([[0.0], [1.0]])
    one = M.Kernel(median=1.0, scales=(1.0,))
    # Every pair, self-pairs included: within x (2 + 2e^-0.5)/4, twice; cross the same: 0.
    assert M.mmd2_v(x, x, one) == pytest.approx(0.0, abs=1e-12)
    # Far apart: the cross term vanishes, each within term is (2 + 2e^-0.5)/4.
    assert M.mmd2_v(x, x + 100.0, one) == pytest.approx(1 + E(-0.5))


def test_r_peak_rate_and_roughness_by_hand():
    beats = np.zeros((4, 1, 20))
    beats[0, 0, 10] = 1.0  # peak at the R index
    beats[1, 0, 11] = -2.0  # a QS one sample off: within 1 sample (20 ms at 50 Hz)
    beats[2, 0, 15] = 1.0  # 5 samples off: out
    beats[3, 0, 3] = 1.0  # out
    assert S.r_peak_rate(beats, r_index=10, fs=50.0, tolerance_s=0.02) == pytest.approx(0.5)
    # second differences of a zigzag +-1: (2 - -2...) = +-4 at every inner sample: mean square 16
    zigzag = np.array([[[1.0, -1.0] * 5]])
    assert S.roughness(zigzag) == pytest.approx(16.0)
    assert S.roughness(np.linspace(0, 1, 10)[None, None]) == pytest.approx(0.0, abs=1e-20)
    # spread profile: beats varying only at sample 2 vs a set varying there too (and twice as much): r = 1;
    # vs one varying evenly everywhere but at sample 2: r = -1
    real = np.zeros((2, 1, 5))
    real[1, 0, 2] = 1.0
    assert S.spread_profile_corr(2 * real, real) == pytest.approx(1.0)
    even = np.zeros((2, 1, 5))
    even[1, 0, [0, 1, 3, 4]] = 1.0
    assert S.spread_profile_corr(even, real) == pytest.approx(-1.0)


def test_report_on_synthetic_beats_has_intervals_and_a_verdict():
    rng = np.random.default_rng(1)
    t = np.linspace(-1, 1, 40)
    shapes = lambda n: np.tanh(rng.uniform(0.3, 1.0, (n, 1, 1)) * E(-(t / rng.uniform(0.1, 0.4, (n, 1, 1))) ** 2))  # noqa: E731
    train, held = shapes(300), shapes(60)
    records = np.arange(60) // 3
    rep = M.report(lambda n, s: shapes(n), train, held, records, M.fit_kernel(train), 100, seed=0, bootstrap=20)
    assert set(rep) >= {"generated", "floor", "average", "copy_ratio", "mmd_v_ratio", "kernel", "noise_seed", "verdict"}
    assert rep["noise_seed"] == M.TEST_SEED_OFFSET
    assert set(rep["generated"]["ci"]) == set(POPULATION) and rep["generated"]["records"] == 20
    lo, hi = rep["generated"]["ci"]["mmd"]
    assert lo <= rep["generated"]["mmd"] <= hi
    assert rep["verdict"]["beats_average_beat"] and "NOT USABLE" not in rep["verdict"]["summary"]
    copier = M.report(train[:100], train, held, records, M.fit_kernel(train), 100, seed=0, bootstrap=0)
    assert copier["copy_ratio"] == pytest.approx(0.0)
    flat = M.report(np.zeros((100, 1, 40)) + train.mean(0) + 0.5, train, held, records, M.fit_kernel(train), 100,
                    seed=0, bootstrap=0)
    assert not flat["verdict"]["beats_average_beat"] and flat["verdict"]["summary"].startswith("NOT USABLE")
    # as a multiple of real beats' V-statistic MMD^2: near 1 for beats like them, far above for the flat set
    assert rep["mmd_v_ratio"] < 2 < 5 < flat["mmd_v_ratio"]


@pytest.mark.ludb
def test_ludb_test_split_ranks_real_beats_first(real_ludb):
    """The issue's acceptance: on LUDB lead II's test split, real training beats beat the average beat
    on MMD, recall and coverage, and beat real beats + N(0, 0.3^2) noise on MMD and PRD."""
    import datasets

    ds, _ = datasets.load_or_build(real_ludb, datasets.DatasetConfig())
    train, test, records = ds.part("train"), ds.part("test"), ds.records_of("test")
    kernel = M.fit_kernel(train)
    base = M.baselines(train, test, records, kernel, 256, seed=0)
    real, average = base["floor"], base["average"]
    noisy = M.evaluate(M.stand_in(train, 256, 0) + np.random.default_rng(0).normal(0, 0.3, (256, 1, 400)),
                       test, records, kernel)
    assert real["mmd"] < average["mmd"] and real["recall"] > average["recall"] and real["coverage"] > average["coverage"]
    assert real["mmd"] < noisy["mmd"] and real["prd"] < noisy["prd"]
    # and the generator-like failures rank behind real beats on their own tell-tale metric
    assert average["diversity"] < 0.5 < real["diversity"] and noisy["precision"] < real["precision"]


def test_the_registry_declares_each_metric_once_and_everything_reads_it():
    """Directions worked by hand: ranking [0.5, 2.0, 1.1] puts 2.0 first when higher is better, 0.5
    first when lower is, 1.1 first when 1 is best; on a log scale 0.5 and 2.0 are equally far off."""
    from ecgmodels.registry import METRICS, REGISTRY, WORST
    from ecgmodels.scorecard import COLUMNS
    from search.board import METRIC_COLS
    from search.trainable import PENALTY

    assert len({m.name for m in METRICS}) == len(METRICS) and len({m.label for m in METRICS}) == len(METRICS)
    v = np.array([0.5, 2.0, 1.1])
    assert np.argmin(REGISTRY["coverage"].sort_key(v)) == 1 and np.argmin(REGISTRY["prd"].sort_key(v)) == 0
    assert np.argmin(REGISTRY["diversity"].sort_key(v)) == 2
    assert REGISTRY["roughness"].sort_key(np.array([0.5, 2.0])) == pytest.approx([np.log(2), np.log(2)])
    # a diverged trial reports the worst finite value: 0 recall, 0 diversity (collapse), 1e4 PRD
    assert PENALTY["recall"] == 0.0 and PENALTY["diversity"] == 0.0 and PENALTY["prd"] == WORST
    # intervals are kept within a metric's range: a share's in [0, 1], MMD^2's anywhere
    draws = np.array([0.9, 1.1, 1.3])  # bias 0.2 on an estimate of 0.9: shifted interval ~[0.71, 1.09]
    assert M.interval(0.9, draws, "coverage")[1] == 1.0 and M.interval(0.9, draws, "mmd")[1] > 1.0
    assert [c for c, _ in COLUMNS] == list(POPULATION) and set(POPULATION) < set(METRIC_COLS)


def test_steepest_slope_by_hand():
    """Beats [0, 1, 3, 2] and [0, -4, 0, 0]: steepest changes 2 and 4, median 3; halving the beats
    halves it, so a generator drawing the halved ones has slope ratio 0.5 (a blunted QRS)."""
    from ecgmodels.registry import REGISTRY

    beats = np.array([[[0.0, 1, 3, 2]], [[0.0, -4, 0, 0]]])
    assert S.steepest_slope(beats) == pytest.approx(3.0)
    assert REGISTRY["slope"].compute(beats / 2, beats, 1, 500.0) == pytest.approx(0.5)
    assert M.shape(beats / 2, beats, 1, 500.0)["slope"] == pytest.approx(0.5)
