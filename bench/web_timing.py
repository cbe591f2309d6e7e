"""bench_web's targets and timing: the median and the worst of a few runs, the process's resident memory."""

from __future__ import annotations

import statistics
import time

TARGET_MS, TARGET_MB_S = 200.0, 10.0


def timed(fn, repeat: int = 5) -> tuple[float, float]:
    fn()  # warm the page cache
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
