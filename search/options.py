"""`python -m search.tune`'s options: the parser, and the checks that need no Ray and no data."""
from __future__ import annotations

import argparse
import os
import re
import socket

from ecgmodels.metrics import TEST_N, too_few_beats

# Exit statuses of `python -m search.tune` (4, missing or unusable data, is datasets.EXIT_DATA).
EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_UNFINISHED = 0, 1, 2, 3


class UsageError(Exception):
    """Bad or contradictory options, found before any work starts."""


# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from datasets.options import add_dataset_args

    p = argparse.ArgumentParser(allow_abbrev=False, 
        prog="python -m search.tune",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The driver builds or finds the cached window dataset once, puts it in Ray's object store, and\n"
        "runs one trial per sampled config; Optuna minimises validation PRD (nearest-neighbour pairing, both ways)\n"
        "and MMD² (the dataset's fixed kernel) together. When the search ends it writes results/<name>/:\n"
        "leaderboard.csv/.md, pareto.png, samples.png, run.json and best/, the chosen generator re-evaluated\n"
        "on the test split and exported.",
        epilog="examples:\n"
        "  python -m search.tune --smoke                       # a quick look, ~1 min on a laptop\n"
        "  python -m search.tune --num-samples 8 --max-epochs 10 --name quickstart\n"
        "  python -m search.tune --resume results/quickstart   # continue an interrupted search\n"
        "  python -m search.tune --space small --scheduler pbt --num-samples 24 --max-epochs 60   # PBT, ~1 h on 2 CPUs\n"
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
    s.add_argument("--scheduler", choices=("none", "asha", "pbt"), default="none",
                   help="none: Optuna proposes every trial, each trains all its epochs; asha: Optuna proposes, weak "
                   "trials stop early on the scalarised score (the quality bar first); pbt: Population Based Training, --num-samples trials "
                   "drawn at random from the space train together, and every --perturb-every epochs the worst "
                   "quarter (judged on the epoch just trained, the quality bar first) take over the best quarter's weights and configuration, going on with perturbed learning "
                   "rates and loss weights; the leaderboard's lineage column says whose weights each trial carries "
                   "(default %(default)s)")
    s.add_argument("--perturb-every", type=int, help="pbt: epochs between exploit/explore steps (default: an "
                   "eighth of --max-epochs, at least 1)")
    s.add_argument("--select", choices=("knee", "prd", "mmd"), default="knee",
                   help="which Pareto-front trial to export, among those whose MMD² beats the average beat: "
                   "knee = lowest score (ecgmodels.policy.scalarised: real beats about 1, the average beat about 2) (default)")
    s.add_argument("--seed", type=int, default=0, help="searcher seed; trial k trains with seed*10000+k (default 0)")
    s.add_argument("--space", choices=("full", "small", "smoke"), default="full",
                   help="search space (search/space.py): full = every size up to the seed's (best on a GPU); "
                   "small = the same axes at CPU-friendly sizes; smoke = tiny networks (default %(default)s)")
    s.add_argument("--smoke", action="store_true", help="--space smoke with a tiny budget (4 trials x 2 epochs "
                   "unless given): a quick look that the whole pipeline works")
    s.add_argument("--eval-n", type=int, default=256,
                   help="generated beats scored per validation epoch (default %(default)s)")
    s.add_argument("--test-n", type=int, default=TEST_N,
                   help="generated beats scored on the test split, for the exported generator and the seed "
                   "reference (default %(default)s)")
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
    if args.perturb_every is None:
        args.perturb_every = max(1, args.max_epochs // 8)
    if args.perturb_every < 1:
        raise UsageError(f"--perturb-every {args.perturb_every}: must be at least 1 epoch")
    if args.scheduler == "pbt" and args.num_samples < 2:
        raise UsageError(f"--scheduler pbt with --num-samples {args.num_samples}: a population needs at least 2 "
                         "trials (4 or more, so a quarter of it is a trial)")
    if args.cpus_per_trial <= 0:
        raise UsageError(f"--cpus-per-trial {args.cpus_per_trial}: must be positive")
    if args.gpus_per_trial < 0 or (args.gpus_per_trial > 1 and args.gpus_per_trial != int(args.gpus_per_trial)):
        raise UsageError(f"--gpus-per-trial {args.gpus_per_trial}: use a fraction of one GPU or a whole number")
    for flag, n in (("--eval-n", args.eval_n), ("--test-n", args.test_n)):
        if error := too_few_beats(flag, n):
            raise UsageError(error)
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
