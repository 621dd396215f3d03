"""Sampling speed on CPU: beats/s of an exported `generator.pt2` (torch.export program) against the
eager PyTorch model it came from, same weights and noise, side by side. Prints the ratio.

    python bench/sampling.py [--variant small] [--batch 256] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecgmodels.config import variant  # noqa: E402
from ecgmodels.export import export, load_generator  # noqa: E402
from ecgmodels.models import build  # noqa: E402


def rate(fn, z, rounds: int) -> float:
    with torch.no_grad():
        fn(z)  # warm-up
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            fn(z)
            times.append(time.perf_counter() - t0)
    return len(z) / statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", default="small")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    cfg = variant(args.variant)
    torch.manual_seed(0)
    G, D = build(cfg)
    G.eval()
    meta = {"key": "bench", "fs": 500, "scale_mv": 1.0, "config": {"leads": ["ii"], "r_index": 150}}
    with tempfile.TemporaryDirectory() as d:
        export(Path(d) / "m", G, D, cfg, dataset=meta)
        program = load_generator(Path(d) / "m").module
    z = torch.randn(args.batch, cfg.latent_len, cfg.latent_channels)
    assert torch.allclose(program(z), G(z), atol=1e-5)
    eager, exported = rate(G, z, args.rounds), rate(program, z, args.rounds)
    print(f"variant {args.variant}, batch {args.batch}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"eager model     : {eager:9.0f} beats/s")
    print(f"generator.pt2   : {exported:9.0f} beats/s")
    print(f"ratio pt2/eager : {exported / eager:.3f}")


if __name__ == "__main__":
    main()
