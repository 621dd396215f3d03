"""A search's run folder: claiming it for a new search, and reading it back to resume one."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from .options import UsageError


def claim_run_dir(run_dir: Path) -> Path:
    """Create `run_dir`/run.json exclusively (a placeholder until the search writes its own), so two
    searches started with the same --name cannot share, and wipe, one folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "run.json"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    with os.fdopen(fd, "w") as f:
        json.dump({"starting": True, "pid": os.getpid()}, f)
    return path


def load_resume(args: argparse.Namespace) -> tuple[argparse.Namespace, dict]:
    """Args of the interrupted run (from its run.json), keeping this call's --address and -v."""
    run = Path(args.resume)
    info_path = run / "run.json"
    if not info_path.is_file():
        raise UsageError(f"--resume {run}: no run.json there, so it is not a search run folder "
                         "(give the folder `python -m search.tune --name NAME` wrote, e.g. results/NAME)")
    from . import board as lb

    try:
        info = lb.read_run_json(run)
    except ValueError as exc:
        raise UsageError(f"--resume {run}: {exc}") from exc
    if info.get("starting"):
        raise UsageError(f"--resume {run}: the search there never got past its start (or is starting now, pid "
                         f"{info.get('pid')}): nothing to resume; delete {info_path} if no search is running there")
    missing = [k for k in ("name", "experiment_path", "args", "dataset_config", "command") if k not in info]
    if missing:
        raise UsageError(f"--resume {run}: {info_path} lacks {', '.join(missing)}: edited or written by another "
                         "tool, so the search cannot be resumed from it")
    if "kernel" not in info or "baselines" not in info:
        raise UsageError(f"--resume {run}: this search was run with earlier evaluation metrics (its run.json records no "
                         "fixed kernel or baselines), so new trials would not compare with its old ones. Start a new "
                         "search, or re-score its exported best with `python -m ecgmodels.evaluate --model "
                         f"{run / 'best'} --write`")
    from ray import tune

    recorded = info["experiment_path"]
    inside = "://" not in recorded and not Path(recorded).is_absolute()  # recorded relative: inside the run folder
    info["experiment_path"] = path = lb.resolve_in_run(run, recorded)
    local = "://" not in path
    started = len(list(Path(path).glob("trial_*"))) if local else 0
    # Stopped (Ctrl-C, kill, a crash) after run.json was written but before Tune's first save of its
    # state: no trial had started, so the search starts its trials afresh, as the same command would.
    info["restore"] = tune.Tuner.can_restore(path)
    if not info["restore"] and (started or not local):
        raise UsageError(f"--resume {run}: {path} holds no Tune experiment state to resume from"
                         f"{' but has trial folders (deleted or from another tool)' if started else ''}; start a new search")
    origin = info.get("run_dir")
    elsewhere = bool(origin) and Path(origin).resolve() != run.resolve()
    # Recorded relative to the run folder when it lies inside it, so a moved or copied run resumes where it is:
    # Tune re-points the trials it restores. But Ray 2.60's searcher keeps the storage path it started with
    # and would put the trials it has yet to start back in the original folder: refuse that case.
    if info["restore"] and inside and elsewhere and started < int(info["args"]["num_samples"]):
        raise UsageError(f"--resume {run}: this search was started in {origin} and still has trials to start; Ray "
                         "Tune would write them there, not here. Resume it from there (move it back), or start a new "
                         "search; the finished trials of this copy can still be exported (python -m search.export)")
    # Trials kept outside the run folder (--storage-path) did not move with it: a copy and its original
    # would drive one experiment (each holds only its own folder's lock), so only a moved run resumes.
    if not inside and elsewhere and (Path(origin) / "run.json").is_file():
        raise UsageError(f"--resume {run}: a copy of {origin}, whose trials both share in {path}; resume the "
                         "original there (or move this folder in its place)")
    from .options import build_parser

    # options added since the run started take their defaults (validate() fills the derived ones)
    saved = argparse.Namespace(**(vars(build_parser().parse_args([])) | info["args"]))
    saved.address, saved.verbose, saved.resume = args.address, args.verbose, args.resume
    print(f"resuming '{info['name']}' with its original options ({info['command']}); "
          "only --address and -v are taken from this call"
          + ("" if info["restore"] else "; it stopped before its first trial started, so its trials start now"))
    return saved, info
