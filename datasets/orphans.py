"""Keep the build's helper processes from outliving it.

The window build cuts records in a fork-server pool. When the process that started it is killed
outright (SIGKILL: no cleanup runs), Python leaves the fork server and its workers running, orphaned.
On Linux each of them can ask the kernel for a signal when its parent dies (prctl PR_SET_PDEATHSIG):
the fork server imports this module as a preload (the one hook Python offers for code in the fork
server), and every worker runs `die_with_parent` as its initializer (the setting is not inherited
across fork). Elsewhere this does nothing.
"""
from __future__ import annotations

import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Have the kernel send `sig` to this process when its parent exits (Linux; a no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig))
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), sig)


if __name__ != "__main__" and os.environ.get("ECG_SEARCH_FORKSERVER") == "1":
    die_with_parent()
