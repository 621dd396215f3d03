"""`python -m ecgmodels.train`: train one LSTM-GAN config on the cached LUDB windows, evaluate it on
the validation and test splits, and write an export folder plus a metrics table.

By default the epoch exported is the best on validation (ecgmodels.best), as in a search; `--keep
last` exports the final epoch instead. The training loop itself is `ecgmodels.loop.train`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from . import page
from .atomic import replace_file, write_text
from .best import Validation
from .config import VARIANTS, GanConfig, variant
from .data import load_windows, require_datasets
from .scorecard import markdown, verdict_of
from .export import export
from .fit import fit
from .loop import Outcome, resolve_device
from .metrics import TEST_N, draw, report
from .models import sampler
from .registry import LEGACY, POPULATION


def parse_set(items: list[str]) -> dict:
    """['g_lr=1e-4', 'g_channels=[64,32]', 'loss=hinge'] -> {'g_lr': 0.0001, ...} (JSON values, else str)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected key=value")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def metrics_rows(rep: dict) -> list[dict]:
    """Flatten a test `metrics.report` into CSV rows: one per (beats, metric), value and interval."""
    rows = []
    for who in ("generated", "floor", "average"):
        ev = rep[who]
        for m in POPULATION + LEGACY:
            if m in ev:
                lo, hi = ev.get("ci", {}).get(m, (float("nan"), float("nan")))
                rows.append({"split": "test", "beats": who, "metric": m, "value": ev[m], "ci_low": lo, "ci_high": hi})
    return rows


def main(argv: list[str] | None = None) -> int:
    require_datasets()
    from datasets.options import add_dataset_args

    p = argparse.ArgumentParser(allow_abbrev=False, 
        prog="python -m ecgmodels.train",
        description="Train one LSTM-GAN variant on the cached LUDB beat windows, score it on the validation "
        "and test splits (ecgmodels.metrics: MMD with a fixed kernel, PRD both ways, precision, recall, density, "
        "coverage, diversity, the seed's legacy metrics; beside the real-vs-real floor and the average beat), and "
        "export the generator.",
    )
    p.add_argument("--variant", default="small", choices=sorted(VARIANTS),
                   help="named starting config (default %(default)s; 'seed' is the seed's exact networks and recipe)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set loss=wgan-gp --set g_channels=[64,32]; repeatable")
    p.add_argument("--epochs", type=int, help="epochs (default: the variant's)")
    p.add_argument("--seed", type=int, help="training seed (default: the variant's, 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N (default %(default)s)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--eval-n", type=int, default=TEST_N, help="generated beats scored on the test split (default %(default)s)")
    p.add_argument("--keep", choices=("best", "last"), default="best",
                   help="export the epoch with the best validation score (ecgmodels.policy.scalarised, every epoch on "
                   "256 beats), or the last epoch (default %(default)s)")
    p.add_argument("--out", help="export folder (default results/train-<variant>)")
    add_dataset_args(p)
    args = p.parse_args(argv)
    try:
        overrides = parse_set(args.set)
        overrides |= {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None}
        unknown = sorted(set(overrides) - set(GanConfig().to_dict()))
        if unknown:
            p.error(f"unknown config field(s) {unknown}; fields are {', '.join(GanConfig().to_dict())}")
        device = resolve_device(args.device)
    except ValueError as exc:
        p.error(str(exc))
    if args.threads:
        torch.set_num_threads(args.threads)

    import datasets

    try:
        ds = load_windows(args)
    except (datasets.LudbError, datasets.CacheError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return datasets.EXIT_DATA
    train_w = ds.part("train")
    try:
        cfg = variant(args.variant, **overrides, leads=train_w.shape[1], window=train_w.shape[-1])
    except (TypeError, ValueError) as exc:
        p.error(str(exc))
    print(f"training '{args.variant}' on {len(train_w)} windows ({device}); {cfg.epochs} epochs")

    try:
        validation = Validation.of(ds, 256)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return datasets.EXIT_DATA
    def progress(rep, now, best) -> None:
        m = rep.metrics
        line = (f"  epoch {rep.epoch:3d}/{cfg.epochs}  d_loss {m['d_loss']:.4f}  g_loss {m['g_loss']:.4f}  "
                f"diversity {m['diversity']:.3f}  {m['windows_per_s']:.0f} windows/s")
        if best is not None:
            line += f"  val score {now['score']:.2f} (best {best.metrics['score']:.2f} @ {best.metrics['epoch']})"
        print(line, flush=True)

    fitted = fit(cfg, train_w, validation, device, keep=args.keep, progress=progress)
    result, G, D, epoch, val, seconds = (fitted.result, fitted.generator, fitted.discriminator, fitted.epoch,
                                         fitted.validation, fitted.seconds)
    print(f"{result.outcome.value} after {result.epochs} epochs in {seconds:.1f} s {result.message}")
    if args.keep == "best":
        print(f"keeping epoch {epoch}, the best on validation")
    test = report(sampler(G), **ds.evaluation_inputs("test"), kernel=validation.kernel, n=args.eval_n, seed=cfg.seed)
    out = Path(args.out or f"results/train-{args.variant}")
    summary = {"outcome": result.outcome.value, "epochs_trained": result.epochs, "epoch": epoch, "kept": args.keep,
               "train_seconds": round(seconds, 2), "validation": val}
    export(out, G, D, cfg, dataset=ds.meta, metrics=summary,
           extra={"kernel": validation.kernel.to_dict(), "evaluation": test, "verdict": verdict_of(test, None)})
    page.write(out, test, draw(sampler(G), args.eval_n, test["noise_seed"]) * ds.scale_mv, ds.to_mv(ds.part("test")),
               ds.config.r_index, float(ds.meta["fs"]), f"{args.variant} (epoch {epoch})",
               f"written by python -m ecgmodels.train; re-create with python -m ecgmodels.report --model {out.as_posix()}",
               verdict_of(test, None)["usable"])
    section = markdown(test, f"{args.variant} (epoch {epoch})")
    write_text(out / "metrics.md", f"# {args.variant}: {result.outcome.value}, {result.epochs} epochs, "
                                    f"epoch {epoch} kept ({args.keep})\n\n{section}\n")
    import pandas as pd

    replace_file(out / "metrics.csv", lambda tmp: pd.DataFrame(metrics_rows(test)).to_csv(tmp, index=False))
    print(section)
    print(f"export written to {out}/ (generator.pt2, model.json, checkpoint.pt, metrics.md, metrics.csv, report.html, report.png)")
    return 0 if result.outcome in (Outcome.COMPLETED, Outcome.STOPPED) else 3


if __name__ == "__main__":
    sys.exit(main())
