"""SGD (with momentum), Adam and AdamW on dicts of NumPy arrays, updating parameters in place.

Each follows torch.optim's update rule to the letter (tests compare against torch.optim), so an
optimizer state saved by one engine resumes in the other:

    SGD:    g ← g + λp;  b ← μb + g (b = g at the first step);  p ← p − lr·b   (μ = 0: p ← p − lr·g)
    Adam:   g ← g + λp;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
            p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
    AdamW:  p ← p(1 − lr·λ), then Adam without the λp term (decoupled weight decay)
"""

from __future__ import annotations

import numpy as np

from ..checks import fmt_shape


class Optimizer:
    buffers: tuple = ()  # names of the per-parameter state arrays

    def __init__(self, params: dict, grads: dict, weight_decay: float = 0.0):
        self.params, self.grads = params, grads
        self.weight_decay = weight_decay
        self.t = 0  # completed steps
        self.state = {b: {} for b in self.buffers}  # buffer -> parameter name -> array, created lazily

    def step(self, lr: float) -> None:
        self.t += 1
        for name, p in self.params.items():
            self._update(name, p, self.grads[name], lr)

    def _update(self, name, p, g, lr):  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """{"step": (1,) int64, "<buffer>.<param>": array} — the names torch.optim uses for buffers."""
        out = {"step": np.array([self.t], np.int64)}
        for b, per_param in self.state.items():
            out.update({f"{b}.{n}": a.copy() for n, a in per_param.items()})
        return out

    def load_state_dict(self, sd: dict) -> None:
        step, state = parse_state_dict(sd, self.buffers, {n: p.shape for n, p in self.params.items()})
        self.t = step
        self.state = {b: {n: np.array(a, dtype=self.params[n].dtype) for n, a in per_param.items()}
                      for b, per_param in state.items()}


def parse_state_dict(sd: dict, buffers: tuple, shapes: dict) -> tuple[int, dict]:
    """An optimizer state as saved by either engine, {"step": (1,), "<buffer>.<parameter>": array},
    checked against the buffer names and the parameters' shapes {name: shape}.
    Returns (step, {buffer: {parameter: array}}), with every buffer of ``buffers`` a key."""
    if "step" not in sd:
        raise ValueError(f"expected optimizer state with a 'step' entry, got keys {sorted(sd)[:5]}")
    state = {b: {} for b in buffers}
    for key, a in sd.items():
        if key == "step":
            continue
        b, _, name = key.partition(".")
        if b not in state or name not in shapes:
            raise ValueError(f"expected optimizer keys '<buffer>.<parameter>' with buffer in {tuple(buffers)}, "
                             f"got {key!r}")
        if np.shape(a) != tuple(shapes[name]):
            raise ValueError(f"expected {key} of shape {fmt_shape(tuple(shapes[name]))}, got {fmt_shape(np.shape(a))}")
        if np.asarray(a).dtype.kind != "f":
            raise TypeError(f"expected {key} to hold floating-point numbers, got dtype {np.asarray(a).dtype}")
        state[b][name] = np.asarray(a)
    return int(np.asarray(sd["step"]).ravel()[0]), state


class SGD(Optimizer):
    buffers = ("momentum_buffer",)

    def __init__(self, params, grads, momentum=0.0, weight_decay=0.0):
        super().__init__(params, grads, weight_decay)
        self.momentum = momentum

    def _update(self, name, p, g, lr):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            buf = self.state["momentum_buffer"].get(name)
            if buf is None:
                buf = self.state["momentum_buffer"][name] = g.copy()
            else:
                buf *= self.momentum
                buf += g
            g = buf
        p -= lr * g


class Adam(Optimizer):
    buffers = ("exp_avg", "exp_avg_sq")
    decoupled = False

    def __init__(self, params, grads, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, grads, weight_decay)
        self.beta1, self.beta2 = betas
        self.eps = eps

    def _update(self, name, p, g, lr):
        if self.weight_decay and self.decoupled:
            p *= 1 - lr * self.weight_decay
        elif self.weight_decay:
            g = g + self.weight_decay * p
        m = self.state["exp_avg"].setdefault(name, np.zeros_like(p))
        v = self.state["exp_avg_sq"].setdefault(name, np.zeros_like(p))
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        bc1, bc2 = 1 - self.beta1 ** self.t, 1 - self.beta2 ** self.t
        denom = np.sqrt(v) / np.sqrt(bc2) + self.eps
        p -= (lr / bc1) * m / denom


class AdamW(Adam):
    decoupled = True


def make_optimizer(name: str, params: dict, grads: dict, momentum=0.0, betas=(0.9, 0.999), eps=1e-8,
                   weight_decay=0.0) -> Optimizer:
    if name == "sgd":
        return SGD(params, grads, momentum, weight_decay)
    cls = {"adam": Adam, "adamw": AdamW}.get(name)
    if cls is None:
        raise ValueError(f"expected optimizer 'sgd', 'adam' or 'adamw', got {name!r}")
    return cls(params, grads, tuple(betas), eps, weight_decay)
