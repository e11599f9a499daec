"""deeprnn.compat.mytorch against torch autograd and finite differences (float64)."""

import numpy as np
import pytest
from conftest import count_engine_calls, numerical_grad, require

from deeprnn.compat import mytorch

torch = require("torch")

rng = np.random.default_rng(0)


def make_cell(I, H, bias_shape="flat"):
    cell = mytorch.RNNCell(I, H)
    cell.weight_ih, cell.weight_hh = rng.standard_normal((H, I)), rng.standard_normal((H, H))
    b_ih, b_hh = rng.standard_normal(H), rng.standard_normal(H)
    cell.bias_ih, cell.bias_hh = (b_ih, b_hh) if bias_shape == "flat" else (b_ih[None], b_hh[None])
    return cell


def torch_cell(cell):
    t = torch.nn.RNNCell(cell.input_size, cell.hidden_size).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(t, name).copy_(torch.tensor(np.reshape(getattr(cell, name), getattr(t, name).shape)))
    return t


def test_tanh_forward_and_derivative_match_torch():
    x = 3 * rng.standard_normal((4, 5))
    act = mytorch.Tanh()
    xt = torch.tensor(x, requires_grad=True)
    torch.tanh(xt).sum().backward()
    np.testing.assert_allclose(act.forward(x), np.tanh(x), rtol=1e-15)
    np.testing.assert_allclose(act.backward(np.tanh(x)), xt.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(act.backward(), xt.grad.numpy(), rtol=1e-12, atol=1e-15)  # the state kept by forward
    np.testing.assert_allclose(act.backward(np.array([0.5, 2.0])), [0.75, -3.0])  # exactly 1 - state²


@pytest.mark.parametrize("bias_shape", ["flat", "row"])
def test_cell_forward_and_backward_match_torch(bias_shape):
    B, I, H = 3, 4, 5
    cell = make_cell(I, H, bias_shape)
    ref = torch_cell(cell)
    x, h, grad = rng.standard_normal((B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    h_t = cell.forward(x, h)
    xt, ht = torch.tensor(x, requires_grad=True), torch.tensor(h, requires_grad=True)
    out = ref(xt, ht)
    (out * torch.tensor(grad)).sum().backward()
    np.testing.assert_allclose(h_t, out.detach().numpy(), rtol=1e-12, atol=1e-14)
    dx, dh = cell.backward(grad, h_t, x, h)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dh, ht.grad.numpy(), rtol=1e-10, atol=1e-13)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):  # summed over the batch, like torch
        np.testing.assert_allclose(getattr(cell, f"grad_{name}"), getattr(ref, name).grad.numpy(), rtol=1e-10, atol=1e-13)
    assert cell.grad_bias_ih.shape == (H,) and cell.grad_weight_ih.shape == (H, I)


def test_cell_backward_matches_finite_differences():
    B, I, H = 2, 3, 2
    cell = make_cell(I, H)
    x, h, R = rng.standard_normal((B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    loss = lambda: float(np.sum(cell.forward(x, h) * R))  # noqa: E731
    dx, dh = cell.backward(R, cell.forward(x, h), x, h)
    np.testing.assert_allclose(dx, numerical_grad(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dh, numerical_grad(loss, h), rtol=1e-6, atol=1e-8)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_allclose(getattr(cell, f"grad_{name}"), numerical_grad(loss, getattr(cell, name)), rtol=1e-6, atol=1e-8)


def test_grads_start_at_zero_and_accumulate_over_calls():
    B, I, H = 3, 2, 4
    cell = make_cell(I, H)
    assert [g.shape for g in (cell.grad_weight_ih, cell.grad_weight_hh, cell.grad_bias_ih, cell.grad_bias_hh)] == \
        [(H, I), (H, H), (H,), (H,)]
    assert not any(np.any(g) for g in (cell.grad_weight_ih, cell.grad_weight_hh, cell.grad_bias_ih, cell.grad_bias_hh))
    totals, calls = 0, []
    for _ in range(3):
        x, h, g = rng.standard_normal((B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
        one = make_cell(I, H)
        for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            setattr(one, k, getattr(cell, k))
        one.backward(g, one.forward(x, h), x, h)
        calls.append(one.grad_weight_hh.copy())
        cell.backward(g, cell.forward(x, h), x, h)
        totals = totals + one.grad_weight_hh
    np.testing.assert_allclose(cell.grad_weight_hh, totals, rtol=1e-13)
    assert not np.allclose(cell.grad_weight_hh, calls[-1])


def test_reassigned_attributes_take_effect():
    B, I, H = 2, 3, 3
    cell = make_cell(I, H)
    x, h = rng.standard_normal((B, I)), rng.standard_normal((B, H))
    before = cell.forward(x, h)
    cell.weight_hh = rng.standard_normal((H, H))  # a new array, not an in-place change
    cell.bias_ih = rng.standard_normal((1, H))
    after = cell.forward(x, h)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, torch_cell(cell)(torch.tensor(x), torch.tensor(h)).detach().numpy(), rtol=1e-12)
    cell.grad_weight_hh = np.full((H, H), 10.0)  # accumulation continues from the assigned array
    g = rng.standard_normal((B, H))
    cell.backward(g, after, x, h)
    dz = g * (1 - after ** 2)
    np.testing.assert_allclose(cell.grad_weight_hh, 10.0 + dz.T @ h, rtol=1e-12)


def test_backward_takes_the_tanh_derivative_from_the_given_h_t():
    B, I, H = 2, 3, 4
    cell = make_cell(I, H)
    x, h, g = rng.standard_normal((B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    h_t = rng.uniform(-0.9, 0.9, (B, H))  # not the forward's output on purpose
    dx, dh = cell.backward(g, h_t, x, h)
    dz = g * (1 - h_t ** 2)
    np.testing.assert_allclose(dx, dz @ cell.weight_ih, rtol=1e-12)
    np.testing.assert_allclose(dh, dz @ cell.weight_hh, rtol=1e-12)


def torch_rnn(rnn):
    L = len(rnn.layers)
    t = torch.nn.RNN(rnn.input_size, rnn.hidden_size, L, batch_first=True).double()
    with torch.no_grad():
        for l, cell in enumerate(rnn.layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(t, f"{name}_l{l}").copy_(torch.tensor(getattr(cell, name)))
    return t


@pytest.mark.parametrize("h0_form", ["layers", "shared", "none"])
def test_rnn_bptt_matches_torch(h0_form):
    B, T, I, H, L = 3, 5, 2, 4, 3
    rnn = mytorch.RNN(I, H, num_layers=L, seed=1)
    assert [c.weight_ih.shape for c in rnn.layers] == [(H, I), (H, H), (H, H)]
    x, grad = rng.standard_normal((B, T, I)), rng.standard_normal((B, H))
    h0 = {"layers": rng.standard_normal((L, B, H)), "shared": rng.standard_normal((B, H)), "none": None}[h0_form]
    out, h_n = rnn.forward(x, h0)
    ref = torch_rnn(rnn)
    xt = torch.tensor(x, requires_grad=True)
    h0_full = np.zeros((L, B, H)) if h0 is None else np.broadcast_to(h0, (L, B, H)).copy()
    h0t = torch.tensor(h0_full, requires_grad=True)
    out_t, h_n_t = ref(xt, h0t)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h_n, h_n_t.detach().numpy(), rtol=1e-10, atol=1e-13)
    assert rnn.hiddens.shape == (T + 1, L, B, H) and np.array_equal(rnn.hiddens[0], h0_full) and rnn.x is not None
    dx, dh0 = rnn.backward(grad)
    (out_t[:, -1] * torch.tensor(grad)).sum().backward()
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dh0, h0t.grad.numpy(), rtol=1e-9, atol=1e-12)
    for l, cell in enumerate(rnn.layers):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            np.testing.assert_allclose(getattr(cell, f"grad_{name}"), getattr(ref, f"{name}_l{l}").grad.numpy(),
                                       rtol=1e-9, atol=1e-12)


def test_rnn_backward_matches_finite_differences():
    B, T, I, H, L = 2, 3, 2, 2, 2
    rnn = mytorch.RNN(I, H, num_layers=L, seed=3)
    x, h0, R = rng.standard_normal((B, T, I)), rng.standard_normal((L, B, H)), rng.standard_normal((B, H))
    loss = lambda: float(np.sum(rnn.forward(x, h0)[0][:, -1] * R))  # noqa: E731
    rnn.forward(x, h0)
    dx, dh0 = rnn.backward(R)
    grads = [c.grad_weight_hh.copy() for c in rnn.layers]
    np.testing.assert_allclose(dx, numerical_grad(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dh0, numerical_grad(loss, h0), rtol=1e-6, atol=1e-8)
    for cell, g in zip(rnn.layers, grads):
        np.testing.assert_allclose(g, numerical_grad(loss, cell.weight_hh), rtol=1e-6, atol=1e-8)


def test_the_engine_does_the_maths(monkeypatch):
    calls = count_engine_calls(monkeypatch, "rnn_step_forward", "rnn_step_backward")
    rnn = mytorch.RNN(2, 3, num_layers=2)
    rnn.forward(rng.standard_normal((1, 2, 2)))
    rnn.backward(np.ones((1, 3)))
    assert calls.count("rnn_step_forward") == 2 * 2 * 2 and calls.count("rnn_step_backward") == 2 * 2


def test_errors_name_expected_and_actual_shapes():
    cell = mytorch.RNNCell(3, 4)
    with pytest.raises(ValueError, match=r"expected x of shape \(2, 3\), got \(2, 5\)"):
        cell.forward(np.zeros((2, 5)), np.zeros((2, 4)))
    cell.bias_hh = np.zeros(3)
    with pytest.raises(ValueError, match=r"expected bias_hh of shape \(4,\), \(1, 4\) or \(4, 1\), got \(3,\)"):
        cell.forward(np.zeros((2, 3)), np.zeros((2, 4)))
    rnn = mytorch.RNN(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(2, 1, 4\) or \(1, 4\), got \(3, 1, 4\)"):
        rnn.forward(np.zeros((1, 2, 3)), np.zeros((3, 1, 4)))
    with pytest.raises(ValueError, match="expected a forward"):
        mytorch.RNN(3, 4).backward(np.zeros((1, 4)))
