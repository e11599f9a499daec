"""What ``deeprnn check needle`` runs: a learner's needle ``nn.RNNCell``, ``RNN``, ``LSTMCell`` and
``LSTM`` (CMU 10-414 hw4) against deeprnn's own engine (dr.RNNCell, dr.RNN, dr.LSTMCell, dr.LSTM, float64).

needle stores W_ih as (input_size, G) and W_hh as (hidden_size, G), transposed relative to torch's
(G, input_size): the learner's modules get our weights transposed, and their .grad come back transposed.
Inputs are (seq_len, bs, input_size); everything is read through ``.numpy()``; the loss backpropagated
is Σ output·R + Σ h_n·S (+ Σ c_n·U), built with needle's own ``*``, ``+`` and ``.sum()``.
"""

from __future__ import annotations

import importlib

import numpy as np

from .. import numpy_engine as dr
from .learner import LearnerError, Missing
from .report import Expect
from .spec import Check, Group

# Every value of every dimension appears, and most pairs of values; the smallest case first.
GRID = [
    dict(batch=1, input=1, hidden=1, bias=True, state=False, nonlinearity="tanh", T=1, layers=1),
    dict(batch=1, input=11, hidden=12, bias=False, state=True, nonlinearity="relu", T=13, layers=2),
    dict(batch=15, input=1, hidden=12, bias=True, state=True, nonlinearity="relu", T=1, layers=2),
    dict(batch=15, input=11, hidden=1, bias=False, state=False, nonlinearity="tanh", T=13, layers=1),
    dict(batch=15, input=11, hidden=12, bias=True, state=False, nonlinearity="tanh", T=13, layers=2),
    dict(batch=1, input=1, hidden=1, bias=False, state=True, nonlinearity="relu", T=13, layers=2),
]
CELL = ("batch", "input", "hidden", "bias", "state")
SEQ = CELL + ("T", "layers")
GATE_ORDER = "matches the LSTM gates taken in the order i, f, o, g: needle's (and torch's) order is i, f, g, o"
NEEDLE_NAMES = {"weight_ih": "W_ih", "weight_hh": "W_hh", "bias_ih": "bias_ih", "bias_hh": "bias_hh"}


class _Needle:
    """The learner's needle: float32 tensors and Parameters on its cpu() device."""

    def __init__(self, learner):
        self.learner = learner
        try:
            self.ndl = importlib.import_module("needle")
        except ImportError as e:
            raise LearnerError("import", f"cannot import your needle package ({e}): give --needle-path DIR") from None
        cpu = getattr(self.ndl, "cpu", None)
        self.device = cpu() if callable(cpu) else None
        self.Parameter = getattr(learner.module, "Parameter", None) or self.ndl.nn.Parameter

    def tensor(self, a, grad=False):
        return self.ndl.Tensor(np.asarray(a, np.float32), device=self.device, dtype="float32", requires_grad=grad)

    def put(self, module, name: str, value) -> None:
        """module.name = a Parameter holding value, in needle's layout."""
        if isinstance(self.learner.attr(module, name), Missing):
            raise LearnerError("missing", f"{type(module).__name__} has no attribute {name}")
        self.learner.set(module, name, self.Parameter(np.asarray(value, np.float32), device=self.device,
                                                      dtype="float32"))

    def numpy(self, t, name: str):
        if t is None or isinstance(t, Missing):
            return Missing(f"expected {name}, got none")
        if not callable(getattr(t, "numpy", None)):
            return Missing(f"expected {name} to be a needle Tensor, got {type(t).__name__}")
        return self.learner.call(f"{name}.numpy", t.numpy, (), (), copy_args=False)


def _reference(kind: str, case: dict, layered: bool, params: dict | None = None):
    cls = {"rnn": (dr.RNNCell, dr.RNN), "lstm": (dr.LSTMCell, dr.LSTM)}[kind][layered]
    kw = {"nonlinearity": case["nonlinearity"]} if kind == "rnn" else {}
    if layered:
        kw["num_layers"] = case["layers"]
    ours = cls(case["input"], case["hidden"], bias=case["bias"], dtype=np.float64, **kw)
    if params is not None:
        ours.load_state_dict(params)
    return ours


def _swap_g_and_o(params: dict) -> dict:
    """LSTM parameters with the g and o gate blocks exchanged (for the gate-order hint)."""
    def swap(a):
        i, f, g, o = np.split(a, 4)
        return np.concatenate([i, f, o, g])

    return {k: swap(v) for k, v in params.items()}


def _where(name: str, layered: bool) -> tuple[int, str]:
    """deeprnn's parameter name -> (layer, the learner's attribute): weight_ih_l1 -> (1, 'W_ih')."""
    base, _, layer = name.rpartition("_l") if layered else (name, "", "0")
    return int(layer), NEEDLE_NAMES[base]


def _build(learner, ndl: _Needle, kind: str, case: dict, layered: bool, ours):
    """The learner's module with deeprnn's weights; and its cells (the module itself for a cell)."""
    name = ("LSTM" if kind == "lstm" else "RNN") + ("" if layered else "Cell")
    args, params = [case["input"], case["hidden"]], ["input_size", "hidden_size"]
    if layered:
        args, params = args + [case["layers"]], params + ["num_layers"]
    args, params = args + [case["bias"]], params + ["bias"]
    if kind == "rnn":
        args, params = args + [case["nonlinearity"]], params + ["nonlinearity"]
    module = learner.call(name, learner.get(name), tuple(args) + (ndl.device, "float32"),
                          tuple(params) + ("device", "dtype"), copy_args=False)
    cells = [module]
    if layered:
        attr = "lstm_cells" if kind == "lstm" else "rnn_cells"
        cells = learner.attr(module, attr)
        if isinstance(cells, Missing) or not hasattr(cells, "__len__") or len(cells) != case["layers"]:
            raise LearnerError("missing", f"expected {name}.{attr} to be a list of num_layers={case['layers']} cells")
    for pname, value in ours.params.items():
        layer, attr = _where(pname, layered)
        ndl.put(cells[layer], attr, value.T if pname.startswith("weight") else value)
    return module, cells


