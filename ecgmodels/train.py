"""Train one LSTM-GAN: `train(config, windows, device, callback)`. No Ray here; the search wraps it.

The whole training array lives on the device as one tensor and batches are index slices of it (no
DataLoader). One epoch is one pass of the training windows through the discriminator; the
generator steps once every `d_steps` discriminator steps. Every random draw (weights, batch order,
noise) comes from seeds derived from `config.seed`, and a checkpoint carries the RNG state, so a
resumed run continues exactly where it stopped.
"""
from __future__ import annotations

import copy
import enum
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .atomic import replace_file
from .config import HOT_FIELDS, GanConfig
from .metrics import median_distance
from .models import Discriminator, Generator, build

CHECKPOINT_FORMAT = 1
CHECKPOINT_KIND = "ecg-search/train-checkpoint"


class Outcome(str, enum.Enum):
    """How a run ended. Only COMPLETED ran every epoch; the others stopped early, on purpose."""

    COMPLETED = "completed"
    DIVERGED = "diverged"  # a loss became NaN or infinite
    COLLAPSED = "collapsed"  # generated beats stopped varying (mode collapse)
    STOPPED = "stopped"  # the callback asked to stop


class CheckpointError(RuntimeError):
    """A checkpoint is unreadable, tampered with, or of another format; the message names the file."""


@dataclass
class EpochReport:
    """What the callback receives after each epoch. `checkpoint()` builds a plain, loadable dict."""

    epoch: int  # epochs done so far (1-based)
    metrics: dict
    generator: Generator  # the one to sample from: the EMA copy when `g_ema` is on
    checkpoint: Callable[[], dict]


@dataclass
class TrainResult:
    outcome: Outcome
    epochs: int  # epochs completed
    history: list[dict]
    generator: Generator  # the one to sample from (EMA weights when `g_ema` is on)
    discriminator: Discriminator
    config: GanConfig
    message: str = ""


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cpu'/'cuda'/'cuda:1' taken as given (checked)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA GPU; use --device cpu")
    return dev


def check_windows(windows: np.ndarray, cfg: GanConfig) -> np.ndarray:
    """Validate training windows: float [n >= 2, leads, window], finite, within [-1, 1]."""
    w = np.asarray(windows)
    if w.ndim != 3 or w.shape[1:] != (cfg.leads, cfg.window):
        raise ValueError(f"windows have shape {w.shape}; expected [n, {cfg.leads}, {cfg.window}] "
                         "(beats, leads, samples) to match the config's leads and window")
    if len(w) < 2:
        raise ValueError(f"need at least 2 training windows, got {len(w)}")
    if not np.issubdtype(w.dtype, np.floating) or not np.isfinite(w).all():
        raise ValueError("windows must be finite floating-point values (found NaN/inf or a non-float dtype)")
    peak = float(np.abs(w).max())
    if peak > 1.0 + 1e-6:
        raise ValueError(f"windows reach {peak:.3g}, outside [-1, 1]: scale them (the dataset's windows are) "
                         "since the generator ends in tanh")
    return w


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------


