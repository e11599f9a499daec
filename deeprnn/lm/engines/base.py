"""What the training loop, evaluation and generation need from an engine, and what every engine shares.

The loop in train.py speaks only this interface, with NumPy arrays in and Python numbers out, so the
language model on the NumPy engine (engines/numpy.py) and the one on the PyTorch engine
(engines/torch.py) plug into the same loop, config and checkpoint format. Both start from
``init_params`` and build their recurrent stack with ``build_rnn``.

Parameters and optimizer buffers travel under canonical names, the same in both engines:
``embedding.weight`` (V, E), ``rnn.<torch.nn.LSTM name>`` (e.g. ``rnn.weight_ih_l0``), ``head.weight``
(V, P), ``head.bias`` (V,); optimizer buffers are ``<buffer>.<parameter name>`` (``exp_avg.head.bias``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from ...layout import CELL_CLASSES, GATE_MULT, INPUT_GATED, check_stack_args, mode_name
from ...layout import param_shapes as layout_shapes
from ...numpy_engine.minrnn import init_linear
from ...numpy_engine.module import init_uniform
from ...numpy_engine.threads import set_num_threads
from ..divergence import max_abs
from ..requirements import require
from ..config import ModelConfig
from ..initialization import draw, set_forget_bias

RNN_PREFIX = "rnn."  # the recurrent stack's parameters are "rnn." + their torch.nn name


class LMEngine(ABC):
    """A character (or word) language model: embedding -> deep RNN -> linear head, with its optimizer."""

    name: str

    # -- parameters ------------------------------------------------------------------------------
    @abstractmethod
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of all parameters as NumPy arrays, canonical names."""

    @abstractmethod
    def load_state_dict(self, sd: dict[str, np.ndarray]) -> None:
        """Load parameters (canonical names; every key and shape checked)."""

    def max_abs_weight(self) -> float:
        """The largest |w| over all parameters, nan if any is nan (checked after every step)."""
        return max_abs(self.state_dict().values())

    # -- training ----------------------------------------------------------------------------------
    @abstractmethod
    def initial_state(self, batch: int):
        """The zero recurrent state for ``batch`` sequences."""

    @abstractmethod
    def forward_backward(self, x: np.ndarray, y: np.ndarray, state):
        """Training mode. x, y (T, B) token ids; ``state`` is None (zeros) or the state this method
        returned for the previous batch. Sets the gradients (not accumulated) of the mean cross-entropy
        over all T·B targets. Returns (loss: float, final state, detached)."""

    @abstractmethod
    def gradients(self) -> dict[str, np.ndarray]:
        """Copies of the gradients the last forward_backward set (as clipped since), canonical names;
        zeros before the first."""

    @abstractmethod
    def grad_norm(self) -> float:
        """Global L2 norm of all gradients (inf or nan if any gradient is not finite)."""

    @abstractmethod
    def scale_grads(self, factor: float) -> None: ...

    @abstractmethod
    def clamp_grads(self, limit: float) -> None: ...

    @abstractmethod
    def optimizer_step(self, lr: float) -> None: ...

    @abstractmethod
    def optimizer_state_dict(self) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def load_optimizer_state_dict(self, sd: dict[str, np.ndarray]) -> None: ...

    @abstractmethod
    def rng_state(self) -> dict:
        """The dropout RNG state, JSON-serialisable."""

    @abstractmethod
    def set_rng_state(self, state: dict) -> None: ...

    # -- inference ---------------------------------------------------------------------------------
    @abstractmethod
    def nll(self, x: np.ndarray, y: np.ndarray, state):
        """Evaluation mode, no gradients. Returns (per-target negative log-likelihood (T, B) float64,
        final state)."""

    @abstractmethod
    def logits(self, x: np.ndarray, state):
        """Evaluation mode, no gradients. Returns (logits (T, B, V) float64, final state)."""

    # -- the state carried between training batches, for checkpoints ---------------------------------
    @abstractmethod
    def carry_to_numpy(self, state) -> dict[str, np.ndarray]:
        """A carried training state as arrays {"h": (L, B, H)[, "c": (L, B, H)]}, all B streams (gathered
        from every process when training is distributed: a collective call)."""

    @abstractmethod
    def carry_from_numpy(self, arrays: dict[str, np.ndarray]):
        """The inverse of carry_to_numpy (each process takes its own streams)."""

    # -- processes (one unless training is distributed) ------------------------------------------------
    rank: int = 0  # this process; only rank 0 writes files and logs

    def any_rank(self, flag: bool) -> bool:
        """True on every process if ``flag`` is True on any (a collective call when distributed)."""
        return flag

    def gather(self, obj) -> list:
        """``obj`` from every process, in rank order (a collective call when distributed)."""
        return [obj]

    def close(self, clean: bool = True) -> None:
        """Release resources (leave the process group); ``clean`` is False after a failure."""

    def limit_threads(self, n: int):
        """Use ``n`` compute threads (NumPy's BLAS here); returns a function that restores the previous
        setting."""
        require("threadpoolctl", f"--threads {n}")
        return set_num_threads(n).restore_original_limits

    def clip(self, mode: str, value: float) -> float:
        """Clip by global norm (torch.nn.utils.clip_grad_norm_'s rule) or by value; returns the norm
        before clipping."""
        norm = self.grad_norm()
        if mode == "norm" and math.isfinite(norm):
            coef = value / (norm + 1e-6)
            if coef < 1:
                self.scale_grads(coef)
        elif mode == "value":
            self.clamp_grads(value)
        return norm


