"""ecg-search's LUDB beat-window dataset: raw LUDB records -> cached, scaled single-lead beats.

Not the Hugging Face ``datasets`` package, which shares this name; `ECG_SEARCH_DATASETS` marks
this one so callers can tell (see `search` and `ecgmodels.data`).
"""
from .cache import CacheError, WindowDataset, load_or_build
from .config import DatasetConfig, parse_leads
from .ludb import EXIT_DATA, LEADS, LudbError, locate, read_metadata
from .split import SPLITS

ECG_SEARCH_DATASETS = True

__all__ = [
    "CacheError",
    "EXIT_DATA",
    "DatasetConfig",
    "LEADS",
    "LudbError",
    "SPLITS",
    "WindowDataset",
    "load_or_build",
    "locate",
    "parse_leads",
    "read_metadata",
]
