"""The Tune trainable: one trial trains one GanConfig and reports validation PRD and MMD each epoch.

Data arrives through the object store (`tune.with_parameters`), never from WFDB files, so workers
need no shared filesystem and no LUDB copy. Each epoch's report carries a checkpoint, so a trial
whose worker dies resumes from its last epoch (FailureConfig), and `--resume` continues it too.

A trial is judged by its best epoch on validation (ecgmodels.best), not its last: `prd`, `mmd`,
every other population metric (ecgmodels.registry.POPULATION) and `score` in every report are the
best epoch's so far (what Optuna, ASHA and the leaderboard see), `best_epoch` says which, and
`last_*` are the epoch just trained. The checkpoint
folder holds `ckpt.pt` (the latest state, to resume) and `best.pt` (the best epoch, to export).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import ray
import torch
from ray import tune

from ecgmodels.best import BestEpoch, Validation
from ecgmodels.metrics import report
from ecgmodels.registry import PER_EPOCH, REGISTRY
from ecgmodels.checkpoint import load_training_checkpoint, networks, save_checkpoint
from ecgmodels.fit import fit
from ecgmodels.loop import Outcome, train
from ecgmodels.models import sampler

from .board import NO_METRICS
from .space import params_of, to_gan_config

# Reported instead of real values when a trial diverged (NaN): the worst finite values.
PENALTY = {m: REGISTRY[m].worst for m in PER_EPOCH} | {
    "score": NO_METRICS, "rank": NO_METRICS, "bar": 0.0}
# Also reported for the epoch just trained, as last_<name> (PBT ranks trials by last_rank)
LAST = ("prd", "mmd", "coverage", "score", "rank")

def own_number(config: dict) -> int:
    """This trial's number, from Tune's trial context: its name (search.cluster.trial_name). A search
    started before trials were named so keeps Tune's own names when resumed: there, Optuna's number
    in the config, or for PBT the population index its folder was named after."""
    ctx = tune.get_context()
    name = ctx.get_trial_name()
    if name.isdigit():
        return int(name)
    if "params" in config:
        return int(Path(ctx.get_trial_dir()).name.removeprefix("trial_"))
    return int(config["trial_number"])


def lineage_text(best: dict, me: int) -> str:
    """Where a trial's best-epoch weights came from, for the leaderboard: each PBT takeover of another
    trial's weights ('trial 3 @ epoch 10 (g_lr 0.0004)': from trial 3 at epoch 10, going on with that
    learning rate), oldest first, and who trained the kept epoch when it was not the trial itself (a
    takeover brings the donor's best epoch along). Empty for a trial that only trained its own."""
    def show(v) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    parts = [f"trial {e['from']} @ epoch {e['epoch']} ({', '.join(f'{k} {show(v)}' for k, v in e['set'].items())})"
             for e in best.get("lineage", [])]
    if best.get("owner", me) != me:
        parts.append(f"epoch {best['epoch']} trained by trial {best['owner']}")
    return "; ".join(parts)


def stamp(ckpt: dict, owner: int, lineage: list[dict]) -> dict:
    """Mark a checkpoint with the trial that trained it and the takeovers behind it, unless already
    marked (a best epoch brought along from a PBT donor keeps the donor's marks)."""
    ckpt.setdefault("owner", owner)
    ckpt.setdefault("lineage", list(lineage))
    return ckpt


def run_trial(config: dict, data: dict, settings: dict) -> None:
    """Tune function trainable. `config`: the searcher's params (flat, or under 'params' for PBT);
    `data`: the training windows and the `Validation` set-up (data_payload);
    `settings`: max_epochs, base seed, eval_n, gpus, threads."""
    index = own_number(config)
    seed = settings["seed"] * 10_000 + index  # explicit, recorded per trial
    torch.set_num_threads(max(1, int(settings["threads"])))
    device = "cuda" if settings["gpus"] > 0 and torch.cuda.is_available() else "cpu"
    cfg = to_gan_config(params_of(config), epochs=settings["max_epochs"], seed=seed, leads=data["train"].shape[1],
                        window=data["train"].shape[-1])
    resume, best_state, lineage = None, None, []
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            resume = load_training_checkpoint(Path(d) / "ckpt.pt")
            best_state = load_training_checkpoint(Path(d) / "best.pt")  # every report writes both
        lineage = list(resume.get("lineage", []))
        if resume.get("owner", index) != index:  # PBT exploit: another trial's weights, perturbed knobs
            old = resume["config"]
            lineage.append({"from": int(resume["owner"]), "epoch": int(resume["epoch"]),
                            "set": {k: v for k, v in cfg.to_dict().items() if old.get(k) != v and k != "seed"}})
    best = BestEpoch(data["validation"], seed, state=best_state)
    node = ray.get_runtime_context().get_node_id()
    last: dict = {}

    def row(now: dict, epoch: int, losses: dict) -> dict:
        """What a report says: the best epoch's metrics, `now`'s as last_*, and who the trial is."""
        chosen = best.metrics
        return {k: chosen[k] for k in now} | {f"last_{k}": now[k] for k in LAST} | losses | {
            "best_epoch": chosen["epoch"], "epoch": epoch, "trial_seed": seed, "trial_number": index, "node": node,
            "outcome": Outcome.COMPLETED.value if epoch == cfg.epochs else "running",
            "resumed_from": int(resume["epoch"]) if resume else 0,
            # whose weights the best epoch grew from (PBT), stamped on the best checkpoint when it was taken
            "lineage": lineage_text(stamp(best.checkpoint, index, lineage), index),
        }

    def plausibility() -> dict:
        """The best epoch's P/QRS/T plausibility on validation: once, at the end (delineation is slow)."""
        _, G, _ = networks(best.checkpoint)
        return data["validation"].plausibility(sampler(G)(data["validation"].n, seed))

    def report(rep) -> None:
        now = best.update(rep)
        chosen = best.metrics
        metrics = row(now, rep.epoch, {"d_loss": rep.metrics["d_loss"], "g_loss": rep.metrics["g_loss"],
                                       # the training loop's collapse check (G on fixed noise), not 'diversity'
                                       "train_diversity": rep.metrics["diversity"]})
        if rep.epoch == cfg.epochs:
            metrics |= plausibility()
        last.clear()
        last.update(metrics)
        # Under PBT a checkpoint is written at perturbation steps, at the end, and whenever the best
        # epoch moves (so a row's metrics and its best.pt always agree, a collapsed trial's too)
        if rep.epoch % settings["checkpoint_every"] and rep.epoch < cfg.epochs \
                and chosen["epoch"] != rep.epoch:
            tune.report(metrics)
        else:
            with tempfile.TemporaryDirectory() as d:
                save_checkpoint(rep.checkpoint() | {"owner": index, "lineage": lineage}, Path(d) / "ckpt.pt")
                save_checkpoint(best.checkpoint, Path(d) / "best.pt")
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))

    if resume is not None and int(resume["epoch"]) >= cfg.epochs:
        # PBT handed this trial a donor's checkpoint of the last epoch: nothing is left to train, but
        # the trial's final row must still be its own (number, lineage), not the donor's last result.
        nan = float("nan")
        tune.report(row({k: v for k, v in best.metrics.items() if k != "epoch"}, cfg.epochs,
                        {"d_loss": nan, "g_loss": nan, "train_diversity": nan}) | plausibility())
        return
    result = train(cfg, data["train"], device, report, resume=resume)
    if result.outcome in (Outcome.DIVERGED, Outcome.COLLAPSED):
        final = dict(last) if result.outcome == Outcome.COLLAPSED and last else {
            **PENALTY, "epoch": result.epochs, "trial_seed": seed, "trial_number": index, "node": node,
            "d_loss": float("nan"), "g_loss": float("nan"), "best_epoch": 0, "lineage": "",
            **{f"last_{k}": PENALTY[k] for k in LAST},
            "resumed_from": int(resume["epoch"]) if resume else 0}
        final["outcome"] = result.outcome.value
        final["message"] = result.message
        tune.report(final)


