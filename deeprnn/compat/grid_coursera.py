"""What ``deeprnn check coursera`` runs: the learner's functions against deeprnn.compat.coursera.

Each check is ``fn(learner, case, rng) -> [(Expect, learner's value), ...]``. Backward functions get
caches made by deeprnn's forward functions (the course's cache tuples), so each function is checked
on its own: a wrong forward does not hide a right backward. With ``borrow=True`` a sequence function
runs with deeprnn's cell function in place of the learner's (the module's global name is swapped).
"""

from __future__ import annotations

import numpy as np

import contextlib

from ..checks import describe
from . import coursera as ours
from .learner import Learner, Missing
from .report import NO_TANH_GRAD, CannotBorrow, Expect
from .spec import Check, Group

# Smallest first: the first failing case is the smallest one.
GRID = [
    dict(n_x=1, n_a=1, n_y=1, m=1, T_x=1),
    dict(n_x=2, n_a=1, n_y=2, m=1, T_x=2),
    dict(n_x=1, n_a=2, n_y=2, m=2, T_x=3),
    dict(n_x=3, n_a=2, n_y=1, m=1, T_x=4),
    dict(n_x=3, n_a=4, n_y=3, m=3, T_x=5),
]
CELL = ("n_x", "n_a", "n_y", "m")
SEQ = CELL + ("T_x",)
COL = ("unit", "example")
SEQ_AXES = ("unit", "example", "t")
MAT = ("row", "col")
RNN_CACHE = ("a_next", "a_prev", "xt", "parameters")
LSTM_CACHE = ("a_next", "c_next", "a_prev", "c_prev", "ft", "it", "cct", "ot", "xt", "parameters")
RNN_GRADS = ("dWax", "dWaa", "dba")
LSTM_GRADS = ("dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo")


def _rnn_params(rng, c) -> dict:
    n_x, n_a, n_y = c["n_x"], c["n_a"], c["n_y"]
    shapes = {"Wax": (n_a, n_x), "Waa": (n_a, n_a), "Wya": (n_y, n_a), "ba": (n_a, 1), "by": (n_y, 1)}
    return {k: 0.7 * rng.standard_normal(s) for k, s in shapes.items()}


def _lstm_params(rng, c) -> dict:
    n_x, n_a, n_y = c["n_x"], c["n_a"], c["n_y"]
    p = {}
    for g in "fico":
        p[f"W{g}"], p[f"b{g}"] = 0.7 * rng.standard_normal((n_a, n_a + n_x)), 0.7 * rng.standard_normal((n_a, 1))
    p["Wy"], p["by"] = 0.7 * rng.standard_normal((n_y, n_a)), 0.7 * rng.standard_normal((n_y, 1))
    return p


def _cache(got, mine: tuple, names: tuple, label: str = "cache"):
    """Compare the arrays of a returned cache tuple item by item (the parameters dict is skipped)."""
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        reason = f"expected {label} to be a tuple of {len(names)} ({', '.join(names)}), got {describe(got)}"
        return [(Expect(label, np.zeros(0)), Missing(reason))]
    return [(Expect(f"{label}[{k}] ({n})", mine[k], COL), got[k]) for k, n in enumerate(names) if n != "parameters"]


def _grads(got: dict, mine: dict, keys: tuple, m: int, backward_axes: bool = True, last: dict | None = None,
           no_tanh: dict | None = None):
    """Compare the gradients in the returned dict. Parameter gradients also recognise two mistakes:
    averaging over the m examples, and (given ``last``, the t = 0 step's own gradients) no summing over
    time; ``no_tanh`` holds every gradient computed without tanh's derivative."""
    out = []
    for k in keys:
        want, alts = mine[k], []
        if no_tanh is not None:
            alts.append((NO_TANH_GRAD, no_tanh[k]))
        if k.startswith(("dW", "db")):
            alts.append(("equals the gradient divided by m: sum over the examples, do not average", want / m))
            if last is not None:
                alts.append(("equals the first step's gradient only: sum the steps' gradients with +=", last[k]))
        axes = SEQ_AXES if want.ndim == 3 else (MAT if k.startswith(("dW", "db")) else COL)
        out.append((Expect(k, want, axes, backward=backward_axes, alts=alts), Learner.item(got, k)))
    return out


def softmax(learner, c, rng):
    x = 3 * rng.standard_normal((c["n_y"], c["m"]))
    got = learner.call("softmax", learner.get("softmax"), (x,), ("x",))
    return [(Expect("softmax(x)", ours.softmax(x), ("class", "example")), got)]


