"""The scratch torch modules (deeprnn/torch_engine/{elman,gru,lstm,recurrence,stack,cells}.py).

In float64 they must equal torch.nn.RNN/GRU/LSTM and torch.nn.RNNCell/GRUCell/LSTMCell (the fused
reference) with the same weights, copied by load_state_dict: outputs, final states, and the autograd
gradients of every parameter, the input and the initial states. They must also equal the NumPy engine.
Shape letters: T time, B batch, I input, H hidden, P projection (h's size), L·D states.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import require

torch = require("torch")
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

import deeprnn as dr  # noqa: E402
from deeprnn.torch_engine import cells, recurrence, stack  # noqa: E402
from deeprnn.torch_engine.elman import rnn_step  # noqa: E402
from deeprnn.torch_engine.gru import gru_step  # noqa: E402
from deeprnn.torch_engine.lstm import lstm_step  # noqa: E402

F64 = torch.float64
TOL = dict(rtol=1e-10, atol=1e-12)

# kind -> (class name in stack / cells / torch.nn / deeprnn, extra constructor kwargs)
KINDS = {
    "rnn_tanh": ("RNN", {"nonlinearity": "tanh"}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "gru": ("GRU", {}),
    "lstm": ("LSTM", {}),
}

# name -> (constructor kwargs, T, B (None: unbatched input), lengths or None)
CASES = {
    "2layers": (dict(num_layers=2, H=4), 4, 3, None),
    "batch1": (dict(num_layers=2, H=3), 4, 1, None),
    "hidden1": (dict(num_layers=2, H=1), 4, 2, None),
    "seq1": (dict(num_layers=2, H=3), 1, 2, None),
    "no_bias": (dict(H=3, bias=False), 3, 2, None),
    "batch_first": (dict(num_layers=2, H=3, batch_first=True), 3, 2, None),
    "unbatched_bidir": (dict(num_layers=2, H=3, bidirectional=True), 4, None, None),
    "bidir_3layers": (dict(num_layers=3, H=3, bidirectional=True), 4, 2, None),
    "no_bias_bidir": (dict(num_layers=2, H=3, bias=False, bidirectional=True), 3, 2, None),
    "lengths_bidir": (dict(num_layers=2, H=3, bidirectional=True), 5, 4, [5, 1, 3, 2]),
    "lengths_batch_first": (dict(num_layers=2, H=3, batch_first=True), 4, 3, [2, 4, 1]),
    "lengths_batch1": (dict(H=2, bidirectional=True), 4, 1, [3]),
    "eval_dropout": (dict(num_layers=2, H=3, dropout=0.5, eval=True), 3, 2, None),
}
PROJ_CASES = {
    "proj": (dict(num_layers=2, H=4, proj_size=2), 4, 3, None),
    "proj_bidir_lengths": (dict(num_layers=2, H=4, proj_size=3, bidirectional=True), 4, 3, [3, 4, 1]),
    "proj_unbatched_no_bias": (dict(num_layers=2, H=3, proj_size=1, bias=False), 3, None, None),
    "proj_batch_first_eval_dropout": (dict(num_layers=3, H=3, proj_size=2, batch_first=True, dropout=0.3,
                                           eval=True), 3, 2, None),
}
ALL_CASES = {**CASES, **PROJ_CASES}
GRID = [(k, c) for k in KINDS for c in CASES] + [("lstm", c) for c in PROJ_CASES]


# ---- helpers -----------------------------------------------------------------------------------------


def make_pair(kind, I=3, H=3, eval=False, dropout=0.0, seed=0, **kw):
    """(scratch, torch.nn reference) with the reference's weights loaded into the scratch module.

    The reference never gets dropout: in eval mode, the scratch module (which has it) must ignore it."""
    name, extra = KINDS[kind]
    torch.manual_seed(seed)
    ref = getattr(torch.nn, name)(I, H, dtype=F64, **extra, **kw)
    ours = getattr(stack, name)(I, H, dtype=F64, dropout=dropout, **extra, **kw)
    ours.load_state_dict(ref.state_dict())  # torch.nn -> scratch (strict: same keys and shapes)
    if eval:
        ours.eval()
    return ours, ref


def as_tuple(state) -> tuple:
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


def pack(is_lstm, states):
    return tuple(states) if is_lstm else states[0]


def random_io(model, T, B, gen):
    """x in the model's layout, hx, and the loss weights R (like the output) and S (like the final state)."""
    I, D = model.input_size, 2 if model.bidirectional else 1
    P, H, L = model.proj_size or model.hidden_size, model.hidden_size, model.num_layers
    lstm = isinstance(model, (torch.nn.LSTM, stack.LSTM))
    x_shape = (T, I) if B is None else ((B, T, I) if model.batch_first else (T, B, I))
    out_shape = x_shape[:-1] + (D * P,)
    s_shapes = [(L * D, P)] + ([(L * D, H)] if lstm else [])
    if B is not None:
        s_shapes = [(s[0], B, s[1]) for s in s_shapes]
    rand = lambda shape: torch.randn(shape, generator=gen, dtype=F64)  # noqa: E731
    return rand(x_shape), [rand(s) for s in s_shapes], rand(out_shape), [rand(s) for s in s_shapes]