def data_payload(ds, eval_n: int) -> dict:
    """What every trial needs, computed once by the driver: the training windows and the validation
    set-up (beats, records, the dataset's fixed kernel, both baselines)."""
    train_w = ds.part("train")
    return {"train": np.ascontiguousarray(train_w),
            "validation": Validation.of(ds, eval_n)}


def run_seed_reference(test_inputs: dict, epochs: int, seed: int, threads: int, validation: Validation,
                       test_n: int) -> dict:
    """Train the seed's own model and recipe (variant 'seed') for `epochs`, keep its best epoch on
    validation by the same rule as the trials, and score that epoch on test. Runs as a Ray task
    beside the search, so it shares the cluster's accounting."""
    from ecgmodels.config import variant

    torch.set_num_threads(max(1, threads))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_w = test_inputs["train"]
    cfg = variant("seed", epochs=epochs, seed=seed, leads=train_w.shape[1], window=train_w.shape[-1])
    fitted = fit(cfg, train_w, validation, device)
    test = report(sampler(fitted.generator), **test_inputs, kernel=validation.kernel, n=test_n, seed=seed)
    return {"epochs": fitted.result.epochs, "best_epoch": fitted.epoch, "outcome": fitted.result.outcome.value,
            "seconds": round(fitted.seconds, 1), "val": fitted.validation, "test": test}
