"""Training checkpoints: plain dicts of tensors and primitives, written atomically, loaded with
`weights_only=True` (no code runs), and rebuilt into networks. (An export folder's checkpoint.pt is
read by `ecgmodels.export.load_export_networks`.)"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .atomic import replace_file
from .config import GanConfig
from .models import Discriminator, Generator, build

CHECKPOINT_FORMAT = 1
CHECKPOINT_KIND = "ecg-search/train-checkpoint"


class CheckpointError(RuntimeError):
    """A checkpoint is unreadable, tampered with, or of another format; the message names the file."""


def save_checkpoint(ckpt: dict, path: str | os.PathLike) -> Path:
    """Write a checkpoint dict atomically (temp file, then rename)."""
    return replace_file(path, lambda tmp: torch.save(ckpt, tmp))


def load_training_checkpoint(path: str | os.PathLike) -> dict:
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


def networks(ckpt: dict) -> tuple[GanConfig, Generator, Discriminator]:
    """Rebuild (config, G in eval mode, D) from a training checkpoint dict; G gets the sampling weights."""
    cfg = GanConfig.from_dict(ckpt["config"])
    G, D = build(cfg)
    G.load_state_dict(ckpt["generator"])
    D.load_state_dict(ckpt["discriminator"])
    return cfg, G.eval(), D
