"""What ``deeprnn check mytorch`` runs: the learner's Tanh, RNNCell and RNN against deeprnn.compat.mytorch.

Each check is ``fn(learner, case, rng) -> [(Expect, learner's value), ...]``, run on every distinct
case of GRID restricted to its keys. Weights are assigned to the learner's objects after construction,
as the course's autograder does, so both sides compute with the same numbers. With ``borrow=True`` a
composite runs with deeprnn's part in place of the learner's (RNN with deeprnn's RNNCells, RNNCell with
deeprnn's Tanh), which tells whether it fails only because of that part.
"""

from __future__ import annotations

import numpy as np

from . import mytorch as ours
from .learner import Learner, LearnerError, Missing
from .report import ACCUMULATE, AVERAGED, NO_TANH_GRAD, CannotBorrow, Expect
from .spec import Check, Group

# Smallest first: the first failing case is the smallest one.
GRID = [
    dict(batch=1, input=1, hidden=1, layers=1, T=1),
    dict(batch=1, input=2, hidden=1, layers=2, T=2),
    dict(batch=2, input=1, hidden=2, layers=1, T=3),
    dict(batch=1, input=3, hidden=2, layers=3, T=2),
    dict(batch=2, input=3, hidden=3, layers=2, T=4),
    dict(batch=3, input=4, hidden=5, layers=3, T=5),
]
CELL = ("batch", "input", "hidden")
SEQ = ("batch", "input", "hidden", "layers", "T")
WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
GRADS = tuple(f"grad_{w}" for w in WEIGHTS)
BH = ("batch", "unit")
MAT = ("row", "col")


def _weights(rng, I: int, H: int) -> dict:
    return {"weight_ih": rng.uniform(-1, 1, (H, I)), "weight_hh": rng.uniform(-1, 1, (H, H)),
            "bias_ih": rng.uniform(-1, 1, H), "bias_hh": rng.uniform(-1, 1, H)}


def _assign(learner: Learner | None, obj, w: dict) -> None:
    for k, v in w.items():
        if learner is None:
            setattr(obj, k, v.copy())
        else:
            learner.set(obj, k, v.copy())


def _call(learner: Learner, obj, name: str, args: tuple, params: tuple, returns=None):
    label = f"{type(obj).__name__}.{name}"
    return learner.call(label, learner.method(obj, name), args, params, returns)


def _new_cell(learner: Learner, I: int, H: int, w: dict | None = None):
    cell = learner.call("RNNCell", learner.get("RNNCell"), (I, H), ("input_size", "hidden_size"))
    if w is not None:
        _assign(learner, cell, w)
    return cell


def tanh_forward(learner, case, rng):
    x = 2 * rng.standard_normal((case["batch"], case["hidden"]))
    act = learner.call("Tanh", learner.get("Tanh"), (), ())
    got = _call(learner, act, "forward", (x,), ("x",))
    return [(Expect("tanh(x)", ours.Tanh().forward(x), BH), got)]


def tanh_backward(learner, case, rng):
    x = 2 * rng.standard_normal((case["batch"], case["hidden"]))
    state = np.tanh(x)
    act = learner.call("Tanh", learner.get("Tanh"), (), ())
    _call(learner, act, "forward", (x,), ("x",))  # some versions read the state kept by forward
    got = _call(learner, act, "backward", (state,), ("state",))
    return [(Expect("1 - state²", ours.Tanh().backward(state), BH), got)]


def cell_init(learner, case, rng):
    I, H = case["input"], case["hidden"]
    cell = _new_cell(learner, I, H)
    shapes = {"weight_ih": (H, I), "weight_hh": (H, H), "bias_ih": (H,), "bias_hh": (H,)}
    out = [(Expect(k, np.zeros(s), shapes=((1, H),) if k.startswith("bias") else (), shape_only=True),
            other_edition(learner, cell, k, "W_ih", "hw3p1")) for k, s in shapes.items()]
    return out + [(Expect(f"grad_{k}", np.zeros(s)), learner.attr(cell, f"grad_{k}")) for k, s in shapes.items()]


def other_edition(learner, cell, name: str, theirs: str, course: str):
    """cell.name; if absent but the other CMU 11-785 edition's attribute is there, say which check to run."""
    value = learner.attr(cell, name)
    if isinstance(value, Missing) and not isinstance(learner.attr(cell, theirs), Missing):
        value = Missing(f"{value.reason}, but it has {theirs}: the other 11-785 edition? run deeprnn check {course}")
    return value


