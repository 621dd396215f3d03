"""Every preprocessing parameter of the window dataset, with its default, in one frozen dataclass.

All of these fields enter the cache key, so changing any one builds a new cache entry.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .ludb import AMPLITUDES, LEADS


@dataclass(frozen=True)
class DatasetConfig:
    """How raw LUDB records become scaled beat windows.

    Defaults follow the seed (0.8 s beats at 500 Hz, R peak near index 150) with its hand cleaning
    replaced by the automatic rejection rules below.
    """

    # Each field's `help` is its --help text in every CLI (datasets.options.add_dataset_args).
    leads: tuple[str, ...] = field(default=("ii",), metadata={"help": "lead name, comma-separated list, or 'all'; "
                                   "every window holds all of them, cut at one R position"})
    window: int = field(default=400, metadata={"help": "samples per window (0.8 s at 500 Hz)"})
    r_index: int = field(default=150, metadata={"help": "sample index of the R peak inside a window"})
    amplitude: str = field(default="mv", metadata={"help": "how samples become millivolts: 'mv', LUDB's raw counts "
                           "x 0.001 (1 count = 1 uV: true millivolts, comparable across records and leads); "
                           "'ludb-header', LUDB's header gains, which scale every lead of every record to 1 mV "
                           "peak to peak (the project's units before true units; exports made then record it)",
                           "choices": AMPLITUDES})
    fs: int = field(default=500, metadata={"help": "required sampling rate in Hz; records at another rate are skipped"})
    highpass_hz: float | None = field(default=0.5, metadata={"help": "zero-phase baseline-wander high-pass cut-off "
                                                             "in Hz; 0 turns it off"})
    # Rejection of noisy or atypical beats (counted per reason in the dataset's metadata):
    min_ptp_mv: float = field(default=0.15, metadata={"help": "reject flat beats: peak-to-peak amplitude below "
                                                      "this (mV)"})
    max_abs_mv: float = field(default=6.0, metadata={"help": "reject artefacts: any |sample| above this after "
                                                     "filtering (mV)"})
    max_flat_run: int = field(default=12, metadata={"help": "reject clipped beats: this many identical consecutive "
                                                    "raw samples on the lead's min/max rail"})
    min_corr: float = field(default=0.8, metadata={"help": "reject atypical beats: Pearson correlation with the "
                                                   "record's median beat below this"})
    # Split by record (fractions of records, not of beats):
    split: tuple[float, float, float] = field(default=(0.8, 0.1, 0.1), metadata={
        "help": "train,val,test fractions of records (by record: no patient on two sides)"})
    split_seed: int = field(default=0, metadata={"help": "seed of the record split"})
    stratify: bool = field(default=True, metadata={"help": "keep each rhythm's share similar in train/val/test"})

    def __post_init__(self) -> None:
        bad = [lead for lead in self.leads if lead not in LEADS]
        if not self.leads or bad:
            raise ValueError(f"unknown lead(s) {bad or '(none given)'}; choose from {', '.join(LEADS)} or 'all'")
        if self.amplitude not in AMPLITUDES:
            raise ValueError(f"amplitude={self.amplitude!r}: choose from {', '.join(AMPLITUDES)}")
        if self.window < 16:
            raise ValueError(f"window={self.window} is too short; use at least 16 samples (default 400)")
        if not 0 <= self.r_index < self.window:
            raise ValueError(f"r_index={self.r_index} must lie inside the window [0, {self.window})")
        if self.highpass_hz is not None and not 0 < self.highpass_hz < self.fs / 2:
            raise ValueError(f"highpass_hz={self.highpass_hz} must lie in (0, {self.fs / 2}) Hz, or be None")
        # every part in (0, 1): a search needs validation beats to choose by and test beats to report on
        if len(self.split) != 3 or not all(0 < f < 1 for f in self.split) or abs(sum(self.split) - 1) > 1e-6:
            raise ValueError(f"split={','.join(f'{f:g}' for f in self.split)}: give three fractions (train, val, test), "
                             "each above 0 and below 1, summing to 1, e.g. 0.8,0.1,0.1")
        if not -1 <= self.min_corr <= 1:
            raise ValueError(f"min_corr={self.min_corr} must lie in [-1, 1]")

    @classmethod
    def from_dict(cls, d: dict) -> "DatasetConfig":
        """Build from a plain dict (e.g. JSON); unknown keys fail, lists become tuples."""
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        # A config recorded before `amplitude` existed was cut in LUDB's header units: say so, so that an
        # old export is scored on the beats it was trained on, not on true millivolts.
        return cls(**({"amplitude": LEGACY_AMPLITUDE} | d))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


LEGACY_AMPLITUDE = "ludb-header"


def parse_leads(text: str) -> tuple[str, ...]:
    """'ii' -> ('ii',); 'ii,v5' -> ('ii', 'v5'); 'all' -> the 12 leads. Case-insensitive."""
    text = text.strip().lower()
    if text == "all":
        return LEADS
    leads = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [lead for lead in leads if lead not in LEADS]
    if bad or not leads:
        raise ValueError(f"unknown lead(s) {bad or text!r}; choose from {', '.join(LEADS)} or 'all'")
    return leads
