"""The generator and discriminator networks, built from a `GanConfig`.

Shapes follow the seed (TensorFlow/Keras), rebuilt in PyTorch: Keras 'same' padding with an even
kernel pads one more sample on the right (done here with an explicit pad, ~20 % faster on CPU than
`padding="same"`, which copies the input for even kernels), and Keras UpSampling1D repeats samples,
i.e. nearest-neighbour upsampling (`g_upsample='linear'` interpolates instead).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .config import GanConfig


def same_conv(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """Conv1d with Keras 'same' padding: (k-1)//2 zeros on the left, the rest on the right."""
    left = (kernel - 1) // 2
    return nn.Sequential(nn.ConstantPad1d((left, kernel - 1 - left), 0.0), nn.Conv1d(c_in, c_out, kernel))


def _upsample_after(depth: int, ups: int) -> set[int]:
    """Indices of the convolutions followed by a x2 upsampling, spread evenly over `depth`
    (the seed: 4 convolutions, 2 upsamplings, after the 2nd and the 4th)."""
    return {round((j + 1) * depth / ups) - 1 for j in range(ups)} if ups else set()


class Generator(nn.Module):
    """Latent noise [batch, latent_len, latent_channels] ~ N(0, 1) -> beats [batch, leads, window] in [-1, 1]."""

    def __init__(self, cfg: GanConfig):
        super().__init__()
        self.latent_shape = (cfg.latent_len, cfg.latent_channels)
        self.position = cfg.g_position
        self.lstm = nn.LSTM(cfg.latent_channels + int(cfg.g_position), cfg.g_lstm_units, num_layers=cfg.g_lstm_layers,
                            batch_first=True, bidirectional=cfg.g_bidirectional)
        width = cfg.g_lstm_units * (2 if cfg.g_bidirectional else 1)
        ups = _upsample_after(len(cfg.g_channels), cfg.upsamplings)
        layers: list[nn.Module] = []
        for i, ch in enumerate(cfg.g_channels):
            layers += [same_conv(width, ch, cfg.g_kernel), nn.LeakyReLU(cfg.g_slope)]
            if i in ups:
                layers.append(nn.Upsample(scale_factor=2, mode=cfg.g_upsample))
            width = ch
        layers += [same_conv(width, cfg.leads, cfg.g_kernel), nn.Tanh()]
        self.convs = nn.Sequential(*layers)
        if cfg.g_mean_beat:  # set by train() from the training windows; saved with the weights
            self.register_buffer("mean_beat", torch.zeros(cfg.leads, cfg.window))
        else:
            self.mean_beat = None
        # From the whole latent, not the LSTM: its time-averaged output hardly varies between beats at
        # the start, and moment matching only widens spread that is already there (bench/RESULTS.md).
        self.pc_head = nn.Linear(cfg.latent_len * cfg.latent_channels, cfg.g_pca) if cfg.g_pca else None
        if cfg.g_pca:  # rows: principal directions times their sd (set by train(), like mean_beat)
            self.register_buffer("pcs", torch.zeros(cfg.g_pca, cfg.leads * cfg.window))

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Latent noise `z` -> beats. `condition` (labels, [batch, ...]) is where a conditional generator
        takes what to draw; every generator so far is unconditional and refuses one."""
        if condition is not None:
            raise ValueError("this generator is unconditional: it takes no condition (labels)")
        mix = self.pc_head(z.flatten(1)) @ self.pcs if self.pc_head is not None else None
        if self.position:
            pos = torch.linspace(-1.0, 1.0, z.shape[1], device=z.device, dtype=z.dtype)
            z = torch.cat([z, pos.view(1, -1, 1).expand(z.shape[0], -1, 1)], dim=2)
        h, _ = self.lstm(z)  # [batch, latent_len, width]
        out = self.convs(h.transpose(1, 2))
        if mix is not None:
            out = out + mix.view_as(out)
        return out if self.mean_beat is None else out + self.mean_beat


class MinibatchStd(nn.Module):
    """StyleGAN's minibatch standard deviation, for 1-D features [batch, channels, length]: split the
    batch into groups of `group` beats, take each feature's standard deviation within the group,
    average it to one number per group, and append it as a constant extra channel. (A batch whose
    size the group does not divide is taken as one group.)"""

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, length = x.shape
        g = self.group if n % self.group == 0 else n
        y = x.reshape(g, n // g, c, length)  # beat i is in group i % (n // g), as in StyleGAN
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2))  # [n // g]
        return torch.cat([x, y.repeat(g).view(n, 1, 1).expand(n, 1, length)], dim=1)


class Discriminator(nn.Module):
    """Beats [batch, leads, window] -> one real/fake logit (or critic score) per beat, [batch]."""

    def __init__(self, cfg: GanConfig):
        super().__init__()
        norm = spectral_norm if cfg.d_spectral else (lambda m: m)
        layers: list[nn.Module] = []
        width, length = cfg.leads, cfg.window
        for i, ch in enumerate(cfg.d_channels):
            conv = same_conv(width, ch, cfg.d_kernel)
            conv[1] = norm(conv[1])
            layers += [conv, nn.LeakyReLU(cfg.d_slope)]
            if (i + 1) % cfg.d_pool_every == 0:
                layers.append(nn.MaxPool1d(2))
                length //= 2
            width = ch
        self.convs = nn.Sequential(*layers)
        self.mbstd = MinibatchStd(cfg.d_mbstd) if cfg.d_mbstd else None
        self.head = norm(nn.Linear((width + bool(cfg.d_mbstd)) * length, 1))

    def forward(self, x: torch.Tensor, features: bool = False):
        """Logits [batch]; with `features`, also each beat's convolutional features [batch, channels *
        length] (for feature matching)."""
        h = self.convs(x)
        logit = self.head((self.mbstd(h) if self.mbstd is not None else h).flatten(1)).squeeze(1)
        return (logit, h.flatten(1)) if features else logit


def build(cfg: GanConfig) -> tuple[Generator, Discriminator]:
    """Fresh generator and discriminator for `cfg`, initialised from torch's current RNG."""
    return Generator(cfg), Discriminator(cfg)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def principal_directions(beats: torch.Tensor, k: int) -> torch.Tensor:
    """The top `k` principal directions of `beats` [n, ...] (flattened), each scaled by its standard
    deviation: [k, samples]. A standard normal coefficient on a row varies beats as much as real ones
    vary along it."""
    x = beats.flatten(1).double()
    _, s, vt = torch.linalg.svd(x - x.mean(dim=0), full_matrices=False)
    return (vt[:k] * (s[:k] / (len(x) - 1) ** 0.5)[:, None]).to(beats.dtype)


def sampler(generator: Generator, batch: int = 1024) -> Callable[..., np.ndarray]:
    """`fn(n, seed, condition=None) -> numpy [n, leads, window]` drawing from `generator` with seeded
    N(0, 1) noise (`condition`: labels per beat, for a conditional generator)."""

    def sample(n: int, seed: int, condition: np.ndarray | None = None) -> np.ndarray:
        if condition is not None:
            generator(torch.zeros(1, *generator.latent_shape), torch.as_tensor(condition[:1]))  # refuses it, or takes it
        dev = next(generator.parameters()).device
        g = torch.Generator(device="cpu").manual_seed(seed)
        z = torch.randn(n, *generator.latent_shape, generator=g)
        generator.eval()
        with torch.no_grad():
            out = [generator(z[i:i + batch].to(dev)).float().cpu() for i in range(0, n, batch)]
        return torch.cat(out).numpy()

    return sample
