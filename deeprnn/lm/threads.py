"""How many compute threads a command uses (``--threads``, train.threads): N, 0 = auto, -1 = leave as is.

Why it matters: OpenBLAS's threads spin-wait. On a 2-core machine with the other core busy, a small
GEMM ran at 2-5 GFLOP/s on 2 threads against 80 on 1, and the demo reached 49 steps instead of 279 in
the same time. So "all cores" is the wrong default on a shared machine.

The auto rule: one thread per physical core that other processes leave idle. A LoadProbe starts when
the command starts and reads the CPU counters of /proc/stat when the work is about to begin (at least
MIN_SAMPLE seconds later); the busy time of this process itself is subtracted, so the setup it did
meanwhile does not count. A core counts as busy when others used BUSY_SHARE of it or more; with hyper-
threads, the logical CPUs of one core count as one. Without /proc/stat (macOS), the load average
stands in for the others' use. At least one thread, always.

A resumed training keeps the thread count its run started with (trainer_state.json records it):
BLAS sums in a different order with another thread count, and a resume must end bit-identical to an
uninterrupted run. ``--threads N`` on the resume overrides that.
"""

from __future__ import annotations

import importlib.util
import math
import os
import time
from contextlib import contextmanager
from pathlib import Path

AUTO, LEAVE = 0, -1
MIN_SAMPLE = 0.2  # seconds: the shortest window the probe measures over (/proc/stat counts in 10 ms ticks)
BUSY_SHARE = 0.25  # a core that other processes use this much of is not idle


def _cpu_ticks(cpus: set[int]) -> int | None:
    """Busy clock ticks (user, nice, system, irq, softirq, steal) summed over ``cpus``, from /proc/stat."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    busy = 0
    for line in lines:
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in (values + ["0"] * 8)[:8])
            busy += user + nice + system + irq + softirq + steal
    return busy


def _usable_cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return set(range(os.cpu_count() or 1))


def physical_cores(cpus: set[int]) -> int:
    """How many physical cores the logical ``cpus`` belong to (each is its own core if unknown)."""
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topology / "physical_package_id").read_text().strip() + ":" +
                      (topology / "core_id").read_text().strip())
        except OSError:
            cores.add(f"cpu{cpu}")
    return len(cores)


def busy_cores(physical: int, logical: int, others_busy_cpus: float) -> int:
    """The physical cores other processes keep busy (BUSY_SHARE of a core or more counts), from their use
    in logical CPUs (1.0 = one CPU fully busy)."""
    return min(physical, math.floor(max(0.0, others_busy_cpus) * physical / max(1, logical) + 1 - BUSY_SHARE))


def idle_cores(physical: int, logical: int, others_busy_cpus: float) -> int:
    """The auto rule: the physical cores others leave idle, at least 1."""
    return max(1, physical - busy_cores(physical, logical, others_busy_cpus))


class LoadProbe:
    """What other processes are doing to the machine's cores, measured from creation to ``idle_cores()``."""

    def __init__(self):
        self.cpus = _usable_cpus()
        self._t0, self._own0 = time.monotonic(), time.process_time()
        self._ticks0 = _cpu_ticks(self.cpus)

    def others_busy(self) -> float:
        """Logical CPUs' worth of work by other processes over the window (waits until MIN_SAMPLE)."""
        wait = MIN_SAMPLE - (time.monotonic() - self._t0)
        if wait > 0:
            time.sleep(wait)
        ticks = _cpu_ticks(self.cpus)
        elapsed, own = time.monotonic() - self._t0, time.process_time() - self._own0
        if ticks is None or self._ticks0 is None:
            try:
                return os.getloadavg()[0]
            except (AttributeError, OSError):
                return 0.0
        return ((ticks - self._ticks0) / os.sysconf("SC_CLK_TCK") - own) / elapsed

    def idle_cores(self) -> tuple[int, str]:
        """(threads for the auto rule, why: e.g. "1 of 2 cores idle")."""
        physical = physical_cores(self.cpus)
        others = self.others_busy()
        idle = physical - busy_cores(physical, len(self.cpus), others)
        return max(1, idle), f"{idle} of {physical} cores idle, other processes using {others:.1f} CPUs"


def resolve_threads(setting: int, probe: LoadProbe | None, recorded: int | None = None) -> tuple[int | None, str]:
    """(threads to use, or None to leave them alone; a note for the log). ``recorded``: the count a
    resumed run started with, kept under auto (see the module docstring)."""
    if setting == LEAVE:
        return None, "threads left as they are (--threads -1)"
    if setting > 0:
        return setting, f"{_threads(setting)} (--threads)"
    if recorded:
        return recorded, f"{_threads(recorded)}, as the run started with (auto; a resume stays bit-identical)"
    if importlib.util.find_spec("threadpoolctl") is None:  # NumPy's BLAS cannot be limited without it
        return None, "threads left as they are (auto threads need threadpoolctl: pip install 'deeprnn[lm]')"
    n, why = (probe or LoadProbe()).idle_cores()
    return n, f"{_threads(n)} (auto: {why})"


def _threads(n: int) -> str:
    return f"{n} thread{'s' if n != 1 else ''}"


THREADS_HELP = ("compute threads: N, 0 = auto (one per idle physical core), -1 = leave BLAS/torch as they are "
                "(default: the run's setting)")


def use_threads(engine, setting: int, probe: LoadProbe | None = None) -> int | None:
    """Limit ``engine`` to the threads ``setting`` asks for, for the rest of the process (eval and
    generate); returns the count (None: left as it was)."""
    n, _ = resolve_threads(setting, probe)
    if n:
        engine.limit_threads(n)
    return n


@contextmanager
def using_threads(engine, n: int | None):
    """Run the block with the engine limited to ``n`` threads (None: as they are)."""
    restore = engine.limit_threads(n) if n else None
    try:
        yield
    finally:
        if restore is not None:
            restore()
