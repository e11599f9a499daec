"""What ``deeprnn check d2l`` runs: the learner's PyTorch RNNScratch, StackedRNNScratch and RNNLMScratch
(the book's names) against deeprnn.compat.d2l. The same weights go into both (copied into the learner's
parameters by their names in ``named_parameters()``); outputs, states, every gradient (autograd on the
learner's side, BPTT on deeprnn's) and predict's text are compared, in float32 as the book computes.

torch is imported only here, inside the checks: the learner's code needs it anyway.
"""

from __future__ import annotations

import numpy as np

from ..data import Vocab
from . import d2l as ours
from .learner import LearnerError, Missing
from .report import CannotBorrow, Expect
from .spec import Check, Group

GRID = [
    dict(batch=1, inputs=2, hidden=1, T=1, layers=1, state=False),
    dict(batch=2, inputs=3, hidden=2, T=2, layers=2, state=True),
    dict(batch=1, inputs=4, hidden=3, T=4, layers=1, state=True),
    dict(batch=3, inputs=5, hidden=4, T=3, layers=3, state=False),
]
LAYER = ("batch", "inputs", "hidden", "T", "state")
STACK = LAYER + ("layers",)
TBH = ("t", "batch", "unit")


def _torch():
    try:
        import torch
    except ImportError:
        raise LearnerError("internal", "the d2l check needs PyTorch, as your code does: pip install torch") from None
    return torch


def _numpy(value):
    """A learner's tensor, or list of tensors, as an array (anything else is returned as it is)."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)) and value and all(hasattr(v, "detach") for v in value):
        return np.stack([v.detach().cpu().numpy() for v in value])
    return value


def _tensor(a, grad: bool = False):
    return _torch().tensor(np.asarray(a), dtype=_torch().float32, requires_grad=grad)


def _load(learner, module, arrays: dict) -> None:
    """Copy arrays into the learner's parameters of the same names ('rnns.0.W_xh': a submodule's)."""
    torch = _torch()
    params = learner.call("named_parameters", lambda: dict(module.named_parameters()), (), (), copy_args=False)
    for name, value in arrays.items():
        if name not in params:
            raise LearnerError("missing", f"{type(module).__name__} has no parameter {name} "
                                          f"(its parameters: {', '.join(params) or 'none'})")
        if tuple(params[name].shape) != value.shape:
            raise LearnerError("return", f"expected {name} of shape {value.shape}, got {tuple(params[name].shape)}"
                                         + (" (transposed?)" if tuple(params[name].shape) == value.shape[::-1] else ""))
        with torch.no_grad():
            params[name].copy_(torch.as_tensor(value, dtype=params[name].dtype))


def _grads(learner, module, mine: dict, inputs: dict):
    """The learner's .grad of every parameter of ours, and of the inputs."""
    theirs = dict(module.named_parameters())
    out = []
    for name, want in mine.items():
        p = theirs.get(name)
        got = Missing(f"no gradient reached {name}") if p is None or p.grad is None else _numpy(p.grad)
        out.append((Expect(f"d{name}", want, ("row", "col") if want.ndim == 2 else ("unit",), backward=True), got))
    for name, (tensor, want, axes) in inputs.items():
        got = Missing(f"no gradient reached {name}") if tensor.grad is None else _numpy(tensor.grad)
        out.append((Expect(f"d{name}", want, axes, backward=True), got))
    return out


def _weights(rng, module) -> dict:
    return {k: rng.uniform(-0.8, 0.8, v.shape) for k, v in module.named_parameters().items()}


def _layer(learner, case, rng, borrow=False):
    """The learner's RNNScratch and ours with the same weights, inputs and the initial state."""
    I, H = case["inputs"], case["hidden"]
    theirs = learner.call("RNNScratch", learner.get("RNNScratch"), (I, H, 0.01), ("num_inputs", "num_hiddens", "sigma"))
    mine = ours.RNNScratch(I, H)
    w = _weights(rng, mine)
    vars(mine).update(w)
    _load(learner, theirs, w)
    x = rng.standard_normal((case["T"], case["batch"], I))
    h0 = rng.standard_normal((case["batch"], H)) if case["state"] else None
    return theirs, mine, x, h0


def layer_init(learner, case, rng):
    I, H = case["inputs"], case["hidden"]
    m = learner.call("RNNScratch", learner.get("RNNScratch"), (I, H, 0.01), ("num_inputs", "num_hiddens", "sigma"))
    params = dict(m.named_parameters())
    shapes = {"W_xh": (I, H), "W_hh": (H, H), "b_h": (H,)}
    return [(Expect(k, np.zeros(s), shape_only=True), _numpy(params[k]) if k in params else
             Missing(f"RNNScratch has no parameter {k}")) for k, s in shapes.items()]


def layer_forward(learner, case, rng):
    theirs, mine, x, h0 = _layer(learner, case, rng)
    got = learner.call("RNNScratch.forward", theirs, (_tensor(x), None if h0 is None else (_tensor(h0),)),
                       ("inputs", "state"), ("outputs", "state"), copy_args=False)
    outputs, state = mine(x, h0)
    return [(Expect("outputs", np.stack(outputs), TBH), _numpy(got["outputs"])),
            (Expect("state", state, ("batch", "unit")), _numpy(got["state"]))]


