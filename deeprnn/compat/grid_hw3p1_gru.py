"""What ``deeprnn check hw3p1`` runs for the GRU part: GRUCell, CharacterPredictor and inference against
deeprnn.compat.hw3p1. The backward check runs the learner's own forward first (its backward reads what
forward kept), then sets x, hidden, r, z and n to deeprnn's, so that a wrong forward does not hide a
right backward."""

from __future__ import annotations

import numpy as np

from . import hw3p1 as ours
from .hw3p1 import GRU_WEIGHTS
from .learner import LearnerError, Missing
from .report import CannotBorrow, Expect
from .spec import Check, Group

GRID = [
    dict(input=1, hidden=1, classes=1, T=1),
    dict(input=2, hidden=1, classes=3, T=2),
    dict(input=1, hidden=2, classes=2, T=3),
    dict(input=3, hidden=4, classes=3, T=5),
    dict(input=5, hidden=3, classes=4, T=4),
]
CELL = ("input", "hidden")
SEQ = ("input", "hidden", "classes", "T")
BIAS_OUTSIDE = "matches b_nh outside r ⊙ (…): n = tanh(W_nx x + b_nx + r ⊙ (W_nh h + b_nh)) keeps it inside"
HH_TRANSPOSED = "matches the hidden-state weights used transposed (h W_h instead of W_h h)"
Z_SWAPPED = "matches z and 1 - z swapped: h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}"


def _weights(rng, I: int, H: int) -> dict:
    w = {n: rng.uniform(-1, 1, (H, I)) for n in GRU_WEIGHTS[:3]}
    w.update({n: rng.uniform(-1, 1, (H, H)) for n in GRU_WEIGHTS[3:6]})
    return {**w, **{n: rng.uniform(-1, 1, H) for n in GRU_WEIGHTS[6:]}}


def _ours(I: int, H: int, w: dict) -> ours.GRUCell:
    cell = ours.GRUCell(I, H)
    cell.init_weights(*(w[n].copy() for n in GRU_WEIGHTS))
    return cell


def _variants(I: int, H: int, w: dict) -> dict:
    """deeprnn's cell, and cells that make the typical mistakes (for hints)."""
    outside = {**w, "bnx": w["bnx"] + w["bnh"], "bnh": np.zeros(H)}  # b_nh added outside r ⊙
    transposed = {**w, **{n: w[n].T for n in GRU_WEIGHTS[3:6]}}
    return {"mine": _ours(I, H, w), BIAS_OUTSIDE: _ours(I, H, outside), HH_TRANSPOSED: _ours(I, H, transposed)}


def _new_cell(learner, I: int, H: int, w: dict):
    cell = learner.call("GRUCell", learner.get("GRUCell"), (I, H), ("input_size", "hidden_size"))
    learner.call("GRUCell.init_weights", learner.method(cell, "init_weights"), tuple(w[n].copy() for n in GRU_WEIGHTS),
                 GRU_WEIGHTS)
    return cell


def cell_init(learner, case, rng):
    I, H = case["input"], case["hidden"]
    cell = learner.call("GRUCell", learner.get("GRUCell"), (I, H), ("input_size", "hidden_size"))
    shapes = {n: (H, I) if k < 3 else (H, H) if k < 6 else (H,) for k, n in enumerate(GRU_WEIGHTS)}
    out = [(Expect(n, np.zeros(s), shape_only=True), learner.attr(cell, n)) for n, s in shapes.items()]
    return out + [(Expect(f"d{n}", np.zeros(s)), learner.attr(cell, f"d{n}")) for n, s in shapes.items()]


def cell_forward(learner, case, rng):
    I, H = case["input"], case["hidden"]
    w = _weights(rng, I, H)
    x, h = rng.standard_normal(I), rng.standard_normal(H)
    got = learner.call("GRUCell.forward", learner.method(_new_cell(learner, I, H, w), "forward"), (x, h),
                       ("x", "h_prev_t"))
    cells = _variants(I, H, w)
    mine = cells.pop("mine")
    h_t = mine.forward(x, h)
    alts = [(text, cell.forward(x, h)) for text, cell in cells.items()]
    alts.append((Z_SWAPPED, mine.z * mine.n + (1 - mine.z) * h))
    return [(Expect("h_t", h_t, ("unit",), alts=alts, shapes=((1, H),)), got)]


