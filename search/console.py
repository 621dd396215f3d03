"""What a search prints while it runs: one line per finished trial, and whether Ctrl-C was pressed.

The Console's state lives in this module (`STATE`), not in the callback object: `Tuner.restore`
brings back the callbacks pickled by the first call, so on `--resume` the object Tune calls is
that old copy. Its methods look `STATE` up here at call time, so the driver of any call reads
what its own Tune loop saw.
"""
from __future__ import annotations

import signal
import sys
import threading
from dataclasses import dataclass, field

from .space import params_of


@dataclass
class ConsoleState:
    total: int = 0
    verbose: bool = False
    done: int = 0
    interrupted: bool = False  # Tune's SIGINT handler fired (Ctrl-C) during fit()
    cut: set[str] = field(default_factory=set)  # trials that ended after it: interrupted, not stopped early
    wrapped: object = None


STATE = ConsoleState()


def state() -> ConsoleState:
    """This process's console state (looked up by module, so a restored Console finds it)."""
    return sys.modules[__name__].STATE


def make_console(total: int, verbose: bool):
    """A fresh console state for this call, and the Tune callback that reports into it."""
    from ray import tune

    from .board import NO_METRICS

    sys.modules[__name__].STATE = ConsoleState(total=total, verbose=verbose)

    class Console(tune.Callback):
        """One line per finished trial and a running count, instead of Ray's status tables. Also
        notices Ctrl-C: Tune catches the first SIGINT itself and returns from fit() normally, so the
        handler Tune installs is wrapped (from the loop, in the main thread) to record that it fired."""

        def on_step_begin(self, iteration, trials, **info):
            st = state()
            current = signal.getsignal(signal.SIGINT)
            if current is st.wrapped or not callable(current) or threading.current_thread() is not threading.main_thread():
                return

            def wrapper(sig, frame, tune_handler=current):
                state().interrupted = True
                tune_handler(sig, frame)

            st.wrapped = wrapper
            signal.signal(signal.SIGINT, wrapper)

        def _line(self, trial, tag: str) -> None:
            st = state()
            st.done += 1
            m = trial.last_result or {}
            c = params_of(trial.config)
            params = " ".join(f"{k}={c[k]:.2g}" if isinstance(c.get(k), float) else f"{k}={c[k]}"
                              for k in ("loss", "g_lstm_units", "g_lr", "d_lr", "batch_size", "d_steps") if k in c)
            metrics = (f"prd {m['prd']:6.1f}  mmd {m['mmd']:7.4f}  cov {m['coverage']:.2f}  score {m['score']:6.2f}"
                       if "prd" in m and m["prd"] < NO_METRICS else "no metrics")
            if "bar" in m and m["prd"] < NO_METRICS:  # its best epoch meets the quality bar (ecgmodels.best)
                metrics += "  bar " + ("yes" if m["bar"] else "no ")
            if "plausible" in m:  # checked once, when a trial completes
                metrics += "  ECG " + ("yes" if m["plausible"] else "NO ")
            lineage = f" | weights from {m['lineage']}" if m.get("lineage") else ""
            print(f"[{st.done}/{st.total}] trial {m.get('trial_number', c.get('trial_number', '?')):>3} {tag:<13} "
                  f"epochs {m.get('epoch', 0):>3} (best {m.get('best_epoch', 0):>3})  {metrics}  {m.get('time_total_s', 0):5.0f}s | "
                  f"{params}{lineage}", flush=True)

        def on_trial_complete(self, iteration, trials, trial, **info):
            outcome = (trial.last_result or {}).get("outcome", "running")
            if outcome == "running" and state().interrupted:
                state().cut.add(trial.trial_id)
                outcome = "interrupted"
            self._line(trial, outcome.replace("running", "stopped early"))

        def on_trial_error(self, iteration, trials, trial, **info):
            self._line(trial, "ERROR")

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if state().verbose:
                print(f"    trial {trial.trial_id} epoch {result.get('epoch')}: prd {result.get('last_prd', 0):.1f} "
                      f"mmd {result.get('last_mmd', 0):.4f} (best: epoch {result.get('best_epoch')}, "
                      f"mmd {result.get('mmd', 0):.4f})", flush=True)

    return Console()
