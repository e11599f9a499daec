"""What ``deeprnn check hw3p1`` runs for the RNN part: RNNCell and RNNPhonemeClassifier against
deeprnn.compat.hw3p1. Weights go in through the learner's own ``init_weights``, as the handout's
autograder does; the classifier's backward gets deeprnn's x and hiddens after the learner's forward,
so that a wrong forward does not hide a right backward."""

from __future__ import annotations

import numpy as np

from . import hw3p1 as ours
from .grid_mytorch import other_edition
from .learner import LearnerError, Missing
from .report import ACCUMULATE, NO_TANH_GRAD, SUMMED, CannotBorrow, Expect
from .spec import Check, Group

# Smallest first: the first failing case is the smallest one.
GRID = [
    dict(batch=1, input=1, hidden=1, layers=1, T=1, classes=1),
    dict(batch=1, input=2, hidden=1, layers=2, T=2, classes=3),
    dict(batch=2, input=1, hidden=2, layers=1, T=3, classes=2),
    dict(batch=3, input=3, hidden=2, layers=3, T=2, classes=4),
    dict(batch=3, input=4, hidden=5, layers=2, T=5, classes=3),
]
CELL = ("batch", "input", "hidden")
SEQ = ("batch", "input", "hidden", "layers", "T", "classes")
GRADS = ("dW_ih", "dW_hh", "db_ih", "db_hh")
BH = ("batch", "unit")
MAT = ("row", "col")


class NoTanhGrad(ours.RNNCell):
    """For hints: the classic mistake of a backward without tanh's derivative (1 - h_t² taken as 1)."""

    def backward(self, delta, h_t, h_prev_l, h_prev_t):
        return super().backward(delta, np.zeros_like(h_t), h_prev_l, h_prev_t)


def _weights(rng, I: int, H: int) -> list:
    return [rng.uniform(-1, 1, (H, I)), rng.uniform(-1, 1, (H, H)), rng.uniform(-1, 1, H), rng.uniform(-1, 1, H)]


def _method(learner, obj, name, args, params, returns=None):
    return learner.call(f"{type(obj).__name__}.{name}", learner.method(obj, name), args, params, returns)


def _new_cell(learner, I: int, H: int, w: list):
    cell = learner.call("RNNCell", learner.get("RNNCell"), (I, H), ("input_size", "hidden_size"))
    _method(learner, cell, "init_weights", tuple(a.copy() for a in w), ("W_ih", "W_hh", "b_ih", "b_hh"))
    return cell


def _our_cell(cls, I: int, H: int, w: list):
    cell = cls(I, H)
    cell.init_weights(*(a.copy() for a in w))
    return cell


def cell_init(learner, case, rng):
    I, H = case["input"], case["hidden"]
    cell = learner.call("RNNCell", learner.get("RNNCell"), (I, H), ("input_size", "hidden_size"))
    shapes = {"W_ih": (H, I), "W_hh": (H, H), "b_ih": (H,), "b_hh": (H,)}
    out = [(Expect(k, np.zeros(s), shape_only=True), other_edition(learner, cell, k, "weight_ih", "mytorch"))
           for k, s in shapes.items()]
    return out + [(Expect(f"d{k}", np.zeros(s)), learner.attr(cell, f"d{k}")) for k, s in shapes.items()]


def cell_forward(learner, case, rng):
    B, I, H = case["batch"], case["input"], case["hidden"]
    w = _weights(rng, I, H)
    x, h = rng.standard_normal((B, I)), rng.standard_normal((B, H))
    got = _method(learner, _new_cell(learner, I, H, w), "forward", (x, h), ("x", "h_prev_t"))
    transposed = _our_cell(ours.RNNCell, I, H, [w[0], w[1].T, w[2], w[3]]).forward(x, h)
    alt = ("matches W_hh used untransposed (h W_hh instead of h W_hhᵀ)", transposed)
    return [(Expect("h_t", _our_cell(ours.RNNCell, I, H, w).forward(x, h), BH, alts=[alt]), got)]