def rnn_cell_forward(learner, c, rng):
    p = _rnn_params(rng, c)
    xt, a_prev = rng.standard_normal((c["n_x"], c["m"])), rng.standard_normal((c["n_a"], c["m"]))
    got = learner.call("rnn_cell_forward", learner.get("rnn_cell_forward"), (xt, a_prev, p),
                       ("xt", "a_prev", "parameters"), ("a_next", "yt_pred", "cache"))
    a_next, y, cache = ours.rnn_cell_forward(xt, a_prev, p)
    alt = ours.rnn_cell_forward(xt, a_prev, {**p, "Waa": p["Waa"].T})[0]
    return [(Expect("a_next", a_next, COL, alts=[("matches Waaᵀ a_prev instead of Waa a_prev (Waa transposed?)", alt)]),
             got["a_next"]),
            (Expect("yt_pred", y, ("class", "example")), got["yt_pred"])] + _cache(got["cache"], cache, RNN_CACHE)


def rnn_forward(learner, c, rng, borrow=False):
    p = _rnn_params(rng, c)
    x, a0 = rng.standard_normal((c["n_x"], c["m"], c["T_x"])), rng.standard_normal((c["n_a"], c["m"]))
    with _borrowed(learner, borrow, "rnn_cell_forward"):
        got = learner.call("rnn_forward", learner.get("rnn_forward"), (x, a0, p), ("x", "a0", "parameters"),
                           ("a", "y_pred", "caches"))
    a, y, caches = ours.rnn_forward(x, a0, p)
    return [(Expect("a", a, SEQ_AXES), got["a"]), (Expect("y_pred", y, ("class", "example", "t")), got["y_pred"]),
            *_caches(got["caches"], caches, RNN_CACHE)]


def _caches(got, mine, names):
    """caches = ([cache of each step], x): the number of steps, x, and the last step's cache."""
    T = len(mine[0])
    if not isinstance(got, (tuple, list)) or len(got) != 2 or not isinstance(got[0], (tuple, list)):
        return [(Expect("caches", np.zeros(0)), Missing(f"expected caches to be a tuple ([cache of each step], x), "
                                                        f"got {type(got).__name__}"))]
    out = [(Expect("len(caches[0])", np.array(T)), len(got[0])), (Expect("caches[1] (x)", mine[1], SEQ_AXES), got[1])]
    return out + (_cache(got[0][-1], mine[0][-1], names, "caches[0][-1]") if len(got[0]) == T else [])


def _no_tanh(cache: tuple) -> tuple:
    """An RNN cell cache whose a_next is 0, so that rnn_cell_backward's 1 - a_next² is 1: the gradient
    of the classic mistake of leaving tanh's derivative out."""
    return (np.zeros_like(cache[0]),) + tuple(cache[1:])


@contextlib.contextmanager
def _borrowed(learner, borrow: bool, name: str, reference=ours):
    """With borrow, the learner's module calls deeprnn's ``name`` (its global) for the time being."""
    if not borrow:
        yield
        return
    if not learner.has(name) or not hasattr(learner.module, "__dict__"):
        raise CannotBorrow(f"no {name} to swap")
    theirs = getattr(learner.module, name)
    setattr(learner.module, name, getattr(reference, name))
    try:
        yield
    finally:
        setattr(learner.module, name, theirs)


def rnn_cell_backward(learner, c, rng):
    p = _rnn_params(rng, c)
    xt, a_prev = rng.standard_normal((c["n_x"], c["m"])), rng.standard_normal((c["n_a"], c["m"]))
    cache = ours.rnn_cell_forward(xt, a_prev, p)[2]
    da_next = rng.standard_normal((c["n_a"], c["m"]))
    got = learner.call("rnn_cell_backward", learner.get("rnn_cell_backward"), (da_next, cache),
                       ("da_next", "cache"), dict)
    return _grads(got, ours.rnn_cell_backward(da_next, cache), ("dxt", "da_prev") + RNN_GRADS, c["m"], False,
                  no_tanh=ours.rnn_cell_backward(da_next, _no_tanh(cache)))


def rnn_backward(learner, c, rng, borrow=False):
    p = _rnn_params(rng, c)
    x, a0 = rng.standard_normal((c["n_x"], c["m"], c["T_x"])), rng.standard_normal((c["n_a"], c["m"]))
    caches = ours.rnn_forward(x, a0, p)[2]
    da = rng.standard_normal((c["n_a"], c["m"], c["T_x"]))
    with _borrowed(learner, borrow, "rnn_cell_backward"):
        got = learner.call("rnn_backward", learner.get("rnn_backward"), (da, caches), ("da", "caches"), dict)
    da_1 = 0  # dL/da⟨0⟩ arriving from the steps after t = 0
    if c["T_x"] > 1:
        da_1 = ours.rnn_backward(da[:, :, 1:], (caches[0][1:], x[:, :, 1:]))["da0"]
    last = ours.rnn_cell_backward(da[:, :, 0] + da_1, caches[0][0])
    no_tanh = ours.rnn_backward(da, ([_no_tanh(cache) for cache in caches[0]], x))
    return _grads(got, ours.rnn_backward(da, caches), ("dx", "da0") + RNN_GRADS, c["m"], last=last, no_tanh=no_tanh)


