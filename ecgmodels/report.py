"""`python -m ecgmodels.report --model DIR`: one page that says whether an exported generator is usable.

Writes `report.html` (self-contained: the figure is embedded) and `report.png` into the export
folder: generated beats beside random held-out real ones, median beats with P, QRS and T marked, the
P/QRS/T feature histograms real vs generated, every metric beside the real-vs-real floor and the
average-beat baseline, and a one-line verdict per feature. `search.tune` writes it into `best/`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .metrics import TEST_N, too_few_beats
from .page import write


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m ecgmodels.report", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="example:\n  python -m ecgmodels.report --model results/ludb-ii-reference/best\n"
                                "then open results/ludb-ii-reference/best/report.html in a browser")
    p.add_argument("--model", required=True, help="export folder (holds model.json and checkpoint.pt)")
    p.add_argument("--n", type=int, default=TEST_N, help="generated beats to draw and score (default %(default)s)")
    p.add_argument("--data-dir", help="LUDB folder (default: LUDB_DIR or the user cache, as datasets.build)")
    p.add_argument("--out", help="folder to write report.html and report.png into (default: the export folder)")
    args = p.parse_args(argv)
    if error := too_few_beats("--n", args.n):
        p.error(error)
    from .scorecard import ExportUnusable, open_export, recorded_validation_flag, verdict_of
    from .metrics import draw, report
    from .models import sampler

    folder = Path(args.model)
    out = Path(args.out) if args.out else folder
    if out.exists() and not out.is_dir():
        p.error(f"--out {out} is a file; give a folder")
    try:
        info, cfg, G, ds, kernel = open_export(folder, args.data_dir)
    except ExportUnusable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    print(f"scoring {args.n} beats of {folder} on the test split (delineating every set: ~30 s)...", flush=True)
    try:
        rep = report(sampler(G), **ds.evaluation_inputs("test"), kernel=kernel, n=args.n, seed=cfg.seed, bootstrap=0)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verdict = verdict_of(rep, recorded_validation_flag(info))
    gen = draw(sampler(G), args.n, rep["noise_seed"]) * ds.scale_mv
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = write(out, rep, gen, ds.to_mv(ds.part("test")), ds.config.r_index, float(ds.meta["fs"]),
                      f"generator {folder.as_posix()}", f"python -m ecgmodels.report --model {folder.as_posix()}",
                      verdict["usable"])
    except OSError as exc:
        print(f"error: cannot write the report into {out}: {exc}", file=sys.stderr)
        return 2
    print(f"verdict: {'usable' if verdict['usable'] else 'NOT USABLE'}; {rep['verdict']['summary']}")
    print(f"written: {paths[0]}, {paths[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
