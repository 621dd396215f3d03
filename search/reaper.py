"""A sidecar that stops a local Ray when the search driver is killed outright.

`ray.init(address="local")` starts Ray's processes under the driver. After a SIGKILL of the driver
(no cleanup runs) the GCS and raylet go at once, but Ray's per-node agents wait about a minute on
the dead GCS before they exit (scripts/leftovers_check.sh shows it). This sidecar, started by the
driver, takes a snapshot of the driver's descendants every second; once the driver is gone it sends
SIGKILL to those still alive (same PID and start time: never a reused PID) and exits. Linux only
(it reads /proc); elsewhere it is not started. Clusters joined with --address are not touched:
their processes are not the driver's descendants.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _table() -> dict[int, tuple[int, str]]:
    """{pid: (parent pid, start time)} of every process, from /proc."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
                out[int(d.name)] = (int(fields[1]), fields[19])
            except (OSError, IndexError, ValueError):
                pass
    return out


def _descendants(root: int, table: dict[int, tuple[int, str]]) -> dict[int, str]:
    found, frontier = {}, {root}
    while frontier:
        frontier = {p for p, (pp, _) in table.items() if pp in frontier and p not in found}
        found |= {p: table[p][1] for p in frontier}
    return found


def _state(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}/stat")).read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def watch(driver: int, period_s: float = 1.0) -> None:
    """The sidecar's loop (runs in its own process)."""
    me, seen = os.getpid(), {}
    born = _table().get(driver, (None, None))[1]
    while True:
        table = _table()
        # gone, a zombie, or its PID reused by another process (other start time): the driver has ended
        if table.get(driver, (None, None))[1] != born or _state(driver) in ("Z", "X", ""):
            for pid, started in seen.items():
                if table.get(pid, (None, None))[1] == started and pid != me:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            return
        seen |= _descendants(driver, table)  # the start-time check above guards every PID kept here
        time.sleep(period_s)


def start() -> None:
    """Start the sidecar for this process (Linux; a no-op elsewhere). It is not our child's child
    of anything Ray starts, and ends by itself when this process ends."""
    if not Path("/proc/self/stat").exists():
        return
    subprocess.Popen([sys.executable, "-c", f"from search.reaper import watch; watch({os.getpid()})"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