def _outputs(kind: str, layered: bool) -> tuple:
    if layered:
        return ("output", "h_n", "c_n") if kind == "lstm" else ("output", "h_n")
    return ("h'", "c'") if kind == "lstm" else ("h'",)


def _theirs(got, kind: str, layered: bool, label: str) -> list:
    """The learner's results in the order of _outputs."""
    try:
        if layered:
            out, final = got
            return [out, *((final,) if kind == "rnn" else tuple(final))]
        return [got] if kind == "rnn" else list(got)
    except (TypeError, ValueError):
        raise LearnerError("return", f"expected {label} to return {', '.join(_outputs(kind, layered))}") from None


def _ours(ours, x, states, kind: str, layered: bool) -> list:
    hx = None if states is None else (states[0] if kind == "rnn" else tuple(states))
    got = ours(x, hx)
    if layered:
        return [got[0], *((got[1],) if kind == "rnn" else got[1])]
    return [got] if kind == "rnn" else list(got)


def run(learner, case, rng, kind: str, layered: bool, backward: bool):
    ndl = _Needle(learner)
    ours = _reference(kind, case, layered)
    k = 1 / np.sqrt(case["hidden"])  # U(-k, k), needle's (and torch's) own initialisation: no blow-up in float32
    ours.load_state_dict({name: rng.uniform(-k, k, v.shape) for name, v in ours.params.items()})
    module, cells = _build(learner, ndl, kind, case, layered, ours)
    B, I, H = case["batch"], case["input"], case["hidden"]
    lead, n = ((case["T"],), (case["layers"],)) if layered else ((), ())
    x = rng.standard_normal(lead + (B, I))
    states = [rng.standard_normal(n + (B, H)) for _ in range(1 + (kind == "lstm"))] if case["state"] else None
    xt = ndl.tensor(x, grad=True)
    st = None if states is None else [ndl.tensor(s, grad=True) for s in states]
    label = type(module).__name__
    got = learner.call(f"{label}.forward", module, (xt, None if st is None else (st[0] if kind == "rnn" else tuple(st))),
                       ("X", "h"), copy_args=False)
    theirs, mine, names = _theirs(got, kind, layered, label), _ours(ours, x, states, kind, layered), _outputs(kind, layered)
    axes = {"output": ("t", "batch", "unit")}
    state_axes = ("layer", "batch", "unit") if layered else ("batch", "unit")
    if not backward:
        alts = [[] for _ in names]
        if kind == "lstm":
            swapped = _reference(kind, case, layered, _swap_g_and_o(ours.state_dict()))
            alts = [[(GATE_ORDER, v)] for v in _ours(swapped, x, states, kind, layered)]
        return [(Expect(nm, want, axes.get(nm, state_axes), alts=alt), ndl.numpy(t, nm))
                for nm, want, t, alt in zip(names, mine, theirs, alts)]
    weights = [rng.standard_normal(m.shape) for m in mine]

    def loss():
        total = None
        for t, w in zip(theirs, weights):
            term = (t * ndl.tensor(w)).sum()
            total = term if total is None else total + term
        total.backward()

    learner.call("loss.backward", loss, (), (), copy_args=False)
    if layered:
        dx, dstate = ours.backward(weights[0], weights[1] if kind == "rnn" else tuple(weights[1:]))
    else:
        dx, dstate = ours.backward(*weights)
    pairs = [(Expect("X.grad", dx, axes["output"] if layered else ("batch", "unit"), backward=True),
              ndl.numpy(getattr(xt, "grad", None), "X.grad"))]
    for nm, d, t in zip(("h0", "c0"), dstate if isinstance(dstate, tuple) else (dstate,), st or []):
        pairs.append((Expect(f"{nm}.grad", d, state_axes, backward=True), ndl.numpy(t.grad, f"{nm}.grad")))
    for pname, g in ours.grads.items():
        layer, attr = _where(pname, layered)
        want = g.T if pname.startswith("weight") else g
        where = f"{'lstm' if kind == 'lstm' else 'rnn'}_cells[{layer}].{attr}.grad" if layered else f"{attr}.grad"
        param = learner.attr(cells[layer], attr)
        pairs.append((Expect(where, want, ("row", "col") if want.ndim == 2 else ("unit",), backward=True),
                      ndl.numpy(getattr(param, "grad", None), where)))
    return pairs


def _check(kind: str, layered: bool, backward: bool):
    def fn(learner, case, rng):
        return run(learner, case, rng, kind, layered, backward)

    return fn


CHECKS = [
    Check("RNNCell.forward", CELL + ("nonlinearity",), _check("rnn", False, False)),
    Check("RNNCell.backward", CELL + ("nonlinearity",), _check("rnn", False, True)),
    Check("RNN.forward", SEQ + ("nonlinearity",), _check("rnn", True, False)),
    Check("RNN.backward", SEQ + ("nonlinearity",), _check("rnn", True, True)),
    Check("LSTMCell.forward", CELL, _check("lstm", False, False)),
    Check("LSTMCell.backward", CELL, _check("lstm", False, True)),
    Check("LSTM.forward", SEQ, _check("lstm", True, False)),
    Check("LSTM.backward", SEQ, _check("lstm", True, True)),
]
GROUP = Group("needle hw4", ("RNNCell", "RNN", "LSTMCell", "LSTM"), GRID, CHECKS)
