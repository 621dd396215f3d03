"""`python -m datasets.build`: build or find the cached LUDB beat-window dataset and summarise it."""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from .cache import CacheError, WindowDataset, default_cache_dir, load_or_build
from .config import DatasetConfig, parse_leads
from .ludb import EXIT_DATA, LudbError


def add_dataset_args(p: argparse.ArgumentParser) -> None:
    """The dataset options, shared by every CLI that needs windows (so their defaults agree)."""
    g = p.add_argument_group("dataset")
    g.add_argument("--data-dir", help="LUDB folder (holds RECORDS, ludb.csv, data/). Default: $LUDB_DIR, "
                   "else the user cache, downloading LUDB there from PhysioNet if absent")
    g.add_argument("--cache-dir", help=f"where window datasets are cached (default {default_cache_dir()}; "
                   "$ECG_SEARCH_CACHE moves the whole project cache)")
    # One option per DatasetConfig field, its help and default from the dataclass: none can drift.
    for f in dataclasses.fields(DatasetConfig):
        flag, default = _FLAGS.get(f.name, "--" + f.name.replace("_", "-")), f.default
        text = f.metadata["help"]
        if f.type in ("bool", bool):
            g.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                           help=f"{text} (default: %(default)s)")
        elif "choices" in f.metadata:
            g.add_argument(flag, dest=f.name, choices=f.metadata["choices"], default=default,
                           help=f"{text} (default %(default)s)")
        elif f.name in ("leads", "split"):
            g.add_argument(flag, dest=f.name, default=",".join(f"{v:g}" if isinstance(v, float) else v for v in default),
                           help=f"{text} (default %(default)s)")
        else:
            kind = int if isinstance(default, int) else float
            g.add_argument(flag, dest=f.name, type=kind, default=0 if default is None else default,
                           help=f"{text} (default %(default)s)")


_FLAGS = {"leads": "--lead"}  # flag names that differ from the field's


def config_from_args(args: argparse.Namespace) -> DatasetConfig:
    """DatasetConfig from parsed `add_dataset_args` options; ValueError names a bad value."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(DatasetConfig)}
    values["leads"] = parse_leads(values["leads"])
    try:
        values["split"] = tuple(float(x) for x in values["split"].split(","))
    except ValueError:
        raise ValueError(f"--split {values['split']!r}: give three fractions, e.g. 0.8,0.1,0.1") from None
    values["highpass_hz"] = values["highpass_hz"] or None  # 0 turns the filter off
    return DatasetConfig(**values)


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
    if m["skipped"]:
        lines.append(f"  skipped      {len(m['skipped'])} record/lead pairs, e.g. {m['skipped'][0]}")
    if m["detector_used"]:
        lines.append(f"  detector     R peaks detected (no annotations) for {len(m['detector_used'])} record/lead pairs")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m datasets.build",
        description="Build (or find in the cache) the LUDB single-lead beat-window dataset every search "
        "trial trains on: 400-sample windows with the R peak at index 150, noisy beats rejected, "
        "split by record, scaled to [-1, 1].",
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
