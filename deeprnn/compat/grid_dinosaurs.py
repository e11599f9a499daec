"""What ``deeprnn check coursera`` runs for "Dinosaurus Island": the graded clip, sample and optimize,
and the notebook's own helpers (rnn_step_forward/backward, rnn_forward/backward), against
deeprnn.compat.dinosaurs. The group runs when the file defines clip, sample or optimize."""

from __future__ import annotations

import numpy as np

from . import dinosaurs as ours
from .grid_coursera import COL, MAT, _borrowed
from .learner import Learner, Missing
from .report import Expect
from .spec import Check, Group

# Smallest first. n_x = n_y: the vocabulary (index 0 is '\n', as in the notebook).
# Smallest first. n_x = n_y: the vocabulary (index 0 is '\n', as in the notebook); one example at a
# time (m = 1), as the notebook's model trains and as its helpers (utils.py) are written for.
GRID = [
    dict(n_x=2, n_a=1, T=1, max_value=0.5),
    dict(n_x=3, n_a=2, T=2, max_value=1.0),
    dict(n_x=4, n_a=3, T=4, max_value=2.0),
    dict(n_x=6, n_a=5, T=6, max_value=5.0),
]
STEP = ("n_x", "n_a")
SEQ = ("n_x", "n_a", "T")
KEYS = ("dWax", "dWaa", "dWya", "db", "dby")


def _params(rng, c) -> dict:
    n_x, n_a = c["n_x"], c["n_a"]
    shapes = {"Wax": (n_a, n_x), "Waa": (n_a, n_a), "Wya": (n_x, n_a), "b": (n_a, 1), "by": (n_x, 1)}
    return {k: rng.standard_normal(s) for k, s in shapes.items()}


def _example(rng, c):
    """X = [None] + characters, Y = X[1:] + ['\\n'], as the notebook's model() builds them."""
    chars = [int(i) for i in rng.integers(1, c["n_x"], c["T"] - 1)]
    return [None] + chars, chars + [0]


def _call(learner, name, args, params, returns=None, copy_args=True):
    return learner.call(name, learner.get(name), args, params, returns, copy_args)


def _dict_items(got, mine: dict, keys, axes=MAT, label="gradients", alts=None):
    """The arrays of a returned dict; ``alts`` (key -> value) the value of a typical mistake."""
    if not isinstance(got, dict):
        return [(Expect(label, np.zeros(0)), Missing(f"expected {label} to be a dict, got {type(got).__name__}"))]
    hints = (alts or {}).items()
    return [(Expect(k, mine[k], axes if np.ndim(mine[k]) == 2 else (), alts=[(h, v[k]) for h, v in hints]),
             Learner.item(got, k)) for k in keys]


def step_forward(learner, c, rng):
    p = _params(rng, c)
    a_prev, x = rng.standard_normal((c["n_a"], 1)), rng.standard_normal((c["n_x"], 1))
    got = _call(learner, "rnn_step_forward", (p, a_prev, x), ("parameters", "a_prev", "x"), ("a_next", "p_t"))
    a_next, p_t = ours.rnn_step_forward(p, a_prev, x)
    return [(Expect("a_next", a_next, COL), got["a_next"]), (Expect("p_t", p_t, ("class", "example")), got["p_t"])]


def step_backward(learner, c, rng):
    p = _params(rng, c)
    n_x, n_a, m = c["n_x"], c["n_a"], 1
    x, a_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m))
    a = ours.rnn_step_forward(p, a_prev, x)[0]
    dy = rng.standard_normal((n_x, m))
    gradients = {f"d{k}": rng.standard_normal(np.shape(v)) for k, v in p.items()}
    gradients["da_next"] = rng.standard_normal((n_a, m))
    got = _call(learner, "rnn_step_backward", (dy, gradients, p, x, a, a_prev),
                ("dy", "gradients", "parameters", "x", "a", "a_prev"))
    mine = ours.rnn_step_backward(dy, gradients, p, x, a, a_prev)
    return _dict_items(got, mine, KEYS + ("da_next",))