def d_loss_fn(cfg: GanConfig, D: Discriminator, real: torch.Tensor, fake: torch.Tensor,
              gen: torch.Generator) -> torch.Tensor:
    if cfg.r1_weight:
        real = real.detach().requires_grad_(True)
    r, f = D(real), D(fake)
    if cfg.loss == "bce":  # the seed's (TF DCGAN tutorial): real -> 1, fake -> 0, summed
        loss = F.binary_cross_entropy_with_logits(r, torch.ones_like(r)) + \
            F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
    elif cfg.loss == "hinge":
        loss = F.relu(1 - r).mean() + F.relu(1 + f).mean()
    else:  # wgan-gp: critic distance plus the gradient penalty on points between real and fake
        alpha = torch.rand(len(real), 1, 1, generator=gen, device=real.device)
        mix = (alpha * real.detach() + (1 - alpha) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(D(mix).sum(), mix, create_graph=True)
        gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        loss = f.mean() - r.mean() + cfg.gp_weight * gp
    if cfg.r1_weight:  # zero-centred: D's slope at the real beats, pushed to 0
        grad, = torch.autograd.grad(r.sum(), real, create_graph=True)
        loss = loss + cfg.r1_weight / 2 * grad.flatten(1).pow(2).sum(dim=1).mean()
    return loss


def mmd2_batch(x: torch.Tensor, y: torch.Tensor, bandwidths: torch.Tensor) -> torch.Tensor:
    """Biased (V-statistic) MMD^2 between two batches [n, ...] with a sum of RBF kernels of the given
    bandwidths: smooth and never negative, so it is a usable loss term."""
    xy = torch.cat([x.flatten(1), y.flatten(1)]).float()
    d2 = torch.cdist(xy, xy).pow(2)
    k = torch.exp(-d2[None] / (2 * bandwidths.view(-1, 1, 1) ** 2)).sum(dim=0)
    n = len(x)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def principal_directions(beats: torch.Tensor, k: int) -> torch.Tensor:
    """The top `k` principal directions of `beats` [n, ...] (flattened), each scaled by its standard
    deviation: [k, samples]. A standard normal coefficient on a row varies beats as much as real ones
    vary along it."""
    x = beats.flatten(1).double()
    _, s, vt = torch.linalg.svd(x - x.mean(dim=0), full_matrices=False)
    return (vt[:k] * (s[:k] / (len(x) - 1) ** 0.5)[:, None]).to(beats.dtype)


def g_loss_fn(cfg: GanConfig, D: Discriminator, fake: torch.Tensor, real: torch.Tensor, z: torch.Tensor,
              bandwidths: torch.Tensor) -> torch.Tensor:
    """G's adversarial loss plus whichever anti-collapse terms `cfg` turns on (all computed against
    the current batch of real *training* beats)."""
    if cfg.fm_weight:
        d_fake, f_fake = D(fake, features=True)
    else:
        d_fake = D(fake)
    loss = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake)) if cfg.loss == "bce" \
        else -d_fake.mean()
    if cfg.fm_weight:
        with torch.no_grad():
            _, f_real = D(real, features=True)
        loss = loss + cfg.fm_weight * (f_real.mean(dim=0) - f_fake.mean(dim=0)).pow(2).mean()
    if cfg.mmd_weight:
        loss = loss + cfg.mmd_weight * mmd2_batch(fake, real, bandwidths)
    if cfg.ms_weight:
        half = len(fake) // 2
        lz = (fake[:half] - fake[half:2 * half]).abs().mean() / (z[:half] - z[half:2 * half]).abs().mean()
        loss = loss + cfg.ms_weight / (lz + 1e-5)
    return loss


EMA_WARMUP = 100  # G steps over which the EMA decay ramps from 0 to GanConfig.g_ema


def ema_decay(g_ema: float, step: int) -> float:
    """The EMA decay at G step `step` (0-based): g_ema * step / EMA_WARMUP for the first EMA_WARMUP
    steps, so the random initial weights fade out at once, then exactly `g_ema`. (A TF-style
    (1+t)/(10+t) cap reached 0.999 only after ~9,000 steps, more than a search trial makes.)"""
    return g_ema * min(1.0, step / EMA_WARMUP)


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------


def save_checkpoint(ckpt: dict, path: str | os.PathLike) -> Path:
    """Write a checkpoint dict atomically (temp file, then rename)."""
    return replace_file(path, lambda tmp: torch.save(ckpt, tmp))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a training checkpoint with `weights_only=True` (no code runs) and check its format."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path} is not a loadable plain checkpoint (tampered, truncated, or it holds "
                              f"code, which weights_only loading refuses): {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"{path} is not an ecg-search training checkpoint")
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} has checkpoint format {ckpt.get('format')}; this version reads "
                              f"format {CHECKPOINT_FORMAT}")
    return ckpt


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------


