"""`python -m search.tune`: the distributed search over LSTM-GAN variants (Ray Tune + Optuna).

The driver builds or finds the cached window dataset once, puts it in Ray's object store, and runs
one trial per sampled config; Optuna minimises validation PRD (nn pairing) and MMD together. When
the search ends it writes `results/<name>/`: leaderboard.csv/.md, pareto.png, samples.png, run.json
and `best/`, the chosen generator re-evaluated on the test split and exported.
"""
from __future__ import annotations

import os

# Quiet, useful console output (see ../shared/notes/ray-tune.md); set before Ray is imported.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "0")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_UNFINISHED = 0, 1, 2, 3
# The seed's published table (its own definitions, its leaky split): mean and [min, max], in the
# shape of an evaluation result so it can sit in the legacy table.
SEED_PUBLISHED = {"rmse_random": 0.078, "prd_seed": 14.82, "mmd_seed": 9e-4,
                  "ci": {"rmse_random": [0.021, 0.169], "prd_seed": [4.55, 49.19], "mmd_seed": [-6e-5, 1e-2]}}

class UsageError(Exception):
    """Bad or contradictory options, found before any work starts."""


# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from datasets.build import add_dataset_args

    p = argparse.ArgumentParser(
        prog="python -m search.tune",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[1] if __doc__ else "",
        epilog="examples:\n"
        "  python -m search.tune --smoke                       # a quick look, ~1 min on a laptop\n"
        "  python -m search.tune --num-samples 8 --max-epochs 10 --name quickstart\n"
        "  python -m search.tune --resume results/quickstart   # continue an interrupted search\n"
        "  ray job submit --address http://127.0.0.1:8265 --working-dir . -- \\\n"
        "      python -m search.tune --num-samples 64 --gpus-per-trial 0.25 --storage-path s3://bucket/ecg\n"
        "exit status: 0 all trials ended; 1 trials errored beyond the retry budget; 2 bad options;\n"
        "3 interrupted (resume with --resume); 4 LUDB missing or unusable (see --data-dir).",
    )
    s = p.add_argument_group("search")
    s.add_argument("--num-samples", type=int, help="trials to run (default 8; 4 with --smoke)")
    s.add_argument("--max-epochs", type=int, help="epochs per trial (default 10; 2 with --smoke)")
    s.add_argument("--name", help="run name: results go to <results-dir>/<name>/ (default: a timestamp)")
    s.add_argument("--results-dir", default="results", help="where run folders go (default %(default)s)")
    s.add_argument("--storage-path", help="where Ray keeps trial checkpoints and experiment state: a folder or "
                   "any URI Ray supports, e.g. s3://bucket/prefix (default <results-dir>/<name>/tune)")
    s.add_argument("--scheduler", choices=("none", "asha"), default="none",
                   help="asha stops weak trials early on the scalarised score (default %(default)s)")
    s.add_argument("--select", choices=("knee", "prd", "mmd"), default="knee",
                   help="which Pareto-front trial to export, among those whose MMD² beats the average beat: "
                   "knee = lowest score (ecgmodels.best.scalarised: real beats about 1, the average beat about 2) (default)")
    s.add_argument("--seed", type=int, default=0, help="searcher seed; trial k trains with seed*10000+k (default 0)")
    s.add_argument("--space", choices=("full", "small", "smoke"), default="full",
                   help="search space (search/space.py): full = every size up to the seed's (best on a GPU); "
                   "small = the same axes at CPU-friendly sizes; smoke = tiny networks (default %(default)s)")
    s.add_argument("--smoke", action="store_true", help="--space smoke with a tiny budget (4 trials x 2 epochs "
                   "unless given): a quick look that the whole pipeline works")
    s.add_argument("--eval-n", type=int, default=256,
                   help="generated beats scored per evaluation (default %(default)s)")
    s.add_argument("--reference-epochs", type=int,
                   help="also train the seed's own model for this many epochs as a reference row "
                   "(default: --max-epochs; 0 skips it; on CPU it takes ~30 s per epoch)")
    s.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted search from its run folder; "
                   "finished trials are kept, running ones continue from their last checkpoint")
    r = p.add_argument_group("resources")
    r.add_argument("--address", default=os.environ.get("RAY_ADDRESS"),
                   help="Ray cluster to join (default $RAY_ADDRESS; none: start a local Ray sized to this machine)")
    r.add_argument("--cpus-per-trial", type=float, default=1, help="CPUs per trial (default %(default)s)")
    r.add_argument("--gpus-per-trial", type=float, default=0,
                   help="GPUs per trial; fractions let trials share one, e.g. 0.25 (default %(default)s)")
    r.add_argument("--max-concurrent", type=int,
                   help="trials at once (default: as many as the CPUs/GPUs allow)")
    r.add_argument("-v", "--verbose", action="store_true", help="show Ray's and the workers' own output")
    add_dataset_args(p)
    return p


