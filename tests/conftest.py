"""Shared helpers for the engine tests (tests/test_engine_*.py).

Shape letters as in the engine: T time, B batch, I input, H hidden, P projection (h's size), L·D states.
The helpers are plain functions (imported with ``from conftest import ...``) plus a few fixtures.
"""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

import deeprnn as dr
from deeprnn.numpy_engine import fused

# kind -> (layer class, cell class, extra constructor kwargs shared by layer and cell)
KINDS = {
    "rnn_tanh": (dr.RNN, dr.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (dr.RNN, dr.RNNCell, {"nonlinearity": "relu"}),
    "gru": (dr.GRU, dr.GRUCell, {}),
    "lstm": (dr.LSTM, dr.LSTMCell, {}),
}
KIND_NAMES = list(KINDS)


def make_layer(kind, I=3, H=3, dtype=np.float64, seed=0, **kw):
    cls, _, extra = KINDS[kind]
    return cls(I, H, dtype=dtype, seed=seed, **extra, **kw)


def make_cell(kind, I=3, H=3, dtype=np.float64, seed=0, **kw):
    _, cls, extra = KINDS[kind]
    return cls(I, H, dtype=dtype, seed=seed, **extra, **kw)


def is_lstm(module) -> bool:
    return isinstance(module, (dr.LSTM, dr.LSTMCell))


def as_tuple(state) -> tuple:
    """h or (h, c) -> (h,) or (h, c)."""
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


def pack(module, states):
    """(h,) or (h, c) -> what the module takes and returns: h, or (h, c) for LSTM."""
    states = tuple(states)
    return states if is_lstm(module) else states[0]


def state_shapes(model, B=None) -> list:
    """The shapes of h0 (L·D, B, P) and, for LSTM, c0 (L·D, B, H); B None means unbatched."""
    n = model.num_layers * (2 if model.bidirectional else 1)
    sizes = [model.proj_size or model.hidden_size] + ([model.hidden_size] if is_lstm(model) else [])
    return [(n, s) if B is None else (n, B, s) for s in sizes]


def randn(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def random_inputs(model, T, B, rng, unbatched=False):
    """x in the layout the model expects and a random initial state hx."""
    I = model.input_size
    shape = (T, I) if unbatched else ((B, T, I) if model.batch_first else (T, B, I))
    x = randn(rng, shape, model.dtype)
    hx = pack(model, [randn(rng, s, model.dtype) for s in state_shapes(model, None if unbatched else B)])
    return x, hx


# ---- finite differences ------------------------------------------------------------------------


def rel_err(a, n) -> float:
    """||a - n|| / max(||a||, ||n||, tiny): 0 when both are zero."""
    a, n = np.asarray(a, np.float64), np.asarray(n, np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(n), np.finfo(np.float64).tiny)
    return float(np.linalg.norm(a - n) / scale)


def numerical_grad(loss, arr: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``loss()`` with respect to ``arr``, perturbed in place (any
    memory layout, float64 only)."""
    assert arr.dtype == np.float64, arr.dtype
    grad = np.zeros(arr.shape)
    for i in np.ndindex(arr.shape):
        old = arr[i]
        arr[i] = old + eps
        up = loss()
        arr[i] = old - eps
        down = loss()
        arr[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def assert_fd_close(loss, tensors: dict, analytic: dict, tol: float = 1e-6) -> None:
    """Every tensor's analytic gradient against central differences, relative error <= tol."""
    assert set(tensors) == set(analytic), (sorted(tensors), sorted(analytic))
    errors = {}
    for name, arr in tensors.items():
        assert analytic[name].shape == arr.shape, name
        errors[name] = rel_err(analytic[name], numerical_grad(loss, arr))
    bad = {k: f"{e:.2e}" for k, e in errors.items() if not e <= tol}
    assert not bad, f"relative error above {tol}: {bad}"


def weighted_sum(arrays, weights) -> float:
    """sum_k sum(arrays[k] * weights[k]): a loss whose gradient with respect to arrays[k] is weights[k]."""
    return float(sum(np.sum(a * w) for a, w in zip(arrays, weights)))


# ---- running a cell over a sequence by hand --------------------------------------------------------


def cell_forward_seq(cell, xs, state):
    """h_t = cell(x_t, h_{t-1}) for t = 0..T-1. Returns (outputs (T, ..., H), final state)."""
    outs = []
    for t in range(len(xs)):
        state = cell(xs[t], state)
        outs.append(as_tuple(state)[0])
    return np.stack(outs), state


def cell_backward_seq(cell, d_out, dfinal):
    """BPTT by hand: backward in reverse order, adding d_out[t] to dh. Returns (dx (T, ...), dstate0)."""
    d = list(as_tuple(dfinal))
    dxs = []
    for t in reversed(range(len(d_out))):
        d[0] = d[0] + d_out[t]
        dx, dprev = cell.backward(*d)
        d = list(as_tuple(dprev))
        dxs.append(dx)
    return np.stack(dxs[::-1]), pack(cell, d)


# ---- torch ---------------------------------------------------------------------------------------


def in_ci() -> bool:
    """Whether the suite runs under CI: CI=true, as .ci/run (and most CI services) set it."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(module: str):
    """Import ``module``, a reference the calling tests compare against. If it is missing, the test
    (or, at module level, the whole module) is skipped with the reason; under CI=true it fails instead,
    so that a CI run never passes without its reference. Every torch-dependent test goes through this."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        error = e
    reason = f"{module} is not installed ({error}); the dev extra installs it (python3 tasks.py test does)"
    if in_ci():
        pytest.fail(f"CI=true and the reference {module} is missing: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture
def torch_reference():
    """torch, through require(): for pytest.mark.usefixtures (torch_helpers.needs_torch)."""
    return require("torch")


def torch_layer(ours):
    """torch.nn.RNN/GRU/LSTM configured like ``ours``, weights copied through state_dict()."""
    torch = require("torch")
    name = type(ours).__name__
    kw = dict(num_layers=ours.num_layers, bias=ours.bias, batch_first=ours.batch_first,
              bidirectional=ours.bidirectional, dtype=torch_dtype(ours.dtype))
    if name == "RNN":
        kw["nonlinearity"] = ours.nonlinearity
    if name == "LSTM":
        kw["proj_size"] = ours.proj_size
    ref = getattr(torch.nn, name)(ours.input_size, ours.hidden_size, **kw)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ref


def torch_cell(ours):
    torch = require("torch")
    name = type(ours).__name__
    kw = {"nonlinearity": ours.nonlinearity} if name == "RNNCell" else {}
    ref = getattr(torch.nn, name)(ours.input_size, ours.hidden_size, bias=ours.bias,
                                  dtype=torch_dtype(ours.dtype), **kw)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ref


def torch_dtype(dtype):
    torch = require("torch")
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


def leaf(a):
    """A numpy array as a torch leaf tensor that collects a gradient."""
    torch = require("torch")
    return torch.from_numpy(np.array(a)).requires_grad_()


def torch_grads(ref) -> dict:
    return {n: p.grad.numpy() for n, p in ref.named_parameters()}


def count_engine_calls(monkeypatch, *names) -> list:
    """Record every call of the NumPy engine's step functions ``names`` (e.g. 'rnn_step_backward') made
    from deeprnn.compat, in whichever compat module imported them: the adapters' maths is the engine's."""
    import importlib
    import pkgutil

    import deeprnn.compat
    import deeprnn.numpy_engine as engine

    calls = []
    for info in pkgutil.iter_modules(deeprnn.compat.__path__):
        module = importlib.import_module(f"deeprnn.compat.{info.name}")
        for name in names:
            real = getattr(engine, name)
            if getattr(module, name, None) is real:
                monkeypatch.setattr(module, name, lambda *a, _f=real, _n=name, **k: calls.append(_n) or _f(*a, **k))
    return calls


# ---- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def fused_on(monkeypatch):
    """The numba float32 kernels enabled for this test (the module's flag is restored afterwards)."""
    pytest.importorskip("numba")
    monkeypatch.setattr(fused, "_enabled", fused._enabled)
    fused.set_enabled(True)
    assert fused.available()


@pytest.fixture
def fused_off(monkeypatch):
    monkeypatch.setattr(fused, "_enabled", fused._enabled)
    fused.set_enabled(False)
    assert not fused.available()