def param_shapes(model: ModelConfig, vocab_size: int) -> dict[str, tuple]:
    """Canonical parameter names and shapes, in order."""
    V, E, H = vocab_size, model.embedding_dim, model.hidden_size
    spec = check_stack_args(E or V, H, model.num_layers, layer_norm=model.layer_norm)
    shapes = {"embedding.weight": (V, E)} if E else {}
    mode = mode_name(model.cell)
    shapes.update({f"rnn.{k}": v for k, v in layout_shapes(spec, GATE_MULT[mode], mode not in INPUT_GATED).items()})
    shapes.update({"head.weight": (V, H), "head.bias": (V,)})
    return shapes


def init_params(model: ModelConfig, vocab_size: int, seed: int) -> dict[str, np.ndarray]:
    """Initial parameters (float64), the same for every engine given the seed, by ``model.init``
    (lm/initialization.py), then ``model.forget_bias``. "torch", the default, is PyTorch's: N(0, 1) for
    the embedding and U(-1/√fan, 1/√fan) for the RNN (fan = H) and the head (fan = H); LayerNorm gains 1
    and shifts 0 (init_uniform skips their draws, so the rest is as without them). minGRU and minLSTM,
    whose layers are the paper's nn.Linear maps of x_t, take torch.nn.Linear's default instead: fan = I_k,
    the layer's input size (E, then H), for weight_ih_l{k} and bias_ih_l{k}."""
    rng = np.random.default_rng([seed, 0x1417])
    shapes = param_shapes(model, vocab_size)
    if model.init != "torch":
        out = draw(model.init, shapes, model.hidden_size, rng, model.init_std)
    else:
        out = {}
        if "embedding.weight" in shapes:
            out["embedding.weight"] = rng.standard_normal(shapes.pop("embedding.weight"))
        if mode_name(model.cell) in INPUT_GATED:  # drawn in the same order: rnn.*, then the head
            out.update(init_linear(rng, {k: s for k, s in shapes.items() if k.startswith(RNN_PREFIX)}))
            shapes = {k: s for k, s in shapes.items() if k not in out}
        out.update(init_uniform(rng, shapes, model.hidden_size))
    if model.forget_bias:
        set_forget_bias(out, model.cell, model.hidden_size, model.forget_bias)
    return out


def rnn_params(params: dict) -> dict:
    """The recurrent part of canonical parameters, under the stack's own names (``weight_ih_l0``, ...)."""
    return {k[len(RNN_PREFIX):]: v for k, v in params.items() if k.startswith(RNN_PREFIX)}


def stack_options(model: ModelConfig) -> dict:
    """The stack options of deeprnn's own that the config turns on ({"layer_norm": True, ...}); torch.nn's
    fused modules have none of them, so the torch engine uses its scratch stack when this is not empty."""
    return {k: True for k in ("layer_norm", "residual") if getattr(model, k)}


def build_rnn(classes, model: ModelConfig, input_size: int, **kwargs):
    """The model's recurrent stack from ``classes`` (a namespace holding RNN, GRU and LSTM: torch.nn,
    deeprnn.numpy_engine or deeprnn.torch_engine.stack), with the config's sizes and stack options;
    ``kwargs`` go to the constructor."""
    cls = getattr(classes, CELL_CLASSES[model.cell])
    if model.cell == "rnn":
        kwargs["nonlinearity"] = model.nonlinearity
    return cls(input_size, model.hidden_size, num_layers=model.num_layers, **stack_options(model), **kwargs)
