"""The search: CLI checks, an end-to-end smoke search, interrupt + resume, faults, and a two-node cluster.

Searches run as subprocesses (as users run them); clusters are started here with
ray.cluster_utils.Cluster on loopback and joined with --address.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from .conftest import REPO

# Loopback-only nodes, and no token dance between this process's cluster and the driver subprocess.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "LUDB_DIR": ""}


def tune_cmd(data_dir, results, name, *extra):
    return [sys.executable, "-m", "search.tune", "--data-dir", str(data_dir), "--results-dir", str(results),
            # 12 synthetic records: half to train, so that val and test hold 3 records each (the k-NN
            # metrics size each real beat's ball by beats of *other* records)
            "--name", name, "--cpus-per-trial", "1", "--split", "0.5,0.25,0.25",
            # 64 generated beats per evaluation instead of 256 / 512: the P/QRS/T delineation and the
            # test split's bootstrap were half of every small search's time
            "--eval-n", "64", "--test-n", "64", *extra]


def run(cmd, env=None, timeout=300):
    return subprocess.run(cmd, cwd=REPO, env=env or ENV, capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------------------------------- the space


@pytest.mark.parametrize("space", ["full", "small", "smoke"])
def test_every_space_draws_valid_configs_and_names_what_pbt_perturbs(space):
    from search.space import initial_population, to_gan_config

    population, ranges = initial_population(space, 12, seed=3)
    assert [p["trial_number"] for p in population] == list(range(12))
    configs = [to_gan_config(p, epochs=2, seed=0) for p in population]  # raises on a key GanConfig lacks
    assert {"g_lr"} <= set(ranges) and all(lo < hi for lo, hi, _ in ranges.values())
    if space != "smoke":  # the anti-collapse axes are searched, moment matching always on
        assert {"g_lr", "d_lr", "mmd_weight", "ms_weight"} == set(ranges)
        assert all(c.mmd_weight >= 10 and c.g_mean_beat and c.g_pca > 0 for c in configs)
        assert {c.g_pca for c in configs} == {8, 16, 32}
        assert {c.g_upsample for c in configs} == {"nearest", "linear"}
    assert initial_population(space, 12, seed=3)[0] == population  # seeded


# --------------------------------------------------------------------------------------- bad options


@pytest.mark.parametrize("extra,message", [
    (["--num-samples", "0"], "--num-samples 0"),
    (["--cpus-per-trial", "0"], "--cpus-per-trial 0"),
    (["--address", "127.0.0.1:1"], "cannot reach a Ray head"),
    (["--lead", "v9"], "unknown lead"),
    (["--eval-n", "0"], "--eval-n 0"),
    (["--test-n", "5"], "--test-n 5"),
    (["--num", "3"], "unrecognized arguments: --num 3"),  # a prefix is not taken for --num-samples
    (["--split", "0.9,0.1,0"], "each above 0 and below 1"),
])
def test_bad_options_fail_fast(synthetic_ludb, tmp_path, extra, message):
    res = run(tune_cmd(synthetic_ludb, tmp_path, "bad", *extra))
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert not (tmp_path / "bad").exists()  # refused before any work


def test_run_names_stay_inside_the_results_dir_and_are_claimed_once(synthetic_ludb, tmp_path):
    from search.runfolder import claim_run_dir

    for bad in ("../escape", "/abs", ".hidden"):
        res = run(tune_cmd(synthetic_ludb, tmp_path / "r", bad))
        assert res.returncode == 2 and "plain folder name" in res.stderr, res.stderr
    assert not (tmp_path / "escape").exists()
    claim_run_dir(tmp_path / "r" / "same")
    with pytest.raises(FileExistsError):  # a second search with the same --name is refused
        claim_run_dir(tmp_path / "r" / "same")
    # a search that stops before it begins (no LUDB there) frees its name again
    res = run(tune_cmd(tmp_path / "no-ludb", tmp_path / "r", "early", "--smoke"))
    assert res.returncode == 4 and not (tmp_path / "r" / "early" / "run.json").exists()


def test_resume_of_a_folder_that_is_not_a_search(tmp_path):
    res = run([sys.executable, "-m", "search.tune", "--resume", str(tmp_path)])
    assert res.returncode == 2 and "not a search run folder" in res.stderr


def test_resume_names_what_a_damaged_run_json_lacks(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"name": "x", "kernel": {}, "baselines": {}}))
    res = run([sys.executable, "-m", "search.tune", "--resume", str(tmp_path)])
    assert res.returncode == 2 and "lacks experiment_path, args, dataset_config, command" in res.stderr, res.stderr


def test_an_unwritable_results_dir_is_named_before_ray_starts(synthetic_ludb, tmp_path):
    (tmp_path / "afile").write_text("")  # a results dir under a file cannot be created (root ignores chmod)
    res = run(tune_cmd(synthetic_ludb, tmp_path / "afile" / "r", "x", "--smoke"))
    assert res.returncode == 2 and "cannot create" in res.stderr and "--results-dir" in res.stderr, res.stderr


def test_resume_refuses_a_search_scored_with_earlier_metrics(tmp_path):
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"name": "old", "experiment_path": str(run_dir / "tune"), "args": {},
                                                  "dataset_config": {}, "command": "python -m search.tune"}))
    res = run([sys.executable, "-m", "search.tune", "--resume", str(run_dir)])
    assert res.returncode == 2 and "earlier evaluation metrics" in res.stderr and "ecgmodels.evaluate" in res.stderr


def test_resume_of_moved_copied_and_never_started_runs(tmp_path):
    """Which run folders resume (load_resume, before any Ray starts): a moved run whose trials live
    outside it (--storage-path) does; a copy of one is refused (the two would drive one experiment);
    one that stopped before Tune's first save starts its trials, unless trial folders are there.
    (A moved run with trials still to start inside it: test_interrupted_search_resumes.)"""
    import argparse

    from search.options import UsageError
    from search.runfolder import load_resume

    moved, origin, storage = tmp_path / "moved", tmp_path / "original", tmp_path / "storage" / "x"
    moved.mkdir()
    base = {"name": "x", "args": {"num_samples": 2}, "dataset_config": {}, "command": "python -m search.tune",
            "kernel": {}, "baselines": {}, "run_dir": str(origin)}
    call = argparse.Namespace(resume=str(moved), address=None, verbose=False)
    for recorded in ("tune", str(storage)):  # inside the run folder, or elsewhere; no Tune state saved yet
        (moved / "run.json").write_text(json.dumps(base | {"experiment_path": recorded}))
        _, info = load_resume(call)
        assert info["restore"] is False and info["experiment_path"] == str(moved / "tune" if recorded == "tune" else storage)
    origin.mkdir()
    (origin / "run.json").write_text("{}")  # the original is still there: this is a copy
    with pytest.raises(UsageError, match="a copy of"):
        load_resume(call)
    (storage / "trial_0").mkdir(parents=True)
    (moved / "run.json").write_text(json.dumps(base | {"experiment_path": str(storage), "run_dir": str(moved)}))
    with pytest.raises(UsageError, match="has trial folders"):
        load_resume(call)


@pytest.mark.slow(30)
def test_joining_no_cluster_is_one_line_not_a_traceback(synthetic_ludb, tmp_path):
    import shutil
    import tempfile

    # `auto` finds a cluster through $TMPDIR/ray/ray_current_cluster: an empty TMPDIR of its own, so
    # that another Ray on this machine (someone else's) is never joined
    short = tempfile.mkdtemp(prefix="r", dir="/tmp")
    res = run(tune_cmd(synthetic_ludb, tmp_path, "auto", "--smoke", "--address", "auto"), env={**ENV, "TMPDIR": short})
    shutil.rmtree(short, ignore_errors=True)
    assert res.returncode == 2 and "--address auto: cannot join that Ray cluster" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "auto" / "run.json").exists()


def test_a_refused_token_is_one_line_naming_the_fix(monkeypatch, capfd):
    """Ray's client logs a line per retry to file descriptor 2 before it gives up: held, and the
    error says the head refused the token (scripts/token_auth_check.sh does this against a real head)."""
    import argparse

    import ray

    from search import cluster
    from search.options import UsageError

    def refused(**kwargs):
        os.write(2, b"[W gcs_client.cc:210] Unauthenticated: InvalidAuthToken: token is missing\n" * 3)
        raise ConnectionError("Failed to connect to Ray cluster at 127.0.0.2:1")

    monkeypatch.setattr(ray, "init", refused)
    with pytest.raises(UsageError, match="refused this machine's token.*RAY_AUTH_MODE=token"):
        cluster.connect(argparse.Namespace(address="127.0.0.2:1", verbose=False))
    assert "gcs_client" not in capfd.readouterr().err


def test_more_gpus_than_the_cluster_has(synthetic_ludb, tmp_path):
    res = run(tune_cmd(synthetic_ludb, tmp_path, "gpu", "--smoke", "--gpus-per-trial", "1"))
    assert res.returncode == 2 and "the cluster has 0 GPU(s)" in res.stderr


# --------------------------------------------------------------------------------------- searches


def board(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "leaderboard.csv")


@pytest.mark.slow(110)
def test_smoke_search_end_to_end(synthetic_ludb, tmp_path):
    """The whole path on the smoke space, then re-ranking, exporting another trial, and resuming a run
    stopped before Tune first saved. Its Ray temp folder holds a stale `ray_current_cluster` naming a
    head that is gone: without --address the search must still start a Ray of its own (ray.init
    would otherwise try to join the dead head)."""
    import shutil
    import tempfile

    short = Path(tempfile.mkdtemp(prefix="r", dir="/tmp"))  # Ray's socket paths must stay short
    try:
        _smoke_search(synthetic_ludb, tmp_path, {**ENV, "TMPDIR": str(short)})
    finally:
        shutil.rmtree(short, ignore_errors=True)


def _smoke_search(synthetic_ludb, tmp_path, env):
    import shutil

    (Path(env["TMPDIR"]) / "ray").mkdir()
    (Path(env["TMPDIR"]) / "ray" / "ray_current_cluster").write_text("127.0.0.1:1")
    res = run(tune_cmd(synthetic_ludb, tmp_path, "smoke", "--smoke", "--reference-epochs", "1"), env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "seed variant reference: completed after 1 epochs" in res.stdout
    assert "[4/4] trial" in res.stdout and "done in" in res.stdout
    run_dir = tmp_path / "smoke"
    b = board(run_dir)
    assert len(b) == 4 and (b["status"] == "completed").all()
    # The front is exactly the non-dominated trials (a front that is merely non-empty proves nothing).
    for _, r in b.iterrows():
        dominated = ((b["prd"] <= r["prd"]) & (b["mmd"] <= r["mmd"]) & ((b["prd"] < r["prd"]) | (b["mmd"] < r["mmd"]))).any()
        assert r["pareto"] == (not dominated)
    assert sorted(b["trial"]) == [0, 1, 2, 3] and (b["epochs"] == 2).all()
    assert {"pareto.png", "samples.png", "leaderboard.md", "run.json", "best"} <= {p.name for p in run_dir.iterdir()}
    md = (run_dir / "leaderboard.md").read_text()
    assert "real-vs-real floor" in md and "seed's published table" in md and "average training beat" in md
    assert "| seed variant (epoch 1 of 1) |" in md and "| seed-variant | reference (completed) |" in md
    assert "| floor | baseline |" in md and "| average | baseline |" in md and "**Verdict: " in md
    for column in ("precision", "recall", "density", "coverage", "diversity", "prd_g2r", "prd_r2g",
                   "plausible", "r_at_r", "qrs_ok", "p_wave", "t_wave"):  # plausibility: checked as each completes
        assert column in b.columns and b[column].notna().all()
    assert b["plausible"].isin([0.0, 1.0]).all() and b["p_wave"].between(0, 1).all()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["kernel"]["scales"] == [1.0, 2.0] and set(info["baselines"]) == {"floor", "average"}
    # Trials are ranked and exported by their best validation epoch, which the export records.
    assert b["best_epoch"].between(1, 2).all()
    model = json.loads((run_dir / "best" / "model.json").read_text())
    assert model["kernel"] == info["kernel"] and model["evaluation"]["kernel"] == info["kernel"]
    chosen_mmd = b.loc[b["trial"].astype(str) == model["metrics"]["trial"], "mmd"].iloc[0]
    assert model["verdict"]["validation_beats_average_beat"] == (chosen_mmd < info["baselines"]["average"]["mmd"])
    assert model["verdict"]["beats_average_beat"] == (model["evaluation"]["generated"]["mmd"]
                                                      < model["evaluation"]["average"]["mmd"])
    # P/QRS/T: the export says whether its beats are ECG at all, and the page that shows it is beside it
    plausible = model["evaluation"]["plausibility"]["plausible"]
    assert model["verdict"]["plausible"] is plausible and (f"**Plausible ECG: {'yes' if plausible else 'NO'}**" in md)
    assert plausible or model["verdict"]["usable"] is False
    assert {"report.html", "report.png"} <= {p.name for p in (run_dir / "best").iterdir()}
    exported = model["metrics"]
    chosen = b[b["trial"].astype(str) == exported["trial"]].iloc[0]
    assert exported["epoch"] == chosen["best_epoch"] and exported["epochs_trained"] == 2
    # The exported generator loads with torch alone, in a fresh process.
    code = (f"import torch, json; info = json.load(open({str(run_dir / 'best' / 'model.json')!r})); "
            f"m = torch.export.load({str(run_dir / 'best' / 'generator.pt2')!r}).module(); "
            "print(tuple(m(torch.randn(3, *info['latent']['shape'])).shape))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.stdout.strip() == "(3, 1, 400)", out.stderr
    # The leaderboard re-ranks, and any trial exports later.
    lb = run([sys.executable, "-m", "search.leaderboard", str(run_dir), "--by", "mmd"])
    lines = lb.stdout.splitlines()
    at = lines[0].split().index("mmd")
    mmd_order = [float(line.split()[at]) for line in lines[1:] if "baseline" not in line]
    assert lb.returncode == 0 and mmd_order == sorted(mmd_order)
    best_png = (run_dir / "samples.png").read_bytes()
    ex = run([sys.executable, "-m", "search.export", "--run", str(run_dir), "--trial", "2",
              "--data-dir", str(synthetic_ludb)])
    assert ex.returncode == 0, ex.stderr
    assert json.loads((run_dir / "trial-2" / "model.json").read_text())["metrics"]["trial"] == "2"
    assert (run_dir / "trial-2" / "samples.png").exists()
    assert (run_dir / "samples.png").read_bytes() == best_png  # the run's plot still shows its best
    again = run(tune_cmd(synthetic_ludb, tmp_path, "smoke", "--smoke"))
    assert again.returncode == 2 and "already holds a search" in again.stderr
    # Stopped after run.json was written but before Tune's first save (here: its state removed):
    # --resume starts the trials afresh instead of refusing a run it cannot restore.
    shutil.rmtree(run_dir / "tune")
    (run_dir / "leaderboard.csv").unlink()
    res = run([sys.executable, "-m", "search.tune", "--resume", str(run_dir)], env=env)
    assert res.returncode == 0 and "its trials start now" in res.stdout, res.stdout + res.stderr
    assert board(run_dir)["status"].tolist() == ["completed"] * 4


@pytest.mark.slow(40)
def test_asha_stops_weak_trials_and_keeps_them_off_the_front(synthetic_ludb, tmp_path):
    res = run(tune_cmd(synthetic_ludb, tmp_path, "asha", "--smoke", "--num-samples", "6", "--max-epochs", "8",
                       "--scheduler", "asha", "--max-concurrent", "2"))
    assert res.returncode == 0, res.stdout + res.stderr
    b = board(tmp_path / "asha")
    assert set(b["status"]) <= {"completed", "stopped early", "collapsed"} and len(b) == 6
    early = b[b["status"] == "stopped early"]
    assert len(early) >= 1 and (early["epochs"] < 8).all() and not early["pareto"].any()
    assert b.loc[b["pareto"], "status"].eq("completed").all()


@pytest.mark.slow(85)
def test_interrupted_search_resumes(synthetic_ludb, tmp_path):
    cmd = tune_cmd(synthetic_ludb, tmp_path, "int", "--smoke", "--num-samples", "3", "--max-epochs", "8",
                   "--max-concurrent", "1", "--reference-epochs", "1")
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_dir = tmp_path / "int"
    deadline = time.time() + 120
    while time.time() < deadline and not list((run_dir / "tune").glob("trial_*/checkpoint_*")):
        time.sleep(0.5)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, out + err
    assert f"--resume {run_dir}" in err
    before = board(run_dir)
    assert (before["status"] != "completed").any()
    # Moved while trials are left to start: refused (Ray would write them to the original folder).
    import shutil

    moved = Path(shutil.move(run_dir, tmp_path / "moved"))
    res = run([sys.executable, "-m", "search.tune", "--resume", str(moved)])
    assert res.returncode == 2 and "was started in" in res.stderr, res.stdout + res.stderr
    shutil.move(moved, run_dir)

    res = run([sys.executable, "-m", "search.tune", "--resume", str(run_dir)])
    assert res.returncode == 0, res.stdout + res.stderr
    after = board(run_dir)
    assert len(after) == 3 and (after["status"] == "completed").all() and (after["epochs"] == 8).all()
    assert after["resumed_from"].max() > 0  # the interrupted trial went on from its checkpoint
    # the seed reference is recorded once the search ends, whether it finished before the Ctrl-C
    # (kept) or was cut by it (trained again by the resumed call)
    assert json.loads((run_dir / "run.json").read_text())["seed_reference"]["epochs"] == 1
    assert "| seed-variant | reference (completed) |" in (run_dir / "leaderboard.md").read_text()
    # A finished run folder moved elsewhere still exports any trial: its paths are relative to it.
    assert not after["checkpoint"].str.startswith("/").any()
    moved = Path(shutil.move(run_dir, tmp_path / "moved"))
    ex = run([sys.executable, "-m", "search.export", "--run", str(moved), "--trial", "1", "--data-dir",
              str(synthetic_ludb)])
    assert ex.returncode == 0, ex.stderr
    # Without Tune's trial checkpoints (as in a committed run), a clear error, not a traceback.
    shutil.rmtree(moved / "tune")
    ex = run([sys.executable, "-m", "search.export", "--run", str(moved), "--trial", "2", "--data-dir",
              str(synthetic_ludb)])
    assert ex.returncode == 2 and "re-run the search's command" in ex.stderr and "Traceback" not in ex.stderr


@pytest.mark.slow(100)
def test_pbt_takes_over_weights_records_lineage_and_resumes_after_sigterm(synthetic_ludb, tmp_path):
    cmd = tune_cmd(synthetic_ludb, tmp_path, "pbt", "--smoke", "--num-samples", "4", "--max-epochs", "10",
                   "--scheduler", "pbt", "--perturb-every", "2", "--max-concurrent", "2")
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_dir = tmp_path / "pbt"
    deadline = time.time() + 120
    while time.time() < deadline and len(list((run_dir / "tune").glob("trial_*/checkpoint_*"))) < 3:
        time.sleep(0.3)
    # While it runs, a second driver on the same folder is refused, naming the lock.
    second = run([sys.executable, "-m", "search.tune", "--resume", str(run_dir)])
    assert second.returncode == 2 and "another search is running" in second.stderr, second.stderr
    proc.send_signal(signal.SIGTERM)  # as `kill` or a job scheduler stops it: Ctrl-C's path
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3 and f"--resume {run_dir}" in err, out + err
    assert (board(run_dir)["status"] != "completed").any()
    res = run([sys.executable, "-m", "search.tune", "--resume", str(run_dir)])
    assert res.returncode == 0, res.stdout + res.stderr
    b = board(run_dir)
    # every trial ended (the smoke space's tiny nets may collapse: an outcome, not a failure)
    assert len(b) == 4 and set(b["status"]) <= {"completed", "collapsed"}
    assert (b.loc[b["status"] == "completed", "epochs"] == 10).all() and (b["status"] == "completed").any()
    assert sorted(b["trial"]) == [0, 1, 2, 3]  # each trial keeps its own number through takeovers
    # With 2 trials at a time, the worse of them takes over the better's weights at a perturbation step.
    assert b["lineage"].fillna("").str.contains("@ epoch|trained by trial").any(), b[["trial", "lineage"]]
    lineage = json.loads((run_dir / "best" / "model.json").read_text())["metrics"]["lineage"]
    assert set(lineage) == {"trained_by", "takeovers"} and lineage["trained_by"] in range(4)
    assert "lineage" in (run_dir / "leaderboard.md").read_text()


def wait_for(path: Path, text: str, timeout: float) -> str:
    """Wait until the file `path` (a process's stdout) holds `text`; its content then."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen = path.read_text() if path.exists() else ""
        if text in seen:
            return seen
        time.sleep(0.5)
    raise AssertionError(f"no {text!r} in {path} within {timeout} s; it holds: {seen[-2000:]}")


@pytest.mark.slow(60)
def test_ctrl_c_to_the_whole_process_group_with_the_seed_reference(synthetic_ludb, tmp_path):
    """Ctrl-C in a terminal signals every process of the group, Ray's workers included.
    1. During the trials: exit 3 at once (not after the seed reference's remaining epochs), the cut
       trial labelled 'interrupted' (not 'stopped early'), the reference not recorded.
    2. The resumed call trains the reference again and finishes the trials; Ctrl-C while it waits for
       the reference: exit 3 at once again, every trial kept, the call's time added, still resumable.
    (The reference is far too long to finish here; test_smoke_search_end_to_end sees one finish.)"""
    cmd = tune_cmd(synthetic_ludb, tmp_path, "cc", "--smoke", "--num-samples", "2", "--max-epochs", "6",
                   "--max-concurrent", "1", "--reference-epochs", "2000")
    run_dir = tmp_path / "cc"
    wall = 0.0
    for call in (1, 2):
        stdout = tmp_path / f"stdout-{call}.txt"
        with stdout.open("w") as sink:
            proc = subprocess.Popen(cmd if call == 1 else [sys.executable, "-m", "search.tune", "--resume", str(run_dir)],
                                    cwd=REPO, env=ENV, stdout=sink, stderr=subprocess.PIPE, text=True,
                                    start_new_session=True)
        if call == 1:
            deadline = time.time() + 120
            while time.time() < deadline and not list((run_dir / "tune").glob("trial_*/checkpoint_*")):
                time.sleep(0.5)
            time.sleep(1.0)
        else:
            seen = wait_for(stdout, "waiting for the seed variant reference", 240)
            assert "seed variant reference: training for 2000 epochs" in seen  # trained again, not skipped
            time.sleep(2.0)
        t0 = time.time()
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 3, f"call {call}: exit {proc.returncode}\n{stdout.read_text()}\n{err}"
        assert time.time() - t0 < 90, "waited for the seed reference instead of stopping"  # (it writes outputs)
        assert "seed variant reference: interrupted" in err and f"--resume {run_dir}" in err, err
        info = json.loads((run_dir / "run.json").read_text())
        assert "seed_reference" not in info and info["calls"] == call and info["wall_s"] > wall
        wall = info["wall_s"]  # each call adds its time
        b = board(run_dir)
        if call == 1:
            assert not b["status"].eq("stopped early").any() and (b["status"] != "completed").any()
        else:
            assert len(b) == 2 and (b["status"] == "completed").all()  # the trials are kept, not re-run


@pytest.mark.slow(50)
def test_faults_retry_divergence_and_errors(synthetic_ludb, tmp_path):
    """Trial 0 raises on every attempt (errors after its retries), trial 1 diverges, trials 2-3 lose
    their worker once after epoch 2 and finish from that checkpoint; the search goes on; exit 1."""
    # tests/faults/sitecustomize.py wraps the trainable's training loop in every process of the search
    env = {**ENV, "ECG_SEARCH_FAULTS": f"raise@0,nan@1,crash@2:{tmp_path}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "tests" / "faults"), ENV.get("PYTHONPATH")]))}
    res = run(tune_cmd(synthetic_ludb, tmp_path, "faults", "--smoke", "--max-epochs", "3"), env=env)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "failed beyond the retry budget" in res.stderr
    b = board(tmp_path / "faults").set_index("trial")
    assert b.loc[0, "status"] == "error" and "injected failure" in b.loc[0, "error"]
    assert b.loc[1, "status"] == "diverged"
    for t in (2, 3):
        assert b.loc[t, "status"] == "completed" and b.loc[t, "epochs"] == 3
        assert b.loc[t, "resumed_from"] == 2 and (tmp_path / f"crashed-{t}").exists()
        assert 1 <= b.loc[t, "best_epoch"] <= 3
    assert (tmp_path / "faults" / "best" / "model.json").exists()  # the best of what finished


# --------------------------------------------------------------------------------------- clusters


def start_cluster(head_cpus: int, workers: int):
    """A head and `workers` 1-CPU worker nodes on loopback, started from this process."""
    os.environ["RAY_AUTH_MODE"] = "disabled"
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": head_cpus})
    for _ in range(workers):
        c.add_node(num_cpus=1)
    c.wait_for_nodes()
    return c


@pytest.fixture
def cluster():
    """Head (1 CPU) + one worker (1 CPU): two nodes that can both run trials."""
    c = start_cluster(1, 1)
    yield c
    c.shutdown()


@pytest.fixture
def cluster_spare():
    """Head with no CPU + two 1-CPU workers: a trial runs on a worker, and the other can take it over."""
    c = start_cluster(0, 2)
    yield c
    c.shutdown()


@pytest.mark.slow(35)
def test_two_node_cluster_runs_trials_on_both(cluster, synthetic_ludb, tmp_path):
    res = run(tune_cmd(synthetic_ludb, tmp_path, "c2", "--smoke", "--num-samples", "4", "--max-epochs", "6",
                       "--address", cluster.address))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "on 2 node(s)" in res.stdout
    b = board(tmp_path / "c2")
    assert (b["status"] == "completed").all() and b["node"].nunique() == 2


@pytest.mark.slow(40)
def test_node_removed_mid_trial_finishes_on_the_other(cluster_spare, synthetic_ludb, tmp_path):
    cluster = cluster_spare
    cmd = tune_cmd(synthetic_ludb, tmp_path, "rm", "--smoke", "--num-samples", "1", "--max-epochs", "60",
                   "--address", cluster.address)
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result_json = None
    deadline = time.time() + 120
    while time.time() < deadline:
        found = list((tmp_path / "rm" / "tune").glob("trial_*/result.json"))
        if found and found[0].read_text().strip():
            lines = found[0].read_text().strip().splitlines()
            if json.loads(lines[-1])["epoch"] >= 3:
                result_json = json.loads(lines[-1])
                break
        time.sleep(0.2)
    assert result_json is not None, "trial never reported"
    node_id = result_json["node"]
    victims = [n for n in cluster.list_all_nodes() if n.node_id == node_id]
    assert len(victims) == 1 and victims[0] is not cluster.head_node  # the head has no CPU for trials
    cluster.remove_node(victims[0])
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, out + err
    b = board(tmp_path / "rm")
    assert b.loc[0, "status"] == "completed" and b.loc[0, "epochs"] == 60
    assert b.loc[0, "resumed_from"] >= 3 and b.loc[0, "node"] != node_id[:8]