def run_layer(model, x, h0, R, S, lengths=None, packed=False):
    """Forward, loss = Σ out ⊙ R + Σ h_n ⊙ S, autograd backward. Returns every compared array by name."""
    x, h0 = x.clone().requires_grad_(), [h.clone().requires_grad_() for h in h0]
    hx = pack(len(h0) == 2, h0)
    if lengths is None:
        out, h_n = model(x, hx)
    elif packed:  # torch.nn: PackedSequence in, padded out
        inp = pack_padded_sequence(x, torch.tensor(lengths), batch_first=model.batch_first, enforce_sorted=False)
        out, h_n = model(inp, hx)
        out, _ = pad_packed_sequence(out, batch_first=model.batch_first, total_length=x.shape[model.batch_first])
    else:
        out, h_n = model(x, hx, lengths=lengths)
    loss = (out * R).sum() + sum((a * s).sum() for a, s in zip(as_tuple(h_n), S))
    loss.backward()
    res = {"out": out, "dx": x.grad}
    res.update(zip(("h_n", "c_n"), as_tuple(h_n)))
    res.update(zip(("dh0", "dc0"), (h.grad for h in h0)))
    res.update({f"grad {n}": p.grad for n, p in model.named_parameters()})
    return {k: v.detach() for k, v in res.items()}


def run_numpy_layer(ref, x, h0, R, S, lengths=None):
    """run_layer for a NumPy engine layer (its hand-written backward), as tensors under the same names."""
    lstm = len(h0) == 2
    out, h_n = ref(x.numpy(), pack(lstm, [h.numpy() for h in h0]), lengths)
    dx, dh0 = ref.backward(R.numpy(), pack(lstm, [s.numpy() for s in S]))
    res = {"out": out, "dx": dx, **dict(zip(("h_n", "c_n"), as_tuple(h_n))),
           **dict(zip(("dh0", "dc0"), as_tuple(dh0))), **{f"grad {k}": g for k, g in ref.grads.items()}}
    return {k: torch.from_numpy(np.asarray(v)) for k, v in res.items()}


def assert_same(ours: dict, ref: dict, tol=TOL) -> None:
    assert list(ours) == list(ref)
    for k in ref:
        assert ours[k].shape == ref[k].shape, k
        torch.testing.assert_close(ours[k], ref[k], msg=k, **tol)


# ---- stacks against torch.nn.RNN/GRU/LSTM -------------------------------------------------------------


@pytest.mark.parametrize("kind,case", GRID)
def test_stack_equals_torch_nn(kind, case):
    kw, T, B, lengths = ALL_CASES[case]
    ours, ref = make_pair(kind, **kw)
    x, h0, R, S = random_io(ref, T, B, torch.Generator().manual_seed(7))
    expected = run_layer(ref, x, h0, R, S, lengths, packed=True)
    got = run_layer(ours, x, h0, R, S, lengths)
    assert_same(got, expected)
    if lengths is not None:  # padding must matter: the same batch without lengths differs
        assert not torch.allclose(run_layer(ours, x, h0, R, S)["out"], got["out"])