def rnn_forward(learner, c, rng):
    p, (X, Y) = _params(rng, c), _example(rng, c)
    a0 = rng.standard_normal((c["n_a"], 1))
    got = _call(learner, "rnn_forward", (X, Y, a0, p), ("X", "Y", "a0", "parameters"), ("loss", "cache"))
    loss, (y_hat, a, _) = ours.rnn_forward(X, Y, a0, p)
    out = [(Expect("loss", np.array(loss)), got["loss"])]
    cache = got["cache"]
    if not isinstance(cache, (tuple, list)) or len(cache) != 3:
        return out + [(Expect("cache", np.zeros(0)), Missing("expected cache to be (y_hat, a, x), three dicts by step"))]
    steps = range(len(X))
    for name, mine, theirs in (("y_hat", y_hat, cache[0]), ("a", a, cache[1])):
        try:
            stacked = np.stack([np.asarray(theirs[t], dtype=float) for t in steps])
        except Exception:  # noqa: BLE001 - whatever the learner's cache holds
            stacked = Missing(f"expected cache's {name} to hold an array for every step t = 0..{len(X) - 1}")
        out.append((Expect(f"cache {name}", np.stack([mine[t] for t in steps]), ("t", "unit", "example")), stacked))
    return out


def rnn_backward(learner, c, rng):
    p, (X, Y) = _params(rng, c), _example(rng, c)
    _, cache = ours.rnn_forward(X, Y, rng.standard_normal((c["n_a"], 1)), p)
    got = _call(learner, "rnn_backward", (X, Y, p, cache), ("X", "Y", "parameters", "cache"), ("gradients", "a"))
    mine, _ = ours.rnn_backward(X, Y, p, cache)
    return _dict_items(got["gradients"], mine, KEYS + ("da_next",))


def clip(learner, c, rng):
    shapes = {"dWax": (c["n_a"], c["n_x"]), "dWaa": (c["n_a"], c["n_a"]), "dWya": (c["n_x"], c["n_a"]),
              "db": (c["n_a"], 1), "dby": (c["n_x"], 1)}
    gradients = {k: 3 * c["max_value"] * rng.standard_normal(s) for k, s in shapes.items()}
    got = _call(learner, "clip", (gradients, c["max_value"]), ("gradients", "maxValue"))
    unclipped = {"equals the gradient not clipped: np.clip returns a new array unless given out=": gradients}
    return _dict_items(got, ours.clip(gradients, c["max_value"]), KEYS, alts=unclipped)


def sample(learner, c, rng):
    p = _params(rng, c)
    char_to_ix = {ch: i for i, ch in enumerate("\nabcdefghijklmnopqrstuvwxyz"[: c["n_x"]])}
    seed = int(rng.integers(0, 1000))
    got = _call(learner, "sample", (p, char_to_ix, seed), ("parameters", "char_to_ix", "seed"))
    theirs = tuple(int(i) for i in got) if isinstance(got, (list, tuple, np.ndarray)) else got
    return [(Expect("indices", tuple(ours.sample(p, char_to_ix, seed))), theirs)]


def optimize(learner, c, rng, borrow=False):
    p, (X, Y) = _params(rng, c), _example(rng, c)
    a_prev = rng.standard_normal((c["n_a"], 1))
    theirs, mine = {k: v.copy() for k, v in p.items()}, {k: v.copy() for k, v in p.items()}
    with _borrowed(learner, borrow, "clip", ours):
        got = _call(learner, "optimize", (X, Y, a_prev.copy(), theirs, 0.1),
                    ("X", "Y", "a_prev", "parameters", "learning_rate"), ("loss", "gradients", "a_last"),
                    copy_args=False)
    loss, gradients, a_last = ours.optimize(X, Y, a_prev, mine, 0.1)
    out = [(Expect("loss", np.array(loss)), got["loss"])] + _dict_items(got["gradients"], gradients, KEYS)
    out.append((Expect("a_last", a_last, COL), got["a_last"]))
    return out + [(Expect(f"parameters['{k}'] after the update", mine[k], MAT), theirs[k]) for k in mine]


def _full_model(learner) -> bool:
    """rnn_forward(X, Y, a0, parameters): this notebook's helper, not the step-by-step one."""
    return learner.arity("rnn_forward") == 4


CHECKS = [
    Check("clip", ("n_x", "n_a", "max_value"), clip),
    Check("sample", ("n_x", "n_a"), sample),
    Check("optimize", SEQ, optimize, needs="clip"),
    Check("rnn_step_forward", STEP, step_forward),
    Check("rnn_step_backward", STEP, step_backward),
    Check("rnn_forward", SEQ, rnn_forward, applies=_full_model),
    Check("rnn_backward", SEQ, rnn_backward, applies=lambda learner: learner.arity("rnn_backward") == 4),
]
GROUP = Group("Dinosaur Island", ("clip", "sample", "optimize"), GRID, CHECKS)
