"""The stack's ``record`` hooks: forward gives each layer's h_t, backward the total dL/dh_t reaching each
h_t of each layer, equal to torch autograd's ``retain_grad`` on every h_t of a torch reference (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import deeprnn.numpy_engine as ne

from stack_reference import torch, torch_stack_grads

MODES = {"rnn_tanh": ("RNN_TANH", ne.RNN, {}), "rnn_relu": ("RNN_RELU", ne.RNN, {"nonlinearity": "relu"}),
         "gru": ("GRU", ne.GRU, {}), "lstm": ("LSTM", ne.LSTM, {}), "mingru": ("MinGRU", ne.MinGRU, {}),
         "ln_gru": ("GRU", ne.GRU, {"layer_norm": True}), "ln_lstm": ("LSTM", ne.LSTM, {"layer_norm": True}),
         "residual_rnn": ("RNN_TANH", ne.RNN, {"residual": True})}


@pytest.mark.filterwarnings("ignore:layer_norm with hidden_size=1", "ignore:residual=True has no effect")
@pytest.mark.parametrize("name", sorted(MODES))
@pytest.mark.parametrize("T, B, H, L", [(5, 3, 4, 3), (1, 1, 1, 2), (4, 1, 2, 1), (1, 2, 3, 1)])
def test_recorded_state_gradients_equal_torch_retain_grad(name, T, B, H, L):
    mode, cls, kw = MODES[name]
    rng = np.random.default_rng([T, B, H, L])
    I = 3
    rnn = cls(I, H, num_layers=L, dtype=np.float64, seed=1, **kw)
    for k, v in rnn.params.items():  # gains away from 1, so the LayerNorm terms are all exercised
        v[...] = rng.uniform(-0.9, 0.9, v.shape) + (1.0 if k.startswith("ln_") and "weight" in k else 0.0)
    x = rng.standard_normal((T, B, I))
    R, Rfinal = rng.standard_normal((T, B, H)), rng.standard_normal((L, B, H))
    outs, dhs = {}, {}
    out, _ = rnn(x, record=lambda layer, d, h: outs.__setitem__((layer, d), h.copy()))
    hx = (Rfinal, np.zeros_like(Rfinal)) if mode == "LSTM" else Rfinal
    rnn.backward(R, hx, record=lambda layer, d, dh: dhs.__setitem__((layer, d), dh))
    def loss_fn(out, finals):  # Σ R ⊙ out + Σ Rfinal ⊙ h_n
        return (torch.tensor(R) * out).sum() + sum((torch.tensor(r) * f).sum() for r, f in zip(Rfinal, finals))

    want_grads, want_values = torch_stack_grads(mode, rnn.params, x, L, loss_fn, kw.get("residual", False))
    assert sorted(dhs) == sorted(outs) == [(layer, 0) for layer in range(L)]
    for layer in range(L):
        np.testing.assert_allclose(outs[layer, 0], want_values[layer], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dhs[layer, 0], want_grads[layer], rtol=1e-9, atol=1e-12)
        norms = np.linalg.norm(dhs[layer, 0].reshape(T, -1), axis=1)  # (T,) what diagnose draws
        np.testing.assert_allclose(norms, np.linalg.norm(want_grads[layer].reshape(T, -1), axis=1), rtol=1e-9)


def test_a_bidirectional_layer_records_both_directions_in_input_time_order():
    rng = np.random.default_rng(0)
    rnn = ne.GRU(2, 3, num_layers=1, bidirectional=True, dtype=np.float64, seed=0)
    x = rng.standard_normal((4, 2, 2))
    outs, dhs = {}, {}
    out, _ = rnn(x, record=lambda layer, d, h: outs.__setitem__((layer, d), h.copy()))
    np.testing.assert_array_equal(np.concatenate([outs[0, 0], outs[0, 1]], axis=-1), out)
    R = rng.standard_normal(out.shape)
    rnn.backward(R, record=lambda layer, d, dh: dhs.__setitem__((layer, d), dh))
    # the reverse direction's final state is at t = 0 in input order: only the output at t = 0 reaches it
    np.testing.assert_allclose(dhs[0, 1][0], R[0, :, 3:])
    assert not np.allclose(dhs[0, 1][-1], R[-1, :, 3:])  # its first step also feeds the steps after it
    np.testing.assert_allclose(dhs[0, 0][-1], R[-1, :, :3])


def test_without_record_nothing_changes():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 2))
    a, b = (ne.LSTM(2, 3, num_layers=2, dtype=np.float64, seed=5) for _ in range(2))
    ya, _ = a(x)
    yb, _ = b(x, record=lambda *args: None)
    np.testing.assert_array_equal(ya, yb)
    da, _ = a.backward(np.ones_like(ya))
    db, _ = b.backward(np.ones_like(yb), record=lambda *args: None)
    np.testing.assert_array_equal(da, db)
    for k in a.grads:
        np.testing.assert_array_equal(a.grads[k], b.grads[k])


def test_with_lengths_a_finished_sequence_records_zeros_and_its_own_gradient():
    """Past its length a row's dh is 0; up to it, what that row alone (T = its length) records."""
    rng = np.random.default_rng(2)
    rnn = ne.GRU(2, 3, num_layers=2, dtype=np.float64, seed=4)
    x, R = rng.standard_normal((4, 2, 2)), rng.standard_normal((4, 2, 3))
    dhx = rng.standard_normal((2, 2, 3))
    rnn(x, lengths=np.array([4, 2]))
    masked: dict = {}
    rnn.backward(R, dhx, record=lambda layer, d, dh: masked.__setitem__(layer, dh))
    rnn(x[:2, 1:2])  # the second row alone, over its two steps
    alone: dict = {}
    rnn.backward(np.ascontiguousarray(R[:2, 1:2]), np.ascontiguousarray(dhx[:, 1:2]),
                 record=lambda layer, d, dh: alone.__setitem__(layer, dh))
    for layer in range(2):
        np.testing.assert_array_equal(masked[layer][2:, 1], 0)
        np.testing.assert_allclose(masked[layer][:2, 1], alone[layer][:, 0], rtol=1e-12, atol=1e-15)
