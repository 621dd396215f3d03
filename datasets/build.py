"""`python -m datasets.build`: build or find the cached LUDB beat-window dataset and summarise it."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .cache import CacheError, WindowDataset, default_cache_dir, load_or_build
from .options import add_dataset_args, config_from_args
from .ludb import EXIT_DATA, LudbError


def summary(ds: WindowDataset, hit: bool, seconds: float, entry: Path) -> str:
    m = ds.meta
    lines = [
        f"LUDB beat windows, lead(s) {','.join(m['config']['leads'])}: "
        f"{'cache hit' if hit else 'built'} in {seconds:.2f} s",
        f"  records      {m['records']} listed, {m['records_used']} gave windows "
        f"(train/val/test records: {'/'.join(str(m['records_per_split'][s]) for s in ('train', 'val', 'test'))})",
        f"  windows      {m['windows']}: " + ", ".join(f"{s} {n}" for s, n in m["per_split"].items()),
        f"  rejected     {sum(m['rejected'].values())}: " + ", ".join(f"{r} {n}" for r, n in m["rejected"].items()),
        f"  scale        1.0 = {m['scale_mv']:.4f} mV (fitted on train); {m['clipped_to_unit']} val/test windows clipped to [-1, 1]",
        f"  cache        {entry}",
    ]
    if len(m["leads"]) > 1 and m["rejected_by_lead"]:
        worst = sorted(m["rejected_by_lead"].items(), key=lambda kv: -sum(kv[1].values()))[:4]
        lines.append("  by lead      " + ", ".join(f"{lead} {sum(c.values())}" for lead, c in worst)
                     + f" (first lead to fail; R peaks placed on lead {m['r_lead']})")
    lines.append("  labels       " + "; ".join(f"{k}: {len(v)}" for k, v in m["labels"].items() if isinstance(v, list))
                 + " classes; age, RR before/after per window")
    if m["skipped"]:
        lines.append(f"  skipped      {len(m['skipped'])} record/lead pairs, e.g. {m['skipped'][0]}")
    if m["detector_used"]:
        lines.append(f"  detector     R peaks detected (no annotations) for {len(m['detector_used'])} record/lead pairs")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, 
        prog="python -m datasets.build",
        description="Build (or find in the cache) the LUDB beat-window dataset every search trial trains "
        "on: 400-sample windows of the chosen leads with the R peak at index 150, in millivolts, noisy beats "
        "rejected, split by record, scaled to [-1, 1], with per-window labels (rhythm, axis, LVH, sex, age, RR).",
    )
    add_dataset_args(p)
    p.add_argument("--workers", type=int, default=None, help="processes for a build (default: all cores)")
    p.add_argument("--plot", metavar="PNG", help="also write a grid of example windows per split and rhythm")
    args = p.parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        p.error(str(exc))
    t0 = time.perf_counter()
    try:
        ds, hit = load_or_build(args.data_dir, cfg, cache_dir=args.cache_dir, workers=args.workers,
                                progress=sys.stderr.isatty())
    except (LudbError, CacheError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DATA
    seconds = time.perf_counter() - t0
    entry = Path(args.cache_dir or default_cache_dir()).expanduser() / f"windows-{ds.key}"
    print(summary(ds, hit, seconds, entry))
    if args.plot:
        from .plot import plot_examples

        print(f"  plot         {plot_examples(ds, args.plot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
