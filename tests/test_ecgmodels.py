"""Networks, training loop, checkpoints, export and the CLIs of ecgmodels."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from ecgmodels import ExportError, GanConfig, export, load_generator, variant
from ecgmodels.checkpoint import CheckpointError, load_training_checkpoint as load_checkpoint, save_checkpoint
from ecgmodels.export import load_export_networks as load_export_checkpoint
from ecgmodels.models import build, n_params
from ecgmodels.loop import Outcome, train
from ecgmodels.models import sampler

from .conftest import REPO


def toy_windows(n=64, seed=0):
    """Beats of two shapes with random amplitude, in [-1, 1], shape [n, 1, 400]."""
    rng = np.random.default_rng(seed)
    t = np.arange(400)
    bump = np.exp(-0.5 * ((t - 150) / 6.0) ** 2) + 0.3 * np.exp(-0.5 * ((t - 290) / 25.0) ** 2)
    amp = rng.uniform(0.4, 0.9, size=(n, 1, 1))
    return (amp * bump + 0.01 * rng.normal(size=(n, 1, 400))).astype(np.float32)


TINY = variant("tiny", epochs=2, batch_size=16)


# --------------------------------------------------------------------------------------- models


def test_seed_variant_parameter_counts():
    """The seed's Keras networks: G 474,097 + 512 (PyTorch's LSTM keeps two bias vectors per gate,
    Keras one: 2 directions x 4 gates x 64), D 714,721 exactly."""
    G, D = build(variant("seed"))
    assert n_params(D) == 714_721
    assert n_params(G) == 474_097 + 2 * 4 * 64
    z = torch.randn(2, 100, 12)
    out = G(z)
    assert out.shape == (2, 1, 400) and out.abs().max() <= 1 and D(out).shape == (2,)


@pytest.mark.parametrize("latent_len,ups", [(100, 2), (50, 3), (400, 0)])
def test_generator_upsamples_to_the_window(latent_len, ups):
    cfg = GanConfig(latent_len=latent_len, g_lstm_units=4, g_channels=(4, 4, 4), g_kernel=3, d_channels=(4,),
                    d_kernel=3, d_pool_every=1)
    assert cfg.upsamplings == ups
    G, _ = build(cfg)
    assert G(torch.randn(3, latent_len, 12)).shape == (3, 1, 400)


@pytest.mark.parametrize("extra", [{}, {"g_upsample": "linear", "g_mean_beat": True, "d_spectral": True, "d_mbstd": 2}])
def test_position_channel_exports_with_a_dynamic_batch(tmp_path, extra):
    cfg = TINY.replace(g_position=True, **extra)
    G, D = build(cfg)
    assert G.lstm.input_size == cfg.latent_channels + 1
    if cfg.g_mean_beat:
        G.mean_beat.fill_(0.25)  # train() sets it from the data; the export must carry it
    meta = {"key": "k", "fs": 500, "scale_mv": 1.0, "config": {"leads": ["ii"], "r_index": 150}}
    export(tmp_path / "m", G, D, cfg, dataset=meta)
    prog = torch.export.load(tmp_path / "m" / "generator.pt2").module()
    for b in (1, 7):
        z = torch.randn(b, *G.latent_shape)
        assert torch.allclose(prog(z), G.eval()(z), atol=1e-6)


@pytest.mark.parametrize("bad,match", [
    ({"g_lstm_units": 0}, "g_lstm_units"),
    ({"g_kernel": 401}, "g_kernel"),
    ({"d_lr": -1e-4}, "d_lr"),
    ({"latent_len": 30}, "latent_len"),
    ({"loss": "mse"}, "loss"),
    ({"g_channels": ()}, "g_channels"),
])
def test_config_values_out_of_range(bad, match):
    with pytest.raises(ValueError, match=match):
        GanConfig(**bad)


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(TypeError, match="g_lr_typo"):
        GanConfig.from_dict({"g_lr_typo": 1e-3})
    assert GanConfig.from_dict({"g_channels": [8, 8], "d_channels": [8]}).g_channels == (8, 8)
    with pytest.raises(KeyError, match="choose from"):
        variant("huge")


# --------------------------------------------------------------------------------------- training


def weights(G):
    return torch.cat([p.detach().flatten() for p in G.parameters()])


@pytest.mark.parametrize("loss", ["bce", "hinge", "wgan-gp"])
def test_training_is_seeded_and_reproducible(loss):
    w = toy_windows()
    a = train(TINY.replace(loss=loss, d_steps=2 if loss == "wgan-gp" else 1), w)
    b = train(TINY.replace(loss=loss, d_steps=2 if loss == "wgan-gp" else 1), w)
    assert a.outcome == Outcome.COMPLETED and a.epochs == 2 and len(a.history) == 2
    assert torch.equal(weights(a.generator), weights(b.generator))
    c = train(TINY.replace(loss=loss, seed=1, d_steps=2 if loss == "wgan-gp" else 1), w)
    assert not torch.equal(weights(a.generator), weights(c.generator))


@pytest.mark.parametrize("extra", [{}, {"g_ema": 0.99}, {"g_mean_beat": True, "d_spectral": True, "d_mbstd": 4,
                                                          "mmd_weight": 5.0, "ms_weight": 0.1, "g_upsample": "linear"}])
def test_resume_from_checkpoint_reaches_the_same_state(tmp_path, extra):
    w = toy_windows()
    cfg = TINY.replace(epochs=3, **extra)
    straight = train(cfg, w)
    saved = {}

    def stop_after_one(rep):
        save_checkpoint(rep.checkpoint(), tmp_path / "ck.pt")
        saved["epoch"] = rep.epoch
        return True  # stop: as if the worker died after epoch 1

    first = train(cfg, w, callback=stop_after_one)
    assert first.outcome == Outcome.STOPPED and saved["epoch"] == 1
    resumed = train(cfg, w, resume=load_checkpoint(tmp_path / "ck.pt"))
    assert resumed.epochs == 3 and len(resumed.history) == 3
    assert torch.equal(weights(straight.generator), weights(resumed.generator))
    assert [h["d_loss"] for h in straight.history] == [h["d_loss"] for h in resumed.history]


def test_a_checkpoint_goes_on_with_perturbed_learning_rates_and_loss_weights(tmp_path):
    """What Population Based Training does: continue another run's weights with other knobs."""
    w = toy_windows()
    saved = {}
    train(TINY.replace(epochs=1), w, callback=lambda r: saved.update(ck=r.checkpoint()))
    seen = {}

    def look(rep):
        seen["lr"] = rep.checkpoint()["g_opt"]["param_groups"][0]["lr"]

    res = train(TINY.replace(epochs=2, g_lr=5e-5, mmd_weight=3.0, seed=4), w, callback=look, resume=saved["ck"])
    assert res.epochs == 2 and seen["lr"] == 5e-5  # the optimiser's stored lr gave way to the new one


