"""An exponential moving average of G's weights (GanConfig.g_ema): the copy that samples and exports."""
from __future__ import annotations

import torch

EMA_WARMUP = 100  # G steps over which the EMA decay ramps from 0 to GanConfig.g_ema


def ema_decay(g_ema: float, step: int) -> float:
    """The EMA decay at G step `step` (0-based): g_ema * step / EMA_WARMUP for the first EMA_WARMUP
    steps, so the random initial weights fade out at once, then exactly `g_ema`. (A TF-style
    (1+t)/(10+t) cap reached 0.999 only after ~9,000 steps, more than a search trial makes.)"""
    return g_ema * min(1.0, step / EMA_WARMUP)


def ema_update(average: torch.nn.Module, current: torch.nn.Module, decay: float) -> None:
    """Move `average`'s parameters toward `current`'s: avg <- decay * avg + (1 - decay) * now."""
    with torch.no_grad():
        for avg, now in zip(average.parameters(), current.parameters()):
            avg.lerp_(now, 1.0 - decay)
