"""deeprnn.compat.coursera against torch autograd (direct formulas and torch.nn.LSTMCell) and finite differences."""

import numpy as np
import pytest
from conftest import count_engine_calls, numerical_grad, require

from deeprnn.compat import coursera as cs

torch = require("torch")

rng = np.random.default_rng(1)
GATES = ("f", "i", "c", "o")


def rnn_params(n_x, n_a, n_y):
    return {"Wax": rng.standard_normal((n_a, n_x)), "Waa": rng.standard_normal((n_a, n_a)),
            "Wya": rng.standard_normal((n_y, n_a)), "ba": rng.standard_normal((n_a, 1)), "by": rng.standard_normal((n_y, 1))}


def lstm_params(n_x, n_a, n_y):
    p = {f"W{g}": rng.standard_normal((n_a, n_a + n_x)) for g in GATES}
    p.update({f"b{g}": rng.standard_normal((n_a, 1)) for g in GATES})
    p.update(Wy=rng.standard_normal((n_y, n_a)), by=rng.standard_normal((n_y, 1)))
    return p


def leaves(d):
    return {k: torch.tensor(v, requires_grad=True) for k, v in d.items()}


def t_rnn_step(x, a, P):
    return torch.tanh(P["Waa"] @ a + P["Wax"] @ x + P["ba"])


def t_lstm_step(x, a, c, P):
    z = torch.cat([a, x], 0)
    f, i, o = (torch.sigmoid(P[f"W{g}"] @ z + P[f"b{g}"]) for g in "fio")
    cc = torch.tanh(P["Wc"] @ z + P["bc"])
    c = f * c + i * cc
    return o * torch.tanh(c), c, (f, i, cc, o)


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(a, b.detach().numpy() if torch.is_tensor(b) else b, rtol=tol, atol=tol * 1e-2)


def test_softmax_over_axis_0():
    x = 5 * rng.standard_normal((4, 3))
    close(cs.softmax(x), torch.softmax(torch.tensor(x), dim=0), 1e-14)
    close(cs.softmax(x + 1000.0), torch.softmax(torch.tensor(x), dim=0), 1e-12)  # stable for large inputs


def test_rnn_cell_forward_and_backward_match_torch():
    n_x, n_a, n_y, m = 3, 4, 2, 5
    p = rnn_params(n_x, n_a, n_y)
    xt, a_prev, da = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))
    a_next, y, cache = cs.rnn_cell_forward(xt, a_prev, p)
    assert len(cache) == 4 and cache[0] is a_next and cache[3] is p
    np.testing.assert_array_equal(cache[1], a_prev), np.testing.assert_array_equal(cache[2], xt)
    P, X, A = leaves(p), torch.tensor(xt, requires_grad=True), torch.tensor(a_prev, requires_grad=True)
    a_t = t_rnn_step(X, A, P)
    close(a_next, a_t)
    close(y, torch.softmax(P["Wya"] @ a_t + P["by"], 0))
    (a_t * torch.tensor(da)).sum().backward()
    g = cs.rnn_cell_backward(da, cache)
    assert list(g) == ["dxt", "da_prev", "dWax", "dWaa", "dba"] and g["dba"].shape == (n_a, 1)
    close(g["dxt"], X.grad), close(g["da_prev"], A.grad)
    for k in ("Wax", "Waa", "ba"):
        close(g[f"d{k}"], P[k].grad)


def test_rnn_cell_backward_matches_finite_differences():
    n_x, n_a, m = 2, 3, 2
    p = rnn_params(n_x, n_a, 2)
    xt, a_prev, R = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))
    loss = lambda: float(np.sum(cs.rnn_cell_forward(xt, a_prev, p)[0] * R))  # noqa: E731
    g = cs.rnn_cell_backward(R, cs.rnn_cell_forward(xt, a_prev, p)[2])
    for key, arr in (("dxt", xt), ("da_prev", a_prev), ("dWax", p["Wax"]), ("dWaa", p["Waa"]), ("dba", p["ba"])):
        np.testing.assert_allclose(g[key], numerical_grad(loss, arr), rtol=1e-6, atol=1e-8)