def lstm_cell_forward(learner, c, rng):
    p = _lstm_params(rng, c)
    xt = rng.standard_normal((c["n_x"], c["m"]))
    a_prev, c_prev = rng.standard_normal((2, c["n_a"], c["m"]))
    got = learner.call("lstm_cell_forward", learner.get("lstm_cell_forward"), (xt, a_prev, c_prev, p),
                       ("xt", "a_prev", "c_prev", "parameters"), ("a_next", "c_next", "yt_pred", "cache"))
    a_next, c_next, y, cache = ours.lstm_cell_forward(xt, a_prev, c_prev, p)
    return [(Expect("a_next", a_next, COL), got["a_next"]), (Expect("c_next", c_next, COL), got["c_next"]),
            (Expect("yt_pred", y, ("class", "example")), got["yt_pred"])] + _cache(got["cache"], cache, LSTM_CACHE)


def lstm_forward(learner, c, rng, borrow=False):
    p = _lstm_params(rng, c)
    x, a0 = rng.standard_normal((c["n_x"], c["m"], c["T_x"])), rng.standard_normal((c["n_a"], c["m"]))
    with _borrowed(learner, borrow, "lstm_cell_forward"):
        got = learner.call("lstm_forward", learner.get("lstm_forward"), (x, a0, p), ("x", "a0", "parameters"),
                           ("a", "y", "c", "caches"))
    a, y, cc, caches = ours.lstm_forward(x, a0, p)
    return [(Expect("a", a, SEQ_AXES), got["a"]), (Expect("y", y, ("class", "example", "t")), got["y"]),
            (Expect("c", cc, SEQ_AXES), got["c"]), *_caches(got["caches"], caches, LSTM_CACHE)]


def lstm_cell_backward(learner, c, rng):
    p = _lstm_params(rng, c)
    xt = rng.standard_normal((c["n_x"], c["m"]))
    a_prev, c_prev, da_next, dc_next = rng.standard_normal((4, c["n_a"], c["m"]))
    cache = ours.lstm_cell_forward(xt, a_prev, c_prev, p)[3]
    got = learner.call("lstm_cell_backward", learner.get("lstm_cell_backward"), (da_next, dc_next, cache),
                       ("da_next", "dc_next", "cache"), dict)
    return _grads(got, ours.lstm_cell_backward(da_next, dc_next, cache),
                  ("dxt", "da_prev", "dc_prev") + LSTM_GRADS, c["m"], False)


def lstm_backward(learner, c, rng, borrow=False):
    """As the notebook's own test does, da covers fewer steps than the caches when T_x > 2 (the
    gradient then flows back from step T_x - 1 only: the later steps are outside the loss)."""
    p = _lstm_params(rng, c)
    x, a0 = rng.standard_normal((c["n_x"], c["m"], c["T_x"])), rng.standard_normal((c["n_a"], c["m"]))
    caches = ours.lstm_forward(x, a0, p)[3]
    da = rng.standard_normal((c["n_a"], c["m"], c["T_x"] - 1 if c["T_x"] > 2 else c["T_x"]))
    with _borrowed(learner, borrow, "lstm_cell_backward"):
        got = learner.call("lstm_backward", learner.get("lstm_backward"), (da, caches), ("da", "caches"), dict)
    return _grads(got, ours.lstm_backward(da, caches), ("dx", "da0") + LSTM_GRADS, c["m"])


def _step_by_step(learner) -> bool:
    """rnn_forward(x, a0, parameters) is this notebook's; rnn_forward(X, Y, a0, parameters) Dinosaur Island's."""
    return learner.arity("rnn_forward") != 4


CHECKS = [
    Check("softmax", ("n_y", "m"), softmax),
    Check("rnn_cell_forward", CELL, rnn_cell_forward),
    Check("rnn_forward", SEQ, rnn_forward, needs="rnn_cell_forward", applies=_step_by_step),
    Check("rnn_cell_backward", CELL, rnn_cell_backward),
    Check("rnn_backward", SEQ, rnn_backward, needs="rnn_cell_backward",
          applies=lambda learner: learner.arity("rnn_backward") != 4),
    Check("lstm_cell_forward", CELL, lstm_cell_forward),
    Check("lstm_forward", SEQ, lstm_forward, needs="lstm_cell_forward"),
    Check("lstm_cell_backward", CELL, lstm_cell_backward),
    Check("lstm_backward", SEQ, lstm_backward, needs="lstm_cell_backward"),
]
GROUP = Group("Building your RNN step by step", ("rnn_cell_forward", "rnn_cell_backward", "lstm_cell_forward",
                                                  "lstm_cell_backward", "lstm_forward", "lstm_backward"), GRID, CHECKS)