def cell_forward(learner, case, rng):
    B, I, H = case["batch"], case["input"], case["hidden"]
    w = _weights(rng, I, H)
    x, h = rng.standard_normal((B, I)), rng.standard_normal((B, H))
    got = _call(learner, _new_cell(learner, I, H, w), "forward", (x, h), ("x", "h"))
    mine = ours.RNNCell(I, H)
    _assign(None, mine, w)
    alts = []
    for k in ("weight_hh", "weight_ih") if I == H else ("weight_hh",):
        _assign(None, mine, {**w, k: w[k].T})
        alts.append((f"matches {k} used untransposed (· {k} instead of · {k}ᵀ)", mine.forward(x, h)))
    _assign(None, mine, w)
    return [(Expect("h_t", mine.forward(x, h), BH, alts=alts), got)]


class NoTanhGrad(ours.RNNCell):
    """The classic mistake, for hints: a backward without tanh's derivative (1 - h_t² taken as 1)."""

    def backward(self, grad, h_t, h_prev_l, h_prev_t):
        return super().backward(grad, np.zeros_like(h_t), h_prev_l, h_prev_t)


def _reference_cells(w: dict, I: int, H: int):
    """deeprnn's cell, the same cell without tanh' and one with W_hh transposed, all with weights w."""
    cells = ours.RNNCell(I, H), NoTanhGrad(I, H), ours.RNNCell(I, H)
    for cell in cells[:2]:
        _assign(None, cell, w)
    _assign(None, cells[2], {**w, "weight_hh": w["weight_hh"].T})
    return cells


