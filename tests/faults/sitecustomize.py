"""Test-only fault injection for searches run as subprocesses (the trial code has no fault hooks).

A test puts this folder on PYTHONPATH and sets ECG_SEARCH_FAULTS (comma-separated); every Python
process of the search (the driver and Ray's workers, which inherit the environment) then imports
this file at start-up, and when `search.trainable` is imported, its `train` is wrapped:
  'crash@E:DIR'  every trial's worker process dies once, right after epoch E's report (DIR holds
                 the once-markers), as after an OOM kill or a lost node;
  'nan@I'        trial I's losses turn NaN, so it diverges;
  'raise@I'      trial I raises before its first epoch on every attempt, so it errors for good.
A trial's number is its seed's last four digits (search.trainable: seed = 10000 * --seed + number).
"""
import importlib.abc
import importlib.util
import os
import sys
from pathlib import Path

FAULTS = [item.partition("@") for item in filter(None, os.environ.get("ECG_SEARCH_FAULTS", "").split(","))]


def faulty(train):
    def wrapped(cfg, windows, device, callback, resume=None):
        import ecgmodels.loop as loop

        index = cfg.seed % 10_000
        cb, saved = callback, loop.d_loss_fn
        for kind, _, arg in FAULTS:
            if kind == "raise" and int(arg) == index:
                raise RuntimeError(f"injected failure in trial {index} (ECG_SEARCH_FAULTS={kind}@{arg})")
            if kind == "nan" and int(arg) == index:
                loop.d_loss_fn = lambda *a: saved(*a) * float("nan")
            if kind == "crash":
                epoch, _, folder = arg.partition(":")
                marker = Path(folder) / f"crashed-{index}"

                def cb(rep, inner=cb, epoch=int(epoch), marker=marker):
                    out = inner(rep)
                    if rep.epoch == epoch and not marker.exists():
                        marker.write_text("crashed once")
                        os._exit(1)  # no cleanup, no exception: the process is simply gone
                    return out
        try:
            return train(cfg, windows, device, cb, resume=resume)
        finally:
            loop.d_loss_fn = saved

    return wrapped


class _Patch(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `search.trainable` through the normal machinery, then wraps its `train` once loaded."""

    def find_spec(self, name, path=None, target=None):
        if name != "search.trainable":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        self.inner = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        module.train = faulty(module.train)


if FAULTS:
    sys.meta_path.insert(0, _Patch())
