"""The size guard: how much memory a model will take, checked against what the machine has, BEFORE
anything is allocated (a hidden size of 10,000,000 once grew to 23 GB and took the machine down).

With P parameters of s bytes each (4 for float32, 8 for float64), the largest parameter array of
P_max numbers, k optimizer buffers per parameter (2 for Adam/AdamW, 1 for SGD with momentum, else 0),
a = 1 with a weight average (train.ema), N = T·B targets a training batch, M targets an evaluation
chunk (at most 256·S, S = train.eval_streams and 256 = lm/data.py's EVAL_CHUNK; fewer on a short
validation split; max(B, 256)·T with the d2l protocol), gate width G (4H LSTM, 3H GRU, H RNN):

    initialisation  8·P                      init_params draws float64 weights, then the engine copies them
    weights         s·P·(2 + k + a)          parameters, gradients, optimizer buffers, weight average
    checkpoint      s·P·(2 + k)              the copies one checkpoint writes (weights, buffers, best weights)
    cache           C = L·c + I_0            the forward caches kept for BPTT, per target: c = G + 3H (LSTM),
                                             2G + H (GRU), G + H (RNN), plus 2G + 2H with layer_norm and
                                             H with residual; I_0 = E, or V for one-hot input
    training step   s·N·(C + G' + H + max(I_0, H) + 3V + 2H) + s·(P + 3·P_max)
                                             the caches, one layer's backward (G' = 2G for GRU, else G),
                                             the head (logits, softmax, its gradient) and the weight-gradient
                                             and optimizer temporaries
    evaluation      s·M·C + M·V·(s + 24)     the same caches for one chunk, the head scored in float64

    estimate = initialisation + weights + max(checkpoint, training step, evaluation)

tests/test_lm_memory.py measures the NumPy engine's peak (tracemalloc, after a warm-up run so that
imports and numba's compilation are not counted) against the estimate and allows 0.5 to 1.5 times it.
Over LSTM, GRU and RNN stacks from 1x1024 to 3x128, batches from 4x8 to 128x128, float64, a weight
average and one-hot inputs, the measured peak of a run (start, steps, evaluation, checkpoint) was 0.61
to 0.95 times the estimate: it errs on the high side, by less than a factor of 2. Measured as the
growth of the resident set (ru_maxrss) over such a run, LSTM 2x1024 and GRU 2x512 at B32 T64 took
0.78-0.87 of the estimate on the NumPy engine and 0.88-0.93 on the torch engine (CPU).

Under torchrun every local process holds a copy: the estimate is multiplied by LOCAL_WORLD_SIZE. GPU
memory is not estimated: on CUDA the check is left to torch.

The available memory is MemAvailable from /proc/meminfo (os.sysconf where there is none), lowered to
what a cgroup memory limit leaves. When none of them can be read, nothing is refused.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..layout import GATE_MULT, INPUT_GATED, mode_name
from .config import ModelConfig, TrainConfig
from .data import EVAL_CHUNK, LMData

OPTIMIZER_BUFFERS = {"adam": 2, "adamw": 2}  # per parameter; SGD: 1 with momentum, else 0


@dataclass
class MemoryEstimate:
    parameters: int  # P
    weights: int  # bytes: parameters, gradients, optimizer buffers, weight average
    init: int  # bytes: the float64 initial weights
    checkpoint: int  # bytes: the copies one checkpoint makes
    step: int  # bytes: one training step's activations and BPTT caches
    evaluation: int  # bytes: one evaluation chunk
    processes: int = 1  # processes on this machine, each holding all of the above

    @property
    def total(self) -> int:
        return self.processes * (self.init + self.weights + max(self.checkpoint, self.step, self.evaluation))

    def describe(self) -> str:
        parts = f"{_count(self.parameters)} parameters: weights and optimizer {fmt_bytes(self.init + self.weights)}, " \
                f"activations {fmt_bytes(self.step)}, evaluation {fmt_bytes(self.evaluation)}"
        return parts + (f", times {self.processes} processes" if self.processes > 1 else "")


def parameter_count(model: ModelConfig, vocab_size: int) -> int:
    """The number of parameters (engines/base.py's param_shapes, summed in closed form: a loop over
    layers would hang on an absurd num_layers before the guard could refuse it)."""
    V, E, H, L = vocab_size, model.embedding_dim, model.hidden_size, model.num_layers
    mode = mode_name(model.cell)
    G = GATE_MULT[mode] * H
    if mode in INPUT_GATED:  # W_ih and b_ih only
        first, other = G * (E or V) + G, G * H + G
    else:
        first, other = G * (E or V) + G * H + 2 * G, 2 * G * H + 2 * G  # W_ih, W_hh, b_ih, b_hh of a layer
    if model.layer_norm:  # γ_ih, γ_hh (G each), and for LSTM γ_c, β_c (H each): layout.py
        ln = 2 * G + (2 * H if model.cell == "lstm" else 0)
        first, other = first + ln, other + ln
    return V * E + first + (L - 1) * other + V * H + V


# a layer's forward cache per target: (a, b) -> a·G + b·H (minGRU/minLSTM: the gates and the scan's terms)
CACHE = {"lstm": (1, 3), "gru": (2, 1), "rnn": (1, 1), "mingru": (1, 3), "minlstm": (1, 3)}


def estimate(model: ModelConfig, train: TrainConfig, vocab_size: int, eval_targets: int | None = None
             ) -> MemoryEstimate:
    """The memory a run of this model needs, by the formula in the module docstring. Only sizes are
    computed: nothing is allocated. ``eval_targets``: M, when the data are known (eval_chunk_targets)."""
    V, E, H, L = vocab_size, model.embedding_dim, model.hidden_size, model.num_layers
    G = GATE_MULT[mode_name(model.cell)] * H
    s = 8 if train.dtype == "float64" else 4
    I0 = E or V
    P, largest = parameter_count(model, V), max(V * E, G * I0, G * H, V * H)
    k = OPTIMIZER_BUFFERS.get(train.optimizer, 1 if train.momentum else 0)
    a = 1 if train.ema else 0
    g, h = CACHE[model.cell]
    if model.layer_norm:  # the normalised x W_ihᵀ and h W_hhᵀ (and for LSTM N(c_t), LN(c_t)) with their statistics
        g, h = g + 2, h + 2
    h += 1 if model.residual else 0  # y_l + y_{l-1}: one more (T, B, H) per layer
    cache = L * (g * G + h * H) + I0  # forward caches of all layers, and the first layer's input
    backward = (2 * G if model.cell == "gru" else G) + H + max(I0, H)  # one layer at a time, the widest input
    N = train.num_steps * train.batch_size
    step = s * N * (cache + backward + 3 * V + 2 * H) + s * (P + 3 * largest)
    M = EVAL_CHUNK * train.eval_streams if eval_targets is None else eval_targets
    evaluation = s * M * cache + M * V * (s + 24)
    return MemoryEstimate(P, s * P * (2 + k + a), 8 * P, s * P * (2 + k), step, evaluation, _local_processes(train))


def _local_processes(train: TrainConfig) -> int:
    if not train.distributed:
        return 1
    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        return 1


def available_memory() -> int | None:
    """Bytes this process can still allocate: MemAvailable (or os.sysconf), capped by a cgroup limit;
    None when unknown."""
    found = _meminfo_available()
    if found is None:
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            found = None
    left = _cgroup_left()
    if left is not None:
        found = left if found is None else min(found, left)
    return found


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_files() -> list[tuple[str, str]]:
    """(limit, usage) files of this process's memory cgroup and of the mount's root: cgroup v2
    (memory.max, memory.current), then v1 (memory.limit_in_bytes, memory.usage_in_bytes)."""
    own = {"v2": "/", "v1": "/"}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if not controllers:
                own["v2"] = path
            elif "memory" in controllers.split(","):
                own["v1"] = path
    except (OSError, ValueError):
        pass
    v2 = {own["v2"].rstrip("/"), ""}
    v1 = {own["v1"].rstrip("/"), ""}
    return ([(f"/sys/fs/cgroup{p}/memory.max", f"/sys/fs/cgroup{p}/memory.current") for p in sorted(v2)]
            + [(f"/sys/fs/cgroup/memory{p}/memory.limit_in_bytes", f"/sys/fs/cgroup/memory{p}/memory.usage_in_bytes")
               for p in sorted(v1)])


def _cgroup_left() -> int | None:
    """The least that a memory cgroup limit leaves (limit minus usage), or None without a limit."""
    left = []
    for limit_file, usage_file in _cgroup_files():
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:  # "max" or a huge number: no limit
            left.append(max(0, int(limit) - usage))
    return min(left) if left else None


def eval_chunk_targets(data: LMData, train: TrainConfig) -> int:
    """M: the targets one evaluation chunk scores at once (LMData.score), for these data."""
    if data.cfg.protocol == "d2l":
        return max(train.batch_size, 256) * train.num_steps  # evaluate_windows: that many windows of T
    rows = math.ceil((len(data.split("val")) - 1) / train.eval_streams)  # stream_layout: (rows, S)
    return min(EVAL_CHUNK, rows) * train.eval_streams


def check_memory(model: ModelConfig, train: TrainConfig, vocab_size: int, data: LMData | None = None
                 ) -> MemoryEstimate:
    """ConfigError, with the estimate, when the run would need more memory than is available (unless
    train.allow_large_model). GPU runs are not checked. Without ``data``, an evaluation chunk is taken
    to be full (256·S targets)."""
    need = estimate(model, train, vocab_size, None if data is None else eval_chunk_targets(data, train))
    on_gpu = train.engine == "torch" and train.device != "cpu" and _cuda_available()
    if train.allow_large_model or on_gpu:
        return need
    have = available_memory()
    if have is not None and need.total > have:
        raise ConfigError(f"expected a model that fits in the {fmt_bytes(have)} of memory available, got one that "
                          f"needs about {fmt_bytes(need.total)} ({need.describe()}); choose a smaller --hidden-size, "
                          "--layers, --batch-size or --num-steps, or pass --allow-large-model to try anyway")
    return need


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**15 else f"{n:.3g}"


def fmt_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; 2.5e10 -> '23.3 GiB'; 1e30 -> '8.67e+11 EiB'."""
    if n < 1024:
        return f"{int(n)} B"
    exp = min(int(math.log(n, 1024)), 6)
    value = n / 1024 ** exp
    return f"{value:.1f} {'KMGTPE'[exp - 1]}iB" if value < 1e4 else f"{value:.3g} EiB"