def validate(args: argparse.Namespace) -> None:
    """Checks that need no Ray and no data: they fail in milliseconds."""
    if args.smoke:
        args.space = "smoke"
    if args.num_samples is None:
        args.num_samples = 4 if args.smoke else 8
    if args.max_epochs is None:
        args.max_epochs = 2 if args.smoke else 10
    if args.smoke and args.reference_epochs is None:
        args.reference_epochs = 0
    if args.num_samples < 1:
        raise UsageError(f"--num-samples {args.num_samples}: must be at least 1")
    if args.max_epochs < 1:
        raise UsageError(f"--max-epochs {args.max_epochs}: must be at least 1")
    if args.cpus_per_trial <= 0:
        raise UsageError(f"--cpus-per-trial {args.cpus_per_trial}: must be positive")
    if args.gpus_per_trial < 0 or (args.gpus_per_trial > 1 and args.gpus_per_trial != int(args.gpus_per_trial)):
        raise UsageError(f"--gpus-per-trial {args.gpus_per_trial}: use a fraction of one GPU or a whole number")
    if args.eval_n < 6:
        raise UsageError(f"--eval-n {args.eval_n}: at least 6 generated beats are needed (k-NN metrics use k=5)")
    if args.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", args.name):
        raise UsageError(f"--name {args.name!r}: use a plain folder name (letters, digits, '.', '_', '-'), not a path; "
                         "the run goes to <results-dir>/<name>")
    if args.max_concurrent is not None and args.max_concurrent < 1:
        raise UsageError(f"--max-concurrent {args.max_concurrent}: must be at least 1")
    if args.reference_epochs is None:
        args.reference_epochs = args.max_epochs
    if args.address:
        check_reachable(args.address)


def check_reachable(address: str) -> None:
    """Fail fast on an address nothing listens at (Ray itself retries for a long time)."""
    if address == "auto" or address.startswith("ray://") or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=3).close()
    except (OSError, ValueError) as exc:
        raise UsageError(f"--address {address}: cannot reach a Ray head there ({exc}). Start one with "
                         "`ray start --head`, check host:port (the GCS port, 6379 by default), or leave "
                         "--address out to run locally") from exc


