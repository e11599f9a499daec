"""Two ways to the same numbers.

* A cell driven step by step (backward called in reverse order, d_out[t] added to dh) equals the
  one-layer RNN/GRU/LSTM over the whole sequence, forward and backward.
* Truncated BPTT: running x in chunks, each chunk starting from the previous chunk's final state, gives
  the outputs and final state of one long run; and backpropagating chunk by chunk, feeding chunk k's
  returned dh0 into chunk k-1 as its dh_n, gives the gradients of one long backward.

"Equal" means equal to rounding: BLAS may round a GEMM over fewer rows differently in the last bit
((X @ W.T)[:k] and X[:k] @ W.T can differ by one ulp), so float64 is held to 1e-12 and float32 to 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import (
    KIND_NAMES, as_tuple, cell_backward_seq, cell_forward_seq, make_cell, make_layer, pack, randn,
    random_inputs,
)

TIGHT = dict(rtol=1e-12, atol=1e-12)
TOL = {np.dtype(np.float64): TIGHT, np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6)}


def assert_states_close(a, b, **tol):
    a, b = as_tuple(a), as_tuple(b)
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, **tol)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_cell_step_by_step_equals_layer(kind, batched, bias):
    rng = np.random.default_rng(11)
    T, B, I, H = 5, 3, 4, 3
    layer = make_layer(kind, I, H, bias=bias, seed=1)
    cell = make_cell(kind, I, H, bias=bias, seed=2)  # other initial weights, overwritten below
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x, hx = random_inputs(layer, T, B, rng, unbatched=not batched)
    hx_cell = pack(cell, [h[0] for h in as_tuple(hx)])  # (1, B, H) -> (B, H)

    out, h_n = layer(x, hx)
    out_c, final_c = cell_forward_seq(cell, x, hx_cell)
    np.testing.assert_allclose(out_c, out, **TIGHT)
    assert_states_close(final_c, [h[0] for h in as_tuple(h_n)], **TIGHT)

    R, S = randn(rng, out.shape), [randn(rng, s.shape) for s in as_tuple(h_n)]
    dx, dh0 = layer.backward(R, pack(layer, S))
    dx_c, dh0_c = cell_backward_seq(cell, R, pack(cell, [s[0] for s in S]))
    np.testing.assert_allclose(dx_c, dx, **TIGHT)
    assert_states_close(dh0_c, [d[0] for d in as_tuple(dh0)], **TIGHT)
    assert set(cell.grads) == {k.removesuffix("_l0") for k in layer.grads}
    for k, g in layer.grads.items():
        np.testing.assert_allclose(cell.grads[k.removesuffix("_l0")], g, err_msg=k, **TIGHT)


# ---- truncated BPTT ----------------------------------------------------------------------------

CHUNKS = [0, 2, 5, 6, 8]  # boundaries: chunks of 2, 3, 1 and 2 steps, T = 8
CHUNK_CASES = [(k, dict(num_layers=2, H=3)) for k in KIND_NAMES] + [
    ("gru", dict(num_layers=3, H=2, batch_first=True)),
    ("lstm", dict(num_layers=2, H=4, proj_size=2)),
    ("lstm", dict(num_layers=2, H=3, bias=False, batch_first=True)),
    ("gru", dict(num_layers=2, H=16, dtype=np.float32)),  # float32: the numba kernels when installed
    ("lstm", dict(num_layers=2, H=16, proj_size=5, dtype=np.float32)),
]


def time_slice(model, a, start, stop):
    """Steps start..stop-1 of a (T, B, ·) array, or (B, T, ·) with batch_first."""
    return a[:, start:stop] if model.batch_first else a[start:stop]


def cat_time(model, parts):
    return np.concatenate(parts, axis=1 if model.batch_first else 0)


def chunk_bounds():
    return list(zip(CHUNKS[:-1], CHUNKS[1:]))


def case_id(case):
    kind, kw = case
    return "-".join([kind] + [f"{k}{getattr(v, '__name__', v)}" for k, v in kw.items()])


@pytest.fixture(params=CHUNK_CASES, ids=case_id)
def chunk_setup(request):
    kind, kw = request.param
    model = make_layer(kind, **kw)
    rng = np.random.default_rng(5)
    x, hx = random_inputs(model, CHUNKS[-1], 2, rng)
    return model, x, hx, rng


def test_chunked_forward_equals_one_long_run(chunk_setup):
    model, x, hx, _ = chunk_setup
    out, h_n = model(x, hx)
    state, outs = hx, []
    for start, stop in chunk_bounds():
        o, state = model(time_slice(model, x, start, stop), state)
        outs.append(o)
    np.testing.assert_allclose(cat_time(model, outs), out, **TOL[model.dtype])
    assert_states_close(state, h_n, **TOL[model.dtype])


def test_chunked_backward_equals_one_long_backward(chunk_setup):
    model, x, hx, rng = chunk_setup
    out, h_n = model(x, hx)
    R = randn(rng, out.shape, model.dtype)
    S = pack(model, [randn(rng, s.shape, model.dtype) for s in as_tuple(h_n)])
    dx, dh0 = model.backward(R, S)
    grads = {k: g.copy() for k, g in model.grads.items()}

    starts, state = [], hx  # forward chunk by chunk, keeping each chunk's initial state
    for start, stop in chunk_bounds():
        starts.append(state)
        _, state = model(time_slice(model, x, start, stop), state)
    model.zero_grad()
    d, dxs = S, []
    for (start, stop), s0 in reversed(list(zip(chunk_bounds(), starts))):
        model(time_slice(model, x, start, stop), s0)  # the cache of this chunk again
        dx_k, d = model.backward(time_slice(model, R, start, stop), d)  # its dh0 is the previous chunk's dh_n
        dxs.append(dx_k)
    tol = TOL[model.dtype]
    np.testing.assert_allclose(cat_time(model, dxs[::-1]), dx, **tol)
    assert_states_close(d, dh0, **tol)
    for k, g in grads.items():
        np.testing.assert_allclose(model.grads[k], g, err_msg=k, **tol)
    assert any(np.abs(g).max() > 1e-3 for g in grads.values())
