"""What the benchmarks share: the machine line, the load, alternating timing blocks and the GEMM roofline.

    from common import GemmStep, Load, alternate, header, lm_gemms    # benchmarks/ is the script's folder

* ``header``: lines naming what is measured, the machine (CPU model, cores), the date, numpy and its BLAS
  kernels, torch and the threads; ``threads(n)`` limits numpy's BLAS and torch to n threads.
* ``Load``: the load average (os.getloadavg, 1 minute) at the start and at the end of a benchmark. The
  machine is shared; a figure is only worth its ratio to a reference measured in the same run.
* ``alternate``: time several functions in alternating blocks (``rounds`` blocks of ``iters`` calls,
  each block after ``warmup`` untimed calls), as bench_engine.py always did: a noisy neighbour slows
  all alike, and the idle BLAS/OpenMP threads of one side, which spin-wait for a while after each call,
  do not steal a core from the other side's timed calls.
* The GEMM roofline of a model step. ``lm_gemms`` lists the matrix products (m, k, n) of one training
  step (or one forward) of the language model: embedding or one-hot -> L stacked RNN/GRU/LSTM layers ->
  linear head. ``GemmStep`` runs just those products with numpy's float32 matmul (contiguous operands,
  ``out=``, under the caller's BLAS thread limit): the time the step would take if it did nothing but
  its GEMMs, each at the speed numpy reaches for that shape on this machine right now. Time it as one
  of the alternating functions, so it runs under the same load as the steps. A step's "fraction of the
  GEMM roofline" is the GemmStep's median time over the step's (1.0: nothing but GEMMs at full speed).
  ``square_matmul`` (1024³) gives the machine's float32 GEMM peak at a thread count.

What counts as the model's GEMMs (N = T·B rows, G = gates·H, I_l = the input size of layer l: E or V
for l = 0 (one-hot input is a GEMM with V columns in both engines), H above):

    forward, per layer:  x W_ihᵀ (N, I_l, G) once,  h W_hhᵀ (B, H, G) T times;  head (N, H, V)
    backward, per layer: da W_hh (B, G, H) T times, dW_hh (G, N, H), dW_ih (G, N, I_l), dx (N, G, I_l)
                         (dx of layer 0 only with an embedding: one-hot input needs no gradient)
    backward, head:      dW (V, N, H), dh (N, V, H)

Elementwise work (gates, softmax, AdamW) is not counted: it is what keeps a step below 1.0.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from typing import NamedTuple

import numpy as np

GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # G / H


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_kernels() -> str:
    """numpy's BLAS and the kernels it runs, e.g. "openblas 0.3.31 Haswell kernels" (OPENBLAS_CORETYPE
    picks them; unset, OpenBLAS detects the CPU)."""
    from threadpoolctl import threadpool_info

    info = next((i for i in threadpool_info() if i.get("user_api") == "blas"), {})
    core = os.environ.get("OPENBLAS_CORETYPE")
    return (f"{info.get('internal_api', '?')} {info.get('version', '?')} {info.get('architecture', '?')} kernels"
            + (f" (OPENBLAS_CORETYPE={core})" if core else " (detected)"))


def header(what: str, threads) -> str:
    """'# what', then '# machine, date, versions, BLAS kernels, threads' (markdown comment lines above a table)."""
    import torch

    return (f"# {what}\n# {cpu_name()} ({platform.machine()}, {os.cpu_count()} logical CPUs), "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, numpy {np.__version__} with {blas_kernels()}, "
            f"torch {torch.__version__}, threads {threads}, float32")


class Load:
    """The 1-minute load average at creation and at ``end()``."""

    def __init__(self):
        self.start = os.getloadavg()[0]

    def end(self) -> str:
        return f"# load average (1 min): {self.start:.2f} at start, {os.getloadavg()[0]:.2f} at end"


@contextmanager
def threads(n: int):
    """Run the block with ``n`` threads for numpy's BLAS (threadpoolctl) and for torch."""
    import torch

    from deeprnn import set_num_threads

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    limiter = set_num_threads(n)
    try:
        yield
    finally:
        limiter.restore_original_limits()
        torch.set_num_threads(before)


def alternate(fns: dict[str, Callable[[], object]], rounds: int, iters: int, warmup: int,
              around: dict[str, Callable] | None = None) -> dict[str, list[float]]:
    """Seconds per call of each function, timed in alternating blocks (see the module docstring).
    ``around[name]()`` is a context manager entered around each of that function's blocks (e.g. threads)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            with (around or {}).get(name, nullcontext)():
                for _ in range(warmup):
                    fn()
                for _ in range(iters):
                    t0 = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t0)
    return times


def median(times: list[float]) -> float:
    return statistics.median(times)


class Gemm(NamedTuple):
    m: int
    k: int
    n: int
    count: int  # how many times one step runs it

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n * self.count


def lm_gemms(cell: str, layers: int, hidden: int, input_size: int, vocab: int, batch: int, seq: int,
             train: bool = True, embedding: bool = False) -> list[Gemm]:
    """The GEMMs of one step of the language model (see the module docstring); ``input_size`` is E or V."""
    T, B, H, V, N = seq, batch, hidden, vocab, seq * batch
    G = GATES[cell] * H
    out = []
    for layer in range(layers):
        i = input_size if layer == 0 else H
        out += [Gemm(N, i, G, 1), Gemm(B, H, G, T)]
        if train:
            out += [Gemm(B, G, H, T), Gemm(G, N, H, 1), Gemm(G, N, i, 1)]
            if layer > 0 or embedding:
                out.append(Gemm(N, G, i, 1))
    out.append(Gemm(N, H, V, 1))
    if train:
        out += [Gemm(V, N, H, 1), Gemm(N, V, H, 1)]
    return out


def step_flops(gemms: list[Gemm]) -> int:
    return sum(g.flops for g in gemms)


class GemmStep:
    """A stand-in for one model step that runs only its GEMMs (``gemms``, each ``count`` times, numpy
    float32 matmul, contiguous operands, ``out=``) under the caller's BLAS thread limit. Time it like a
    step (``alternate``); its median time is the step's GEMM roofline time, and a step's fraction of the
    roofline is that over the step's median time (see the module docstring)."""

    def __init__(self, gemms: list[Gemm]):
        rng = np.random.default_rng(0)
        self.gemms = gemms
        self.operands = {s: (rng.standard_normal((s[0], s[1]), dtype=np.float32),
                             rng.standard_normal((s[1], s[2]), dtype=np.float32),
                             np.empty((s[0], s[2]), np.float32)) for s in {(g.m, g.k, g.n) for g in gemms}}

    def __call__(self) -> None:
        for g in self.gemms:
            a, b, c = self.operands[(g.m, g.k, g.n)]
            for _ in range(g.count):
                np.matmul(a, b, out=c)

    @property
    def flops(self) -> int:
        return step_flops(self.gemms)


def square_matmul(n: int = 1024) -> Callable[[], None]:
    """One float32 n×n×n product (2n³ FLOPs): time it for the machine's GEMM peak at a thread count."""
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(3))
    return lambda: np.matmul(a, b, out=c)


def gflops(flops: float, seconds: float) -> float:
    return flops / seconds / 1e9
