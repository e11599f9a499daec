"""The deeplearning.ai "Character level language model - Dinosaurus Island" assignment, over the NumPy engine.

Column layout, as in the notebook: x⟨t⟩ (n_x, 1) one-hot (zeros for X[t] = None), a (n_a, 1);
parameters Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), b (n_a, 1), by (n_y, 1).

    a⟨t⟩ = tanh(Wax x⟨t⟩ + Waa a⟨t-1⟩ + b)            (engine: rnn_step_forward)
    ŷ⟨t⟩ = softmax(Wya a⟨t⟩ + by)
    loss = -Σ_t log ŷ⟨t⟩[Y[t]]
    dy⟨t⟩ = ŷ⟨t⟩ - onehot(Y[t])                      (softmax and cross-entropy together)
    da⟨t⟩ = Wyaᵀ dy⟨t⟩ + da_next                      (the rest: engine, rnn_step_backward)

The notebook's helpers (its utils.py: ``rnn_step_forward``, ``rnn_step_backward``, ``rnn_forward``,
``rnn_backward``, ``update_parameters``) and the graded ``clip``, ``sample`` and ``optimize`` have the
notebook's names, arguments and results. The recurrence steps are those of
``deeprnn.compat.coursera`` (``rnn_cell_forward/backward``, themselves the engine's step functions),
with ``b`` in the place of the step-by-step notebook's ``ba``.
"""

from __future__ import annotations

import numpy as np

from . import coursera
from ._arrays import floats

__all__ = ["softmax", "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward", "update_parameters",
           "clip", "sample", "optimize"]

softmax = coursera.softmax
GRADIENTS = ("dWax", "dWaa", "dWya", "db", "dby")
PARAMETERS = ("Wax", "Waa", "Wya", "b", "by")


def _step_params(parameters) -> dict:
    """This notebook's parameters under the step-by-step notebook's names (b -> ba)."""
    Wax, Waa, Wya, b, by = coursera._get(parameters, *PARAMETERS)
    return {"Wax": Wax, "Waa": Waa, "Wya": Wya, "ba": b, "by": by}


def rnn_step_forward(parameters, a_prev, x):
    """a_prev (n_a, m), x (n_x, m) -> a_next (n_a, m), p_t = ŷ⟨t⟩ (n_y, m)."""
    a_next, p_t, _ = coursera.rnn_cell_forward(x, a_prev, _step_params(parameters))
    return a_next, p_t


def rnn_step_backward(dy, gradients, parameters, x, a, a_prev):
    """One step back from dy = dL/dz⟨t⟩ (n_y, m), z = Wya a⟨t⟩ + by; ``gradients`` holds the sums so far
    and da_next (dL/da⟨t⟩ from step t+1). Returns new gradients with this step added."""
    p = _step_params(parameters)
    dy, a, Wya = floats(dy, a, p["Wya"])
    da = Wya.T @ dy + gradients["da_next"]  # into a⟨t⟩: from ŷ⟨t⟩ and from step t+1
    g = coursera.rnn_cell_backward(da, (a, a_prev, x, p))
    out = dict(gradients)
    out["dWya"] = gradients["dWya"] + dy @ a.T  # into Wya
    out["dby"] = gradients["dby"] + dy.sum(axis=1, keepdims=True)  # into by
    out["db"] = gradients["db"] + g["dba"]
    out["dWax"] = gradients["dWax"] + g["dWax"]
    out["dWaa"] = gradients["dWaa"] + g["dWaa"]
    out["da_next"] = g["da_prev"]  # into a⟨t-1⟩
    return out


def _one_hot(i, n: int) -> np.ndarray:
    x = np.zeros((n, 1))  # (n_x, 1); all zeros for the first step's X[0] = None
    if i is not None:
        x[i] = 1
    return x