def cell_backward(learner, case, rng, borrow=False):
    """Two backward calls on one cell: dx and dh_prev of each, then the accumulated grad_*."""
    B, I, H = case["batch"], case["input"], case["hidden"]
    w = _weights(rng, I, H)
    cell = _new_cell(learner, I, H, w)
    if borrow:
        if isinstance(learner.attr(cell, "activation"), Missing):
            raise CannotBorrow("RNNCell has no activation attribute to swap")
        learner.set(cell, "activation", ours.Tanh())
    mine, no_grad, transposed = _reference_cells(w, I, H)
    out, per_call = [], []
    for _ in range(2):
        x, h_prev, grad = rng.standard_normal((B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
        h_t = mine.forward(x, h_prev)
        before = [getattr(mine, g).copy() for g in GRADS]
        args = (grad, h_t, x, h_prev)
        (dx, dh_prev), (alt_dx, alt_dh), (_, t_dh) = (c.backward(*args) for c in (mine, no_grad, transposed))
        per_call.append([getattr(mine, g) - b for g, b in zip(GRADS, before)])
        got = _call(learner, cell, "backward", args, ("grad", "h_t", "h_prev_l", "h_prev_t"), ("dx", "dh_prev"))
        hh = ("matches dz W_hhᵀ instead of dz W_hh (a transposed weight?)", t_dh)
        out += [(Expect("dx", dx, BH, alts=[(NO_TANH_GRAD, alt_dx)]), got["dx"]),
                (Expect("dh_prev", dh_prev, BH, alts=[(NO_TANH_GRAD, alt_dh), hh]), got["dh_prev"])]
    for k, g in enumerate(GRADS):
        total = getattr(mine, g)
        alts = [(ACCUMULATE, per_call[-1][k]), (AVERAGED, total / B), (NO_TANH_GRAD, getattr(no_grad, g))]
        out.append((Expect(g, total, MAT if total.ndim == 2 else ("unit",), alts=alts), learner.attr(cell, g)))
    return out


def _new_rnn(learner, case, ws, borrow=False):
    """The learner's RNN with weights ws (with deeprnn's RNNCells in its layers if borrow), and ours."""
    I, H, L = case["input"], case["hidden"], case["layers"]
    rnn = learner.call("RNN", learner.get("RNN"), (I, H, L), ("input_size", "hidden_size", "num_layers"))
    layers = learner.attr(rnn, "layers")
    if isinstance(layers, Missing):
        raise LearnerError("missing", "RNN has no attribute 'layers' (the list of RNNCell)")
    try:
        n = len(layers)
    except TypeError:
        raise LearnerError("return", f"expected RNN.layers to be a list of RNNCell, got {type(layers).__name__}") from None
    if n != L:
        raise LearnerError("return", f"expected RNN.layers to hold num_layers={L} cells, got {n}")
    for l, (cell, w) in enumerate(zip(layers, ws)):
        if borrow:
            cell = ours.RNNCell(I if l == 0 else H, H)
            learner.set_item(layers, l, cell)
        _assign(learner, cell, w)
    return rnn, layers, _our_rnn(ws, I, H, L)


def _our_rnn(ws, I, H, L, cell=ours.RNNCell):
    mine = ours.RNN(I, H, L)
    mine.layers = [cell(I if l == 0 else H, H) for l in range(L)]
    for c, w in zip(mine.layers, ws):
        _assign(None, c, w)
    return mine


def _sequence(case, rng):
    B, I, H, L, T = (case[k] for k in SEQ)
    ws = [_weights(rng, I if l == 0 else H, H) for l in range(L)]
    return ws, rng.standard_normal((B, T, I)), rng.standard_normal((L, B, H))


def rnn_forward(learner, case, rng, borrow=False):
    ws, x, h0 = _sequence(case, rng)
    rnn, _, mine = _new_rnn(learner, case, ws, borrow)
    got = _call(learner, rnn, "forward", (x, h0), ("x", "h_0"), ("output", "h_n"))
    out, h_n = mine.forward(x, h0)
    return [(Expect("output", out, ("batch", "t", "unit")), got["output"]),
            (Expect("h_n", h_n, ("layer", "batch", "unit")), got["h_n"]),
            (Expect("hiddens", mine.hiddens, ("t", "layer", "batch", "unit")), learner.attr(rnn, "hiddens"))]


def rnn_backward(learner, case, rng, borrow=False):
    """BPTT from the learner's own forward, with x and hiddens then set to deeprnn's (so that a wrong
    forward does not hide a right backward); compares dx, dh_0 and every layer's grad_*."""
    ws, x, h0 = _sequence(case, rng)
    grad = rng.standard_normal((case["batch"], case["hidden"]))
    rnn, layers, mine = _new_rnn(learner, case, ws, borrow)
    no_grad = _our_rnn(ws, case["input"], case["hidden"], case["layers"], NoTanhGrad)
    _call(learner, rnn, "forward", (x, h0), ("x", "h_0"))
    mine.forward(x, h0)
    no_grad.forward(x, h0)
    for name, value in (("x", mine.x), ("hiddens", mine.hiddens)):
        if not isinstance(learner.attr(rnn, name), Missing):
            learner.set(rnn, name, value.copy())
    got = _call(learner, rnn, "backward", (grad,), ("grad",), ("dx", "dh_0"))
    (dx, dh0), (alt_dx, alt_dh0) = mine.backward(grad), no_grad.backward(grad)
    out = [(Expect("dx", dx, ("batch", "t", "unit"), backward=True, alts=[(NO_TANH_GRAD, alt_dx)]), got["dx"]),
           (Expect("dh_0", dh0, ("layer", "batch", "unit"), backward=True, alts=[(NO_TANH_GRAD, alt_dh0)]),
            got["dh_0"])]
    for l in reversed(range(len(layers))):
        for g in GRADS:
            want = getattr(mine.layers[l], g)
            alts = [(AVERAGED, want / case["batch"]), (NO_TANH_GRAD, getattr(no_grad.layers[l], g))]
            out.append((Expect(f"layers[{l}].{g}", want, MAT if want.ndim == 2 else ("unit",), alts=alts),
                        learner.attr(layers[l], g)))
    return out


CHECKS = [
    Check("Tanh.forward", ("batch", "hidden"), tanh_forward),
    Check("Tanh.backward", ("batch", "hidden"), tanh_backward),
    Check("RNNCell.__init__", ("input", "hidden"), cell_init),
    Check("RNNCell.forward", CELL, cell_forward),
    Check("RNNCell.backward", CELL, cell_backward, needs="Tanh.backward"),
    Check("RNN.forward", SEQ, rnn_forward, needs="RNNCell.forward"),
    Check("RNN.backward", SEQ, rnn_backward, needs="RNNCell.backward"),
]
GROUP = Group("CMU 11-785 mytorch", ("Tanh", "RNNCell", "RNN"), GRID, CHECKS)
