"""The window dataset, as ecgmodels' command lines get it: this project's `datasets` package (not a
namesake that shadows it) and the cached windows for parsed dataset options."""
from __future__ import annotations

import argparse
import sys


def require_datasets():
    """Import this project's `datasets` package, or exit with a clear message when another package of
    that name (Hugging Face's) shadows it on sys.path."""
    import datasets

    if not getattr(datasets, "ECG_SEARCH_DATASETS", False):
        raise SystemExit(f"error: 'import datasets' found {getattr(datasets, '__file__', datasets)}, not "
                         "ecg-search's dataset package (Hugging Face's has the same name). Run from the "
                         "repository root, or uninstall the other one (pip uninstall datasets).")
    return datasets


def load_windows(args: argparse.Namespace):
    """The cached window dataset for the CLI's dataset options (datasets is imported only here)."""
    datasets = require_datasets()
    from datasets.options import config_from_args

    ds, _ = datasets.load_or_build(args.data_dir, config_from_args(args), cache_dir=args.cache_dir,
                                   progress=sys.stderr.isatty())
    return ds
