"""`python -m ecgmodels.train`: train one LSTM-GAN config on the cached LUDB windows, evaluate it on
the validation and test splits, and write an export folder plus a metrics table.

By default the epoch exported is the best on validation (ecgmodels.best), as in a search; `--keep
last` exports the final epoch instead."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from .best import BestEpoch, validation_floor
from .config import VARIANTS, GanConfig, variant
from .export import export
from .metrics import evaluate
from .train import Outcome, networks, resolve_device, sampler, train

TABLE_METRICS = ("rmse", "prd", "mmd", "rmse_random", "prd_random", "prd_seed", "mmd_seed")


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


def metrics_rows(evals: dict[str, dict]) -> list[dict]:
    """Flatten {'val': evaluate(...), 'test': ...} into table rows: one per (split, metric)."""
    rows = []
    for split, ev in evals.items():
        for who, scores in (("generated", ev), ("real-vs-real floor", ev.get("floor", {}))):
            for m in TABLE_METRICS:
                if m in scores:
                    rows.append({"split": split, "beats": who, "metric": m, **scores[m]})
    return rows


def markdown_table(rows: list[dict]) -> str:
    lines = ["| split | beats | metric | mean | min | max |", "| --- | --- | --- | ---: | ---: | ---: |"]
    lines += [f"| {r['split']} | {r['beats']} | {r['metric']} | {r['mean']:.4g} | {r['min']:.4g} | {r['max']:.4g} |"
              for r in rows]
    return "\n".join(lines)


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
    from datasets.build import config_from_args

    ds, _ = datasets.load_or_build(args.data_dir, config_from_args(args), cache_dir=args.cache_dir,
                                   progress=sys.stderr.isatty())
    return ds


def main(argv: list[str] | None = None) -> int:
    require_datasets()
    from datasets.build import add_dataset_args

    p = argparse.ArgumentParser(
        prog="python -m ecgmodels.train",
        description="Train one LSTM-GAN variant on the cached LUDB beat windows, score it on the validation "
        "and test splits (PRD/RMSE with nearest-neighbour pairing, population MMD, the seed's metrics and "
        "the real-vs-real floor), and export the generator.",
    )
    p.add_argument("--variant", default="small", choices=sorted(VARIANTS),
                   help="named starting config (default %(default)s; 'seed' is the seed's exact networks and recipe)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set loss=wgan-gp --set g_channels=[64,32]; repeatable")
    p.add_argument("--epochs", type=int, help="epochs (default: the variant's)")
    p.add_argument("--seed", type=int, help="training seed (default: the variant's, 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda or cuda:N (default %(default)s)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--eval-n", type=int, default=512, help="generated beats scored per split (default %(default)s)")
    p.add_argument("--keep", choices=("best", "last"), default="best",
                   help="export the epoch with the best validation PRD/floor + MMD/floor (scored every epoch "
                   "on 256 beats), or the last epoch (default %(default)s)")
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

    ds = load_windows(args)
    train_w, val_w, test_w = ds.part("train"), ds.part("val"), ds.part("test")
    try:
        cfg = variant(args.variant, **overrides, leads=1, window=train_w.shape[-1])
    except (TypeError, ValueError) as exc:
        p.error(str(exc))
    print(f"training '{args.variant}' on {len(train_w)} windows ({device}); {cfg.epochs} epochs")

    best = BestEpoch(val_w, validation_floor(train_w, val_w, 256), 256, cfg.seed) if args.keep == "best" else None

    def progress(rep) -> None:
        m = rep.metrics
        line = (f"  epoch {rep.epoch:3d}/{cfg.epochs}  d_loss {m['d_loss']:.4f}  g_loss {m['g_loss']:.4f}  "
                f"diversity {m['diversity']:.3f}  {m['windows_per_s']:.0f} windows/s")
        if best is not None:
            now = best.update(rep)
            line += f"  val score {now['score']:.2f} (best {best.metrics['score']:.2f} @ {best.metrics['epoch']})"
        print(line, flush=True)

    t0 = time.perf_counter()
    result = train(cfg, train_w, device, progress)
    seconds = time.perf_counter() - t0
    print(f"{result.outcome.value} after {result.epochs} epochs in {seconds:.1f} s {result.message}")
    G, D, epoch = result.generator, result.discriminator, result.epochs
    if best is not None and best.checkpoint is not None:
        _, G, D = networks(best.checkpoint)
        epoch = best.metrics["epoch"]
        print(f"keeping epoch {epoch}, the best on validation")
    sample = sampler(G)
    evals = {split: evaluate(sample, w, args.eval_n, seed=cfg.seed, reference=train_w)
             for split, w in (("val", val_w), ("test", test_w))}
    rows = metrics_rows(evals)
    out = Path(args.out or f"results/train-{args.variant}")
    summary = {"outcome": result.outcome.value, "epochs_trained": result.epochs, "epoch": epoch, "kept": args.keep,
               "train_seconds": round(seconds, 2), "val": evals["val"], "test": evals["test"]}
    export(out, G, D, cfg, dataset=ds.meta, metrics=summary)
    table = markdown_table(rows)
    (out / "metrics.md").write_text(f"# {args.variant}: {result.outcome.value}, {result.epochs} epochs, "
                                    f"epoch {epoch} kept ({args.keep})\n\n{table}\n")
    import pandas as pd

    pd.DataFrame(rows).to_csv(out / "metrics.csv", index=False)
    print(table)
    print(f"copy ratio (test): {evals['test']['copy_ratio']:.2f} (well below 1 would mean copying training beats)")
    print(f"export written to {out}/ (generator.pt2, model.json, checkpoint.pt, metrics.md, metrics.csv)")
    return 0 if result.outcome in (Outcome.COMPLETED, Outcome.STOPPED) else 3


if __name__ == "__main__":
    sys.exit(main())
