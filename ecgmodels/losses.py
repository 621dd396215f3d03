"""The GAN's losses: D's (bce, hinge or WGAN-GP, plus optional R1) and G's (adversarial plus the
anti-collapse terms GanConfig turns on: feature matching, moment matching, mode seeking).

Moment matching is a biased MMD^2 between G's batch and a batch of real training beats, with a sum
of RBF kernels at `GanConfig.mmd_scales` x the median distance of the first 512 training beats (the
bandwidths a checkpoint records as `moment_matching_bandwidths`). It is a training term, not the
evaluation's MMD^2 (ecgmodels.metrics: a fixed kernel fitted per dataset), whose scale it does not share.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import GanConfig
from .models import Discriminator


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


def moment_matching_mmd2(x: torch.Tensor, y: torch.Tensor, bandwidths: torch.Tensor) -> torch.Tensor:
    """Biased (V-statistic) MMD^2 between two batches [n, ...] with a sum of RBF kernels of the given
    bandwidths: smooth and never negative, so it is a usable loss term."""
    xy = torch.cat([x.flatten(1), y.flatten(1)]).float()
    d2 = torch.cdist(xy, xy).pow(2)
    k = torch.exp(-d2[None] / (2 * bandwidths.view(-1, 1, 1) ** 2)).sum(dim=0)
    n = len(x)
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


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
        loss = loss + cfg.mmd_weight * moment_matching_mmd2(fake, real, bandwidths)
    if cfg.ms_weight:
        half = len(fake) // 2
        lz = (fake[:half] - fake[half:2 * half]).abs().mean() / (z[:half] - z[half:2 * half]).abs().mean()
        loss = loss + cfg.ms_weight / (lz + 1e-5)
    return loss