def layer_gradients(learner, case, rng):
    theirs, mine, x, h0 = _layer(learner, case, rng)
    R, S = rng.standard_normal((case["T"], case["batch"], case["hidden"])), rng.standard_normal((case["batch"], case["hidden"]))
    xt, h0t = _tensor(x, grad=True), _tensor(np.zeros((case["batch"], case["hidden"])) if h0 is None else h0, grad=True)
    got = learner.call("RNNScratch.forward", theirs, (xt, (h0t,)), ("inputs", "state"), ("outputs", "state"),
                       copy_args=False)

    def loss():
        return sum((o * _tensor(r)).sum() for o, r in zip(got["outputs"], R)) + (got["state"] * _tensor(S)).sum()

    learner.call("loss.backward", lambda: loss().backward(), (), (), copy_args=False)
    mine(x, h0 if h0 is not None else np.zeros((case["batch"], case["hidden"])))
    dx, dh0 = mine.backward(R, S)
    return _grads(learner, theirs, mine.grads, {"inputs": (xt, dx, TBH), "state": (h0t, dh0, ("batch", "unit"))})


def _borrowed_layer(torch, w: dict):
    """A torch RNNScratch on deeprnn's torch step function, for re-runs with deeprnn's layer in place."""
    from ..torch_engine.elman import rnn_step

    class RNNScratch(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for k, v in w.items():
                setattr(self, k, torch.nn.Parameter(torch.tensor(v, dtype=torch.float32)))
            self.num_inputs, self.num_hiddens, self.sigma = *w["W_xh"].shape, 0.01

        def forward(self, inputs, state=None):
            if state is None:
                state = torch.zeros(inputs.shape[1], self.num_hiddens)
            elif isinstance(state, (tuple, list)):
                (state,) = state
            outputs = []
            for X in inputs:
                state = rnn_step(X, state.expand(X.shape[0], -1), self.W_xh.T, self.W_hh.T, self.b_h)
                outputs.append(state)
            return outputs, state

    return RNNScratch()


def _stack(learner, case, rng, borrow=False):
    I, H, L = case["inputs"], case["hidden"], case["layers"]
    theirs = learner.call("StackedRNNScratch", learner.get("StackedRNNScratch"), (I, H, L, 0.01),
                          ("num_inputs", "num_hiddens", "num_layers", "sigma"))
    mine = ours.StackedRNNScratch(I, H, L)
    w = _weights(rng, mine)
    for i, rnn in enumerate(mine.rnns):
        vars(rnn).update({k: w[f"rnns.{i}.{k}"] for k in ("W_xh", "W_hh", "b_h")})
    if borrow:
        rnns = learner.attr(theirs, "rnns")
        if isinstance(rnns, Missing):
            raise CannotBorrow("StackedRNNScratch has no rnns to swap")
        for i in range(L):
            learner.set_item(rnns, i, _borrowed_layer(_torch(), {k: w[f"rnns.{i}.{k}"] for k in ("W_xh", "W_hh", "b_h")}))
    _load(learner, theirs, w)
    x = rng.standard_normal((case["T"], case["batch"], I))
    h0 = [rng.standard_normal((case["batch"], H)) for _ in range(L)] if case["state"] else None
    return theirs, mine, x, h0


def stack_forward(learner, case, rng, borrow=False):
    theirs, mine, x, h0 = _stack(learner, case, rng, borrow)
    Hs = None if h0 is None else [(_tensor(h),) for h in h0]
    got = learner.call("StackedRNNScratch.forward", theirs, (_tensor(x), Hs), ("inputs", "Hs"), ("outputs", "Hs"),
                       copy_args=False)
    outputs, Hs = mine(x, h0)
    return [(Expect("outputs", outputs, TBH), _numpy(got["outputs"])),
            (Expect("Hs", np.stack(Hs), ("layer", "batch", "unit")), _numpy(list(got["Hs"])))]


def stack_gradients(learner, case, rng, borrow=False):
    theirs, mine, x, h0 = _stack(learner, case, rng, borrow)
    T, B, H, L = case["T"], case["batch"], case["hidden"], case["layers"]
    R = rng.standard_normal((T, B, H))
    h0 = h0 if h0 is not None else [np.zeros((B, H))] * L
    xt, h0t = _tensor(x, grad=True), [_tensor(h, grad=True) for h in h0]
    got = learner.call("StackedRNNScratch.forward", theirs, (xt, [(h,) for h in h0t]), ("inputs", "Hs"),
                       ("outputs", "Hs"), copy_args=False)
    learner.call("loss.backward", lambda: (got["outputs"] * _tensor(R)).sum().backward(), (), (), copy_args=False)
    mine(x, h0)
    dx, dh0 = mine.backward(R)
    inputs = {"inputs": (xt, dx, TBH), **{f"Hs[{i}]": (h0t[i], dh0[i], ("batch", "unit")) for i in range(L)}}
    return _grads(learner, theirs, mine.grads, inputs)


def _lm(learner, case, rng, borrow=False):
    """The learner's RNNLMScratch over its own RNNScratch (or deeprnn's, with borrow), ours, and ids X (B, T)."""
    V, H = case["inputs"], case["hidden"]
    rnn = learner.call("RNNScratch", learner.get("RNNScratch"), (V, H, 0.01), ("num_inputs", "num_hiddens", "sigma"))
    lm = learner.call("RNNLMScratch", learner.get("RNNLMScratch"), (rnn, V), ("rnn", "vocab_size"), copy_args=False)
    mine = ours.RNNLMScratch(ours.RNNScratch(V, H), V)
    w = _weights(rng, mine)
    mine.W_hq, mine.b_q = w["W_hq"], w["b_q"]
    vars(mine.rnn).update({k: w[f"rnn.{k}"] for k in ("W_xh", "W_hh", "b_h")})
    if borrow:
        learner.set(lm, "rnn", _borrowed_layer(_torch(), {k: w[f"rnn.{k}"] for k in ("W_xh", "W_hh", "b_h")}))
    _load(learner, lm, w)
    X = rng.integers(0, V, (case["batch"], case["T"]))
    return lm, mine, X


def lm_one_hot(learner, case, rng):
    lm, mine, X = _lm(learner, case, rng)
    got = learner.call("RNNLMScratch.one_hot", learner.method(lm, "one_hot"), (_torch().tensor(X),), ("X",),
                       copy_args=False)
    return [(Expect("one_hot(X)", mine.one_hot(X), ("t", "batch", "token")), _numpy(got))]


def lm_output_layer(learner, case, rng):
    lm, mine, _ = _lm(learner, case, rng)
    Hs = rng.standard_normal((case["T"], case["batch"], case["hidden"]))
    got = learner.call("RNNLMScratch.output_layer", learner.method(lm, "output_layer"), ([_tensor(h) for h in Hs],),
                       ("rnn_outputs",), copy_args=False)
    return [(Expect("output_layer(rnn_outputs)", mine.output_layer(list(Hs)), ("batch", "t", "token")), _numpy(got))]


def lm_forward(learner, case, rng, borrow=False):
    lm, mine, X = _lm(learner, case, rng, borrow)
    got = learner.call("RNNLMScratch.forward", lm, (_torch().tensor(X),), ("X",), copy_args=False)
    return [(Expect("logits", mine(X), ("batch", "t", "token")), _numpy(got))]


def lm_gradients(learner, case, rng, borrow=False):
    lm, mine, X = _lm(learner, case, rng, borrow)
    R = rng.standard_normal((case["batch"], case["T"], case["inputs"]))
    got = learner.call("RNNLMScratch.forward", lm, (_torch().tensor(X),), ("X",), copy_args=False)
    learner.call("loss.backward", lambda: (got * _tensor(R)).sum().backward(), (), (), copy_args=False)
    mine(X)
    mine.backward(R)
    return _grads(learner, lm, mine.grads, {})


def lm_predict(learner, case, rng, borrow=False):
    lm, mine, _ = _lm(learner, case, rng, borrow)
    tokens = "abcdefghijklmnopqrstuvwxyz"[: case["inputs"] - 1]  # and '<unk>': a vocabulary of V tokens
    vocab = Vocab(list(tokens))
    prefix = "".join(rng.choice(list(tokens), size=1 + case["T"] % 3))
    num_preds = 1 + case["T"]
    got = learner.call("RNNLMScratch.predict", learner.method(lm, "predict"), (prefix, num_preds, vocab),
                       ("prefix", "num_preds", "vocab"), copy_args=False)
    return [(Expect("predict(prefix, num_preds, vocab)", mine.predict(prefix, num_preds, vocab)), got)]


LM = ("batch", "inputs", "hidden", "T")
CHECKS = [
    Check("RNNScratch.__init__", ("inputs", "hidden"), layer_init),
    Check("RNNScratch.forward", LAYER, layer_forward),
    Check("RNNScratch gradients", LAYER, layer_gradients),
    Check("StackedRNNScratch.forward", STACK, stack_forward, needs="RNNScratch.forward"),
    Check("StackedRNNScratch gradients", STACK, stack_gradients, needs="RNNScratch gradients"),
    Check("RNNLMScratch.one_hot", LM, lm_one_hot),
    Check("RNNLMScratch.output_layer", LM, lm_output_layer),
    Check("RNNLMScratch.forward", LM, lm_forward, needs="RNNScratch.forward"),
    Check("RNNLMScratch gradients", LM, lm_gradients, needs="RNNScratch gradients"),
    Check("RNNLMScratch.predict", LM, lm_predict, needs="RNNScratch.forward"),
]
GROUP = Group("d2l scratch RNN", ("RNNScratch", "StackedRNNScratch", "RNNLMScratch"), GRID, CHECKS)
