"""deeprnn.compat.hw3p1 against the HW3P1 handout's own autograder procedures (the same seeds, the same
order of random draws, torch as its reference), finite differences, and NumPy's dtype promotion."""

import numpy as np
import pytest
import torch
from conftest import count_engine_calls, numerical_grad
from torch import nn

from deeprnn.compat import hw3p1
from deeprnn.compat.hw3p1 import GRU_WEIGHTS

SEED = 2022  # the GRU tests' seed; the RNN tests use 11785


def split_gru(cell: nn.GRUCell) -> list:
    """torch's GRUCell weights in the handout's order Wrx, Wzx, Wnx, Wrh, Wzh, Wnh, brx, ..., bnh."""
    sd = cell.state_dict()
    return [a for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") for a in np.split(sd[k].numpy(), 3)]


def test_weights_are_drawn_in_the_handouts_order():
    np.random.seed(11785)
    cell = hw3p1.RNNCell(10, 20)
    np.random.seed(11785)
    for name, shape in (("W_ih", (20, 10)), ("W_hh", (20, 20)), ("b_ih", (20,)), ("b_hh", (20,))):
        np.testing.assert_array_equal(getattr(cell, name), np.random.randn(*shape), err_msg=name)
    np.random.seed(SEED)
    gru = hw3p1.CharacterPredictor(7, 4, 3).gru
    np.random.seed(SEED)
    for k, name in enumerate(GRU_WEIGHTS):
        np.testing.assert_array_equal(getattr(gru, name), np.random.randn(*((4, 7) if k < 3 else (4, 4) if k < 6 else (4,))))


def test_the_autograders_rnncell_forward():
    """test_rnncell_forward: seed 11785; for i = 1..5 a torch RNNCell(2i, 3i) over 2i steps."""
    np.random.seed(11785)
    torch.manual_seed(11785)
    for i in range(1, 6):
        ref = nn.RNNCell(i * 2, i * 3)
        sd = ref.state_dict()
        cell = hw3p1.RNNCell(i * 2, i * 3)
        cell.init_weights(sd["weight_ih"].numpy(), sd["weight_hh"].numpy(), sd["bias_ih"].numpy(), sd["bias_hh"].numpy())
        inp, hx = torch.randn(i * 2, i * 2, i * 2), torch.randn(i * 2, i * 3)
        hx_user = hx.numpy()
        for t in range(i * 2):
            hx = ref(inp[t], hx)
            hx_user = cell(inp[t].numpy(), hx_user)
            assert hx_user.dtype == np.float32
            np.testing.assert_allclose(hx_user, hx.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_the_autograders_rnncell_backward():
    """test_rnncell_backward: seed 11785, RNNCell(10, 20), two backward calls on random delta, h, h_prev_l,
    h_prev_t; the gradients accumulate and are averaged over the batch of 3."""
    np.random.seed(11785)
    cell = hw3p1.RNNCell(10, 20)
    W_ih, W_hh = cell.W_ih.copy(), cell.W_hh.copy()
    sums = {"dW_ih": 0, "dW_hh": 0, "db": 0}
    for _ in range(2):
        delta, h = np.random.randn(3, 20), np.random.randn(3, 20)
        h_prev_l, h_prev_t = np.random.randn(3, 10), np.random.randn(3, 20)
        dx, dh = cell.backward(delta, h, h_prev_l, h_prev_t)
        dz = delta * (1 - h ** 2)  # the handout's equations, spelled out
        np.testing.assert_allclose(dx, dz @ W_ih, rtol=1e-12)
        np.testing.assert_allclose(dh, dz @ W_hh, rtol=1e-12)
        sums = {"dW_ih": sums["dW_ih"] + dz.T @ h_prev_l / 3, "dW_hh": sums["dW_hh"] + dz.T @ h_prev_t / 3,
                "db": sums["db"] + dz.mean(axis=0)}
    for name, want in (("dW_ih", sums["dW_ih"]), ("dW_hh", sums["dW_hh"]), ("db_ih", sums["db"]), ("db_hh", sums["db"])):
        np.testing.assert_allclose(getattr(cell, name), want, rtol=1e-12, err_msg=name)


def test_the_autograders_rnn_classifier():
    """test_rnn_classifier: seed 11785, 2 layers, batch 5, 10 steps, 40 -> 32 -> 138, against a torch nn.RNN
    and nn.Linear, with float64 inputs and float32 weights (they promote); CrossEntropyLoss."""
    L, B, T, I, H, C = 2, 5, 10, 40, 32, 138
    np.random.seed(11785)
    torch.manual_seed(11785)
    data_x, data_y = np.random.randn(B, T, I), np.random.randint(0, C, B)
    rnn, out = nn.RNN(I, H, num_layers=L, batch_first=True), nn.Linear(H, C)
    model = hw3p1.RNNPhonemeClassifier(I, H, C, num_layers=L)
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    model.init_weights([[getattr(rnn, f"{n}_l{l}").detach().numpy() for n in names] for l in range(L)],
                       [out.weight.detach().numpy(), out.bias.detach().numpy()])
    h0 = torch.zeros(L, B, H, requires_grad=True)
    ref = out(rnn(torch.FloatTensor(data_x), h0)[0][:, -1, :])
    logits = model(data_x)
    assert logits.dtype == np.float64
    np.testing.assert_allclose(logits, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    nn.CrossEntropyLoss()(ref, torch.LongTensor(data_y)).backward()
    Y = np.eye(C)[data_y]
    A = np.exp(logits - logits.max(axis=1, keepdims=True))
    dh0 = model.backward(A / A.sum(axis=1, keepdims=True) - Y)  # the handout's SoftmaxCrossEntropy.backward()
    np.testing.assert_allclose(dh0, h0.grad.numpy(), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(model.output_layer.dLdW, out.weight.grad.numpy() * B, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.output_layer.dLdb.reshape(-1), out.bias.grad.numpy() * B, rtol=1e-4, atol=1e-6)
    for l, cell in enumerate(model.rnn):
        for ours, theirs in (("dW_ih", "weight_ih"), ("dW_hh", "weight_hh"), ("db_ih", "bias_ih"), ("db_hh", "bias_hh")):
            np.testing.assert_allclose(getattr(cell, ours), getattr(rnn, f"{theirs}_l{l}").grad.numpy(), rtol=1e-4,
                                       atol=1e-7, err_msg=f"{ours} layer {l}")


@pytest.mark.parametrize("dims, idx", [((10, 20, 6), 2), ((100, 150, 10), 8), ((90, 140, 8), 5)])
def test_the_autograders_gru_forward(dims, idx):
    """test_gru_forward: seed 2022 before each case; unbatched x and h; float64 data, float32 weights."""
    I, H, T = dims
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    data, hidden = np.random.randn(T, I), np.random.randn(H)
    ref = nn.GRUCell(I, H)
    want = ref(torch.FloatTensor(data[idx].reshape(1, -1)), torch.FloatTensor(hidden.reshape(1, -1)))
    cell = hw3p1.GRUCell(I, H)
    cell.init_weights(*split_gru(ref))
    h_t = cell.forward(data[idx], hidden)
    assert h_t.shape == (H,)
    np.testing.assert_allclose(h_t, want.detach().numpy()[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("idx", [2, 8, 5])
def test_the_autograders_gru_backward(idx):
    """test_gru_backward: a GRUCell(5, 2) and a Linear(2, 5) under CrossEntropyLoss, batch 1."""
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    data, target, hidden = np.random.randn(10, 5), np.random.randint(0, 5, (1,)), np.random.randn(2)
    ref, lin = nn.GRUCell(5, 2), nn.Linear(2, 5)
    x, h = (nn.Parameter(torch.FloatTensor(a)) for a in (data[idx], hidden))
    nn.CrossEntropyLoss()(lin(ref(x.reshape(1, -1), h.reshape(1, -1))), torch.LongTensor(target)).backward()
    cell, out = hw3p1.GRUCell(5, 2), hw3p1.Linear(2, 5)
    cell.init_weights(*split_gru(ref))
    out.W, out.b = lin.weight.detach().numpy(), lin.bias.detach().numpy().reshape(-1, 1)
    logits = out.forward(cell.forward(data[idx], hidden).reshape(1, -1))
    A = np.exp(logits - logits.max())
    dx, dh = cell.backward(out.backward(A / A.sum() - np.eye(5)[target]).squeeze(0))
    assert dx.shape == (1, 5) and dh.shape == (1, 2)
    np.testing.assert_allclose(dx[0], x.grad.numpy(), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(dh[0], h.grad.numpy(), rtol=1e-4, atol=1e-7)
    for name, g in zip(GRU_WEIGHTS, [a for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                                      for a in np.split(getattr(ref, k).grad.numpy(), 3)]):
        np.testing.assert_allclose(getattr(cell, f"d{name}"), g, rtol=1e-4, atol=1e-7, err_msg=name)


def test_the_autograders_gru_inference():
    """test_gru_inference: seed 2022, "aaabbbbccc" of 7 features (each character's vector drawn after a
    reseed), then the GRU weights, then CharacterPredictor(7, 4, 3); compared with torch step by step."""
    def generate(mu):
        np.random.seed(SEED)
        return 0.2 * np.random.randn(1, 7) + mu

    np.random.seed(SEED)
    inputs = np.vstack([generate(np.full(7, {"a": 1.0, "b": 5.0, "c": 10.0}[ch])) for ch in "aaabbbbccc"])
    weights = [np.random.randn(4, 7) for _ in range(3)] + [np.random.randn(4, 4) for _ in range(3)]
    weights += [np.random.randn(4) for _ in range(6)]
    net = hw3p1.CharacterPredictor(7, 4, 3)
    net.init_rnn_weights(*weights)
    logits = hw3p1.inference(net, inputs)
    ref = nn.GRUCell(7, 4).double()
    with torch.no_grad():
        for k, name in enumerate(("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
            getattr(ref, name).copy_(torch.from_numpy(np.concatenate(weights[3 * k:3 * k + 3])))
        h, want = torch.zeros(1, 4, dtype=torch.float64), []
        for x in torch.from_numpy(inputs):
            h = ref(x.reshape(1, -1), h)
            want.append(h.numpy()[0] @ net.projection.W.T + net.projection.b[:, 0])
    assert logits.shape == (10, 3)
    np.testing.assert_allclose(logits, np.array(want), rtol=1e-12)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    cell = hw3p1.GRUCell(3, 2)
    cell.init_weights(*(rng.standard_normal(np.shape(getattr(cell, n))) for n in GRU_WEIGHTS))
    x, h, R = rng.standard_normal(3), rng.standard_normal(2), rng.standard_normal(2)
    cell.forward(x, h)
    dx, dh = cell.backward(R)
    loss = lambda: float(cell.forward(x, h) @ R)  # noqa: E731
    np.testing.assert_allclose(dx[0], numerical_grad(loss, x), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dh[0], numerical_grad(loss, h), rtol=1e-6, atol=1e-9)
    for name in GRU_WEIGHTS:
        np.testing.assert_allclose(getattr(cell, f"d{name}"), numerical_grad(loss, getattr(cell, name)), rtol=1e-6,
                                   atol=1e-9, err_msg=name)
    model = hw3p1.RNNPhonemeClassifier(2, 3, 2, num_layers=2)
    model.init_weights([[rng.standard_normal(s) for s in ((3, i), (3, 3), (3,), (3,))] for i in (2, 3)],
                       [rng.standard_normal((2, 3)), rng.standard_normal(2)])
    xs, h0, D = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 2))
    model.forward(xs, h0)
    dh0 = model.backward(D)
    loss = lambda: float(np.sum(model.forward(xs, h0) * D)) / 2  # noqa: E731 - dh_0 is averaged over the batch
    np.testing.assert_allclose(dh0, numerical_grad(loss, h0), rtol=1e-6, atol=1e-9)


def test_mixed_float32_and_float64_promote_as_numpy_does():
    rng = np.random.default_rng(1)
    cell = hw3p1.RNNCell(3, 2)
    cell.init_weights(*(rng.standard_normal(s).astype(np.float32) for s in ((2, 3), (2, 2), (2,), (2,))))
    assert cell.forward(rng.standard_normal((4, 3)), np.zeros((4, 2), np.float32)).dtype == np.float64
    assert cell.forward(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)).dtype == np.float32
    gru = hw3p1.GRUCell(3, 2)
    assert gru.forward(np.ones(3, np.float32), np.zeros(2)).dtype == np.float64


def test_the_engine_does_the_maths(monkeypatch):
    calls = count_engine_calls(monkeypatch, "rnn_step_forward", "rnn_step_backward", "gru_step_forward",
                               "gru_step_backward")
    model = hw3p1.RNNPhonemeClassifier(2, 3, 2, num_layers=2)
    model.forward(np.ones((1, 3, 2)))
    model.backward(np.ones((1, 2)))
    cell = hw3p1.GRUCell(2, 3)
    cell.forward(np.ones(2), np.zeros(3))
    cell.backward(np.ones(3))
    assert {n: calls.count(n) for n in set(calls)} == {"rnn_step_forward": 12, "rnn_step_backward": 6,
                                                      "gru_step_forward": 1, "gru_step_backward": 1}
