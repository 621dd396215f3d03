"""The per-export report: its verdicts follow the numbers, and the page renders in a real browser."""
from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from datasets.synthetic import beat_signal
from ecgmodels import metrics as M
from ecgmodels import page as R

from .conftest import REPO

FS, RI, WIN = 500, 150, 400


def _beats(n: int, seed: int) -> np.ndarray:
    """Synthetic beats in scaled units [n, 1, 400] (scale 2 mV), R at 150, amplitudes varied."""
    rng = np.random.default_rng(seed)
    t = np.arange(WIN) / FS
    x = np.stack([beat_signal(t, np.array([RI / FS]), g, rng) for g in rng.uniform(0.6, 1.4, n)])
    return (x + rng.normal(0, 0.01, x.shape))[:, None] / 2.0


def _report(generator) -> dict:
    train, real = _beats(200, 0), _beats(80, 1)
    records = np.repeat(np.arange(8), 10)
    return M.report(generator, train, real, records, M.fit_kernel(train), 120, seed=0, bootstrap=0, r_index=RI,
                    fs=FS, scale_mv=2.0)


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no headless Chromium (apt-get install chromium); .ci/run installs it")


def test_verdicts_follow_the_features():
    good = _report(lambda n, s: _beats(n, 100 + s % 1000))
    noise = _report(lambda n, s: np.random.default_rng(s).normal(0, 0.05, (n, 1, WIN)))
    assert good["plausibility"]["plausible"] and good["verdict"]["plausible"] is True
    assert noise["plausibility"]["plausible"] is False and noise["verdict"]["plausible"] is False
    assert "NOT PLAUSIBLE ECG: QRS at the R index in" in noise["verdict"]["summary"]
    lines = R.feature_lines(good["features"])
    assert set(lines) == set(R.NAMES) and lines["qrs_ms"].startswith("QRS duration: generated ")
    assert R.feature_lines(noise["features"])["r_mv"].endswith(": far")  # noise has no R wave at the R index
    # the page says what the numbers (and model.json's verdict) say
    assert '<p class="verdict bad"><b>NOT USABLE: its beats are not plausible ECG.</b>' in \
        R.page(noise, b"png", "noise", "test", usable=False)
    assert '<p class="verdict good"><b>USABLE: beats look like ECG.</b>' in R.page(good, b"png", "good", "test", True)
    # below the average beat on test, but not on validation: the page follows model.json, not usable
    assert '<p class="verdict bad"><b>NOT USABLE: beats look like ECG.</b>' in R.page(good, b"png", "good", "t", False)


def test_report_cli_names_a_folder_that_is_not_an_export(tmp_path):
    bad = subprocess.run([sys.executable, "-m", "ecgmodels.report", "--model", str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "model.json" in bad.stderr and "Traceback" not in bad.stderr
    (tmp_path / "file").write_text("x")
    out = subprocess.run([sys.executable, "-m", "ecgmodels.report", "--model", str(tmp_path), "--out",
                          str(tmp_path / "file")], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 2 and "is a file" in out.stderr


def test_report_renders_in_a_headless_browser(tmp_path):
    browser = _browser()
    rep = _report(lambda n, s: _beats(n, 100 + s % 1000))
    gen = M.draw(lambda n, s: _beats(n, 100 + s % 1000), 120, rep["noise_seed"]) * 2.0
    page, png = R.write(tmp_path, rep, gen, _beats(80, 1) * 2.0, RI, FS, "synthetic", "tests", usable=True)
    assert png.stat().st_size > 20_000
    text = page.read_text()
    assert "data:image/png;base64," in text and "src=\"http" not in text  # self-contained
    shot = tmp_path / "shot.png"
    run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          "--window-size=1280,1600", f"--screenshot={shot}", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert shot.is_file(), run.stderr[-2000:]
    import matplotlib.image as mpimg

    img = (mpimg.imread(shot)[..., :3] * 255).astype(int)
    assert img.shape[:2] == (1600, 1280)
    # the embedded figure rendered: the real beats' green and the generated beats' purple are on screen
    green = (np.abs(img - [44, 160, 44]).sum(axis=-1) < 60).sum()
    purple = (np.abs(img - [148, 103, 189]).sum(axis=-1) < 60).sum()
    assert green > 500 and purple > 500, (green, purple)
    assert (img.std(axis=(0, 1)) > 20).all()  # not a blank page


@pytest.mark.ludb
@pytest.mark.slow(23)
def test_report_cli_on_the_committed_reference(real_ludb, tmp_path):
    run = subprocess.run([sys.executable, "-m", "ecgmodels.report", "--model", "results/ludb-ii-reference/best",
                          "--data-dir", str(real_ludb), "--out", str(tmp_path), "--n", "256"],
                         cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    html = (tmp_path / "report.html").read_text()
    assert all(name in html for name in R.NAMES.values()) and "Is it ECG at all?" in html
    assert (tmp_path / "report.png").stat().st_size > 50_000
