"""Throughput of one trainer alone on a device against K trainers sharing it, as trials do with a
fractional `--gpus-per-trial 1/K` (Ray then simply runs K worker processes on the same GPU).

    python bench/device_sharing.py [--variant seed] [--device auto] [--trials 4] [--epochs 2]

Each trainer is a separate process training `--variant` on the LUDB lead-II training windows for
`--epochs` epochs with `ecgmodels.loop.train`. Prints the windows/s of the lone trainer (that is
the variant's training speed on the device), the combined windows/s of K at once, and the ratio
combined / alone: how much a search gains by packing K trials on one device. On a CPU machine the
K trainers share the cores instead (give each `--threads`), which answers the same question there.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def worker(args: argparse.Namespace) -> None:
    """One trainer: print {'windows': n, 'seconds': s} as JSON on the last line."""
    import torch

    import datasets
    from ecgmodels.config import variant
    from ecgmodels.loop import resolve_device, train

    torch.set_num_threads(args.threads)
    ds, _ = datasets.load_or_build(args.data_dir, datasets.DatasetConfig())
    windows = ds.part("train")
    cfg = variant(args.variant, epochs=args.epochs, collapse_patience=0, window=windows.shape[-1])
    dev = resolve_device(args.device)
    train(cfg.replace(epochs=1), windows[: cfg.batch_size * 2], dev)  # warm-up: CUDA context, kernels
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    res = train(cfg, windows, dev)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    n = res.epochs * (len(windows) // cfg.batch_size) * cfg.batch_size  # train() uses full batches only
    print(json.dumps({"windows": n, "seconds": seconds}), flush=True)


def run_group(args: argparse.Namespace, k: int) -> tuple[float, float]:
    """Start k trainers at once; return (combined windows/s, mean windows/s per trainer)."""
    cmd = [sys.executable, __file__, "--worker", "--variant", args.variant, "--device", args.device,
           "--epochs", str(args.epochs), "--threads", str(args.threads)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(k)]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"a trainer failed (exit {[p.returncode for p in procs]}); run with --worker to see why")
    results = [json.loads(o.strip().splitlines()[-1]) for o in outs]
    # Combined rate over the span in which all k trained: total windows / the slowest trainer's time.
    combined = sum(r["windows"] for r in results) / max(r["seconds"] for r in results)
    return combined, sum(r["windows"] / r["seconds"] for r in results) / k


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", default="seed", help="model variant (default %(default)s)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda (default %(default)s)")
    p.add_argument("--trials", type=int, default=4, help="trainers sharing the device (default %(default)s)")
    p.add_argument("--epochs", type=int, default=2, help="epochs each trainer times (default %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per trainer (default %(default)s)")
    p.add_argument("--data-dir", help="LUDB folder (default: LUDB_DIR or the user cache)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() and args.device != "cpu" else "no GPU"
    print(f"variant {args.variant}, device {args.device} ({gpu}), {args.epochs} epochs per trainer; "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, {platform.machine()}")
    alone, _ = run_group(args, 1)
    print(f"1 trainer alone:        {alone:8.0f} windows/s")
    combined, each = run_group(args, args.trials)
    print(f"{args.trials} trainers at once:    {combined:8.0f} windows/s combined ({each:.0f} each)")
    print(f"ratio combined/alone: {combined / alone:.2f} (ideal {args.trials}; 1.0 = sharing gains nothing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