def test_mean_beat_offset_is_the_training_mean():
    w = toy_windows()
    res = train(TINY.replace(epochs=1, g_mean_beat=True), w)
    assert torch.allclose(res.generator.mean_beat, torch.tensor(w.mean(axis=0), dtype=torch.float32), atol=1e-6)
    assert build(TINY)[0].mean_beat is None and "mean_beat" not in build(TINY)[0].state_dict()  # the seed's: none


def test_ema_generator_is_the_running_average_of_the_trained_one():
    """With g_ema the sampling generator is an average: it lies nearer the trained weights than the
    initial ones do, without reaching them; training itself is unchanged, and checkpoints keep both."""
    w = toy_windows()
    torch.manual_seed(TINY.seed)
    init, _ = build(TINY)  # the same draw train() starts from
    plain = train(TINY, w)
    ck = {}
    ema = train(TINY.replace(g_ema=0.999), w, callback=lambda rep: ck.update(rep.checkpoint()))
    trained, averaged, start = weights(plain.generator), weights(ema.generator), weights(init)
    assert torch.equal(torch.cat([v.flatten() for v in ck["generator_train"].values()]), trained)
    assert torch.equal(torch.cat([v.flatten() for v in ck["generator"].values()]), averaged)
    assert 0 < (averaged - trained).norm() < (start - trained).norm()


def test_divergence_is_an_outcome_not_a_traceback(monkeypatch):
    """A loss that turns NaN mid-run (here from epoch 2 on, injected: Adam and tanh make a real blow-up
    rare and slow to provoke) ends the run as DIVERGED, with the epochs before it kept."""
    import ecgmodels.loop as T

    real_loss, calls = T.d_loss_fn, {"n": 0}
    steps_per_epoch = 64 // TINY.batch_size

    def nan_from_epoch_2(*args):
        calls["n"] += 1
        loss = real_loss(*args)
        return loss * float("nan") if calls["n"] > steps_per_epoch else loss

    monkeypatch.setattr(T, "d_loss_fn", nan_from_epoch_2)
    res = train(TINY.replace(epochs=5), toy_windows())
    assert res.outcome == Outcome.DIVERGED and "non-finite" in res.message
    assert res.epochs == 1 and len(res.history) == 1


def test_collapse_is_detected():
    # A generator whose output cannot vary: zero LeakyReLU slope and a huge d_lr drive it to a constant.
    cfg = TINY.replace(epochs=40, collapse_patience=2, collapse_ratio=0.5, g_slope=0.0, g_lr=0.05)
    res = train(cfg, toy_windows())
    assert res.outcome == Outcome.COLLAPSED and "collapse" in res.message
    assert all(h["diversity"] < 0.5 for h in res.history[-2:])


@pytest.mark.parametrize("bad,match", [
    (np.zeros((10, 1, 300), np.float32), "shape"),
    (np.full((10, 1, 400), 2.0, np.float32), "outside"),
    (np.full((10, 1, 400), np.nan, np.float32), "finite"),
])
def test_bad_windows(bad, match):
    with pytest.raises(ValueError, match=match):
        train(TINY, bad)


