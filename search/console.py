"""What a search prints while it runs: one line per finished trial, and whether Ctrl-C was pressed."""
from __future__ import annotations

import signal
import threading


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
