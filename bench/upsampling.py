"""Nearest-neighbour vs linear upsampling on the previous reference's chosen generator's config.

The previous reference search's export (trial 14) met every quality target but coverage, and its
beats carried the ripple of the seed's nearest-neighbour upsampling (roughness 7x real beats'). This
trains its config (kept in bench/data/reference-trial14-config.json, from its model.json; the
current reference exports another trial) from scratch, not through PBT's takeovers, as it is and
with linear upsampling, for the same epochs and seed, keeps each run's
best validation epoch (bar first, as a trial does) and scores it on the test split, as
bench/wander.py does. Two runs at a time, one CPU thread each.

    LUDB_DIR=../shared/ludb-1.0.1 python bench/upsampling.py --epochs 40 --out bench/data/upsampling-40ep.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from anti_collapse import run_variants, variant_parser  # bench/ is on sys.path when run as a script
from wander import run_one, table

MODEL = Path(__file__).resolve().parent / "data" / "reference-trial14-config.json"

VARIANTS = {
    "base (reference trial 14, nearest-neighbour upsampling)": {},
    "linear upsampling": {"g_upsample": "linear"},
}


def main(argv: list[str] | None = None) -> int:
    p = variant_parser(__doc__, 40, 14, '\'linear, no mode seeking={"g_upsample": "linear", "ms_weight": 0}\'')
    args = p.parse_args(argv)
    base = {k: v for k, v in json.loads(MODEL.read_text())["config"].items() if k not in ("epochs", "seed")}
    return run_variants(args, VARIANTS, run_one, table, base, 0)


if __name__ == "__main__":
    sys.exit(main())
