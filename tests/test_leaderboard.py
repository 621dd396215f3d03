"""Leaderboard ranking and the choice of the exported trial, on hand-made rows (no Ray)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ecgmodels.policy import choose, pareto_mask
from search.board import rank


def test_pareto_mask_on_five_points():
    # (prd, mmd): A(1, 5) B(2, 2) C(5, 1) are a front; D(3, 3) is dominated by B; E(2, 4) by B too
    # (equal PRD, worse MMD).
    prd = np.array([1.0, 2.0, 5.0, 3.0, 2.0])
    mmd = np.array([5.0, 2.0, 1.0, 3.0, 4.0])
    assert pareto_mask(prd, mmd).tolist() == [True, True, True, False, False]
    # Two identical points do not dominate each other.
    assert pareto_mask(np.array([1.0, 1.0]), np.array([1.0, 1.0])).tolist() == [True, True]


def board():
    return pd.DataFrame({"trial": [0, 1, 2, 3], "status": ["completed"] * 4, "pareto": [True, True, True, False],
                         "prd": [40.0, 60.0, 200.0, 90.0], "mmd": [0.05, 0.02, 0.01, 0.3],
                         "score": [1.9, 1.6, 4.1, 8.0], "coverage": [0.2, 0.8, 0.5, 0.1],
                         "diversity": [0.2, 0.9, 1.3, 0.1], "epochs": [5] * 4})


def test_rank_knows_which_way_each_metric_is_better():
    b = board()
    assert rank(b, "mmd")["trial"].tolist() == [2, 1, 0, 3]
    assert rank(b, "coverage")["trial"].tolist() == [1, 2, 0, 3]  # higher first
    assert rank(b, "diversity")["trial"].tolist() == [1, 2, 0, 3]  # closest to 1 first
    with_bar = b.assign(bar=[0.0, 0.0, 1.0, np.nan])  # by score, the trial that meets the bar first
    assert rank(with_bar, "score")["trial"].tolist() == [2, 1, 0, 3]
    assert rank(with_bar, "mmd")["trial"].tolist() == [2, 1, 0, 3]  # (by mmd it is first anyway)
    assert rank(with_bar.assign(bar=[0.0, 0.0, 0.0, 1.0]), "mmd")["trial"].tolist() == [2, 1, 0, 3]


def test_choose_exports_only_what_beats_the_average_beat():
    b = board()
    row, usable = choose(b, "knee")
    assert row["trial"] == 1 and usable  # lowest score on the front
    # With the average beat at MMD^2 0.03, trial 0 (0.05) is not usable: the knee stays trial 1;
    # the mmd rule picks trial 2.
    assert choose(b, "knee", average_mmd=0.03)[0]["trial"] == 1
    assert choose(b, "mmd", average_mmd=0.03)[0]["trial"] == 2
    # With the average beat at 0.005 nothing on the front beats it: the rule's choice, flagged.
    row, usable = choose(b, "knee", average_mmd=0.005)
    assert row["trial"] == 1 and not usable
    row, usable = choose(b, trial=0, average_mmd=0.03)
    assert row["trial"] == 0 and not usable
    # With the average beat at 0.015 only trial 2 (0.01) is usable: the knee must switch to it.
    row, usable = choose(b, "knee", average_mmd=0.015)
    assert row["trial"] == 2 and usable


def test_choose_prefers_plausible_ecg():
    b = board().assign(plausible=[1.0, 0.0, 1.0, np.nan])  # trial 1 draws no ECG; trial 3 was never checked
    row, usable = choose(b, "knee", average_mmd=0.03)
    assert row["trial"] == 2 and usable  # the knee would be trial 1, but its beats are not ECG
    # a plausible trial off the global front is chosen over implausible ones on it
    row, usable = choose(b.assign(plausible=[0.0, 0.0, 0.0, 1.0]), "knee")
    assert row["trial"] == 3 and usable
    # never checked (a run from before the check) counts as plausible: trial 2, the knee below 0.03
    row, usable = choose(b.assign(plausible=[np.nan, 0.0, np.nan, np.nan]), "knee", average_mmd=0.03)
    assert row["trial"] == 2 and usable
    # none both plausible and below the average beat: the old rule, and the test split's flag says the rest
    row, usable = choose(b.assign(plausible=[1.0, 0.0, 0.0, 1.0]), "knee", average_mmd=0.03)
    assert row["trial"] == 1 and usable


def test_choose_prefers_trials_that_meet_the_quality_bar():
    # trial 1 is the knee, but only trial 0 and 2's best epochs met the bar on validation; 0 is above
    # the average beat (0.03), so 2 is chosen, and the front is taken over the bar's trials only.
    b = board().assign(bar=[1.0, 0.0, 1.0, 0.0])
    assert choose(b, "knee", average_mmd=0.03)[0]["trial"] == 2
    assert choose(b, "knee")[0]["trial"] == 0  # no average beat given: 0 (score 1.9) before 2 (4.1)
    # trial 3 is off the global front but the only one meeting the bar: it is the bar's own front
    assert choose(b.assign(bar=[0.0, 0.0, 0.0, 1.0]), "knee")[0]["trial"] == 3
    # none meets it (or a run from before the bar): the rule as before
    assert choose(b.assign(bar=0.0), "knee", average_mmd=0.03)[0]["trial"] == 1
    assert choose(b.assign(bar=np.nan), "knee", average_mmd=0.03)[0]["trial"] == 1
    # a trial that meets the bar but draws no ECG is not preferred
    row, _ = choose(b.assign(bar=[0.0, 0.0, 1.0, 0.0], plausible=[1.0, 1.0, 0.0, 1.0]), "knee", average_mmd=0.03)
    assert row["trial"] == 1


def test_trials_without_metrics_rank_last():
    b = board()
    b.loc[0, ["mmd", "score", "coverage"]] = np.nan  # a diverged trial: no measurements
    assert rank(b, "mmd")["trial"].tolist()[-1] == 0 and rank(b, "coverage")["trial"].tolist()[-1] == 0


def test_damaged_run_files_are_named_in_the_error(tmp_path):
    import pytest

    from search.board import read_board, read_run_json
    from search.leaderboard import main

    (tmp_path / "leaderboard.csv").write_text("trial,status,pareto,epochs,prd\n0,compl")  # cut off mid-row
    with pytest.raises(ValueError, match="leaderboard.csv lacks the column"):
        read_board(tmp_path)
    (tmp_path / "leaderboard.csv").write_text(",".join(("trial", "status", "pareto", "epochs", "prd", "mmd", "score",
                                                        "checkpoint")) + "\n")
    with pytest.raises(ValueError, match="holds no trials"):
        read_board(tmp_path)
    assert main([str(tmp_path)]) == 2  # not "Empty DataFrame" and exit 0
    (tmp_path / "run.json").write_text('{"name": "x", "args": {')
    with pytest.raises(ValueError, match="run.json is unreadable"):
        read_run_json(tmp_path)