def test_bad_checkpoints(tmp_path):
    res = train(TINY.replace(epochs=1), toy_windows(), callback=lambda r: save_checkpoint(r.checkpoint(), tmp_path / "a.pt") and None)
    ck = torch.load(tmp_path / "a.pt", weights_only=True)
    ck["format"] = 99
    torch.save(ck, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="format 99"):
        load_checkpoint(tmp_path / "b.pt")
    raw = (tmp_path / "a.pt").read_bytes()
    (tmp_path / "c.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="c.pt"):
        load_checkpoint(tmp_path / "c.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"kind": "x", "evil": Evil()}, tmp_path / "d.pt")
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(tmp_path / "d.pt")
    with pytest.raises(CheckpointError, match="different config.*g_lstm_units"):
        train(TINY.replace(g_lstm_units=9), toy_windows(), resume=load_checkpoint(tmp_path / "a.pt"))
    assert res.outcome == Outcome.COMPLETED


# --------------------------------------------------------------------------------------- export


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    res = train(TINY, toy_windows())
    out = tmp_path_factory.mktemp("exp") / "model"
    meta = {"key": "abc", "fs": 500, "scale_mv": 2.0, "config": {"leads": ["ii"], "r_index": 150}}
    export(out, res.generator, res.discriminator, TINY, dataset=meta, metrics={"prd": 1.0})
    return out, res


def test_re_export_replaces_the_folder_whole(exported, tmp_path):
    import shutil

    out, res = exported
    again = shutil.copytree(out, tmp_path / "model")
    meta = {"key": "abc", "fs": 500, "scale_mv": 2.0, "config": {"leads": ["ii"], "r_index": 150}}
    export(again, res.generator, res.discriminator, TINY, dataset=meta, metrics={"prd": 2.0})
    assert json.loads((again / "model.json").read_text())["metrics"] == {"prd": 2.0}
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary or old copy left beside it
    load_generator(again)


def test_export_loads_in_a_fresh_process_with_torch_only(exported, tmp_path):
    out, res = exported
    code = f"""
import json, sys, torch
assert 'ecgmodels' not in sys.modules
info = json.load(open({str(out / 'model.json')!r}))
m = torch.export.load({str(out / 'generator.pt2')!r}).module()
for b in (1, 5):
    y = m(torch.randn(b, *info['latent']['shape']))
    assert tuple(y.shape) == (b, 1, info['window']) and float(y.abs().max()) <= 1.0
print('ok', 'ecgmodels' in sys.modules)
"""
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["ok", "False"]


def test_multi_lead_training_and_an_unconditional_generator_refusing_a_condition(exported, tmp_path):
    """Two leads train and export like one ([n, 2, 400] out); no generator so far takes a condition,
    and each place that will (G, the sampler, load_generator) says so instead of ignoring it."""
    two = np.concatenate([toy_windows(), -toy_windows(seed=1)], axis=1)
    res = train(TINY.replace(leads=2), two)
    assert sampler(res.generator)(3, 0).shape == (3, 2, 400)
    with pytest.raises(ValueError, match="unconditional"):
        res.generator(torch.zeros(1, *res.generator.latent_shape), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="unconditional"):
        sampler(res.generator)(3, 0, condition=np.zeros((3, 2)))
    out, _ = exported
    assert json.loads((out / "model.json").read_text())["condition"] is None
    with pytest.raises(ValueError, match="unconditional"):
        load_generator(out).sample(2, condition=np.zeros((2, 1)))


def test_load_generator_samples_in_mv(exported):
    out, res = exported
    gen = load_generator(out)
    a, b = gen.sample(4, seed=3), gen.sample(4, seed=3)
    assert a.shape == (4, 1, 400) and np.array_equal(a, b)
    eager = sampler(res.generator)(4, 3) * 2.0  # same noise through the eager model, times scale_mv
    np.testing.assert_allclose(a, eager, atol=1e-5)
    info = json.loads((out / "model.json").read_text())
    assert info["latent"]["shape"] == [25, 4] and info["scale_mv"] == 2.0 and info["r_index"] == 150
    cfg, G, D = load_export_checkpoint(out)
    assert cfg == TINY and D is not None


def test_export_bad_folders(exported, tmp_path):
    import shutil

    out, _ = exported
    broken = shutil.copytree(out, tmp_path / "missing")
    (broken / "generator.pt2").unlink()
    with pytest.raises(ExportError, match="generator.pt2 is missing"):
        load_generator(broken)
    tampered = shutil.copytree(out, tmp_path / "tampered")
    with open(tampered / "checkpoint.pt", "ab") as f:
        f.write(b"x")
    with pytest.raises(ExportError, match="checkpoint.pt does not match"):
        load_generator(tampered)
    old = shutil.copytree(out, tmp_path / "old")
    info = json.loads((old / "model.json").read_text())
    info["format"] = 0
    (old / "model.json").write_text(json.dumps(info))
    with pytest.raises(ExportError, match="export format 0"):
        load_generator(old)
    with pytest.raises(ExportError, match="does not exist"):
        load_generator(tmp_path / "nowhere")
    for files in (None, ["generator.pt2", "checkpoint.pt"], {"checkpoint.pt": "0" * 64}):
        bad = shutil.copytree(out, tmp_path / f"files-{type(files).__name__}-{len(files or [])}")
        info = json.loads((bad / "model.json").read_text())
        info.pop("files") if files is None else info.update(files=files)
        (bad / "model.json").write_text(json.dumps(info))
        with pytest.raises(ExportError, match="'files' must give the sha256"):
            load_generator(bad)


def test_an_export_whose_files_do_not_belong_together_is_refused(exported, tmp_path):
    import shutil

    out, _ = exported
    bad = shutil.copytree(out, tmp_path / "latent")
    info = json.loads((bad / "model.json").read_text())
    info["latent"]["shape"] = [50, 4]  # the checkpoint's generator takes [25, 4]
    (bad / "model.json").write_text(json.dumps(info))
    with pytest.raises(ExportError, match=r"latent shape \[50, 4\] does not match"):
        load_generator(bad)
    info.pop("scale_mv")
    (bad / "model.json").write_text(json.dumps(info))
    with pytest.raises(ExportError, match="lacks scale_mv"):
        load_generator(bad)


class _Payload:
    """Unpickling this creates a file: what a tampered generator.pt2 could do on torch.export.load."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_tampered_generator_pt2_is_never_unpickled(exported, tmp_path):
    """generator.pt2 replaced by an archive carrying a pickle whose loading creates a file, with the
    hash in model.json updated to match: load_generator and the sample CLI sample from checkpoint.pt
    (weights_only) and never open the archive, so the file is not created and the beats are the
    genuine model's."""
    import hashlib
    import pickle
    import shutil
    import zipfile

    out, _ = exported
    evil = shutil.copytree(out, tmp_path / "evil")
    marker = tmp_path / "pwned"
    with zipfile.ZipFile(evil / "generator.pt2", "w") as z:
        z.writestr("generator/data/constants/c0.pkl", pickle.dumps(_Payload(marker)))
    info = json.loads((evil / "model.json").read_text())
    info["files"]["generator.pt2"] = hashlib.sha256((evil / "generator.pt2").read_bytes()).hexdigest()
    (evil / "model.json").write_text(json.dumps(info))
    pickle.loads(pickle.dumps(_Payload(tmp_path / "proof")))  # the payload does work when unpickled
    assert (tmp_path / "proof").exists()
    np.testing.assert_array_equal(load_generator(evil).sample(3, seed=1), load_generator(out).sample(3, seed=1))
    cli = subprocess.run([sys.executable, "-m", "ecgmodels.sample", "--model", str(evil), "--n", "2",
                          "--out", str(tmp_path / "s")], cwd=REPO, capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert not marker.exists()


# --------------------------------------------------------------------------------------- best epoch


def test_quality_bar_worked_by_hand():
    from ecgmodels.policy import BAR_MISSED, meets_bar, rank

    # floor MMD^2 0 and average 1: the scale is MMD^2 itself; the floor's shares 1: the bar is 0.85
    floor, average = {"mmd": 0.0, "precision": 1.0, "recall": 1.0, "coverage": 1.0}, {"mmd": 1.0}
    edge = {"mmd": 0.13, "precision": 0.85, "recall": 0.85, "coverage": 0.85, "diversity": 0.8}  # each at the bar
    assert meets_bar(edge, floor, average) and meets_bar(edge | {"diversity": 1.2}, floor, average)
    for key, value in [("mmd", 0.131), ("precision", 0.849), ("recall", 0.849), ("coverage", 0.849),
                       ("diversity", 0.799), ("diversity", 1.201), ("recall", float("nan"))]:
        assert not meets_bar(edge | {key: value}, floor, average), (key, value)
    # the real scale: floor -0.002, average 0.038, so the bar is MMD^2 <= -0.002 + 0.13 * 0.04 = 0.0032
    real = {"mmd": -0.002, "precision": 1.0, "recall": 1.0, "coverage": 1.0}
    assert meets_bar(edge | {"mmd": 0.0031}, real, {"mmd": 0.038})
    assert not meets_bar(edge | {"mmd": 0.0033}, real, {"mmd": 0.038})
    # rank: bar first, then the lower score
    assert rank(0.95, True) < rank(0.79, False) and rank(0.8, False) < rank(0.9, False) == 0.9 + BAR_MISSED
    assert rank(40.0, True) < rank(0.5, False)
    # roughness over real beats': at most 2 passes, more fails; absent or NaN (not measured) passes
    assert meets_bar(edge | {"roughness": 2.0}, floor, average) and meets_bar(edge | {"roughness": float("nan")}, floor, average)
    assert not meets_bar(edge | {"roughness": 2.01}, floor, average)


def test_best_epoch_keeps_an_epoch_that_meets_the_bar_before_a_lower_score():
    from ecgmodels.best import BestEpoch, Validation, rank
    from ecgmodels.loop import EpochReport

    class Judge(Validation):  # epochs scored as given, in turn
        def __init__(self, verdicts):
            self.verdicts, self.n = iter(verdicts), 4
            self.floor = {"mmd": 0.0, "prd": 50.0, "precision": 1.0, "recall": 1.0, "coverage": 1.0}
            self.average = {"mmd": 1.0}

        def score(self, gen):
            score, bar = next(self.verdicts)
            return {"score": score, "bar": float(bar), "rank": rank(score, bar)}

    class G(torch.nn.Module):
        latent_shape = (4, 1)

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))  # the sampler asks for a parameter's device

        def forward(self, z):
            return torch.zeros(len(z), 1, 8)

    best = BestEpoch(Judge([(0.9, False), (0.79, False), (0.95, True), (0.8, False), (0.93, True)]), seed=0)
    for epoch in range(1, 6):
        best.update(EpochReport(epoch, {}, G(), lambda: {}))
        assert best.metrics["epoch"] == [1, 2, 3, 3, 5][epoch - 1]
    # A selection kept before the bar existed is judged when a run resumes from it.
    m = {"prd": 40.0, "mmd": 0.1, "rmse": 0.1, "precision": 0.9, "recall": 0.9, "density": 1.0,
         "coverage": 0.9, "diversity": 1.0, "prd_g2r": 40.0, "prd_r2g": 30.0}
    old = BestEpoch(Judge([]), seed=0, state={"selection": m | {"score": 0.9, "epoch": 7}})
    assert old.metrics["bar"] == 1.0 and old.metrics["rank"] == pytest.approx(0.9) and old.metrics["epoch"] == 7


def test_validation_measures_roughness_against_its_beats_and_the_bar_refuses_a_ripple():
    from ecgmodels.best import Validation, meets_bar
    from ecgmodels.shape import roughness

    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 64)
    basis = np.stack([np.sin(np.pi * (k + 1) * t) for k in range(3)])  # beats vary by smooth shapes

    def beats(n):  # plus white noise of sd 0.002: second differences of it have variance 6 x 0.002^2
        return (rng.normal(0, 0.3, (n, 3)) @ basis)[:, None, :] + rng.normal(0, 0.002, (n, 1, 64))

    val = beats(150)  # 15 "records" of 10: enough that real-like beats meet the bar's MMD^2 and k-NN shares
    v = Validation.build(beats(300).astype(np.float32), val.astype(np.float32), np.repeat(np.arange(15), 10), n=150)
    assert v.real_roughness == pytest.approx(roughness(val.astype(np.float32))) and v.real_roughness > 6 * 0.002 ** 2
    gen = beats(150)
    # a zigzag of 0.003 adds a second difference of 4 x 0.003 at every sample, 16 x 0.003^2 to the mean
    # square (its cross terms with the noise and the smooth shapes cancel): the ratio rises by that over
    # real beats' roughness, past 2, while the zigzag is tiny beside the beats' spread
    smooth, rippled = v.score(gen), v.score(gen + 0.003 * (-1.0) ** np.arange(64))
    assert rippled["roughness"] - smooth["roughness"] == pytest.approx(16 * 0.003 ** 2 / v.real_roughness, rel=0.05)
    assert smooth["roughness"] == pytest.approx(1.0, rel=0.2) and rippled["roughness"] > 2
    # the ripple is what fails it: without its roughness the rippled beats meet the bar, as the smooth ones do
    assert smooth["bar"] == 1.0 and rippled["bar"] == 0.0 and rippled["rank"] > 1000
    assert meets_bar({k: x for k, x in rippled.items() if k != "roughness"}, v.floor, v.average)
    assert v.roughness(np.full_like(gen, np.nan)) == float("inf")  # non-finite output fails, never passes