def load_resume(args: argparse.Namespace) -> tuple[argparse.Namespace, dict]:
    """Args of the interrupted run (from its run.json), keeping this call's --address and -v."""
    run = Path(args.resume)
    info_path = run / "run.json"
    if not info_path.is_file():
        raise UsageError(f"--resume {run}: no run.json there, so it is not a search run folder "
                         "(give the folder `python -m search.tune --name NAME` wrote, e.g. results/NAME)")
    from . import leaderboard as lb

    try:
        info = lb.read_run_json(run)
    except ValueError as exc:
        raise UsageError(f"--resume {run}: {exc}") from exc
    if info.get("starting"):
        raise UsageError(f"--resume {run}: the search there never got past its start (or is starting now, pid "
                         f"{info.get('pid')}): nothing to resume; delete {info_path} if no search is running there")
    if "kernel" not in info or "baselines" not in info:
        raise UsageError(f"--resume {run}: this search was run with earlier evaluation metrics (its run.json records no "
                         "fixed kernel or baselines), so new trials would not compare with its old ones. Start a new "
                         "search, or re-score its exported best with `python -m ecgmodels.evaluate --model "
                         f"{run / 'best'} --write`")
    # Recorded relative to the run folder when it lies inside it, so a moved or copied run resumes where it is:
    # Tune re-points the trials it restores. But Ray 2.60's searcher keeps the storage path it started with
    # and would put the trials it has yet to start back in the original folder: refuse that case.
    info["experiment_path"] = lb.resolve_in_run(run, info["experiment_path"])
    origin = info.get("run_dir")
    started = len(list(Path(info["experiment_path"]).glob("trial_*"))) if "://" not in info["experiment_path"] else 0
    if origin and Path(origin).resolve() != run.resolve() and started < int(info["args"]["num_samples"]):
        raise UsageError(f"--resume {run}: this search was started in {origin} and still has trials to start; Ray "
                         "Tune would write them there, not here. Resume it from there (move it back), or start a new "
                         "search; the finished trials of this copy can still be exported (python -m search.export)")
    from ray import tune

    if not tune.Tuner.can_restore(info["experiment_path"]):
        raise UsageError(f"--resume {run}: {info['experiment_path']} holds no Tune experiment state to resume")
    saved = argparse.Namespace(**info["args"])
    saved.address, saved.verbose, saved.resume = args.address, args.verbose, args.resume
    print(f"resuming '{info['name']}' with its original options ({info['command']}); "
          "only --address and -v are taken from this call")
    return saved, info


# ---------------------------------------------------------------------------------------------
# Ray
# ---------------------------------------------------------------------------------------------


def connect(args: argparse.Namespace) -> dict:
    """Start or join Ray and check the requested resources fit; returns cluster resources."""
    import logging

    import ray

    kwargs = dict(log_to_driver=args.verbose, logging_level=logging.INFO if args.verbose else logging.WARNING,
                  configure_logging=True)
    if args.address:
        try:
            ray.init(address=args.address, **kwargs)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, or its own auth errors here
            reason = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
            auth = "" if os.environ.get("RAY_AUTH_MODE") else (
                " If the cluster uses token authentication (Ray's default), set RAY_AUTH_MODE=token and copy the "
                "head's ~/.ray/auth_token to this machine.")
            raise UsageError(f"--address {args.address}: cannot join that Ray cluster ({reason}).{auth} Or leave "
                             "--address out to run on this machine alone") from exc
    else:
        # address="local": always a new Ray of our own. Without it, ray.init joins whatever cluster Ray's
        # `ray_current_cluster` file names (someone else's, or a dead one) and fails or shares it.
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, **kwargs)
    res = ray.cluster_resources()
    gpus, cpus = res.get("GPU", 0), res.get("CPU", 0)
    node_cpus = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=0)
    if args.gpus_per_trial > gpus:
        raise UsageError(f"--gpus-per-trial {args.gpus_per_trial}: the cluster has {gpus:g} GPU(s)")
    if args.cpus_per_trial > node_cpus:
        raise UsageError(f"--cpus-per-trial {args.cpus_per_trial:g}: the largest node has {node_cpus:g} CPUs")
    return {"cpus": cpus, "gpus": gpus, "nodes": len([n for n in ray.nodes() if n["Alive"]])}