def train(config: GanConfig, windows: np.ndarray, device: str | torch.device = "cpu",
          callback: Callable[[EpochReport], bool | None] | None = None, resume: dict | None = None) -> TrainResult:
    """Train `config` on `windows` [n, leads, window] in [-1, 1] and return a TrainResult.

    `callback(report)` runs after every epoch; returning True (exactly) stops the run (Outcome.STOPPED).
    `resume` is a checkpoint dict (from `report.checkpoint()` or `load_checkpoint`) to continue from;
    its config may differ from `config` in HOT_FIELDS only (learning rates, loss weights: what
    Population Based Training perturbs), and the run goes on with `config`'s values.
    Divergence (NaN/inf loss) and mode collapse end the run with that Outcome, not an exception.
    """
    cfg = config
    dev = resolve_device(device) if isinstance(device, str) else device
    data = torch.tensor(check_windows(windows, cfg), dtype=torch.float32, device=dev)  # one copy, on the device
    if resume is not None:
        old = GanConfig.from_dict(resume["config"]).to_dict()
        changed = sorted(k for k, v in cfg.to_dict().items() if old[k] != v and k not in HOT_FIELDS)
        if changed:
            raise CheckpointError(f"the checkpoint was written for a different config ({', '.join(changed)} differ); "
                                  f"resume with the same config (only {', '.join(HOT_FIELDS)} may change)")

    torch.manual_seed(cfg.seed)  # weight initialisation
    G, D = build(cfg)
    G.to(dev)
    D.to(dev)
    if cfg.g_mean_beat:  # a checkpoint being resumed restores it below, with the weights
        G.mean_beat.copy_(data.mean(dim=0))
    if cfg.g_pca:
        if cfg.g_pca >= len(data):
            raise ValueError(f"g_pca={cfg.g_pca} principal components need more than {cfg.g_pca} training windows "
                             f"(there are {len(data)}); use a smaller g_pca")
        G.pcs.copy_(principal_directions(data, cfg.g_pca))
    # The generator that samples: an EMA copy of G's weights when g_ema > 0, else G itself.
    G_out = copy.deepcopy(G).requires_grad_(False) if cfg.g_ema else G
    ema_steps = 0
    g_opt = torch.optim.Adam(G.parameters(), lr=cfg.g_lr, betas=(cfg.g_beta1, cfg.g_beta2))
    d_opt = torch.optim.Adam(D.parameters(), lr=cfg.d_lr, betas=(cfg.d_beta1, cfg.d_beta2))
    gen = torch.Generator(device=dev).manual_seed(cfg.seed + 1)  # batch order and noise
    probe_gen = torch.Generator(device=dev).manual_seed(cfg.seed + 2)  # fixed noise for the collapse check
    latent = (cfg.latent_len, cfg.latent_channels)
    probe = torch.randn(64, *latent, generator=probe_gen, device=dev)
    real_spread = data[: min(len(data), 512)].std(dim=0).mean()
    # The moment-matching kernel's bandwidths, from training beats only (the same 512 every run).
    bandwidths = torch.tensor(cfg.mmd_scales, device=dev) * (
        median_distance(data[:512].cpu().numpy()) if cfg.mmd_weight else 1.0)

    start, history, streak = 0, [], 0
    if resume is not None:
        # With EMA on, a checkpoint holds both sets of weights (see checkpoint() below).
        G.load_state_dict(resume["generator_train"] if cfg.g_ema else resume["generator"])
        G_out.load_state_dict(resume["generator"])
        ema_steps = int(resume["ema_steps"]) if cfg.g_ema else 0
        D.load_state_dict(resume["discriminator"])
        g_opt.load_state_dict(resume["g_opt"])
        d_opt.load_state_dict(resume["d_opt"])
        for opt, lr in ((g_opt, cfg.g_lr), (d_opt, cfg.d_lr)):  # a perturbed learning rate takes effect
            for group in opt.param_groups:
                group["lr"] = lr
        gen.set_state(resume["rng"].to(gen.get_state().device))
        start, history, streak = int(resume["epoch"]), list(resume["history"]), int(resume["collapse_streak"])

    def checkpoint(epoch: int) -> dict:
        # 'generator' is always the weights to sample from (the EMA ones when on): exports read it.
        extra = {"generator_train": G.state_dict(), "ema_steps": ema_steps} if cfg.g_ema else {}
        return {
            "kind": CHECKPOINT_KIND, "format": CHECKPOINT_FORMAT, "config": cfg.to_dict(), "epoch": epoch,
            "generator": G_out.state_dict(), "discriminator": D.state_dict(), **extra,
            "g_opt": g_opt.state_dict(), "d_opt": d_opt.state_dict(),
            "rng": gen.get_state(), "history": list(history), "collapse_streak": streak,
            "torch": str(torch.__version__),
        }

    n = len(data)
    bs = min(cfg.batch_size, n)
    steps = n // bs  # full batches only: a ragged last batch would change the loss scale
    amp = cfg.amp and dev.type == "cuda"
    autocast = torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp)

    def result(outcome: Outcome, epochs: int, message: str = "") -> TrainResult:
        return TrainResult(outcome, epochs, history, G_out, D, cfg, message)

    for epoch in range(start, cfg.epochs):
        t0 = time.perf_counter()
        G.train()
        D.train()
        perm = torch.randperm(n, generator=gen, device=dev)
        d_sum = torch.zeros((), device=dev)
        g_sum = torch.zeros((), device=dev)
        g_steps = 0
        for b in range(steps):
            real = data[perm[b * bs:(b + 1) * bs]]
            g_turn = (b + 1) % cfg.d_steps == 0
            z = torch.randn(bs, *latent, generator=gen, device=dev)
            with autocast:
                with torch.set_grad_enabled(g_turn):  # keep G's graph only when G steps next
                    fake = G(z)
                d_loss = d_loss_fn(cfg, D, real, fake.detach(), gen)
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
            d_sum += d_loss.detach()
            if g_turn:
                with autocast:
                    g_loss = g_loss_fn(cfg, D, fake, real, z, bandwidths)
                g_opt.zero_grad(set_to_none=True)
                g_loss.backward()
                g_opt.step()
                g_sum += g_loss.detach()
                g_steps += 1
                if cfg.g_ema:
                    decay = ema_decay(cfg.g_ema, ema_steps)
                    ema_steps += 1
                    with torch.no_grad():
                        for avg, now in zip(G_out.parameters(), G.parameters()):
                            avg.lerp_(now, 1.0 - decay)

        d_mean, g_mean = d_sum.item() / steps, g_sum.item() / max(g_steps, 1)  # one sync per epoch
        if not (np.isfinite(d_mean) and np.isfinite(g_mean)):
            return result(Outcome.DIVERGED, epoch, f"loss became non-finite in epoch {epoch + 1} "
                          f"(d_loss={d_mean}, g_loss={g_mean})")
        G.eval()
        G_out.eval()
        with torch.no_grad():  # the generator that is evaluated and exported (the EMA copy when on)
            diversity = float(G_out(probe).float().std(dim=0).mean() / real_spread)
        streak = streak + 1 if diversity < cfg.collapse_ratio else 0
        seconds = time.perf_counter() - t0
        metrics = {"epoch": epoch + 1, "d_loss": d_mean, "g_loss": g_mean, "diversity": diversity,
                   "seconds": seconds, "windows_per_s": steps * bs / seconds}
        history.append(metrics)
        # `is True`: a callback that happens to return something else (a metrics dict) must not stop the run
        if callback is not None and callback(EpochReport(epoch + 1, metrics, G_out, lambda e=epoch + 1: checkpoint(e))) is True:
            return result(Outcome.STOPPED, epoch + 1, "stopped by the callback")
        if cfg.collapse_patience and streak >= cfg.collapse_patience:
            return result(Outcome.COLLAPSED, epoch + 1, f"generated beats varied less than {cfg.collapse_ratio} "
                          f"of the real spread for {streak} epochs (mode collapse)")
    return result(Outcome.COMPLETED, cfg.epochs)


def networks(ckpt: dict) -> tuple[GanConfig, Generator, Discriminator]:
    """Rebuild (config, G in eval mode, D) from a training checkpoint dict; G gets the sampling weights."""
    cfg = GanConfig.from_dict(ckpt["config"])
    G, D = build(cfg)
    G.load_state_dict(ckpt["generator"])
    D.load_state_dict(ckpt["discriminator"])
    return cfg, G.eval(), D


def sampler(generator: Generator, batch: int = 1024) -> Callable[[int, int], np.ndarray]:
    """`fn(n, seed) -> numpy [n, leads, window]` drawing from `generator` with seeded N(0, 1) noise."""

    def sample(n: int, seed: int) -> np.ndarray:
        dev = next(generator.parameters()).device
        g = torch.Generator(device="cpu").manual_seed(seed)
        z = torch.randn(n, *generator.latent_shape, generator=g)
        generator.eval()
        with torch.no_grad():
            out = [generator(z[i:i + batch].to(dev)).float().cpu() for i in range(0, n, batch)]
        return torch.cat(out).numpy()

    return sample


if __name__ == "__main__":  # `python -m ecgmodels.train`: the CLI lives in ecgmodels.fit
    import sys

    from ecgmodels.fit import main

    sys.exit(main())
