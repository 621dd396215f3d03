"""Evaluation metrics against values worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from ecgmodels import metrics as M


def test_prd_rmse_of_a_known_pair():
    x = np.array([[3.0, 4.0]])  # sum x^2 = 25
    y = np.array([[3.0, 1.0]])  # sum (x-y)^2 = 9
    assert M.prd(x, y)[0] == pytest.approx(100 * np.sqrt(9 / 25))  # 60 %
    assert M.prd(x, y)[0] == pytest.approx(60.0)
    assert M.prd_seed(x, y)[0] == pytest.approx(np.sqrt(100 * 9 / 25))  # 6: the seed's 10x smaller figure
    assert M.rmse(x, y)[0] == pytest.approx(np.sqrt(9 / 2))
    assert M.prd(x, x)[0] == 0.0 and M.rmse(x, x)[0] == 0.0


def test_mmd_of_identical_sets_and_of_a_shifted_set():
    x = np.array([[0.0], [1.0]])
    # Identical sets, sigma 1, k(0,1) = e^-0.5. Within-set terms (off-diagonal pairs only): 2e^-0.5/2 each;
    # cross term (all 4 pairs, diagonal included): (1 + 1 + 2e^-0.5)/4. So
    # e^-0.5 + e^-0.5 - 2(2 + 2e^-0.5)/4 = e^-0.5 - 1 < 0 (the unbiased estimate can be negative).
    assert M.mmd2_unbiased(x, x, sigma=1.0) == pytest.approx(np.exp(-0.5) - 1.0)
    # A set shifted far away: cross-kernel ~0, so MMD^2 = within-set terms = 2 e^-0.5.
    assert M.mmd2_unbiased(x, x + 100.0, sigma=1.0) == pytest.approx(2 * np.exp(-0.5))
    # Median heuristic of pooled {0, 1, 2}: distances 1, 2, 1 -> median 1.
    assert M.median_bandwidth(np.array([[0.0], [1.0], [2.0]])) == pytest.approx(1.0)


def test_population_mmd_ranks_sets_sensibly():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 1, 20))
    same = M.mmd(rng.normal(size=(200, 1, 20)), real, subsets=5, rng=rng)
    shifted = M.mmd(rng.normal(size=(200, 1, 20)) + 0.5, real, subsets=5, rng=rng)
    assert abs(same.mean()) < 0.01 and shifted.min() > 10 * abs(same.mean())


def test_mmd_seed_of_a_known_pair():
    # Two 2-sample beats: x = (0, 1), y = (0, 0). Kernel exp(-d^2).
    # within x: k(0,1)=e^-1 (off-diagonal pairs 2, /(2*1)) -> e^-1; within y: k(0,0)=1 -> 1
    # cross: k(0,0)+k(0,0)+k(1,0)+k(1,0) = 2 + 2 e^-1, mean over 4 -> (1 + e^-1)/2
    x, y = np.array([[0.0, 1.0]]), np.array([[0.0, 0.0]])
    expect = np.exp(-1) + 1 - 2 * (1 + np.exp(-1)) / 2
    assert M.mmd_seed(x, y)[0] == pytest.approx(expect)
    assert M.mmd_seed(x, x)[0] == pytest.approx(np.exp(-1) + np.exp(-1) - 2 * (2 + 2 * np.exp(-1)) / 4)


def test_nn_pairing_stops_the_average_beat_from_scoring_well():
    """Real beats: two shapes (+bump, -bump). A generator drawing both is perfect under nn pairing;
    one drawing their average (a flat line) is not, although random pairing rates them alike."""
    t = np.linspace(-1, 1, 50)
    bump = np.exp(-(t / 0.2) ** 2)
    real = np.stack([bump, -bump] * 50)[:, None, :]
    diverse = real.copy()
    average = np.zeros_like(real) + real.mean(axis=0)
    rng = np.random.default_rng(0)
    nn_div, nn_avg = (M.prd(M.pair(real, g, "nn", rng), g.reshape(len(g), -1)).mean() for g in (diverse, average))
    assert nn_div == pytest.approx(0.0) and nn_avg == pytest.approx(100.0)
    rnd_div = M.prd(M.pair(real, diverse, "random", rng), diverse.reshape(100, -1)).mean()
    rnd_avg = M.prd(M.pair(real, average, "random", rng), average.reshape(100, -1)).mean()
    assert rnd_div > rnd_avg  # random pairing even prefers the average beat: the seed's flaw
    assert M.rmse(M.pair(real, diverse, "random", rng), diverse.reshape(100, -1)).mean() > 0.1


def test_evaluate_reports_floor_and_copy_ratio():
    rng = np.random.default_rng(1)
    train = np.tanh(rng.normal(size=(300, 1, 40)))
    held = np.tanh(rng.normal(size=(100, 1, 40)))
    copier = train[:100]
    ev = M.evaluate(copier, held, 100, seed=0, reference=train)
    assert set(ev) >= {"rmse", "prd", "mmd", "prd_seed", "mmd_seed", "rmse_random", "prd_random", "floor", "copy_ratio"}
    assert ev["copy_ratio"] == pytest.approx(0.0)  # it *is* training beats
    assert ev["floor"]["mmd"]["mean"] < 0.05
    fresh = M.evaluate(lambda n, s: np.tanh(np.random.default_rng(s).normal(size=(n, 1, 40))), held, 100, 5,
                       reference=train)
    assert fresh["copy_ratio"] > 0.8
    assert set(ev["prd"]) == {"mean", "min", "max"}
