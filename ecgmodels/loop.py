"""The training loop: `train(config, windows, device, callback)` trains one LSTM-GAN. No Ray here;
the search wraps it.

The whole training array lives on the device as one tensor and batches are index slices of it (no
DataLoader). One epoch is one pass of the training windows through the discriminator; the
generator steps once every `d_steps` discriminator steps. Every random draw (weights, batch order,
noise) comes from seeds derived from `config.seed`, and a checkpoint carries the RNG state, so a
resumed run continues exactly where it stopped.
"""
from __future__ import annotations

import copy
import enum
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_KIND, CheckpointError
from .config import HOT_FIELDS, GanConfig
from .ema import ema_decay, ema_update
from .losses import d_loss_fn, g_loss_fn
from .metrics import median_distance
from .models import Discriminator, Generator, build, principal_directions


class Outcome(str, enum.Enum):
    """How a run ended. Only COMPLETED ran every epoch; the others stopped early, on purpose."""

    COMPLETED = "completed"
    DIVERGED = "diverged"  # a loss became NaN or infinite
    COLLAPSED = "collapsed"  # generated beats stopped varying (mode collapse)
    STOPPED = "stopped"  # the callback asked to stop


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


def train(config: GanConfig, windows: np.ndarray, device: str | torch.device = "cpu",
          callback: Callable[[EpochReport], bool | None] | None = None, resume: dict | None = None) -> TrainResult:
    """Train `config` on `windows` [n, leads, window] in [-1, 1] and return a TrainResult.

    `callback(report)` runs after every epoch; returning True (exactly) stops the run (Outcome.STOPPED).
    `resume` is a checkpoint dict (from `report.checkpoint()` or `checkpoint.load_training_checkpoint`) to continue from;
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
            "moment_matching_bandwidths": bandwidths.tolist(),
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
                    ema_update(G_out, G, ema_decay(cfg.g_ema, ema_steps))
                    ema_steps += 1

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
