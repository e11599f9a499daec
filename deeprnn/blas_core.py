"""Which OpenBLAS kernels NumPy gets: the CPU's own, when the environment pins an older core.

OpenBLAS picks its kernels (its "core type") from the CPU when it loads, unless OPENBLAS_CORETYPE names
one. Some machines set that variable for every process: this team's 2-core machines set
OPENBLAS_CORETYPE=Haswell (AVX2) on CPUs with AVX-512, where OpenBLAS would pick SkylakeX. Measured
on one of them (AMD EPYC with AVX-512, 1 thread, CPU time, alternating processes): a training step of
the LSTM 2x256 language model (B64 T128) ran 1.41x faster with the SkylakeX kernels, 2x512 1.43x;
a 1024^3 float32 GEMM about 3x (README, Speed).

So, before NumPy is first imported, ``prefer_native_kernels`` replaces a pinned core type that lacks
AVX-512 by SkylakeX when the CPU has the AVX-512 F, BW, DQ and VL extensions (what OpenBLAS's
SkylakeX kernels use). Nothing changes when NumPy was imported first (OpenBLAS is loaded then), when
the variable is unset (OpenBLAS detects the CPU itself), when it already names an AVX-512 core, or
with DEEPRNN_KEEP_CORETYPE=1. Only the standard library is used here: this runs before NumPy loads.
"""

from __future__ import annotations

import os
import sys

AVX512 = ("avx512f", "avx512bw", "avx512dq", "avx512vl")  # what the SkylakeX kernels need
AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")  # core types that already use AVX-512
CHOSEN = "SkylakeX"
changed_from: str | None = None  # the environment's core type that prefer_native_kernels replaced, if any


def cpu_flags(path: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (Linux; an empty set elsewhere or when unreadable)."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_choice(environ, flags: set[str]) -> str | None:
    """The core type to use instead of ``environ``'s OPENBLAS_CORETYPE, or None to leave it."""
    pinned = environ.get("OPENBLAS_CORETYPE", "")
    if not pinned or environ.get("DEEPRNN_KEEP_CORETYPE") or pinned.lower() in AVX512_CORES:
        return None
    return CHOSEN if all(f in flags for f in AVX512) else None


def prefer_native_kernels(environ=os.environ, flags: set[str] | None = None) -> str | None:
    """Set OPENBLAS_CORETYPE to the CPU's own kernels if NumPy is not loaded yet; returns the replaced value."""
    global changed_from
    if "numpy" in sys.modules:
        return None
    choice = native_choice(environ, cpu_flags() if flags is None else flags)
    if choice is None:
        return None
    changed_from, environ["OPENBLAS_CORETYPE"] = environ["OPENBLAS_CORETYPE"], choice
    return changed_from


def note() -> str:
    """A few words for a run's start line when the kernels were changed, else ""."""
    if changed_from is None:
        return ""
    return f"OpenBLAS {CHOSEN} kernels (not the environment's {changed_from}: this CPU has AVX-512)"
