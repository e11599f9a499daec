"""Parity with torch.nn.RNN/GRU/LSTM and torch.nn.RNNCell/GRUCell/LSTMCell (autograd as the reference).

Weights are copied with torch_module.load_state_dict({k: torch.from_numpy(v) for k, v in
ours.state_dict().items()}), so the key names and shapes must match torch's exactly. Compared: outputs,
final states, every parameter gradient, dx and dh0 (and dc0); float64 to 1e-10, float32 (with the
numba kernels on) to float32 precision.
"""

from __future__ import annotations

import numpy as np
import pytest

import deeprnn as dr
from conftest import (
    KIND_NAMES, as_tuple, cell_backward_seq, cell_forward_seq, is_lstm, leaf, make_cell, make_layer, pack,
    randn, random_inputs, require, torch_cell, torch_grads, torch_layer,
)

torch = require("torch")
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

F64 = dict(rtol=1e-10, atol=1e-10)
F32 = dict(rtol=1e-5, atol=1e-5)

# name -> (constructor kwargs, T, B (None: unbatched input), lengths or None)
CASES = {
    "2layers": (dict(num_layers=2, H=4), 4, 3, None),
    "batch1": (dict(num_layers=2, H=3), 4, 1, None),
    "hidden1": (dict(num_layers=2, H=1), 4, 2, None),
    "seq1": (dict(num_layers=2, H=3), 1, 2, None),
    "batch_first": (dict(num_layers=2, H=3, batch_first=True), 3, 2, None),
    "unbatched": (dict(num_layers=2, H=3, bidirectional=True), 4, None, None),
    "bidir_3layers": (dict(num_layers=3, H=3, bidirectional=True), 4, 2, None),
    "no_bias_bidir": (dict(num_layers=2, H=3, bias=False, bidirectional=True), 3, 2, None),
    "lengths_bidir": (dict(num_layers=2, H=3, bidirectional=True), 5, 4, [5, 1, 3, 2]),
    "lengths_batch_first": (dict(num_layers=2, H=3, batch_first=True), 4, 3, [2, 4, 1]),
    "lengths_batch1": (dict(num_layers=1, H=2, bidirectional=True), 4, 1, [3]),
}
PROJ_CASES = {
    "proj": (dict(num_layers=2, H=4, proj_size=2), 4, 3, None),
    "proj_bidir_lengths": (dict(num_layers=2, H=4, proj_size=3, bidirectional=True), 4, 3, [3, 4, 1]),
    "proj_unbatched_no_bias": (dict(num_layers=2, H=3, proj_size=1, bias=False), 3, None, None),
}
GRID = [(k, c) for k in KIND_NAMES for c in CASES] + [("lstm", c) for c in PROJ_CASES]


def ours_run(model, x, hx, lengths, R, S):
    out, h_n = model(x, hx, lengths)
    dx, dh0 = model.backward(R, pack(model, S))
    return results(out, h_n, dx, dh0, model.grads)


def torch_run(model, x, hx, lengths, R, S):
    ref = torch_layer(model)
    xt, h0t = leaf(x), [leaf(h) for h in as_tuple(hx)]
    inp = xt
    if lengths is not None:
        inp = pack_padded_sequence(xt, torch.tensor(lengths), batch_first=model.batch_first, enforce_sorted=False)
    out, h_n = ref(inp, pack(model, h0t))
    if lengths is not None:
        out, _ = pad_packed_sequence(out, batch_first=model.batch_first, total_length=x.shape[model.batch_first])
    torch_loss(out, h_n, R, S).backward()
    return results(out, h_n, xt.grad, [h.grad for h in h0t], torch_grads(ref))


def torch_loss(out, final, R, S):
    """sum(out * R) + sum(h_n * S[0]) (+ sum(c_n * S[1])), the loss the numpy side backpropagates."""
    pairs = [(out, R), *zip(as_tuple(final), S)]
    return sum((a * torch.from_numpy(w)).sum() for a, w in pairs)


def results(out, final, dx, dstate0, grads) -> dict:
    """Everything compared, as numpy arrays, keyed by name."""
    res = {"out": out, "dx": dx, **{f"grad {k}": g for k, g in grads.items()}}
    res.update(zip(("h_n", "c_n"), as_tuple(final)))
    res.update(zip(("dh0", "dc0"), as_tuple(dstate0)))
    return {k: v.detach().numpy() if hasattr(v, "detach") else np.asarray(v) for k, v in res.items()}


def assert_results_equal(ours: dict, ref: dict, tol: dict) -> None:
    assert set(ours) == set(ref), (sorted(ours), sorted(ref))
    for k in ref:
        assert ours[k].shape == ref[k].shape, k
        np.testing.assert_allclose(ours[k], ref[k], err_msg=k, **tol)