def rnn_forward(X, Y, a0, parameters, vocab_size=None):
    """X, Y lists of indices (X[t] None: a zero input), a0 (n_a, 1) -> loss, cache (y_hat, a, x), three
    dicts by step t (a[-1] is a0). ``vocab_size`` defaults to Wax's columns."""
    n_x = np.shape(parameters["Wax"])[1]
    if vocab_size is not None and vocab_size != n_x:
        raise ValueError(f"expected vocab_size = {n_x} (the columns of Wax), got {vocab_size}")
    if len(X) != len(Y) or not len(X):
        raise ValueError(f"expected X and Y of one length >= 1, got {len(X)} and {len(Y)}")
    x, a, y_hat = {}, {-1: np.copy(a0)}, {}
    loss = 0.0
    for t in range(len(X)):
        x[t] = _one_hot(X[t], n_x)
        a[t], y_hat[t] = rnn_step_forward(parameters, a[t - 1], x[t])
        loss -= np.log(y_hat[t][Y[t], 0])
    return loss, (y_hat, a, x)


def rnn_backward(X, Y, parameters, cache):
    """BPTT of rnn_forward's loss -> gradients (dWax, dWaa, dWya, db, dby, da_next), a (the cache's states)."""
    y_hat, a, x = cache
    gradients = {f"d{k}": np.zeros(np.shape(parameters[k])) for k in PARAMETERS}
    gradients["da_next"] = np.zeros_like(a[0])
    for t in reversed(range(len(X))):
        dy = np.copy(y_hat[t])
        dy[Y[t]] -= 1  # softmax and cross-entropy: ŷ - onehot(Y[t])
        gradients = rnn_step_backward(dy, gradients, parameters, x[t], a[t], a[t - 1])
    return {k: gradients[k] for k in ("dWax", "dWaa", "dWya", "db", "dby", "da_next")}, a


def update_parameters(parameters, gradients, lr):
    """One step of gradient descent, in place (as the notebook's): parameters[W] -= lr · gradients[dW]."""
    for k in PARAMETERS:
        parameters[k] += -lr * gradients[f"d{k}"]
    return parameters


def clip(gradients, maxValue):
    """Each of dWaa, dWax, dWya, db, dby clipped to [-maxValue, maxValue], as new arrays."""
    return {k: np.clip(gradients[k], -maxValue, maxValue) for k in ("dWaa", "dWax", "dWya", "db", "dby")}


def sample(parameters, char_to_ix, seed):
    """Indices sampled from the model, starting from x⟨1⟩ = 0 and a⟨0⟩ = 0, until '\\n' or 50 characters
    (then '\\n' is appended). As the notebook's, the draw at step k uses np.random.seed(k + seed) with seed
    also stepped by one each time, so results match the notebook's expected output."""
    n_y, n_a = np.shape(parameters["by"])[0], np.shape(parameters["Waa"])[1]
    x, a_prev = np.zeros((np.shape(parameters["Wax"])[1], 1)), np.zeros((n_a, 1))
    indices, idx, counter, newline = [], -1, 0, char_to_ix["\n"]
    while idx != newline and counter != 50:
        a, y = rnn_step_forward(parameters, a_prev, x)
        np.random.seed(counter + seed)
        idx = int(np.random.choice(list(range(n_y)), p=y.ravel()))
        indices.append(idx)
        x = _one_hot(idx, x.shape[0])
        a_prev = a
        seed += 1
        counter += 1
    if counter == 50:
        indices.append(newline)
    return indices


def optimize(X, Y, a_prev, parameters, learning_rate=0.01):
    """Forward, BPTT, clip to [-5, 5], update ``parameters`` in place -> loss, gradients, a⟨len(X)-1⟩."""
    loss, cache = rnn_forward(X, Y, a_prev, parameters)
    gradients, a = rnn_backward(X, Y, parameters, cache)
    gradients = clip(gradients, 5)
    update_parameters(parameters, gradients, learning_rate)
    return loss, gradients, a[len(X) - 1]
