"""ecg-search's LUDB beat-window dataset: raw LUDB records -> cached, scaled single-lead beats.

Not the Hugging Face ``datasets`` package, which shares this name; `ECG_SEARCH_DATASETS` marks
this one so callers can tell (see `search` and `ecgmodels.train`).
"""
from .cache import CacheError, WindowDataset, load_or_build
from .config import DatasetConfig, parse_leads
from .ludb import LEADS, LudbError, locate, read_metadata
from .split import SPLITS

ECG_SEARCH_DATASETS = True
# Exit status of every CLI when the data is missing or unusable (LudbError, CacheError): distinct from
# 2 (bad options) so a script can tell "fetch LUDB / point LUDB_DIR at it" from "fix the command".
EXIT_DATA = 4

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
