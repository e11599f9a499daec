"""Typed run configuration: model, data and training, saved as config.json in every run folder.

A run's config is built in layers, later ones winning: defaults < preset < TOML file < command-line
flags. ``RunConfig.to_dict()`` / ``RunConfig.from_dict()`` round-trip through JSON; unknown keys are
errors (a typo in a config file should not be silently ignored). Every problem is a ConfigError.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import sys
from dataclasses import dataclass, field, fields

from ..errors import ConfigError
from ..layout import CELL_CLASSES, NONLINEARITIES
from .initialization import FORGET_BLOCK, SCHEMES

FORMAT = "deeprnn-run/1"  # tag written into config.json


@dataclass
class ModelConfig:
    cell: str = "lstm"  # recurrent cell: "rnn" (Elman) | "gru" | "lstm" | "mingru" | "minlstm" (Feng et al. 2024)
    nonlinearity: str = "tanh"  # Elman RNN only: "tanh" | "relu"
    num_layers: int = 2  # L: stacked recurrent layers
    hidden_size: int = 256  # H: hidden units per layer
    embedding_dim: int = 64  # E: 0 feeds one-hot vectors (V wide), as the d2l book does
    input_dropout: float = 0.0  # on the embedding (or one-hot) output, before the first layer
    dropout: float = 0.0  # between recurrent layers (torch.nn.LSTM's dropout)
    output_dropout: float = 0.0  # on the last layer's output, before the linear head
    weight_drop: float = 0.0  # DropConnect on the recurrent weights W_hh, one mask per batch (AWD-LSTM)
    residual: bool = False  # skips from the second layer on: y_l = layer_l(drop(y_{l-1})) + y_{l-1}
    layer_norm: bool = False  # LayerNorm cells (Ba et al. 2016): x W_ihᵀ and h W_hhᵀ normalised apart, and c_t for LSTM
    init: str = "torch"  # initial weights: "torch" | "normal" (d2l's) | "xavier" | "orthogonal" (lm/initialization.py)
    init_std: float = 0.01  # σ of init="normal": weights N(0, σ²), biases 0
    forget_bias: float = 0.0  # LSTM/minLSTM forget-gate bias at start, in b_ih (b_hh's part 0); 0 = the scheme's own


@dataclass
class DataConfig:
    corpus: list = field(default_factory=lambda: ["builtin"])  # names (builtin, timemachine, tinyshakespeare) or paths/globs
    preprocess: str = "raw"  # "raw": every character | "d2l": non-letters -> one space, lower-case
    tokens: str = "char"  # model characters ("char") or words ("word")
    min_freq: int = 0  # rarer tokens map to <unk>
    splits: list = field(default_factory=lambda: [0.9, 0.05, 0.05])  # train / val / test fractions, contiguous
    protocol: str = "split"  # "split": the fractions above | "d2l": the book's TimeMachine windows
    num_train: int = 10000  # d2l protocol: training windows
    num_val: int = 5000  # d2l protocol: validation windows
    val_corpus: list = field(default_factory=list)  # validate on all of these texts; corpus is then all training text
    max_tokens: int = 0  # training split cut to its first N tokens (val and vocab unchanged); 0 = no cap


@dataclass
class TrainConfig:
    engine: str = "numpy"  # "numpy" (hand-written BPTT) | "torch" (fused kernels, GPUs, DDP)
    device: str = "cpu"  # torch engine: "cpu" | "cuda" | "auto"
    distributed: bool = False  # torch engine under torchrun: one process per slot, DDP
    dtype: str = "float32"  # parameters and activations: "float32" | "float64"
    seed: int = 0  # initialisation, batch order and dropout
    batch_size: int = 32  # B: text streams (or windows) per batch
    num_steps: int = 64  # T: BPTT length of one batch
    batching: str = "sequential"  # "sequential" (state carried) | "random" | "shuffled" | "d2l"
    optimizer: str = "adamw"  # "sgd" | "adam" | "adamw"
    lr: float = 2e-3  # peak learning rate
    momentum: float = 0.0  # SGD momentum
    betas: list = field(default_factory=lambda: [0.9, 0.999])  # Adam/AdamW moment decays
    eps: float = 1e-8  # Adam/AdamW denominator term
    weight_decay: float = 0.0  # L2 for SGD/Adam, decoupled for AdamW
    clip: str = "norm"  # "norm" (global L2 norm) | "value" | "none"
    clip_value: float = 1.0  # the max norm, or the max |g| for "value"
    schedule: str = "cosine"  # "constant" | "step" | "cosine" (with linear warm-up)
    warmup_steps: int = 100  # cosine: linear warm-up from 0
    min_lr: float = 0.0  # cosine: floor at the end
    step_size: int = 1000  # step decay: steps between decays
    gamma: float = 0.5  # step decay: factor
    max_steps: int = 2000  # training stops here (the cosine schedule ends here)
    time_budget: float = 0.0  # seconds per invocation (a resume starts afresh), 0 = none
    fit_budget: bool = True  # with a time budget: time the first steps, then fit max_steps to it (lm/budget.py)
    ema: float = 0.0  # evaluate and keep an exponential moving average of the weights with this decay; 0 = off
    eval_every: int = 200  # steps between validation runs (and checkpoints)
    save_every: int = 0  # steps between checkpoints without validation, besides those at validations; 0 = off
    save_every_seconds: float = 0.0  # seconds between such checkpoints (also besides eval_every); 0 = off
    log_every: int = 10  # steps between training rows in metrics.jsonl (loss, gradient norm, tokens/s); 0 = off
    log_grad_norms: bool = True  # each layer's gradient norm in those rows and the evaluation rows (lm/gradnorms.py)
    patience: int = 0  # early stopping after this many evaluations without improvement; 0 = off
    max_bad_steps: int = 10  # NaN/Inf guard: stop after this many consecutive skipped steps
    threads: int = 0  # BLAS / torch threads; 0 = auto (one per idle physical core), -1 = leave as is
    eval_streams: int = 16  # S: parallel streams when evaluating a whole split
    allow_large_model: bool = False  # skip the size guard that refuses models larger than free memory (lm/memory.py)


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return {"format": FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> "RunConfig":
        d = dict(d)
        fmt = d.pop("format", FORMAT)
        if fmt != FORMAT:
            raise ConfigError(f"{source}: expected format {FORMAT!r}, got {fmt!r}")
        cfg = cls()
        merge(cfg, d, source)
        return cfg


# Train settings that may change when a run is resumed: how long and how it goes on, never what it is.
RESUMABLE = {"engine", "device", "distributed", "max_steps", "time_budget", "fit_budget", "eval_every", "patience", "threads",
             "eval_streams", "max_bad_steps", "allow_large_model", "save_every", "save_every_seconds", "log_every",
             "log_grad_norms"}
# Data settings that may point at the same text in a new place (the corpus checksum is checked).
MOVABLE = {("data", "corpus"), ("data", "val_corpus")}

SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}

CHOICES = {
    "cell": tuple(CELL_CLASSES),
    "nonlinearity": NONLINEARITIES,
    "init": SCHEMES,
    "preprocess": ("raw", "d2l"),
    "tokens": ("char", "word"),
    "protocol": ("split", "d2l"),
    "engine": ("numpy", "torch"),
    "device": ("cpu", "cuda", "auto"),
    "dtype": ("float32", "float64"),
    "batching": ("sequential", "random", "shuffled", "d2l"),
    "optimizer": ("sgd", "adam", "adamw"),
    "clip": ("norm", "value", "none"),
    "schedule": ("constant", "step", "cosine"),
}


def field_comments(cls) -> dict[str, str]:
    """Each field's trailing comment in the class source, e.g. {"num_steps": "T: BPTT length of one
    batch"}: the one description of a setting, shown by ``deeprnn train --help``. Empty when the
    source is unavailable."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    found = (re.match(r"\s+(\w+):[^#]*#\s*(.+)$", line) for line in source.splitlines())
    return {m.group(1): m.group(2).strip() for m in found if m}


def merge(cfg: RunConfig, updates: dict, source: str) -> RunConfig:
    """Apply {"model": {...}, "train": {...}, ...} onto cfg, checking names, types and values."""
    for section, values in updates.items():
        if section not in SECTIONS:
            raise ConfigError(f"{source}: expected a section among {sorted(SECTIONS)}, got {section!r}")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: expected [{section}] to be a table, got {type(values).__name__}")
        target = getattr(cfg, section)
        known = {f.name: f for f in fields(target)}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{source}: unknown setting {section}.{key}; expected one of {sorted(known)}")
            setattr(target, key, _coerce(f"{section}.{key}", value, getattr(target, key), source))
    validate(cfg)
    return cfg


def _coerce(name: str, value, default, source: str):
    kind = type(default)
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = _is_number(value) and not (isinstance(value, int) and abs(value) > sys.float_info.max)
        value = float(value) if ok else value
    elif kind is list:
        ok = isinstance(value, (list, tuple))
        value = list(value) if ok else value
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ConfigError(f"{source}: expected {name} to be {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def validate(cfg: RunConfig) -> None:
    """Value checks that span fields; each message names the expected and the actual value."""
    for section in SECTIONS:
        for f in fields(getattr(cfg, section)):
            value = getattr(getattr(cfg, section), f.name)
            if f.name in CHOICES and value not in CHOICES[f.name]:
                raise ConfigError(f"expected {section}.{f.name} in {CHOICES[f.name]}, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"expected {section}.{f.name} to be finite, got {value}")
    m, d, t = cfg.model, cfg.data, cfg.train
    positive = {"model.num_layers": m.num_layers, "model.hidden_size": m.hidden_size, "train.step_size": t.step_size,
                "train.batch_size": t.batch_size, "train.num_steps": t.num_steps, "train.max_steps": t.max_steps,
                "train.eval_every": t.eval_every, "train.eval_streams": t.eval_streams,
                "train.max_bad_steps": t.max_bad_steps, "data.num_train": d.num_train, "data.num_val": d.num_val}
    for name, v in positive.items():
        if v < 1:
            raise ConfigError(f"expected {name} >= 1, got {v}")
    nonneg = {"model.embedding_dim": m.embedding_dim, "data.min_freq": d.min_freq, "train.lr": t.lr,
              "train.momentum": t.momentum, "train.weight_decay": t.weight_decay, "train.warmup_steps": t.warmup_steps,
              "train.min_lr": t.min_lr, "train.time_budget": t.time_budget, "train.patience": t.patience,
              "train.eps": t.eps, "train.save_every": t.save_every,
              "train.save_every_seconds": t.save_every_seconds, "train.log_every": t.log_every,
              "data.max_tokens": d.max_tokens}
    for name, v in nonneg.items():
        if v < 0:
            raise ConfigError(f"expected {name} >= 0, got {v}")
    if t.threads < -1:
        raise ConfigError(f"expected train.threads >= 1, or 0 (auto) or -1 (leave as is), got {t.threads}")
    for name, v in {"model.dropout": m.dropout, "model.output_dropout": m.output_dropout,
                    "model.input_dropout": m.input_dropout,
                    "model.weight_drop": m.weight_drop}.items():
        if not 0 <= v < 1:
            raise ConfigError(f"expected {name} in [0, 1), got {v}")
    if not 0 <= t.ema < 1:
        raise ConfigError(f"expected train.ema in [0, 1) (0 = off), got {t.ema}")
    _validate_train(t)
    if t.clip != "none" and t.clip_value <= 0:
        raise ConfigError(f"expected train.clip_value > 0, got {t.clip_value}")
    if len(t.betas) != 2 or not all(_is_number(b) and 0 <= b < 1 for b in t.betas):
        raise ConfigError(f"expected train.betas to be two numbers in [0, 1), got {t.betas}")
    if not d.corpus or not all(isinstance(c, str) and c.strip() for c in d.corpus):
        raise ConfigError(f"expected data.corpus to be a non-empty list of names or paths, got {d.corpus!r}")
    if not all(isinstance(c, str) and c.strip() for c in d.val_corpus):
        raise ConfigError(f"expected data.val_corpus to be a list of names or paths, got {d.val_corpus!r}")
    if d.protocol == "d2l" and (d.val_corpus or d.max_tokens):
        raise ConfigError("expected no data.val_corpus and data.max_tokens=0 with data.protocol='d2l' (the book's "
                          f"windows are sized by num_train and num_val), got val_corpus={d.val_corpus!r} and "
                          f"max_tokens={d.max_tokens}")
    if len(d.splits) != 3 or not all(_is_number(f) for f in d.splits):
        raise ConfigError(f"expected data.splits to be three fractions (train, val, test), got {d.splits}")
    if (d.protocol == "d2l") != (t.batching == "d2l"):
        raise ConfigError(f"expected data.protocol='d2l' together with train.batching='d2l', "
                          f"got protocol={d.protocol!r} and batching={t.batching!r}")
    if m.cell != "rnn" and m.nonlinearity != "tanh":
        raise ConfigError(f"expected model.nonlinearity='tanh' for cell={m.cell!r} (relu is for rnn), got {m.nonlinearity!r}")
    if m.cell in ("mingru", "minlstm") and m.weight_drop:
        raise ConfigError(f"expected model.weight_drop = 0 for cell={m.cell!r} (its gates read x_t only: there is "
                          f"no W_hh to drop), got {m.weight_drop}")
    if m.init_std <= 0:
        raise ConfigError(f"expected model.init_std > 0 (the σ of init='normal'), got {m.init_std}")
    if m.forget_bias and m.cell not in FORGET_BLOCK:
        raise ConfigError(f"expected model.forget_bias = 0 for cell={m.cell!r} (only {' and '.join(FORGET_BLOCK)} "
                          f"have a forget gate), got {m.forget_bias}")
    if m.cell in ("mingru", "minlstm") and m.layer_norm:
        raise ConfigError(f"expected model.layer_norm = false for cell={m.cell!r} (the LayerNorm cells normalise "
                          "h W_hhᵀ, which an input-gated cell does not have), got true")


MAX_THREADS = 1024  # more would be a typo: threadpoolctl and torch overflow far beyond it
SEED_MAX = 2**32 - 1  # seeds beyond it overflow torch's generator (seeded with seed·1000 + rank)


def _validate_train(t: TrainConfig) -> None:
    """The seed, the threads, the optimizer's and the schedule's settings (whether or not the chosen ones
    use them)."""
    if not 0 <= t.seed <= SEED_MAX:
        raise ConfigError(f"expected train.seed in [0, {SEED_MAX}] (a whole number from 0 to 2**32 - 1), got {t.seed}")
    if t.optimizer in ("adam", "adamw") and t.eps <= 0:
        raise ConfigError(f"expected train.eps > 0 for optimizer={t.optimizer!r} (it keeps m / (sqrt(v) + eps) "
                          f"finite where a gradient is 0), got {t.eps}")
    if t.threads > MAX_THREADS:
        raise ConfigError(f"expected train.threads <= {MAX_THREADS}, got {t.threads}")
    if not 0 <= t.momentum < 1:
        raise ConfigError(f"expected train.momentum in [0, 1), got {t.momentum}")
    if t.gamma <= 0:
        raise ConfigError(f"expected train.gamma > 0 (the step schedule's decay factor), got {t.gamma}")
    if t.min_lr > t.lr:
        raise ConfigError(f"expected train.min_lr <= train.lr (the cosine schedule's floor below its peak), "
                          f"got min_lr={t.min_lr} and lr={t.lr}")