def test_best_epoch_keeps_the_lowest_score_as_a_frozen_copy():
    """Epochs whose generator draws flat lines, then real training beats, then flat lines again:
    the middle one is kept, and its checkpoint does not follow later in-place weight updates."""
    from ecgmodels.best import BestEpoch, Validation
    from ecgmodels.loop import EpochReport

    w = toy_windows(160)
    train_w, val_w = w[:128], w[128:]
    validation = Validation.build(train_w, val_w, np.arange(len(val_w)) // 4, 32)  # 8 "records" of 4 beats

    class Fixed(torch.nn.Module):  # a "generator" that returns given beats
        latent_shape = (4, 1)

        def __init__(self, beats):
            super().__init__()
            self.beats = torch.tensor(beats)
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, z):
            return self.beats[: len(z)]

    weights = torch.zeros(3)
    best = BestEpoch(validation, seed=0)
    scores = []
    for epoch, beats in enumerate([np.zeros_like(train_w), train_w, np.zeros_like(train_w)], start=1):
        weights.fill_(epoch)
        rep = EpochReport(epoch, {}, Fixed(beats), lambda: {"generator": {"w": weights}})
        scores.append(best.update(rep)["score"])
    assert best.metrics["epoch"] == 2 and best.metrics["score"] == scores[1] == min(scores)
    assert scores[1] < 1.5 < 3 < scores[0]  # real beats score near 1 (the floor's own PRD ratio), flat lines far above
    assert best.checkpoint["generator"]["w"].tolist() == [2.0, 2.0, 2.0]  # a copy, not the live tensor
    resumed = BestEpoch(validation, seed=0, state=best.checkpoint)
    resumed.update(EpochReport(4, {}, Fixed(np.zeros_like(train_w)), lambda: {"generator": {"w": weights}}))
    assert resumed.metrics["epoch"] == 2  # the best from before the interruption still wins


