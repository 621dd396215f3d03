"""What the mean-beat offset (`GanConfig.g_mean_beat`) buys: the generator alone, trained on moment
matching only (no discriminator), with and without the offset, side by side.

Prints the batch MMD² (the training loss term, `ecgmodels.losses.moment_matching_mmd2`, real batches of 256)
every 50 steps, and the first step at which it falls below twice its value between two real
batches. Without the offset G sits on a plateau drawing noise before it finds the beat's shape.

    LUDB_DIR=../shared/ludb-1.0.1 python bench/mean_beat.py --steps 1500
"""
from __future__ import annotations

import argparse
import sys

import torch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--every", type=int, default=50)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    import datasets
    from ecgmodels.config import GanConfig
    from ecgmodels.metrics import median_distance
    from ecgmodels.models import build
    from ecgmodels.losses import moment_matching_mmd2 as mmd2_batch

    sys.path.insert(0, "bench")
    from anti_collapse import BASE  # the ablation's config (the earlier reference's best)

    ds, _ = datasets.load_or_build(None, datasets.DatasetConfig())
    data = torch.tensor(ds.part("train"))
    cfg = GanConfig(**BASE, mmd_weight=1.0)
    bandwidths = torch.tensor(cfg.mmd_scales) * median_distance(data[:512].numpy())
    gen = torch.Generator().manual_seed(0)

    def real(n: int) -> torch.Tensor:
        return data[torch.randint(0, len(data), (n,), generator=gen)]

    with torch.no_grad():
        floor = sum(mmd2_batch(real(cfg.batch_size), real(256), bandwidths).item() for _ in range(50)) / 50
    print(f"batch MMD² between real batches ({cfg.batch_size} vs 256): {floor:.3f}; threshold {2 * floor:.3f}")
    curves = {}
    for offset in (False, True):
        torch.manual_seed(0)
        G, _ = build(cfg.replace(g_mean_beat=offset))
        if offset:
            G.mean_beat.copy_(data.mean(dim=0))
        opt = torch.optim.Adam(G.parameters(), lr=cfg.g_lr, betas=(cfg.g_beta1, cfg.g_beta2))
        curve, first = [], None
        for step in range(args.steps + 1):
            z = torch.randn(cfg.batch_size, *G.latent_shape, generator=gen)
            fake = G(z)
            loss = mmd2_batch(fake, real(256), bandwidths)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if first is None and loss.item() < 2 * floor:
                first = step
            if step % args.every == 0:
                curve.append(f"{loss.item():.2f}")
        curves[offset] = curve
        print(f"mean-beat offset {'on ' if offset else 'off'}: first step below the threshold: {first}")
    print(f"MMD² every {args.every} steps:")
    for offset, curve in curves.items():
        print(f"  offset {'on ' if offset else 'off'}: {' '.join(curve)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
