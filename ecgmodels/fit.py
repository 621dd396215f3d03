"""Train one config and keep its best epoch on validation: the one fit-and-select that the train
CLI (`python -m ecgmodels.train`), the search's seed reference and the benches share."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .best import BestEpoch, Validation
from .checkpoint import networks
from .config import GanConfig
from .loop import EpochReport, TrainResult, train
from .models import Discriminator, Generator, sampler


@dataclass
class Fitted:
    """A trained run and the epoch it keeps: `generator`/`discriminator` are that epoch's networks,
    `validation` its validation metrics (the population metrics, 'score', 'bar', 'rank')."""

    result: TrainResult
    generator: Generator
    discriminator: Discriminator
    epoch: int
    validation: dict
    seconds: float


def fit(cfg: GanConfig, windows: np.ndarray, validation: Validation, device: str | torch.device = "cpu", *,
        keep: str = "best", progress: Callable[[EpochReport, dict | None, BestEpoch | None], None] | None = None) -> Fitted:
    """Train `cfg` on `windows` and keep the best epoch on `validation` (ecgmodels.best), or the last
    (`keep='last'`). `progress(report, this epoch's validation metrics or None, the keeper or None)`
    runs after every epoch."""
    if keep not in ("best", "last"):
        raise ValueError(f"keep={keep!r}: 'best' or 'last'")
    best = BestEpoch(validation, cfg.seed) if keep == "best" else None

    def callback(rep: EpochReport) -> None:
        now = best.update(rep) if best is not None else None
        if progress is not None:
            progress(rep, now, best)

    t0 = time.perf_counter()
    result = train(cfg, windows, device, callback)
    seconds = time.perf_counter() - t0
    G, D, epoch = result.generator, result.discriminator, result.epochs
    if best is not None and best.checkpoint is not None:
        _, G, D = networks(best.checkpoint)
        epoch = best.metrics["epoch"]
    val = ({k: v for k, v in best.metrics.items() if k != "epoch"} if best is not None and best.metrics
           else validation.score(sampler(G)(validation.n, cfg.seed)))
    return Fitted(result, G, D, epoch, val, seconds)