@pytest.mark.parametrize("kind", KINDS)
def test_stack_zero_initial_state(kind):
    """hx=None means zeros, as in torch.nn."""
    ours, ref = make_pair(kind, num_layers=2, bidirectional=True)
    x = torch.randn(4, 2, 3, dtype=F64)
    out, h_n = ours(x)
    ref_out, ref_h_n = ref(x)
    torch.testing.assert_close(out, ref_out, **TOL)
    for a, b in zip(as_tuple(h_n), as_tuple(ref_h_n)):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_scratch_to_torch(kind):
    """Same parameter names, shapes and order as torch.nn, and load_state_dict scratch -> torch.nn."""
    name, extra = KINDS[kind]
    kw = dict(num_layers=2, bidirectional=True, **({"proj_size": 2} if kind == "lstm" else {}))
    ours = getattr(stack, name)(3, 4, dtype=F64, **extra, **kw)
    ref = getattr(torch.nn, name)(3, 4, dtype=F64, **extra, **kw)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [(n, p.shape) for n, p in ref.named_parameters()]
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(3, 2, 3, dtype=F64)
    torch.testing.assert_close(ours(x)[0], ref(x)[0], **TOL)


def test_init_is_uniform_over_plus_minus_one_over_sqrt_h():
    H = 16
    k = 1 / math.sqrt(H)
    modules = [stack.LSTM(5, H, num_layers=2, proj_size=3), stack.GRU(5, H, bidirectional=True),
               stack.RNN(5, H, bias=True), cells.LSTMCell(5, H), cells.GRUCell(5, H), cells.RNNCell(5, H)]
    for m in modules:
        values = torch.cat([p.detach().reshape(-1) for p in m.parameters()])
        assert values.dtype == torch.float32  # dtype=None: torch's default, as in torch.nn
        assert values.abs().max() <= k
        assert values.max() > 0.95 * k and values.min() < -0.95 * k, type(m).__name__
        assert abs(values.abs().mean().item() - k / 2) < 0.1 * k  # E|U(-k, k)| = k/2


# ---- dropout ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_training_dropout_equals_torch_nn_with_the_same_seed(kind, bidirectional):
    """torch.nn's CPU RNN draws one dropout mask per layer output (T, B, D·P) between layers; the scratch
    stack draws the same masks in the same order, so with the same seed both runs are identical."""
    name, extra = KINDS[kind]
    torch.manual_seed(0)
    ref = getattr(torch.nn, name)(3, 4, num_layers=3, dropout=0.4, bidirectional=bidirectional, dtype=F64, **extra)
    ours = getattr(stack, name)(3, 4, num_layers=3, dropout=0.4, bidirectional=bidirectional, dtype=F64, **extra)
    ours.load_state_dict(ref.state_dict())
    x, h0, R, S = random_io(ref, 5, 3, torch.Generator().manual_seed(1))
    torch.manual_seed(11)
    expected = run_layer(ref, x, h0, R, S)
    torch.manual_seed(11)
    got = run_layer(ours, x, h0, R, S)
    assert_same(got, expected)
    ours.eval()  # and dropout did something: eval differs
    assert not torch.allclose(ours(x, pack(kind == "lstm", h0))[0], got["out"])


def record_layer_inputs(monkeypatch):
    """Wrap stack.recurrence so that every call's input x and output are recorded."""
    calls = []
    original = stack.recurrence

    def spy(mode, x, state0, w, mask=None):
        out, final = original(mode, x, state0, w, mask)
        calls.append((x.detach().clone(), out.detach().clone()))
        return out, final

    monkeypatch.setattr(stack, "recurrence", spy)
    return calls