def test_a_selection_kept_before_roughness_is_measured_on_its_generator_when_a_run_resumes():
    from ecgmodels.best import BestEpoch, Validation

    w = toy_windows(160)
    validation = Validation.build(w[:128], w[128:], np.arange(32) // 4, 32)
    G, D = build(TINY)
    old = {"prd": 40.0, "mmd": 0.0, "rmse": 0.1, "precision": 0.9, "recall": 0.9, "density": 1.0, "coverage": 0.9,
           "diversity": 1.0, "prd_g2r": 40.0, "prd_r2g": 30.0, "score": 0.9, "bar": 1.0, "rank": 0.9, "epoch": 7}
    state = {"config": TINY.to_dict(), "generator": G.state_dict(), "discriminator": D.state_dict(), "selection": old}
    sel = BestEpoch(validation, seed=3, state=state).metrics
    assert sel["roughness"] == pytest.approx(validation.roughness(sampler(G.eval())(32, 3)))  # its own draws
    # an untrained G draws smooth beats (about 0.01x real beats' roughness): the old verdict stands
    assert sel["roughness"] < 1 and sel["bar"] == 1.0 and sel["epoch"] == 7


# --------------------------------------------------------------------------------------- CLIs


@pytest.mark.slow(32)
def test_train_and_sample_clis(synthetic_ludb, tmp_path):
    out = tmp_path / "exp"
    run = subprocess.run(
        [sys.executable, "-m", "ecgmodels.train", "--variant", "tiny", "--epochs", "3", "--data-dir", str(synthetic_ludb),
         "--out", str(out), "--eval-n", "32", "--threads", "1", "--split", "0.5,0.25,0.25"],
        cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "completed after 3 epochs" in run.stdout and "**Verdict: " in run.stdout
    assert "| real-vs-real floor (training beats) |" in run.stdout and "| average training beat" in run.stdout
    model = json.loads((out / "model.json").read_text())
    assert model["evaluation"]["kernel"] == model["kernel"] and "ci" in model["evaluation"]["generated"]
    kept = json.loads((out / "model.json").read_text())["metrics"]
    assert kept["kept"] == "best" and kept["epochs_trained"] == 3 and 1 <= kept["epoch"] <= 3
    assert f"keeping epoch {kept['epoch']}, the best on validation" in run.stdout
    assert {p.name for p in out.iterdir()} >= {"generator.pt2", "model.json", "checkpoint.pt", "metrics.md", "metrics.csv"}
    for fmt in ("npy", "csv", "wfdb"):
        s = subprocess.run([sys.executable, "-m", "ecgmodels.sample", "--model", str(out), "--n", "3", "--format", fmt,
                            "--out", str(tmp_path / fmt)], cwd=REPO, capture_output=True, text=True)
        assert s.returncode == 0, s.stderr
    import wfdb

    rec = wfdb.rdrecord(str(tmp_path / "wfdb" / "beat_00002"))
    beats = np.load(tmp_path / "npy" / "beats_mv.npy")
    assert rec.fs == 500 and rec.sig_name == ["ii"] and rec.units == ["mV"]
    np.testing.assert_allclose(rec.p_signal[:, 0], beats[2, 0], atol=1e-3)
    bad = subprocess.run([sys.executable, "-m", "ecgmodels.train", "--set", "g_lstm_units=0",
                          "--data-dir", str(synthetic_ludb)], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and "g_lstm_units" in bad.stderr


@pytest.mark.slow(48)
def test_train_cli_on_real_ludb_exports_a_loadable_generator(real_ludb, tmp_path):
    """Issue 3's check on real data: lead-II windows -> train -> export -> torch-only load -> WFDB."""
    out = tmp_path / "real"
    run = subprocess.run([sys.executable, "-m", "ecgmodels.train", "--variant", "tiny", "--epochs", "1",
                          "--data-dir", str(real_ludb), "--out", str(out), "--eval-n", "64"],
                         cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "training 'tiny' on 1412 windows (cpu)" in run.stdout  # the lead-II train split
    code = (f"import json, torch, numpy; info = json.load(open({str(out / 'model.json')!r})); "
            f"m = torch.export.load({str(out / 'generator.pt2')!r}).module(); "
            "y = m(torch.randn(4, *info['latent']['shape'])).detach().numpy() * info['scale_mv']; "
            "print(y.shape, info['leads'], 2 < info['scale_mv'] < 3)")  # 1.0 = 2.58 mV in true units
    fresh = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert fresh.stdout.strip() == "(4, 1, 400) ['ii'] True", fresh.stderr
    s = subprocess.run([sys.executable, "-m", "ecgmodels.sample", "--model", str(out), "--n", "2", "--format", "wfdb",
                        "--out", str(tmp_path / "w")], cwd=REPO, capture_output=True, text=True)
    assert s.returncode == 0, s.stderr
    import wfdb

    rec = wfdb.rdrecord(str(tmp_path / "w" / "beat_00001"))
    assert rec.p_signal.shape == (400, 1) and rec.fs == 500
    # Re-scoring an export with the current metrics records the result in the folder.
    ev = subprocess.run([sys.executable, "-m", "ecgmodels.evaluate", "--model", str(out), "--n", "64", "--bootstrap", "20", "--write"],
                        cwd=REPO, capture_output=True, text=True)
    assert ev.returncode == 0, ev.stderr
    assert "**Verdict: " in (out / "evaluation.md").read_text()
    assert json.loads((out / "model.json").read_text())["evaluation"]["generated"]["records"] == 20  # test patients


# --------------------------------------------------------------------------------------- losses, EMA (by hand)


class _Const(torch.nn.Module):
    """A 'discriminator' whose logit is a given constant for every beat."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full((len(x), 1), self.value)


class _Linear(torch.nn.Module):
    """A linear critic w . x with ||w|| = 3: its gradient is w everywhere."""

    def __init__(self, n: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(n))
        with torch.no_grad():
            self.w[0], self.w[1] = 3.0 * 0.6, 3.0 * 0.8

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_losses_by_hand():
    from ecgmodels.losses import d_loss_fn, g_loss_fn

    x = torch.zeros(4, 1, 10)
    gen = torch.Generator().manual_seed(0)
    # BCE at zero logits: ln 2 for the real half plus ln 2 for the fake half.
    assert d_loss_fn(TINY.replace(loss="bce"), _Const(0.0), x, x, gen).item() == pytest.approx(2 * np.log(2))
    # Hinge: logits +1 on real and -1 on fake sit exactly on both margins (0); the reverse costs 2 + 2.
    hinge = TINY.replace(loss="hinge")

    class Split(torch.nn.Module):  # +1 for real (all ones), -1 for fake (all zeros)
        def forward(self, b):
            return b.flatten(1).mean(1, keepdim=True) * 2 - 1

    ones = torch.ones(4, 1, 10)
    assert d_loss_fn(hinge, Split(), ones, x, gen).item() == pytest.approx(0.0)
    assert d_loss_fn(hinge, Split(), x, ones, gen).item() == pytest.approx(4.0)
    bw = torch.ones(1)
    assert g_loss_fn(hinge, _Const(1.0), x, x, torch.zeros(4, 3), bw).item() == pytest.approx(-1.0)
    # WGAN-GP with real = fake: the critic distance is 0, the penalty gp_weight * (||w|| - 1)^2 = 10 * 4.
    wgan = TINY.replace(loss="wgan-gp", gp_weight=10.0)
    r = torch.randn(4, 1, 10, generator=gen)
    assert d_loss_fn(wgan, _Linear(10), r, r, gen).item() == pytest.approx(40.0, rel=1e-5)


def test_anti_collapse_terms_by_hand():
    from ecgmodels.losses import d_loss_fn, g_loss_fn, moment_matching_mmd2 as mmd2_batch

    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(4, 1, 10)
    # R1 on D(x) = x.w with |w| = 3: the gradient at every real beat is w, |w|^2 = 9; hinge at logits 0 is
    # 1 + 1; so 2 + r1_weight / 2 * 9.
    assert d_loss_fn(TINY.replace(loss="hinge", r1_weight=2.0), _Linear(10), x, x, gen).item() == pytest.approx(11.0)
    # MMD^2 of one point at 0 against one at distance 1, one RBF of bandwidth 1: 1 + 1 - 2 exp(-1/2).
    a, b = torch.zeros(1, 1, 1), torch.ones(1, 1, 1)
    assert mmd2_batch(a, b, torch.ones(1)).item() == pytest.approx(2 - 2 * np.exp(-0.5))
    assert mmd2_batch(torch.cat([a, b]), torch.cat([b, a]), torch.ones(1)).item() == pytest.approx(0.0, abs=1e-7)
    hinge = TINY.replace(loss="hinge")
    assert g_loss_fn(hinge.replace(mmd_weight=3.0), _Const(0.0), a, b, torch.zeros(1, 2), torch.ones(1)).item() == \
        pytest.approx(3 * (2 - 2 * np.exp(-0.5)))
    # Mode seeking: outputs 1 apart everywhere for noise 2 apart: ratio 0.5, term w / (0.5 + 1e-5).
    fake = torch.cat([torch.zeros(2, 1, 10), torch.ones(2, 1, 10)])
    z = torch.cat([torch.zeros(2, 3), 2 * torch.ones(2, 3)])
    assert g_loss_fn(hinge.replace(ms_weight=0.5), _Const(0.0), fake, fake, z, torch.ones(1)).item() == \
        pytest.approx(0.5 / (0.5 + 1e-5))

    class Feats(torch.nn.Module):  # features = the beat itself, logit 0
        def forward(self, b, features=False):
            logit = torch.zeros(len(b))
            return (logit, b.flatten(1)) if features else logit

    # Feature matching: fake mean 0, real mean 2 at every one of 10 features: mean squared gap 4.
    assert g_loss_fn(hinge.replace(fm_weight=0.25), Feats(), x, x + 2, z, torch.ones(1)).item() == pytest.approx(1.0)


def test_generator_principal_components_by_hand():
    from ecgmodels.models import Generator
    from ecgmodels.models import principal_directions

    m, e1, e2 = torch.tensor([0.5, 0.0, -0.5]), torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 0.6, 0.8])
    beats = torch.stack([m + 2 * e1, m - 2 * e1, m + e2, m - e2])[:, None]
    pcs = principal_directions(beats, 2)  # each direction at its sd: sqrt(8/3) along e1, sqrt(2/3) along e2
    torch.testing.assert_close(pcs.abs(), torch.stack([e1 * np.sqrt(8 / 3), e2 * np.sqrt(2 / 3)]), atol=1e-6, rtol=0)
    # G adds head(z) @ pcs: with the head's weights 0 and bias (2, -1), exactly 2 pc1 - pc2 more
    torch.manual_seed(0)
    G = Generator(TINY.replace(g_pca=2)).eval()
    G.pcs.copy_(torch.randn(2, TINY.window))
    z = torch.randn(3, *G.latent_shape)
    with torch.no_grad():
        G.pc_head.weight.zero_()
        G.pc_head.bias.zero_()
        plain = G(z)
        G.pc_head.bias.copy_(torch.tensor([2.0, -1.0]))
        mixed = G(z)
    torch.testing.assert_close(mixed - plain, (2 * G.pcs[0] - G.pcs[1]).expand_as(plain), atol=1e-5, rtol=0)


def test_minibatch_std_by_hand():
    from ecgmodels.models import MinibatchStd

    x = torch.zeros(4, 2, 3)
    x[0], x[2] = 1.0, 3.0  # group {0, 2}: spread |1 - 3| / 2 = 1 at every feature; group {1, 3}: 0
    out = MinibatchStd(2)(x)
    assert out.shape == (4, 3, 3) and torch.equal(out[:, :2], x)
    assert out[0, 2].tolist() == pytest.approx([1.0] * 3) and out[2, 2].tolist() == pytest.approx([1.0] * 3)
    assert out[1, 2].tolist() == pytest.approx([1e-4] * 3, abs=1e-3)
    # A batch the group size does not divide is one group: 3 beats 0, 0, 3 -> sd sqrt(2), everywhere.
    y = torch.zeros(3, 1, 2)
    y[2] = 3.0
    assert MinibatchStd(2)(y)[:, 1].flatten().tolist() == pytest.approx([np.sqrt(2)] * 6, rel=1e-4)


def test_ema_decay_reaches_the_configured_value():
    from ecgmodels.ema import EMA_WARMUP, ema_decay

    assert ema_decay(0.999, 0) == 0.0  # the first step copies G
    assert ema_decay(0.999, EMA_WARMUP // 2) == pytest.approx(0.4995)
    assert ema_decay(0.999, EMA_WARMUP) == ema_decay(0.999, 3000) == 0.999  # then exactly the config's decay


def test_outputs_never_go_through_a_planted_link(tmp_path):
    """A symlinked output (samples.png pointing outside the run folder) is refused, the outside file
    untouched; a link planted at the temporary name an older writer used is never followed."""
    import os

    from ecgmodels.atomic import UnsafeTarget, write_text

    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    run = tmp_path / "run"
    run.mkdir()
    (run / "samples.png").symlink_to(outside)
    with pytest.raises(UnsafeTarget, match="symbolic link"):
        write_text(run / "samples.png", "html")
    (run / f".report.html.tmp-{os.getpid()}").symlink_to(outside)
    write_text(run / "report.html", "<html>")
    assert outside.read_text() == "keep me" and (run / "report.html").read_text() == "<html>"
    assert sorted(p.name for p in run.iterdir()) == [f".report.html.tmp-{os.getpid()}", "report.html", "samples.png"]
