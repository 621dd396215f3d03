"""Training throughput of `ecgmodels.loop.train` against a minimal hand-written PyTorch GAN loop
on the same model, data and batch size, side by side in one run. Prints windows/s and the ratio.

    python bench/train_throughput.py [--variant small] [--epochs 3] [--rounds 3] [--data-dir D]

Target: ratio >= 0.95 on CPU. Runs alternate (ours, plain, ours, plain, ...) so a noisy neighbour
hurts both alike; the median of each is compared.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecgmodels.config import variant  # noqa: E402
from ecgmodels.models import build  # noqa: E402
from ecgmodels.loop import train  # noqa: E402


def plain_loop(cfg, windows: np.ndarray, epochs: int) -> float:
    """The textbook DCGAN loop (BCE, one D step per G step), windows/s."""
    torch.manual_seed(cfg.seed)
    G, D = build(cfg)
    g_opt = torch.optim.Adam(G.parameters(), lr=cfg.g_lr, betas=(cfg.g_beta1, cfg.g_beta2))
    d_opt = torch.optim.Adam(D.parameters(), lr=cfg.d_lr, betas=(cfg.d_beta1, cfg.d_beta2))
    data = torch.tensor(windows)
    n, bs = len(data), cfg.batch_size
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for b in range(n // bs):
            real = data[perm[b * bs:(b + 1) * bs]]
            fake = G(torch.randn(bs, cfg.latent_len, cfg.latent_channels))
            r, f = D(real), D(fake.detach())
            d_loss = F.binary_cross_entropy_with_logits(r, torch.ones_like(r)) + \
                F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
            d_opt.zero_grad()
            d_loss.backward()
            d_opt.step()
            out = D(fake)
            g_loss = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
            g_opt.zero_grad()
            g_loss.backward()
            g_opt.step()
    return epochs * (n // bs) * bs / (time.perf_counter() - t0)


def ours(cfg, windows: np.ndarray, epochs: int) -> float:
    t0 = time.perf_counter()
    res = train(cfg.replace(epochs=epochs, collapse_patience=0), windows, "cpu")
    assert res.epochs == epochs, res.message
    return epochs * (len(windows) // cfg.batch_size) * cfg.batch_size / (time.perf_counter() - t0)


def load(data_dir: str | None) -> tuple[np.ndarray, str]:
    try:
        import datasets

        ds, _ = datasets.load_or_build(data_dir)
        return ds.part("train"), f"LUDB lead II train split ({len(ds.part('train'))} windows)"
    except Exception as exc:  # no LUDB: synthetic beats of the same shape
        from datasets.synthetic import beat_signal

        rng = np.random.default_rng(0)
        t = np.arange(400) / 500
        w = np.stack([beat_signal(t, np.array([0.3]), rng.uniform(0.5, 1), rng) for _ in range(1024)])
        return (w / np.abs(w).max())[:, None, :].astype(np.float32), f"synthetic beats ({exc.__class__.__name__})"


def main() -> None:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", default="small")
    p.add_argument("--epochs", type=int, default=3, help="epochs per timed run")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of the two loops")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--data-dir")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    windows, what = load(args.data_dir)
    cfg = variant(args.variant, loss="bce", d_steps=1)
    ours(cfg, windows[:256], 1)  # warm-up: first-call allocations and kernel selection
    plain_loop(cfg, windows[:256], 1)
    a, b = [], []
    for _ in range(args.rounds):
        a.append(ours(cfg, windows, args.epochs))
        b.append(plain_loop(cfg, windows, args.epochs))
    ra, rb = statistics.median(a), statistics.median(b)
    print(f"data: {what}; variant {args.variant} (loss bce, batch {cfg.batch_size}); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"ecgmodels.train : {ra:8.1f} windows/s  (runs: {', '.join(f'{x:.0f}' for x in a)})")
    print(f"plain loop      : {rb:8.1f} windows/s  (runs: {', '.join(f'{x:.0f}' for x in b)})")
    print(f"ratio ours/plain: {ra / rb:.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
