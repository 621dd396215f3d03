"""`python -m search.tune`: the distributed search over LSTM-GAN variants (Ray Tune + Optuna).

This module runs one search from start to end (data, Ray, trials, outputs); the jobs it calls on
live beside it: options.py (the parser and checks), runfolder.py (claiming and resuming a run
folder), cluster.py (Ray and the Tuner), console.py (progress and Ctrl-C), outputs.py (leaderboard,
plots, export), trainable.py (one trial).
"""
from __future__ import annotations

import os

# Quiet, useful console output (see ../shared/notes/ray-tune.md); set before Ray is imported.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "0")

import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from ecgmodels.atomic import write_text  # noqa: E402

from .cluster import connect, make_tuner  # noqa: E402
from .console import make_console  # noqa: E402
from .console import state as console_state  # noqa: E402
from .options import EXIT_OK, EXIT_ERRORS, EXIT_UNFINISHED, EXIT_USAGE, UsageError, build_parser, validate  # noqa: E402
from .outputs import write_outputs  # noqa: E402
from .runfolder import claim_run_dir, load_resume  # noqa: E402


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from ecgmodels.data import require_datasets

    datasets = require_datasets()
    parser = build_parser()
    args = parser.parse_args(argv)
    t0 = time.time()
    try:
        info: dict = {}
        if args.resume:
            args, info = load_resume(args)
        validate(args)
        from datasets.options import config_from_args

        # A resumed search keeps the dataset it started with, as recorded (not re-parsed from its options)
        dcfg = datasets.DatasetConfig.from_dict(info["dataset_config"]) if args.resume else config_from_args(args)
    except (UsageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    name = args.name or info.get("name") or time.strftime("search-%Y%m%d-%H%M%S")
    run_dir = Path(args.results_dir).resolve() / name if not args.resume else Path(args.resume).resolve()
    storage = args.storage_path
    if storage and "://" not in storage:
        storage = str(Path(storage).resolve())  # trials run in other folders: a relative path breaks there
    experiment_path = info.get("experiment_path") or (f"{storage.rstrip('/')}/{name}" if storage else str(run_dir / "tune"))
    claim = None
    if not args.resume:
        try:
            claim = claim_run_dir(run_dir)
        except FileExistsError:
            print(f"error: {run_dir} already holds a search (or one is starting there); choose another --name, or "
                  f"continue it with --resume {run_dir}", file=sys.stderr)
            return EXIT_USAGE
        except OSError as exc:
            print(f"error: cannot create {run_dir} ({exc.strerror}); choose a writable --results-dir", file=sys.stderr)
            return EXIT_USAGE
    from filelock import FileLock, Timeout

    # Held while the search runs: a second `--resume` of the same folder would have two drivers
    # writing one experiment's checkpoints and leaderboard.
    lock = FileLock(run_dir / ".search.lock")
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(f"error: another search is running in {run_dir} (it holds {run_dir / '.search.lock'}); let it finish "
                  "or stop it (Ctrl-C) before resuming", file=sys.stderr)
            return EXIT_USAGE
        except OSError as exc:
            print(f"error: cannot write in {run_dir} ({exc.strerror}); resume a copy in a writable folder",
                  file=sys.stderr)
            return EXIT_USAGE
        return run_search(args, argv, info, name, run_dir, experiment_path, dcfg, datasets, t0)
    except KeyboardInterrupt:  # Ctrl-C outside Tune's own handling (data, Ray start-up, outputs)
        started = (run_dir / "run.json").is_file() and not json.loads((run_dir / "run.json").read_text() or "{}").get("starting")
        print("interrupted. " + (f"Resume with: python -m search.tune --resume {run_dir}" if started else
                                 "No trial had started; run the same command again"), file=sys.stderr)
        return EXIT_UNFINISHED
    finally:
        lock.release()
        if claim is not None and json.loads(claim.read_text() or "{}").get("starting"):
            claim.unlink()  # the search stopped before it began: free the name


def run_search(args, argv, info: dict, name: str, run_dir: Path, experiment_path: str, dcfg, datasets,
               t0: float) -> int:
    """Everything after the options are checked and the run folder is claimed: data, Ray, trials, outputs."""
    try:
        ds, hit = datasets.load_or_build(args.data_dir, dcfg, cache_dir=args.cache_dir, progress=sys.stderr.isatty())
    except (datasets.LudbError, datasets.CacheError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return datasets.EXIT_DATA
    print(f"data: {ds.meta['windows']} lead-{','.join(dcfg.leads)} windows ({ds.meta['per_split']}), "
          f"{'cache hit' if hit else 'built'}")
    if args.resume and info.get("dataset_key") != ds.key:
        print(f"error: --resume {args.resume}: the window dataset changed since the search started (key "
              f"{str(info.get('dataset_key'))[:12]} then, {ds.key[:12]} now: other raw files or cutting code), so its "
              "trials would not compare; start a new search", file=sys.stderr)
        return EXIT_USAGE

    try:
        resources = connect(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    import optuna
    import ray
    import torch

    from ecgmodels.policy import scalarised
    from ecgmodels.registry import POPULATION

    from .trainable import data_payload

    optuna.logging.set_verbosity(optuna.logging.DEBUG if args.verbose else optuna.logging.WARNING)

    try:
        payload = data_payload(ds, args.eval_n)
    except ValueError as exc:  # e.g. a validation split too small to tell generators apart
        print(f"error: {exc}", file=sys.stderr)
        return datasets.EXIT_DATA
    validation = payload["validation"]
    floor, average = validation.floor, validation.average
    settings = {"max_epochs": args.max_epochs, "seed": args.seed, "eval_n": args.eval_n,
                "gpus": args.gpus_per_trial, "threads": max(1, int(args.cpus_per_trial)),
                # PBT keeps every checkpoint (search.cluster), so its trials write one per perturbation step
                "checkpoint_every": args.perturb_every if args.scheduler == "pbt" else 1}
    run_dir.mkdir(parents=True, exist_ok=True)
    restore = bool(args.resume) and info["restore"]  # False: resumed before Tune's first save (runfolder.py)
    earlier_wall_s = float(info.get("wall_s", 0.0))
    earlier_seed_ref = info.get("seed_reference")  # a resumed search reuses a finished reference
    from .board import relative_to_run

    info = {"name": name, "experiment_path": relative_to_run(run_dir, experiment_path),
            "run_dir": info.get("run_dir") or str(run_dir.resolve()),  # where it started (see load_resume)
            "args": vars(args) | {"resume": None},
            "dataset_config": dcfg.to_dict(), "data_dir": str(Path(ds.meta["source"])), "dataset_key": ds.key,
            # On --resume, keep the command that started the search: it is the one that reproduces it.
            "command": info.get("command") or "python -m search.tune " + shlex.join(argv if argv is not None else sys.argv[1:]),
            "created": info.get("created") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "calls": info.get("calls", 0) + 1,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                       f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}; "
                       f"Ray cluster {resources['nodes']} node(s), {resources['cpus']:g} CPUs, {resources['gpus']:g} GPUs",
            "versions": {"ray": ray.__version__, "torch": str(torch.__version__), "python": platform.python_version()},
            # The evaluation's fixed kernel and the baselines every trial is judged against (validation split)
            "kernel": validation.kernel.to_dict(),
            "baselines": {name: {m: b[m] for m in (*POPULATION, "n_gen", "n_real")}
                          | {"score": scalarised(b["prd"], b["mmd"], floor, average)}
                          for name, b in (("floor", floor), ("average", average))}}
    write_text(run_dir / "run.json", json.dumps(info, indent=1))
    print(f"search '{name}': {args.num_samples} trials x {args.max_epochs} epochs on {resources['nodes']} node(s), "
          f"{resources['cpus']:g} CPUs, {resources['gpus']:g} GPUs\nvalidation baselines: real beats PRD {floor['prd']:.1f} %, "
          f"MMD² {floor['mmd']:.4f}, coverage {floor['coverage']:.2f}; average beat PRD {average['prd']:.1f} %, "
          f"MMD² {average['mmd']:.4f}, coverage {average['coverage']:.2f}. A usable trial has MMD² below {average['mmd']:.4f}")

    seed_task, seed_ref = None, earlier_seed_ref
    if seed_ref is not None:
        info["seed_reference"] = seed_ref
    if args.reference_epochs and seed_ref is None:
        from .trainable import run_seed_reference

        remote = ray.remote(num_cpus=args.cpus_per_trial, num_gpus=args.gpus_per_trial)(run_seed_reference)
        seed_task = remote.remote(ds.evaluation_inputs("test"), args.reference_epochs, args.seed, settings["threads"],
                                  validation, args.test_n)
        print(f"seed variant reference: training for {args.reference_epochs} epochs alongside the search")

    console = make_console(args.num_samples, args.verbose)
    tuner = make_tuner(args, {"data": ray.put(payload)}, settings, experiment_path, resources,
                       restore, console)
    cstate = console_state()
    try:
        grid = tuner.fit()
    except KeyboardInterrupt:  # a second Ctrl-C: Tune stops without its last save; the trials' checkpoints remain
        cstate.interrupted = True
        grid = None
    # Tune leaves its own SIGINT handler (wrapped by the console) installed after a normal end: from
    # here on Ctrl-C must raise, or waiting for the seed reference could not be interrupted.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    seed_done = None
    if seed_task is not None:
        try:
            if cstate.interrupted:  # keep a reference that already finished; do not wait for one that has not
                ready, _ = ray.wait([seed_task], timeout=0)
                seed_done = ray.get(seed_task) if ready else None
            else:
                print("search done; waiting for the seed variant reference to finish training", flush=True)
                seed_done = ray.get(seed_task)
        except KeyboardInterrupt:
            cstate.interrupted = True
        except ray.exceptions.RayError as exc:  # it crashed or ran out of memory: say so, keep the search's results
            print(f"seed variant reference failed: {str(exc).strip().splitlines()[-1][:200]}; --resume trains it "
                  "again", file=sys.stderr)
            seed_task = None
    if seed_done is not None:
        seed_ref = info["seed_reference"] = seed_done
        print(f"seed variant reference: {seed_ref['outcome']} after {seed_ref['epochs']} epochs in "
              f"{seed_ref['seconds']:.0f} s; best epoch {seed_ref['best_epoch']}: validation PRD {seed_ref['val']['prd']:.1f} %, MMD {seed_ref['val']['mmd']:.4f}")
    elif seed_task is not None:
        ray.cancel(seed_task, force=True)  # do not wait minutes for it; --resume trains it again
        print("seed variant reference: interrupted; --resume trains it again", file=sys.stderr)
    # A resumed search adds this call's time to what the earlier calls spent (not replaces it).
    info["wall_s"] = earlier_wall_s + time.time() - t0
    write_text(run_dir / "run.json", json.dumps(info, indent=1))
    if grid is None:
        print(f"interrupted. Resume with: python -m search.tune --resume {run_dir}", file=sys.stderr)
        return EXIT_UNFINISHED
    board = write_outputs(run_dir, grid, args, info, ds, validation, seed_ref, cstate.cut)
    created = len(board)
    unfinished = args.num_samples - created + int(board["status"].isin(["unfinished", "interrupted"]).sum()) \
        if created else args.num_samples
    print(f"leaderboard: {run_dir / 'leaderboard.md'}  (python -m search.leaderboard {run_dir})")
    if (run_dir / "best" / "model.json").exists():
        print(f"best generator: {run_dir / 'best'}  (python -m ecgmodels.sample --model {run_dir / 'best'} "
              "--n 16 --format wfdb --out samples/)")
    if cstate.interrupted or unfinished > 0:
        print(f"interrupted: {unfinished} of {args.num_samples} trials unfinished ({created} started)"
              f"{'' if seed_task is None or seed_done is not None else ', and the seed variant reference'}. "
              f"Resume with: python -m search.tune --resume {run_dir}", file=sys.stderr)
        return EXIT_UNFINISHED
    if (n_errors := int(board["status"].eq("error").sum()) if created else 0):
        print(f"{n_errors} trial(s) failed beyond the retry budget (see the leaderboard's error column); "
              f"retry them with: python -m search.tune --resume {run_dir}", file=sys.stderr)
        return EXIT_ERRORS
    print(f"done in {info['wall_s']:.0f} s")
    return EXIT_OK


if __name__ == "__main__":
    from . import cluster

    cluster.REAP_ON_DRIVER_DEATH = True  # the process is ours alone: see search/reaper.py
    sys.exit(main())