@pytest.mark.parametrize("kind", ["gru", "lstm", "rnn_tanh"])
def test_dropout_masks_only_between_layers(kind, monkeypatch):
    name, extra = KINDS[kind]
    p, L = 0.5, 3
    torch.manual_seed(0)
    model = getattr(stack, name)(4, 8, num_layers=L, dropout=p, dtype=F64, **extra)
    x = torch.randn(12, 6, 4, dtype=F64)
    calls = record_layer_inputs(monkeypatch)
    out, _ = model.eval()(x)
    clean = list(calls)
    calls.clear()
    out_train, _ = model.train()(x)
    assert len(clean) == len(calls) == L
    torch.testing.assert_close(calls[0][0], x, rtol=0, atol=0)  # the input itself: never dropped
    for layer in range(1, L):
        below, seen = calls[layer - 1][1], calls[layer][0]  # layer l-1's output, layer l's input
        dropped = seen == 0
        assert 0.3 < dropped.double().mean() < 0.7, layer  # about p of the entries are zeroed
        assert not (below == 0).any()
        torch.testing.assert_close(seen[~dropped], below[~dropped] / (1 - p), **TOL)  # inverted dropout
    torch.testing.assert_close(out_train, calls[-1][1], rtol=0, atol=0)  # the last output: not dropped
    assert not (out_train == 0).any()
    torch.testing.assert_close(calls[0][1], clean[0][1], **TOL)  # layer 0 unchanged by dropout


def test_dropout_one_zeroes_the_input_of_upper_layers(monkeypatch):
    torch.manual_seed(0)
    model = stack.LSTM(3, 4, num_layers=2, dropout=1.0, bidirectional=True, dtype=F64)
    x = torch.randn(5, 2, 3, dtype=F64)
    _, (h_eval, c_eval) = model.eval()(x)
    calls = record_layer_inputs(monkeypatch)
    out, (h_n, c_n) = model.train()(x)
    assert (calls[2][0] == 0).all() and (calls[3][0] == 0).all()  # layer 1, both directions
    torch.testing.assert_close(h_n[:2], h_eval[:2], **TOL)  # layer 0's states: unaffected
    assert torch.isfinite(out).all() and not torch.allclose(h_n[2:], h_eval[2:])


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="num_layers=1"):
        stack.GRU(3, 4, dropout=0.5)


# ---- cells and step functions against torch.nn.*Cell ---------------------------------------------------

CELL_CASES = {
    "batched": (dict(H=4), 3),
    "batch1": (dict(H=3), 1),
    "hidden1": (dict(H=1), 2),
    "unbatched": (dict(H=3), None),
    "no_bias": (dict(H=3, bias=False), 2),
    "zero_state": (dict(H=3, zero_state=True), 2),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CELL_CASES)
def test_cell_equals_torch_nn_cell(kind, case):
    """Three steps of a hand-written loop over the cell; autograd through all of them."""
    kw, B = CELL_CASES[case]
    kw = dict(kw)
    H, zero_state = kw.pop("H"), kw.pop("zero_state", False)
    name, extra = KINDS[kind]
    lstm = kind == "lstm"
    torch.manual_seed(0)
    ref = getattr(torch.nn, name + "Cell")(5, H, dtype=F64, **extra, **kw)
    ours = getattr(cells, name + "Cell")(5, H, dtype=F64, **extra, **kw)
    ours.load_state_dict(ref.state_dict())
    gen = torch.Generator().manual_seed(3)
    batch = () if B is None else (B,)
    xs = torch.randn((3,) + batch + (5,), generator=gen, dtype=F64)
    s0 = [torch.randn(batch + (H,), generator=gen, dtype=F64) for _ in range(2 if lstm else 1)]
    R = torch.randn((3,) + batch + (H,), generator=gen, dtype=F64)

    def run(cell):
        x = xs.clone().requires_grad_()
        h0 = [s.clone().requires_grad_() for s in s0]
        state = None if zero_state else pack(lstm, h0)
        loss = 0
        for t in range(3):
            state = cell(x[t], state)
            loss = loss + (as_tuple(state)[0] * R[t]).sum() + (as_tuple(state)[-1] * R[t]).sum()
        loss.backward()
        res = {"h": as_tuple(state)[0], "c": as_tuple(state)[-1], "dx": x.grad}
        if not zero_state:
            res.update({f"d{k}0": h.grad for k, h in zip("hc", h0)})
        res.update({f"grad {n}": p.grad for n, p in cell.named_parameters()})
        return {k: v.detach() for k, v in res.items()}

    assert_same(run(ours), run(ref))


