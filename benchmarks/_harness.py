"""Measurement helpers shared by the benchmarks: foreign CPU load and peak RSS on this shared machine."""

from __future__ import annotations

import os
import random
import resource
import statistics
import time
from collections.abc import Callable

_TCK = os.sysconf("SC_CLK_TCK")
_NCPU = os.cpu_count() or 1


def snapshot() -> tuple[float, float, float]:
    """(wall s, machine busy CPU s, our own CPU s) now."""
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:9]]
    busy = (v[0] + v[1] + v[2] + v[5] + v[6]) / _TCK
    ru = resource.getrusage(resource.RUSAGE_SELF)
    rc = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), busy, ru.ru_utime + ru.ru_stime + rc.ru_utime + rc.ru_stime


def foreign_load_between(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """Share of the machine's CPU used by other processes between two snapshots."""
    wall = max(b[0] - a[0], 1e-9) * _NCPU
    return min(1.0, max(0.0, (b[1] - a[1]) - (b[2] - a[2])) / wall)


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def peak_rss_reset() -> None:
    """Reset the peak-RSS watermark (VmHWM) of this process."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def peak_rss_mib(current: bool = False) -> float:
    """Peak RSS since the last reset (or the current RSS), MiB."""
    return _status_kib("VmRSS" if current else "VmHWM") / 1024


def shuffled_rounds(cases: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Wall times of every case, ``rounds`` times, in a new random order each round (so that cache
    and page-fault effects of the previous case hit every case alike)."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        order = list(cases)
        random.shuffle(order)
        for name in order:
            start = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - start)
    return times


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(t) for name, t in times.items()}