def test_rnn_forward_and_backward_with_da_at_every_step_match_torch():
    n_x, n_a, n_y, m, T = 3, 4, 3, 2, 6
    p = rnn_params(n_x, n_a, n_y)
    x, a0, da = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m, T))
    a, y, caches = cs.rnn_forward(x, a0, p)
    assert a.shape == (n_a, m, T) and y.shape == (n_y, m, T) and len(caches[0]) == T and caches[1] is not None
    P, X, A0 = leaves(p), torch.tensor(x, requires_grad=True), torch.tensor(a0, requires_grad=True)
    at, loss = A0, 0
    for t in range(T):
        at = t_rnn_step(X[:, :, t], at, P)
        close(a[:, :, t], at), close(y[:, :, t], torch.softmax(P["Wya"] @ at + P["by"], 0))
        loss = loss + (at * torch.tensor(da[:, :, t])).sum()
    loss.backward()
    g = cs.rnn_backward(da, caches)
    assert list(g) == ["dx", "da0", "dWax", "dWaa", "dba"]
    close(g["dx"], X.grad), close(g["da0"], A0.grad)
    for k in ("Wax", "Waa", "ba"):
        close(g[f"d{k}"], P[k].grad)


def test_rnn_backward_matches_finite_differences():
    n_x, n_a, m, T = 2, 2, 2, 3
    p = rnn_params(n_x, n_a, 2)
    x, a0, R = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m, T))
    loss = lambda: float(np.sum(cs.rnn_forward(x, a0, p)[0] * R))  # noqa: E731
    g = cs.rnn_backward(R, cs.rnn_forward(x, a0, p)[2])
    for key, arr in (("dx", x), ("da0", a0), ("dWaa", p["Waa"]), ("dba", p["ba"])):
        np.testing.assert_allclose(g[key], numerical_grad(loss, arr), rtol=1e-6, atol=1e-8)


def test_lstm_cell_forward_matches_torch_lstm_cell():
    n_x, n_a, n_y, m = 3, 4, 2, 5
    p = lstm_params(n_x, n_a, n_y)
    xt, a_prev, c_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))
    a_next, c_next, y, cache = cs.lstm_cell_forward(xt, a_prev, c_prev, p)
    ref = torch.nn.LSTMCell(n_x, n_a).double()
    with torch.no_grad():  # torch's gate order i, f, g, o; course weights act on [a; x]
        W = np.concatenate([p[f"W{g}"] for g in "ifco"])
        ref.weight_hh.copy_(torch.tensor(W[:, :n_a])), ref.weight_ih.copy_(torch.tensor(W[:, n_a:]))
        ref.bias_ih.copy_(torch.tensor(np.concatenate([p[f"b{g}"] for g in "ifco"])[:, 0])), ref.bias_hh.zero_()
        h, c = ref(torch.tensor(xt.T), (torch.tensor(a_prev.T), torch.tensor(c_prev.T)))
    close(a_next, h.T), close(c_next, c.T)
    close(y, torch.softmax(torch.tensor(p["Wy"]) @ h.T + torch.tensor(p["by"]), 0))
    _, _, (f, i, cc, o) = t_lstm_step(*(torch.tensor(v) for v in (xt, a_prev, c_prev)), leaves(p))
    assert len(cache) == 10 and cache[9] is p
    for got, want in zip(cache, (a_next, c_next, a_prev, c_prev, f, i, cc, o, xt)):
        close(got, want)


def test_lstm_cell_backward_with_da_and_dc_matches_torch():
    n_x, n_a, m = 2, 3, 4
    p = lstm_params(n_x, n_a, 2)
    xt, a_prev, c_prev, da, dc = (rng.standard_normal(s) for s in [(n_x, m)] + [(n_a, m)] * 4)
    cache = cs.lstm_cell_forward(xt, a_prev, c_prev, p)[3]
    g = cs.lstm_cell_backward(da, dc, cache)
    assert list(g) == ["dxt", "da_prev", "dc_prev", "dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo"]
    P = leaves(p)
    X, A, C = (torch.tensor(v, requires_grad=True) for v in (xt, a_prev, c_prev))
    a_t, c_t, _ = t_lstm_step(X, A, C, P)
    ((a_t * torch.tensor(da)).sum() + (c_t * torch.tensor(dc)).sum()).backward()
    close(g["dxt"], X.grad), close(g["da_prev"], A.grad), close(g["dc_prev"], C.grad)
    for k in GATES:
        close(g[f"dW{k}"], P[f"W{k}"].grad), close(g[f"db{k}"], P[f"b{k}"].grad)
        assert g[f"db{k}"].shape == (n_a, 1)