def test_step_functions_equal_torch_nn_one_step():
    """The pure step functions, including lstm_step with a projection (which no cell has)."""
    torch.manual_seed(0)
    x = torch.randn(1, 2, 3, dtype=F64)
    for name, step, kw in [("RNN", rnn_step, dict(nonlinearity="relu")), ("GRU", gru_step, {}),
                           ("LSTM", lstm_step, dict(proj_size=2))]:
        ref = getattr(torch.nn, name)(3, 4, dtype=F64, **kw)
        state = [torch.randn(1, 2, s, dtype=F64) for s in ([2, 4] if name == "LSTM" else [4])]
        out, h_n = ref(x, pack(name == "LSTM", state))
        w = [ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0, ref.bias_hh_l0]
        if name == "LSTM":
            got = step(x[0], state[0][0], state[1][0], *w, w_hr=ref.weight_hr_l0)
        else:
            got = (step(x[0], state[0][0], *w, **kw),)
        for a, b in zip(got, as_tuple(h_n)):
            torch.testing.assert_close(a, b[0], **TOL)
        sum(g.sum() for g in got).backward()  # autograd reaches every weight
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ref.parameters())


def test_time_loop_with_a_custom_step_and_mask():
    """A custom cell needs only step(gx_t, state): here a running sum, so out = cumsum, masked."""
    gx = torch.arange(1.0, 13.0, dtype=F64).reshape(4, 3, 1)  # (T, B, 1)
    mask = (torch.arange(4)[:, None] < torch.tensor([4, 1, 2]))[..., None]  # (T, B, 1)
    out, (h,) = recurrence.time_loop(lambda g, s: (s[0] + g,), gx, (torch.zeros(3, 1, dtype=F64),), mask)
    expected = torch.cumsum(gx, 0) * mask
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(h[:, 0], torch.tensor([1 + 4 + 7 + 10, 2, 3 + 6], dtype=F64), rtol=0, atol=0)


# ---- the NumPy engine ---------------------------------------------------------------------------------

NUMPY_CASES = [(k, c) for k in KINDS for c in ("lengths_bidir", "batch_first", "unbatched_bidir")] + [
    ("lstm", "proj_bidir_lengths"), ("lstm", "proj_unbatched_no_bias")]


@pytest.mark.parametrize("kind,case", NUMPY_CASES)
def test_stack_equals_numpy_engine(kind, case):
    """NumPy weights -> scratch (as tensors): same outputs, final states and gradients; and scratch -> NumPy."""
    kw, T, B, lengths = ALL_CASES[case]
    kw = dict(kw)
    H = kw.pop("H")
    name, extra = KINDS[kind]
    ref = getattr(dr, name)(3, H, dtype=np.float64, seed=0, **extra, **kw)
    ours = getattr(stack, name)(3, H, dtype=F64, **extra, **kw)
    ours.load_state_dict({k: torch.from_numpy(v) for k, v in ref.state_dict().items()})
    x, h0, R, S = random_io(ours, T, B, torch.Generator().manual_seed(5))
    assert_same(run_layer(ours, x, h0, R, S, lengths), run_numpy_layer(ref, x, h0, R, S, lengths),
                dict(rtol=1e-9, atol=1e-11))
    lstm = kind == "lstm"

    with torch.no_grad():  # scratch -> NumPy (load_state_dict accepts tensors)
        for p in ours.parameters():
            p.mul_(0.5)
    ref.load_state_dict(ours.state_dict())
    out, _ = ref(x.numpy(), pack(lstm, [h.numpy() for h in h0]), lengths)
    torch.testing.assert_close(ours(x, pack(lstm, h0), lengths=lengths)[0].detach(), torch.from_numpy(out), **TOL)


# ---- argument checks ----------------------------------------------------------------------------------


def _x(*shape, dtype=F64):
    return torch.zeros(shape, dtype=dtype)