def cell_backward(learner, case, rng):
    """One forward then one backward on a fresh cell, as the handout's autograder does."""
    I, H = case["input"], case["hidden"]
    w = _weights(rng, I, H)
    x, h, delta = rng.standard_normal(I), rng.standard_normal(H), rng.standard_normal(H)
    cell = _new_cell(learner, I, H, w)
    learner.call("GRUCell.forward", learner.method(cell, "forward"), (x, h), ("x", "h_prev_t"))
    cells = _variants(I, H, w)
    for c in cells.values():
        c.forward(x, h)
    mine = cells.pop("mine")
    for name in ("x", "hidden", "r", "z", "n"):  # what the handout's forward keeps, as deeprnn has it
        if not isinstance(learner.attr(cell, name), Missing):
            learner.set(cell, name, getattr(mine, name).copy())
    got = learner.call("GRUCell.backward", learner.method(cell, "backward"), (delta,), ("delta",), ("dx", "dh_prev_t"))
    dx, dh = mine.backward(delta)
    alt = {text: (c.backward(delta), c) for text, c in cells.items()}
    out = [(Expect("dx", dx, ("row", "unit"), shapes=((I,),), alts=[(t, v[0][0]) for t, v in alt.items()]), got["dx"]),
           (Expect("dh_prev_t", dh, ("row", "unit"), shapes=((H,),), alts=[(t, v[0][1]) for t, v in alt.items()]),
            got["dh_prev_t"])]
    for n in GRU_WEIGHTS:
        alts = [(t, getattr(c, f"d{'bnx' if (t == BIAS_OUTSIDE and n == 'bnh') else n}")) for t, (_, c) in alt.items()]
        want = getattr(mine, f"d{n}")
        out.append((Expect(f"d{n}", want, ("row", "col") if want.ndim == 2 else ("unit",), alts=alts),
                    learner.attr(cell, f"d{n}")))
    return out


def _predictor(learner, case, rng, borrow=False):
    I, H, C = case["input"], case["hidden"], case["classes"]
    w = _weights(rng, I, H)
    W, b = rng.uniform(-1, 1, (C, H)), rng.uniform(-1, 1, (C, 1))
    net = learner.call("CharacterPredictor", learner.get("CharacterPredictor"), (I, H, C),
                       ("input_dim", "hidden_dim", "num_classes"))
    learner.call("CharacterPredictor.init_rnn_weights", learner.method(net, "init_rnn_weights"),
                 tuple(w[n].copy() for n in GRU_WEIGHTS), GRU_WEIGHTS)
    projection = learner.attr(net, "projection")
    if isinstance(projection, Missing):
        raise LearnerError("missing", projection.reason)
    learner.set(projection, "W", W.copy())
    learner.set(projection, "b", b.copy())
    if borrow:
        if isinstance(learner.attr(net, "gru"), Missing):
            raise CannotBorrow("CharacterPredictor has no gru attribute to swap")
        learner.set(net, "gru", _ours(I, H, w))
    mine = ours.CharacterPredictor(I, H, C)
    mine.init_rnn_weights(*(w[n] for n in GRU_WEIGHTS))
    mine.projection.W, mine.projection.b = W, b
    return net, mine


def predictor_forward(learner, case, rng, borrow=False):
    net, mine = _predictor(learner, case, rng, borrow)
    x, h = rng.standard_normal(case["input"]), rng.standard_normal(case["hidden"])
    got = learner.call("CharacterPredictor.forward", learner.method(net, "forward"), (x, h), ("x", "h"),
                       ("logits", "hnext"))
    logits, hnext = mine.forward(x, h)
    return [(Expect("logits", logits, ("class",), shapes=((1, case["classes"]),)), got["logits"]),
            (Expect("hnext", hnext, ("unit",), shapes=((1, case["hidden"]),)), got["hnext"])]


def run_inference(learner, case, rng, borrow=False):
    net, mine = _predictor(learner, case, rng, borrow)
    inputs = rng.standard_normal((case["T"], case["input"]))
    got = learner.call("inference", learner.get("inference"), (net, inputs), ("net", "inputs"), copy_args=False)
    return [(Expect("logits", ours.inference(mine, inputs), ("t", "class")), got)]


CHECKS = [
    Check("GRUCell.__init__", CELL, cell_init),
    Check("GRUCell.forward", CELL, cell_forward),
    Check("GRUCell.backward", CELL, cell_backward),
    Check("CharacterPredictor.forward", ("input", "hidden", "classes"), predictor_forward, needs="GRUCell.forward"),
    Check("inference", SEQ, run_inference, needs="GRUCell.forward"),
]
GROUP = Group("HW3P1 GRU", ("GRUCell", "CharacterPredictor", "inference"), GRID, CHECKS)
