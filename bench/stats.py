"""Small helpers shared by the benchmarks: percentiles, peak memory, machine description."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import numpy as np


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of `values`, or NaN when empty."""
    return float(np.percentile(values, q)) if values else float("nan")


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory (VmHWM) of a process, in MB."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> str:
    """One line: cores, memory, Python and OS."""
    cores = os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (
        f"{cores} cores, {mem:.0f} GiB, Python {sys.version.split()[0]}, "
        f"{platform.system()} {platform.release()}, load average at start {load:.1f}"
    )