ERRORS = [
    (lambda: stack.LSTM(28, 8, dtype=F64)(_x(35, 2, 27)), ValueError,
     "expected x of shape (T, B, 28) or (T, 28), got (35, 2, 27)"),
    (lambda: stack.GRU(28, 8, batch_first=True, dtype=F64)(_x(2, 35)), ValueError,
     "expected x of shape (B, T, 28) or (T, 28), got (2, 35)"),
    (lambda: stack.RNN(3, 4, dtype=F64)(_x(5, 2, 3, dtype=torch.float32)), TypeError,
     "expected x of dtype torch.float64 (the model's dtype), got torch.float32"),
    (lambda: stack.RNN(3, 4)(np.zeros((5, 2, 3), np.float32)), TypeError,
     "expected x to be a torch.Tensor, got ndarray"),
    (lambda: stack.GRU(3, 4)(pack_padded_sequence(torch.zeros(5, 2, 3), [5, 3])), TypeError,
     "got PackedSequence (pass the padded tensor and lengths= instead)"),
    (lambda: stack.LSTM(3, 4, dtype=F64)(_x(5, 2, 3), _x(1, 2, 4)), TypeError,
     "expected hx to be a tuple (h, c) for LSTM, got Tensor"),
    (lambda: stack.GRU(3, 4, num_layers=2, dtype=F64)(_x(5, 3, 3), _x(1, 3, 4)), ValueError,
     "expected hx of shape (2, 3, 4), got (1, 3, 4)"),
    (lambda: stack.LSTM(3, 4, proj_size=2, dtype=F64)(_x(5, 3, 3), (_x(1, 3, 2), _x(1, 3, 2))), ValueError,
     "expected hx[c] of shape (1, 3, 4), got (1, 3, 2)"),
    (lambda: stack.RNN(3, 4, bidirectional=True, dtype=F64)(_x(5, 3), _x(2, 1, 4)), ValueError,
     "expected hx of shape (2, 4), got (2, 1, 4)"),
    (lambda: stack.RNN(3, 4, dtype=F64)(_x(5, 3), lengths=[5]), ValueError,
     "expected lengths only with batched input (T, B, I), got unbatched (T, I)"),
    (lambda: stack.RNN(3, 4, dtype=F64)(_x(5, 3, 3), lengths=[5, 6, 1]), ValueError,
     "expected every length in [1, 5] (T = 5), got 6"),
    (lambda: stack.RNN(3, 4, dtype=F64)(_x(5, 3, 3), lengths=torch.tensor([5, 2])), ValueError,
     "expected lengths of shape (3,) (one per sequence), got (2,)"),
    (lambda: stack.RNN(3, 4, nonlinearity="sigmoid"), ValueError,
     "expected nonlinearity to be one of 'tanh', 'relu', got 'sigmoid'"),
    (lambda: stack.LSTM(3, 4, proj_size=4), ValueError, "expected proj_size < hidden_size = 4, got 4"),
    (lambda: stack.GRU(3, 4, num_layers=2, dropout=1.5), ValueError,
     "expected dropout to be a number in [0, 1], got 1.5"),
    (lambda: stack.LSTM(3, 4, num_layers=0), ValueError, "expected num_layers >= 1, got 0"),
    (lambda: stack.GRU(3, 4.0), TypeError, "expected hidden_size to be an int, got float 4.0"),
    (lambda: cells.GRUCell(5, 4, dtype=F64)(_x(3, 4)), ValueError, "expected x of shape (B, 5) or (5,), got (3, 4)"),
    (lambda: cells.LSTMCell(5, 4, dtype=F64)(_x(3, 5), _x(3, 4)), TypeError,
     "expected hx to be a tuple (h, c), got Tensor"),
    (lambda: cells.RNNCell(5, 4, dtype=F64)(_x(5), _x(1, 4)), ValueError, "expected hx of shape (4,), got (1, 4)"),
    (lambda: cells.RNNCell(5, 4, nonlinearity="gelu"), ValueError,
     "expected nonlinearity to be one of 'tanh', 'relu', got 'gelu'"),
    (lambda: rnn_step(_x(2, 3), _x(2, 4), _x(4, 3), _x(4, 4), nonlinearity="Tanh"), ValueError,
     "expected nonlinearity to be one of 'tanh', 'relu', got 'Tanh'"),
]


@pytest.mark.parametrize("call,error,message", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_name_expected_and_actual(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)
