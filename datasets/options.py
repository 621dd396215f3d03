"""The dataset's command-line options, one per DatasetConfig field, shared by every CLI that needs
windows (datasets.build, search.tune, ecgmodels.train, ...), so their names, defaults and help agree."""
from __future__ import annotations

import argparse
import dataclasses

from .cache import default_cache_dir
from .config import DatasetConfig, parse_leads


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
