"""Ray for a search: start or join a cluster, and build (or restore) the Tuner."""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sys
import tempfile

import numpy as np

from ecgmodels import policy

from .options import UsageError

# Set by `python -m search.tune` (not by an in-process call of main(), e.g. from a notebook, whose
# other children the reaper must not touch, and whose signals are its own): stop this process's
# descendants when it is killed, and take SIGTERM as Ctrl-C.
REAP_ON_DRIVER_DEATH = False


class _Held:
    """What _stderr_held caught."""
    text = ""


@contextlib.contextmanager
def _stderr_held(held: _Held):
    """Hold what this process writes to file descriptor 2 (Ray's C++ logging included) in a
    temporary file until the block ends; its text goes to `held.text`. Holds nothing when there
    is no descriptor 2 to hold."""
    try:
        saved = os.dup(2)
    except OSError:
        saved = None
    if saved is None:
        yield held
        return
    buf = tempfile.TemporaryFile()
    try:
        sys.stderr.flush()
        os.dup2(buf.fileno(), 2)
        yield held
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        buf.seek(0)
        held.text = buf.read().decode(errors="replace")
        buf.close()


def connect(args: argparse.Namespace) -> dict:
    """Start or join Ray and check the requested resources fit; returns cluster resources."""
    import logging

    import ray

    kwargs = dict(log_to_driver=args.verbose, logging_level=logging.INFO if args.verbose else logging.WARNING,
                  configure_logging=True)
    if args.address:
        print(f"joining the Ray cluster at {args.address} ...", flush=True)
        held = _Held()
        try:
            # Ray's C++ client logs a line per retry (~20 s of them) before it gives up: held, and shown
            # only once the join succeeds (with -v, shown as it comes)
            with contextlib.nullcontext() if args.verbose else _stderr_held(held):
                ray.init(address=args.address, **kwargs)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, or its own auth errors here
            reason = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
            if "InvalidAuthToken" in held.text + str(exc):
                auth = (" It refused this machine's token (none, or another cluster's): that cluster uses token "
                        "authentication, so copy the head's ~/.ray/auth_token here and set RAY_AUTH_MODE=token.")
            else:
                auth = "" if os.environ.get("RAY_AUTH_MODE") else (
                    " If the cluster uses token authentication (Ray's default), set RAY_AUTH_MODE=token and copy the "
                    "head's ~/.ray/auth_token to this machine.")
            raise UsageError(f"--address {args.address}: cannot join that Ray cluster ({reason}).{auth} Or leave "
                             "--address out to run on this machine alone") from exc
        sys.stderr.write(held.text)  # joined: whatever Ray said belongs on the console after all
    else:
        # address="local": always a new Ray of our own. Without it, ray.init joins whatever cluster Ray's
        # `ray_current_cluster` file names (someone else's, or a dead one) and fails or shares it.
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, **kwargs)
        if REAP_ON_DRIVER_DEATH:
            from . import reaper

            reaper.start()  # a SIGKILLed driver leaves no Ray agents behind (search/reaper.py)
    if REAP_ON_DRIVER_DEATH:
        # SIGTERM (`kill`, a job scheduler or container stopping the search) takes Ctrl-C's path: the
        # trials stop, the run is left resumable, exit 3. Set after ray.init, which installs a handler
        # of its own that aborts the process.
        signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    res = ray.cluster_resources()
    gpus, cpus = res.get("GPU", 0), res.get("CPU", 0)
    node_cpus = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=0)
    if args.gpus_per_trial > gpus:
        raise UsageError(f"--gpus-per-trial {args.gpus_per_trial}: the cluster has {gpus:g} GPU(s)")
    if args.cpus_per_trial > node_cpus:
        raise UsageError(f"--cpus-per-trial {args.cpus_per_trial:g}: the largest node has {node_cpus:g} CPUs")
    return {"cpus": cpus, "gpus": gpus, "nodes": len([n for n in ray.nodes() if n["Alive"]])}