def test_lstm_forward_and_backward_with_da_at_every_step_match_torch():
    n_x, n_a, n_y, m, T = 3, 2, 3, 2, 5
    p = lstm_params(n_x, n_a, n_y)
    x, a0, da = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m, T))
    a, y, c, caches = cs.lstm_forward(x, a0, p)
    P, X, A0 = leaves(p), torch.tensor(x, requires_grad=True), torch.tensor(a0, requires_grad=True)
    at, ct, loss = A0, torch.zeros(n_a, m, dtype=torch.float64), 0  # c0 = 0
    for t in range(T):
        at, ct, _ = t_lstm_step(X[:, :, t], at, ct, P)
        close(a[:, :, t], at), close(c[:, :, t], ct), close(y[:, :, t], torch.softmax(P["Wy"] @ at + P["by"], 0))
        loss = loss + (at * torch.tensor(da[:, :, t])).sum()
    loss.backward()
    g = cs.lstm_backward(da, caches)
    assert list(g) == ["dx", "da0", "dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo"]
    close(g["dx"], X.grad), close(g["da0"], A0.grad)
    for k in GATES:
        close(g[f"dW{k}"], P[f"W{k}"].grad), close(g[f"db{k}"], P[f"b{k}"].grad)


def test_lstm_backward_matches_finite_differences():
    n_x, n_a, m, T = 2, 2, 2, 3
    p = lstm_params(n_x, n_a, 2)
    x, a0, R = rng.standard_normal((n_x, m, T)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m, T))
    loss = lambda: float(np.sum(cs.lstm_forward(x, a0, p)[0] * R))  # noqa: E731
    g = cs.lstm_backward(R, cs.lstm_forward(x, a0, p)[3])
    for key, arr in (("dx", x), ("da0", a0), ("dWf", p["Wf"]), ("dbc", p["bc"]), ("dWo", p["Wo"])):
        np.testing.assert_allclose(g[key], numerical_grad(loss, arr), rtol=1e-6, atol=1e-8)


def test_the_engine_does_the_maths(monkeypatch):
    calls = count_engine_calls(monkeypatch, "rnn_step_forward", "rnn_step_backward", "lstm_step_forward",
                               "lstm_step_backward")
    x, a0 = rng.standard_normal((2, 1, 3)), rng.standard_normal((2, 1))
    cs.rnn_backward(np.ones((2, 1, 3)), cs.rnn_forward(x, a0, rnn_params(2, 2, 1))[2])
    cs.lstm_backward(np.ones((2, 1, 3)), cs.lstm_forward(x, a0, lstm_params(2, 2, 1))[3])
    assert {n: calls.count(n) for n in set(calls)} == {"rnn_step_forward": 6, "rnn_step_backward": 3,
                                                      "lstm_step_forward": 6, "lstm_step_backward": 3}


def test_errors_name_expected_and_actual_values():
    p = rnn_params(3, 4, 2)
    with pytest.raises(ValueError, match=r"expected a_prev of shape \(4, 2\), got \(2, 4\)"):
        cs.rnn_cell_forward(np.zeros((3, 2)), np.zeros((2, 4)), p)
    with pytest.raises(KeyError, match="missing \\['Waa'\\]"):
        cs.rnn_cell_forward(np.zeros((3, 2)), np.zeros((4, 2)), {k: v for k, v in p.items() if k != "Waa"})
    with pytest.raises(ValueError, match=r"expected Wf of shape \(4, 7\), got \(4, 6\)"):
        cs.lstm_cell_forward(np.zeros((3, 2)), np.zeros((4, 2)), np.zeros((4, 2)),
                             {**lstm_params(3, 4, 2), "Wf": np.zeros((4, 6))})
    with pytest.raises(ValueError, match=r"expected da of shape \(4, 2, T\) with 1 <= T <= 3 \(the steps in caches\), "
                                         r"got \(4, 2, 4\)"):
        cs.rnn_backward(np.zeros((4, 2, 4)), cs.rnn_forward(np.zeros((3, 2, 3)), np.zeros((4, 2)), p)[2])


# ---- the notebook's own test cells ("Building your Recurrent Neural Network - Step by Step", the current
# version): its seeds, its order of draws, its published expected output.