def check_against_torch(model, T, B, lengths, tol, seed=0):
    rng = np.random.default_rng(seed)
    x, hx = random_inputs(model, T, B, rng, unbatched=B is None)
    with dr.no_grad():  # the shapes of out and the final states, for R and S
        out, h_n = model(x, hx, lengths)
    R, S = randn(rng, out.shape, model.dtype), [randn(rng, s.shape, model.dtype) for s in as_tuple(h_n)]
    model.zero_grad()
    assert_results_equal(ours_run(model, x, hx, lengths, R, S), torch_run(model, x, hx, lengths, R, S), tol)


def case(name):
    return {**CASES, **PROJ_CASES}[name]


@pytest.mark.parametrize("kind, name", GRID)
def test_layer_matches_torch_float64(kind, name):
    kw, T, B, lengths = case(name)
    check_against_torch(make_layer(kind, **kw), T, B, lengths, F64)


@pytest.mark.parametrize("kind, name", [(k, c) for k in KIND_NAMES for c in ("2layers", "lengths_bidir")]
                         + [("lstm", "proj_bidir_lengths")])
def test_layer_matches_torch_float32_fused(fused_on, kind, name):
    kw, T, B, lengths = case(name)
    check_against_torch(make_layer(kind, dtype=np.float32, **kw), T, B, lengths, F32)


def test_lengths_final_states_are_those_of_the_last_valid_step():
    """Spelled out for one case: h_n of a short sequence is out at its last valid step (forward
    direction) and out at step 0 (reverse direction); padded outputs are exactly zero."""
    model = make_layer("gru", H=3, bidirectional=True)
    lengths = [4, 2, 1]
    x, hx = random_inputs(model, 4, 3, np.random.default_rng(0))
    out, h_n = model(x, hx, lengths)
    for b, n in enumerate(lengths):
        np.testing.assert_array_equal(h_n[0, b], out[n - 1, b, :3])
        np.testing.assert_array_equal(h_n[1, b], out[0, b, 3:])
        assert not out[n:, b].any()


@pytest.mark.parametrize("num_layers", [1, 3])
def test_bidirectional_state_index_is_layer_times_two_plus_direction(num_layers):
    model = make_layer("lstm", H=3, num_layers=num_layers, bidirectional=True)
    x, _ = random_inputs(model, 4, 2, np.random.default_rng(0))
    (h_n, c_n), ref = model(x)[1], torch_layer(model)
    with torch.no_grad():
        _, (th, tc) = ref(torch.from_numpy(x))
    np.testing.assert_allclose(h_n, th.numpy(), **F64)
    np.testing.assert_allclose(c_n, tc.numpy(), **F64)
    out = model(x)[0]
    last = 2 * (num_layers - 1)
    np.testing.assert_array_equal(h_n[last], out[-1, :, :3])  # last layer, forward: its final step
    np.testing.assert_array_equal(h_n[last + 1], out[0, :, 3:])  # last layer, reverse: step 0


# ---- cells -----------------------------------------------------------------------------------------

CELL_GRID = [(k, bias, batched, np.float64) for k in KIND_NAMES for bias in (True, False) for batched in (True, False)]
CELL_GRID += [(k, True, True, np.float32) for k in KIND_NAMES]


@pytest.mark.parametrize("kind, bias, batched, dtype", CELL_GRID)
def test_cell_sequence_matches_torch(request, kind, bias, batched, dtype):
    if dtype == np.float32:
        request.getfixturevalue("fused_on")
    tol = F64 if dtype == np.float64 else F32
    rng = np.random.default_rng(2)
    T, B, I, H = 3, 2, 3, 4
    cell = make_cell(kind, I, H, bias=bias, dtype=dtype)
    lead = (B,) if batched else ()
    xs = randn(rng, (T, *lead, I), dtype)
    state0 = [randn(rng, (*lead, H), dtype) for _ in range(2 if is_lstm(cell) else 1)]
    R, S = randn(rng, (T, *lead, H), dtype), [randn(rng, s.shape, dtype) for s in state0]

    out, final = cell_forward_seq(cell, xs, pack(cell, state0))
    dx, dstate0 = cell_backward_seq(cell, R, pack(cell, S))
    ours = results(out, final, dx, dstate0, cell.grads)

    ref = torch_cell(cell)
    xt, st = leaf(xs), [leaf(s) for s in state0]
    state, outs = pack(cell, st), []
    for t in range(T):
        state = ref(xt[t], state)
        outs.append(as_tuple(state)[0])
    out_t = torch.stack(outs)
    torch_loss(out_t, state, R, S).backward()
    assert_results_equal(ours, results(out_t, state, xt.grad, [s.grad for s in st], torch_grads(ref)), tol)