def trial_name(trial) -> str:
    """A trial's number, as its name: Optuna's trial number, or for PBT the population index its
    initial config carries (named once, when Tune creates the trial: a takeover copies another
    trial's config, number included, but not its name)."""
    from .space import params_of

    return str(params_of(trial.config).get("trial_number", trial.trial_id))


def make_tuner(args, data_ref_kwargs: dict, settings: dict, experiment_path: str, resources: dict, resume: bool,
               console):
    """The Tuner for a new search, or the restored one for --resume."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining
    from ray.tune.search.optuna import OptunaSearch

    from .space import SPACES, initial_population
    from .trainable import run_trial

    trainable = tune.with_resources(tune.with_parameters(run_trial, **data_ref_kwargs, settings=settings),
                                    {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial})
    if resume:
        return tune.Tuner.restore(experiment_path, trainable=trainable, resume_errored=True)
    by_cpu = int(resources["cpus"] // args.cpus_per_trial)
    by_gpu = int(resources["gpus"] // args.gpus_per_trial) if args.gpus_per_trial else by_cpu
    concurrent = args.max_concurrent or max(1, min(by_cpu, by_gpu, args.num_samples))
    searcher, scheduler, param_space, samples = None, None, None, args.num_samples
    if args.scheduler == "pbt":
        # PBT refuses a search algorithm: its population is drawn from the same space up front, and it
        # perturbs the space's continuous knobs (learning rates, loss weights) as the trials train.
        population, ranges = initial_population(args.space, args.num_samples, args.seed)
        mutations = {k: (tune.loguniform if log else tune.uniform)(lo, hi) for k, (lo, hi, log) in ranges.items()}
        scheduler = PopulationBasedTraining(
            time_attr="epoch", metric=policy.PBT_METRIC, mode="min", perturbation_interval=args.perturb_every,
            burn_in_period=args.perturb_every, hyperparam_mutations={"params": mutations}, quantile_fraction=0.25,
            resample_probability=0.25)
        param_space, samples = {"params": tune.grid_search(population)}, 1
        # PBT draws its perturbation factors from Python's `random` and its redraws from numpy's global
        # state, in this process. Seeded, but which trial is perturbed when depends on timing: a PBT
        # search is not reproducible run to run the way an Optuna one is.
        random.seed(args.seed)
        np.random.seed(args.seed)
    else:
        searcher = OptunaSearch(space=SPACES[args.space], metric=[m for m, _ in policy.OBJECTIVES],
                               mode=[mode for _, mode in policy.OBJECTIVES], seed=args.seed)
    if args.scheduler == "asha":
        scheduler = ASHAScheduler(metric=policy.ASHA_METRIC, mode="min", time_attr="epoch", max_t=args.max_epochs,
                                  grace_period=max(1, args.max_epochs // 4), reduction_factor=2)
    # a URI splits on '/', a local path on the platform's separator
    storage, name = experiment_path.rsplit("/", 1) if "://" in experiment_path else os.path.split(experiment_path)
    return tune.Tuner(
        trainable, param_space=param_space,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=samples,
                                    # PBT: with reused actors a paused trial's checkpoint numbering restarted,
                                    # rewriting earlier checkpoint folders in place (seen in bench runs; a
                                    # takeover after a resume still does, see the quality issue's note)
                                    max_concurrent_trials=concurrent, reuse_actors=args.scheduler != "pbt",
                                    # a trial's name is its number (trainable.own_number reads it back from Tune's context)
                                    trial_name_creator=trial_name, trial_dirname_creator=lambda t: f"trial_{trial_name(t)}"),
        run_config=tune.RunConfig(name=name, storage_path=storage, verbose=2 if args.verbose else 0,
                                  failure_config=tune.FailureConfig(max_failures=2),
                                  # PBT restores one trial from another's checkpoint while that trial trains on: deleting
                                  # old checkpoints would pull it from under the restore (trainable.py writes PBT's less often)
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=None if args.scheduler == "pbt" else 1),
                                  callbacks=[console]),
    )