def notebook_lstm_params():
    p = {}
    for g in "fioc":
        p[f"W{g}"], p[f"b{g}"] = np.random.randn(5, 5 + 3), np.random.randn(5, 1)
    return p


def assert_printed(values, text: str) -> None:
    """Each value equals the notebook's printed number to every digit printed."""
    values, printed = np.ravel(values), text.split()
    assert len(values) == len(printed), (values, printed)
    for value, number in zip(values, printed):
        decimals = len(number.split(".")[1])
        assert abs(value - float(number)) <= 0.5 * 10.0 ** -decimals * (1 + 1e-9), (value, number)


def test_the_notebooks_rnn_cell_backward_cell():
    np.random.seed(1)
    xt, a_prev = np.random.randn(3, 10), np.random.randn(5, 10)
    p = {k: np.random.randn(*s) for k, s in (("Wax", (5, 3)), ("Waa", (5, 5)), ("Wya", (2, 5)), ("ba", (5, 1)),
                                             ("by", (2, 1)))}
    g = cs.rnn_cell_backward(np.random.randn(5, 10), cs.rnn_cell_forward(xt, a_prev, p)[2])
    assert_printed([g["dxt"][1][2], g["da_prev"][2][3], g["dWax"][3][1], g["dWaa"][1][2], g["dba"][4][0]],
                   "-1.3872130506 -0.152399493774 0.410772824935 1.15034506685 0.20023491")


def test_the_notebooks_rnn_backward_cell():
    np.random.seed(1)
    x, a0 = np.random.randn(3, 10, 4), np.random.randn(5, 10)
    p = {k: np.random.randn(*s) for k, s in (("Wax", (5, 3)), ("Waa", (5, 5)), ("Wya", (2, 5)), ("ba", (5, 1)),
                                             ("by", (2, 1)))}
    caches = cs.rnn_forward(x, a0, p)[2]
    g = cs.rnn_backward(np.random.randn(5, 10, 4), caches)
    assert_printed(g["dx"][1][2], "-2.07101689 -0.59255627 0.02466855 0.01483317")
    assert_printed([g["da0"][2][3], g["dWax"][3][1], g["dWaa"][1][2], g["dba"][4][0]],
                   "-0.314942375127 11.2641044965 2.30333312658 -0.74747722")


def test_the_notebooks_lstm_backward_cell_passes_da_for_4_of_7_steps():
    """The cell that was refused with "expected da of shape (5, 10, 7), got (5, 10, 4)": backprop through
    the first 4 steps only, as the notebook's own implementation does."""
    np.random.seed(1)
    x, a0 = np.random.randn(3, 10, 7), np.random.randn(5, 10)
    p = {**notebook_lstm_params(), "Wy": np.zeros((2, 5)), "by": np.zeros((2, 1))}
    caches = cs.lstm_forward(x, a0, p)[3]
    g = cs.lstm_backward(np.random.randn(5, 10, 4), caches)
    assert g["dx"].shape == (3, 10, 4) and g["da0"].shape == (5, 10) and g["dWf"].shape == (5, 8)
    assert_printed(g["dx"][1][2], "0.00218254 0.28205375 -0.48292508 -0.43281115")
    assert_printed([g["da0"][2][3], g["dWf"][3][1], g["dWi"][1][2], g["dWc"][3][1], g["dWo"][1][2]],
                   "0.312770310257 -0.0809802310938 0.40512433093 -0.0793746735512 0.038948775763")
    assert_printed([g[f"db{k}"][4][0] for k in "fico"], "-0.15745657 -0.50848333 -0.42510818 -0.17958196")


def test_a_short_da_is_the_backward_of_the_first_steps():
    x, a0 = rng.standard_normal((2, 3, 5)), rng.standard_normal((4, 3))
    p, q = rnn_params(2, 4, 2), lstm_params(2, 4, 2)
    da = rng.standard_normal((4, 3, 2))
    for forward, backward, params, k in ((cs.rnn_forward, cs.rnn_backward, p, 2), (cs.lstm_forward, cs.lstm_backward, q, 3)):
        full, first = forward(x, a0, params)[k], forward(x[:, :, :2], a0, params)[k]
        short, ref = backward(da, full), backward(da, first)
        assert set(short) == set(ref)
        for name in ref:
            np.testing.assert_allclose(short[name], ref[name], rtol=1e-12, err_msg=name)
