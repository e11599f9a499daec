"""Is the timing of a comparison fair? The machine load at the start and end of every run.

The 1-minute load average (os.getloadavg) counts the runnable threads, ours included; the kernel
updates it as an exponential average with a time constant of 60 s. A comparison runs one training at
a time with ``threads`` threads, so ``s`` seconds after it began our own share has moved from what it
was then (``r``: what an earlier invocation left, decaying) towards ``threads``:
``threads + (r - threads) · exp(-s/60)``. What is left of the load is the *other* work on the machine.
Timings compare when that other load stayed the same, within TOLERANCE, during each run and from run to
run; and they show the machine's speed when it stayed below the CPUs we did not use. (Only the sessions
in this comparison's compare.json are known as ours: a training elsewhere that ended within the last
minute or two still counts as other work at the start.)
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass

TOLERANCE = 0.5  # load units (runnable threads): half a core of other work comes or goes
TIME_CONSTANT = 60.0  # seconds: the 1-minute load average's


def load_average() -> float | None:
    """The 1-minute load average, or None where the platform has none (Windows)."""
    try:
        return float(os.getloadavg()[0])
    except (OSError, AttributeError):
        return None


@dataclass
class Session:
    """One training session of one run (a resumed run has several): the load around it."""

    started: float  # Unix time
    seconds: float  # how long the session took
    threads: int  # BLAS / torch threads of the run
    load_start: float | None  # 1-minute load average as the session started ...
    load_end: float | None  # ... and as it ended
    own_start: float = 0.0  # our own share of it (threads of ours, averaged) at the start ...
    own_end: float = 0.0  # ... and at the end

    def other_load(self) -> tuple[float, float] | None:
        """The load of other work at the start and at the end (ours subtracted), or None if unknown."""
        if self.load_start is None or self.load_end is None:
            return None
        return max(0.0, self.load_start - self.own_start), max(0.0, self.load_end - self.own_end)

    def to_dict(self) -> dict:
        return asdict(self)


def own_load(threads: int, seconds: float, residual: float = 0.0) -> float:
    """Our share of the 1-minute load average after ``seconds`` of ``threads`` runnable threads,
    starting from ``residual``."""
    return threads + (residual - threads) * math.exp(-max(seconds, 0.0) / TIME_CONSTANT)


class LoadRecorder:
    """Opens and closes Sessions. Our own share of the load is modelled from when the recorder was made,
    starting from what the ``previous`` sessions (earlier invocations, from compare.json) left."""

    def __init__(self, previous=(), clock=time.time):
        self._clock = clock  # Unix time: sessions of several invocations share it
        self._t0 = clock()
        last = max(previous, key=lambda s: s.started + s.seconds, default=None)
        gap = self._t0 - (last.started + last.seconds) if last else math.inf
        self._residual = last.own_end * math.exp(-max(gap, 0.0) / TIME_CONSTANT) if last else 0.0

    def start(self, threads: int) -> Session:
        now = self._clock()
        return Session(now, 0.0, threads, load_average(), None, self._own(threads, now), 0.0)

    def end(self, session: Session) -> Session:
        now = self._clock()
        session.load_end, session.own_end = load_average(), self._own(session.threads, now)
        session.seconds = round(now - session.started, 3)
        return session

    def _own(self, threads: int, now: float) -> float:
        return round(own_load(threads, now - self._t0, self._residual), 4)


def load_warnings(runs: dict[str, list[Session]], cpus: int | None = None,
                  tolerance: float = TOLERANCE) -> list[str]:
    """What makes the timing of these runs unfair, in words (empty when nothing does)."""
    cpus = cpus or os.cpu_count() or 1
    out, levels = [], {}
    for name, sessions in runs.items():
        for s in sessions:
            other = s.other_load()
            if other is None:
                continue
            levels.setdefault(name, []).extend(other)
            if abs(other[1] - other[0]) > tolerance:
                out.append(f"{name}: the machine load of other work changed from {other[0]:.1f} to {other[1]:.1f} "
                           f"during the run (1-minute average): its seconds and tokens/s are not comparable")
    if not levels and runs:
        return ["the machine load is unknown on this platform: the timing could not be checked"]
    every = [v for vs in levels.values() for v in vs]
    mean = {name: sum(vs) / len(vs) for name, vs in levels.items()}  # each run's level
    low, high = min(mean, key=mean.get), max(mean, key=mean.get)
    if mean[high] - mean[low] > tolerance:
        out.append(f"the machine load of other work varied from {mean[low]:.1f} ({low}) to {mean[high]:.1f} "
                   f"({high}) across the runs (the mean of each run's start and end): their seconds and tokens/s "
                   "are not comparable")
    threads = max((s.threads for ss in runs.values() for s in ss), default=1)
    if every and max(every) + threads > cpus + tolerance:
        out.append(f"other work kept up to {max(every):.1f} of the {cpus} CPUs busy besides the {threads} "
                   f"training thread(s): every run was slower than on a quiet machine")
    return out
