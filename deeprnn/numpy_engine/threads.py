"""BLAS thread control. The engine's GEMMs run on NumPy's BLAS (usually OpenBLAS), whose threads
spin-wait: on a busy 2-core machine, 2 threads can be far slower than 1. Measure, then set."""

from __future__ import annotations

from ..checks import check_int


def set_num_threads(n: int):
    """Limit NumPy's BLAS to ``n`` threads for the rest of the process (needs threadpoolctl).
    Returns the threadpoolctl limiter; call ``.restore_original_limits()`` on it to undo."""
    check_int("n", n, minimum=1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("set_num_threads needs threadpoolctl: pip install threadpoolctl") from None
    return threadpool_limits(limits=n, user_api="blas")
