"""deeprnn.compat.dinosaurs: the "Dinosaurus Island" notebook's test cells reproduced (its seeds, its
draws, its published expected output), and the model's loss and gradients against torch autograd."""

import numpy as np
import torch
from conftest import count_engine_calls
from test_compat_coursera import assert_printed

from deeprnn.compat import dinosaurs as dino

CHAR_TO_IX = {ch: i for i, ch in enumerate("\nabcdefghijklmnopqrstuvwxyz")}  # dinos.txt: '\n' and a-z


def params(n_a, vocab_size):
    """The notebook's draws: Wax, Waa, Wya, then b, by."""
    Wax, Waa, Wya = np.random.randn(n_a, vocab_size), np.random.randn(n_a, n_a), np.random.randn(vocab_size, n_a)
    b, by = np.random.randn(n_a, 1), np.random.randn(vocab_size, 1)
    return {"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": b, "by": by}


def test_the_notebooks_clip_cell():
    for max_value, printed in ((10, "10.0 -10.0 0.2971381536101662 10.0 8.45833407"),
                               (5, "5.0 -5.0 0.2971381536101662 5.0 5.0")):
        np.random.seed(3)
        gradients = {"dWax": np.random.randn(5, 3) * 10, "dWaa": np.random.randn(5, 5) * 10,
                     "dWya": np.random.randn(2, 5) * 10, "db": np.random.randn(5, 1) * 10, "dby": np.random.randn(2, 1) * 10}
        before = {k: v.copy() for k, v in gradients.items()}
        g = dino.clip(gradients, max_value)
        assert_printed([g["dWaa"][1][2], g["dWax"][3][1], g["dWya"][1][2], g["db"][4][0], g["dby"][1][0]], printed)
        assert sorted(g) == sorted(before) and all(np.array_equal(gradients[k], before[k]) for k in before)


def test_the_notebooks_sample_cell():
    np.random.seed(24)
    indices = dino.sample(params(100, 27), CHAR_TO_IX, 0)
    assert indices == [23, 16, 26, 26, 24, 3, 21, 1, 7, 24, 15, 3, 25, 20, 6, 13, 10, 8, 20, 12, 2, 0]
    assert "".join("\nabcdefghijklmnopqrstuvwxyz"[i] for i in indices) == "wpzzxcuagxocytfmjhtlb\n"


def test_the_notebooks_optimize_cell():
    np.random.seed(1)
    a_prev = np.random.randn(100, 1)
    p = params(100, 27)
    before = {k: v.copy() for k, v in p.items()}
    loss, g, a_last = dino.optimize([12, 3, 5, 11, 22, 3], [4, 14, 11, 22, 25, 26], a_prev, p, learning_rate=0.01)
    assert_printed([loss, g["dWaa"][1][2], g["dWya"][1][2], g["db"][4][0], g["dby"][1][0], a_last[4][0]],
                   "126.503975722 0.194709315347 -0.007773876032 -0.06809825 0.01538192 -1.0")
    assert np.argmax(g["dWax"]) == 93 and all(np.abs(v).max() <= 5 for v in g.values())
    np.testing.assert_allclose(p["Wya"], before["Wya"] - 0.01 * g["dWya"], rtol=1e-14)  # updated in place


def test_loss_and_gradients_match_torch():
    rng = np.random.default_rng(0)
    p = {k: rng.standard_normal(s) for k, s in (("Wax", (4, 5)), ("Waa", (4, 4)), ("Wya", (5, 4)), ("b", (4, 1)),
                                                ("by", (5, 1)))}
    X, Y, a0 = [None, 3, 1, 4], [3, 1, 4, 0], rng.standard_normal((4, 1))
    loss, cache = dino.rnn_forward(X, Y, a0, p)
    gradients, a = dino.rnn_backward(X, Y, p, cache)
    P = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    h, total = torch.tensor(a0), 0
    for x_i, y_i in zip(X, Y):
        x = torch.zeros(5, 1, dtype=torch.float64)
        if x_i is not None:
            x[x_i] = 1
        h = torch.tanh(P["Wax"] @ x + P["Waa"] @ h + P["b"])
        total = total - torch.log_softmax(P["Wya"] @ h + P["by"], 0)[y_i, 0]
    total.backward()
    np.testing.assert_allclose(loss, total.item(), rtol=1e-12)
    np.testing.assert_allclose(a[len(X) - 1], h.detach().numpy(), rtol=1e-12)
    for k in p:
        np.testing.assert_allclose(gradients[f"d{k}"], P[k].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_the_engine_does_the_maths(monkeypatch):
    calls = count_engine_calls(monkeypatch, "rnn_step_forward", "rnn_step_backward")
    np.random.seed(0)
    dino.optimize([None, 1, 2], [1, 2, 0], np.zeros((3, 1)), params(3, 4))
    assert {n: calls.count(n) for n in set(calls)} == {"rnn_step_forward": 6, "rnn_step_backward": 3}