def cell_backward(learner, case, rng):
    """Two backward calls on one cell, as the handout's autograder makes: dx and dh_prev_t of each,
    then the accumulated, batch-averaged gradients."""
    B, I, H = case["batch"], case["input"], case["hidden"]
    w = _weights(rng, I, H)
    cell = _new_cell(learner, I, H, w)
    mine, no_grad = _our_cell(ours.RNNCell, I, H, w), _our_cell(NoTanhGrad, I, H, w)
    transposed = _our_cell(ours.RNNCell, I, H, [w[0], w[1].T, w[2], w[3]])
    out, last = [], None
    for _ in range(2):
        x, h_prev, delta = rng.standard_normal((B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
        h_t = mine.forward(x, h_prev)
        args = (delta, h_t, x, h_prev)
        before = [getattr(mine, g).copy() for g in GRADS]
        (dx, dh), (alt_dx, alt_dh), (_, t_dh) = (c.backward(*args) for c in (mine, no_grad, transposed))
        last = [getattr(mine, g) - b for g, b in zip(GRADS, before)]
        got = _method(learner, cell, "backward", args, ("delta", "h_t", "h_prev_l", "h_prev_t"), ("dx", "dh_prev_t"))
        hh = ("matches dz W_hhᵀ instead of dz W_hh (a transposed weight?)", t_dh)
        out += [(Expect("dx", dx, BH, alts=[(NO_TANH_GRAD, alt_dx)]), got["dx"]),
                (Expect("dh_prev_t", dh, BH, alts=[(NO_TANH_GRAD, alt_dh), hh]), got["dh_prev_t"])]
    for k, g in enumerate(GRADS):
        total = getattr(mine, g)
        alts = [(ACCUMULATE, last[k]), (SUMMED, total * B), (NO_TANH_GRAD, getattr(no_grad, g))]
        out.append((Expect(g, total, MAT if total.ndim == 2 else ("unit",), alts=alts), learner.attr(cell, g)))
    return out


def _classifier(learner, case, rng, borrow=False):
    """The learner's RNNPhonemeClassifier with random weights (deeprnn's RNNCells in it if borrow), ours
    with the same weights, and the inputs."""
    B, I, H, L, T, C = (case[k] for k in SEQ)
    ws = [_weights(rng, I if l == 0 else H, H) for l in range(L)]
    lin = [rng.uniform(-1, 1, (C, H)), rng.uniform(-1, 1, C)]
    x, h0 = rng.standard_normal((B, T, I)), rng.standard_normal((L, B, H))
    net = learner.call("RNNPhonemeClassifier", learner.get("RNNPhonemeClassifier"), (I, H, C, L),
                       ("input_size", "hidden_size", "output_size", "num_layers"))
    _method(learner, net, "init_weights", ([[a.copy() for a in w] for w in ws], [a.copy() for a in lin]),
            ("rnn_weights", "linear_weights"))
    cells = learner.attr(net, "rnn")
    if isinstance(cells, Missing):
        raise LearnerError("missing", "RNNPhonemeClassifier has no attribute 'rnn' (the list of RNNCell)")
    if borrow:
        if not isinstance(cells, list) or len(cells) != L:
            raise CannotBorrow("RNNPhonemeClassifier.rnn is not a list of num_layers cells")
        for l, w in enumerate(ws):
            learner.set_item(cells, l, _our_cell(ours.RNNCell, I if l == 0 else H, H, w))
    mine = ours.RNNPhonemeClassifier(I, H, C, L)
    mine.init_weights(ws, lin)
    return net, cells, mine, x, h0


def classifier_forward(learner, case, rng, borrow=False):
    net, _, mine, x, h0 = _classifier(learner, case, rng, borrow)
    got = _method(learner, net, "forward", (x, h0), ("x", "h_0"))
    logits = mine.forward(x, h0)
    hiddens = learner.attr(net, "hiddens")
    try:
        hiddens = hiddens if isinstance(hiddens, Missing) else np.array(hiddens, dtype=float)
    except (TypeError, ValueError):
        hiddens = Missing("expected hiddens to be a list of T+1 arrays (num_layers, B, H), one per step")
    return [(Expect("logits", logits, ("batch", "class")), got),
            (Expect("hiddens", np.stack(mine.hiddens), ("t", "layer", "batch", "unit")), hiddens)]


def classifier_backward(learner, case, rng, borrow=False):
    net, cells, mine, x, h0 = _classifier(learner, case, rng, borrow)
    delta = rng.standard_normal((case["batch"], case["classes"]))
    _method(learner, net, "forward", (x, h0), ("x", "h_0"))
    mine.forward(x, h0)
    learner.set(net, "x", x.copy())
    learner.set(net, "hiddens", [h.copy() for h in mine.hiddens])
    got = _method(learner, net, "backward", (delta,), ("delta",))
    dh0 = mine.backward(delta)
    out = [(Expect("dh_0", dh0, ("layer", "batch", "unit"), backward=True, alts=[(SUMMED, dh0 * case["batch"])]),
            got)]
    for l in reversed(range(case["layers"])):
        cell = cells[l] if isinstance(cells, (list, tuple)) and l < len(cells) else None
        for g in GRADS:
            want = getattr(mine.rnn[l], g)
            value = Missing(f"expected rnn[{l}] to be an RNNCell") if cell is None else learner.attr(cell, g)
            out.append((Expect(f"rnn[{l}].{g}", want, MAT if want.ndim == 2 else ("unit",),
                               alts=[(SUMMED, want * case["batch"])]), value))
    return out


CHECKS = [
    Check("RNNCell.__init__", ("input", "hidden"), cell_init),
    Check("RNNCell.forward", CELL, cell_forward),
    Check("RNNCell.backward", CELL, cell_backward),
    Check("RNNPhonemeClassifier.forward", SEQ, classifier_forward, needs="RNNCell.forward"),
    Check("RNNPhonemeClassifier.backward", SEQ, classifier_backward, needs="RNNCell.backward"),
]
GROUP = Group("HW3P1 RNN", ("RNNCell", "RNNPhonemeClassifier"), GRID, CHECKS)