def make_console(total: int, verbose: bool):
    from ray import tune

    from .leaderboard import NO_METRICS

    class Console(tune.Callback):
        """One line per finished trial and a running count, instead of Ray's status tables. Also
        notices Ctrl-C: Tune catches the first SIGINT itself and returns from fit() normally, so the
        handler Tune installs is wrapped (from the loop, in the main thread) to record that it fired.
        Trials that end after it are `cut`: interrupted, not stopped by the scheduler."""

        def __init__(self):
            self.done = 0
            self.interrupted = False
            self.cut: set[str] = set()
            self._wrapped = None

        def on_step_begin(self, iteration, trials, **info):
            current = signal.getsignal(signal.SIGINT)
            if current is self._wrapped or not callable(current) or threading.current_thread() is not threading.main_thread():
                return

            def wrapper(sig, frame, tune_handler=current):
                self.interrupted = True
                tune_handler(sig, frame)

            self._wrapped = wrapper
            signal.signal(signal.SIGINT, wrapper)

        def _line(self, trial, tag: str) -> None:
            self.done += 1
            m = trial.last_result or {}
            c = trial.config
            params = " ".join(f"{k}={c[k]:.2g}" if isinstance(c.get(k), float) else f"{k}={c[k]}"
                              for k in ("loss", "g_lstm_units", "g_lr", "d_lr", "batch_size", "d_steps") if k in c)
            metrics = (f"prd {m['prd']:6.1f}  mmd {m['mmd']:7.4f}  cov {m['coverage']:.2f}  score {m['score']:6.2f}"
                       if "prd" in m and m["prd"] < NO_METRICS else "no metrics")
            print(f"[{self.done}/{total}] trial {trial.config.get('trial_number', '?'):>3} {tag:<13} "
                  f"epochs {m.get('epoch', 0):>3} (best {m.get('best_epoch', 0):>3})  {metrics}  {m.get('time_total_s', 0):5.0f}s | {params}", flush=True)

        def on_trial_complete(self, iteration, trials, trial, **info):
            outcome = (trial.last_result or {}).get("outcome", "running")
            if outcome == "running" and self.interrupted:
                self.cut.add(trial.trial_id)
                outcome = "interrupted"
            self._line(trial, outcome.replace("running", "stopped early"))

        def on_trial_error(self, iteration, trials, trial, **info):
            self._line(trial, "ERROR")

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if verbose:
                print(f"    trial {trial.trial_id} epoch {result.get('epoch')}: prd {result.get('last_prd', 0):.1f} "
                      f"mmd {result.get('last_mmd', 0):.4f} (best: epoch {result.get('best_epoch')}, "
                      f"mmd {result.get('mmd', 0):.4f})", flush=True)

    return Console()


def make_tuner(args, data_ref_kwargs: dict, settings: dict, experiment_path: str, resources: dict, resume: bool,
               console):
    """The Tuner for a new search, or the restored one for --resume."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from .space import SPACES
    from .trainable import run_trial

    trainable = tune.with_resources(tune.with_parameters(run_trial, **data_ref_kwargs, settings=settings),
                                    {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial})
    if resume:
        return tune.Tuner.restore(experiment_path, trainable=trainable, resume_errored=True)
    by_cpu = int(resources["cpus"] // args.cpus_per_trial)
    by_gpu = int(resources["gpus"] // args.gpus_per_trial) if args.gpus_per_trial else by_cpu
    concurrent = args.max_concurrent or max(1, min(by_cpu, by_gpu, args.num_samples))
    searcher = OptunaSearch(space=SPACES[args.space], metric=["prd", "mmd"],
                            mode=["min", "min"], seed=args.seed)
    scheduler = None
    if args.scheduler == "asha":
        scheduler = ASHAScheduler(metric="score", mode="min", time_attr="epoch", max_t=args.max_epochs,
                                  grace_period=max(1, args.max_epochs // 4), reduction_factor=2)
    storage, name = experiment_path.rsplit("/", 1)
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=args.num_samples,
                                    max_concurrent_trials=concurrent, reuse_actors=True,
                                    trial_dirname_creator=lambda t: f"trial_{t.config.get('trial_number', t.trial_id)}"),
        run_config=tune.RunConfig(name=name, storage_path=storage, verbose=2 if args.verbose else 0,
                                  failure_config=tune.FailureConfig(max_failures=2),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                                  callbacks=[console]),
    )


# ---------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------


PARAMS = ["loss", "g_position", "g_lstm_units", "g_lstm_layers", "g_bidirectional", "latent_len", "latent_channels", "g_depth",
          "g_width", "g_kernel", "d_depth", "d_width", "d_kernel", "g_lr", "d_lr", "batch_size", "d_steps", "g_ema"]


def write_outputs(run_dir: Path, grid, args, info: dict, ds, validation, seed_ref: dict | None,
                  cut: set[str] = frozenset()):
    """Leaderboard files, plots, and the export of the chosen trial (re-evaluated on the test split).
    Returns the leaderboard (one row per trial Tune created; `cut`: ids of trials a Ctrl-C ended)."""
    import pandas as pd

    from ecgmodels.evaluate import markdown as test_markdown
    from ecgmodels.metrics import POPULATION

    from . import leaderboard as lb
    from .export import choose, export_row
    board = lb.from_results(grid, PARAMS, cut)
    base = info["baselines"]
    # checkpoint paths relative to the run folder, so a moved or shared folder still exports its trials
    board.assign(checkpoint=[lb.relative_to_run(run_dir, c) if c else c for c in board["checkpoint"]]) \
        .to_csv(run_dir / "leaderboard.csv", index=False)
    full = pd.concat([board, lb.baseline_rows(base, seed_ref)], ignore_index=True)
    lb.plot_pareto(board, base, run_dir / "pareto.png", seed_ref["val"] if seed_ref else None)

    test_md, exported = "", ""
    try:
        row, usable = choose(board, args.select, average_mmd=base["average"]["mmd"])
        rep = export_row(row, ds, run_dir / "best", 512, args.select, run_dir / "samples.png", usable)
        extra = [(f"seed variant (epoch {seed_ref['best_epoch']} of {seed_ref['epochs']})", seed_ref["test"]["generated"])] \
            if seed_ref else []
        published = [("the seed's published table (mean [min, max]; its leaky split, hand-cleaned)", SEED_PUBLISHED)]
        test_md = test_markdown(rep, f"best searched (trial {row['trial']}, {args.select})", extra, published)
        exported = f"trial {row['trial']} (rule: {args.select}) exported to `best/`"
        if not usable:
            exported += (". **No trial's validation MMD² is below the average beat's "
                         f"({base['average']['mmd']:.4g}): nothing usable was found; best/ is marked NOT USABLE**")
            print(f"NOT USABLE: no trial's validation MMD² is below the average beat's ({base['average']['mmd']:.4g}); "
                  f"exporting trial {row['trial']} anyway, marked as such", flush=True)
        elif not rep["verdict"]["beats_average_beat"]:
            exported += ". **On the test split it does not beat the average beat: marked NOT USABLE**"
        print(f"best: trial {row['trial']}. Test split: {rep['verdict']['summary']}", flush=True)
    except ValueError as exc:
        exported = f"nothing exported: {exc}"
    lines = [f"# Search `{info['name']}`", "",
             f"- command: `{info['command']}`",
             f"- finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, wall time {info['wall_s']:.0f} s, "
             f"machine: {info['machine']}",
             f"- versions: {', '.join(f'{k} {v}' for k, v in info['versions'].items())}",
             f"- data: LUDB lead(s) {','.join(ds.meta['config']['leads'])}, {ds.meta['per_split']}, key `{ds.key[:12]}`",
             f"- MMD² kernel (fixed for the whole run): {info['kernel']['kind']}, bandwidths "
             f"{', '.join(f'{b:.3g}' for b in info['kernel']['bandwidths'])}",
             f"- {exported}", "",
             "## Test split: the chosen generator, the seed variant and the baselines", "",
             test_md or "(nothing exported)", "",
             "## Leaderboard (validation split)", "",
             "Every metric is the trial's best validation epoch's (`best_epoch`). `score` = PRD/floor PRD + MMD² "
             "on a scale where real beats are 0 and the average beat 1 (real beats score about 1, the average beat "
             "about 2; lower is better). Pareto "
             "front of PRD and MMD² over trials that ran every epoch. Baseline rows: `floor` = training beats in "
             "place of generated ones, `average` = the average training beat + small noise. Higher is better for "
             "precision, recall, density and coverage; diversity is best at 1; lower is better for the rest.", "",
             lb.markdown(full, ["trial", "status", "pareto", "epochs", "best_epoch", "wall_s", "score", *POPULATION]
                         + PARAMS), ""]
    (run_dir / "leaderboard.md").write_text("\n".join(lines))
    return board


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from ecgmodels.fit import require_datasets

    datasets = require_datasets()
    parser = build_parser()
    args = parser.parse_args(argv)
    t0 = time.time()
    try:
        info: dict = {}
        if args.resume:
            args, info = load_resume(args)
        validate(args)
        from datasets.build import config_from_args

        dcfg = config_from_args(args)
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
    try:
        return run_search(args, argv, info, name, run_dir, experiment_path, dcfg, datasets, t0)
    except KeyboardInterrupt:  # Ctrl-C outside Tune's own handling (data, Ray start-up, outputs)
        started = (run_dir / "run.json").is_file() and not json.loads((run_dir / "run.json").read_text() or "{}").get("starting")
        print("interrupted. " + (f"Resume with: python -m search.tune --resume {run_dir}" if started else
                                 "No trial had started; run the same command again"), file=sys.stderr)
        return EXIT_UNFINISHED
    finally:
        if claim is not None and json.loads(claim.read_text() or "{}").get("starting"):
            claim.unlink()  # the search stopped before it began: free the name


def claim_run_dir(run_dir: Path) -> Path:
    """Create `run_dir`/run.json exclusively (a placeholder until the search writes its own), so two
    searches started with the same --name cannot share, and wipe, one folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "run.json"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    with os.fdopen(fd, "w") as f:
        json.dump({"starting": True, "pid": os.getpid()}, f)
    return path


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

    from ecgmodels.best import scalarised
    from ecgmodels.metrics import POPULATION

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
                "gpus": args.gpus_per_trial, "threads": max(1, int(args.cpus_per_trial))}
    run_dir.mkdir(parents=True, exist_ok=True)
    earlier_wall_s = float(info.get("wall_s", 0.0))
    earlier_seed_ref = info.get("seed_reference")  # a resumed search reuses a finished reference
    from .leaderboard import relative_to_run

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
    (run_dir / "run.json").write_text(json.dumps(info, indent=1))
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
                                  validation, 512)
        print(f"seed variant reference: training for {args.reference_epochs} epochs alongside the search")

    console = make_console(args.num_samples, args.verbose)
    tuner = make_tuner(args, {"data": ray.put(payload)}, settings, experiment_path, resources, bool(args.resume),
                       console)
    try:
        grid = tuner.fit()
    except KeyboardInterrupt:  # a second Ctrl-C: Tune stops without its last save; the trials' checkpoints remain
        console.interrupted = True
        grid = None
    seed_done = None
    if seed_task is not None and not console.interrupted:
        print("search done; waiting for the seed variant reference to finish training", flush=True)
        try:
            seed_done = ray.get(seed_task)
        except KeyboardInterrupt:
            console.interrupted = True
    if seed_done is not None:
        seed_ref = info["seed_reference"] = seed_done
        print(f"seed variant reference: {seed_ref['outcome']} after {seed_ref['epochs']} epochs in "
              f"{seed_ref['seconds']:.0f} s; best epoch {seed_ref['best_epoch']}: validation PRD {seed_ref['val']['prd']:.1f} %, MMD {seed_ref['val']['mmd']:.4f}")
    elif seed_task is not None:
        ray.cancel(seed_task, force=True)  # do not wait minutes for it; --resume trains it again
        print("seed variant reference: interrupted; --resume trains it again", file=sys.stderr)
    # A resumed search adds this call's time to what the earlier calls spent (not replaces it).
    info["wall_s"] = earlier_wall_s + time.time() - t0
    (run_dir / "run.json").write_text(json.dumps(info, indent=1))
    if grid is None:
        print(f"interrupted. Resume with: python -m search.tune --resume {run_dir}", file=sys.stderr)
        return EXIT_UNFINISHED
    board = write_outputs(run_dir, grid, args, info, ds, validation, seed_ref, console.cut)
    created = len(board)
    unfinished = args.num_samples - created + int(board["status"].isin(["unfinished", "interrupted"]).sum()) \
        if created else args.num_samples
    print(f"leaderboard: {run_dir / 'leaderboard.md'}  (python -m search.leaderboard {run_dir})")
    if (run_dir / "best" / "model.json").exists():
        print(f"best generator: {run_dir / 'best'}  (python -m ecgmodels.sample --model {run_dir / 'best'} "
              "--n 16 --format wfdb --out samples/)")
    if console.interrupted or unfinished > 0:
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
    sys.exit(main())
