"""minGRU and minLSTM on the torch engine (deeprnn/torch_engine/minrnn.py, autograd) against the NumPy
engine's hand-written backward passes, in float64 with the weights copied across: outputs, final states
and the gradients of the inputs, the initial states and every parameter, for both forms of each scan."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deeprnn as dr
from conftest import randn, require

torch = require("torch")
from deeprnn.torch_engine import minrnn  # noqa: E402  (after require: skipped, or failed under CI, without torch)
from deeprnn.torch_engine.recurrence import Weights, core_step  # noqa: E402

NAMES = ("MinGRU", "MinLSTM")
CONFIGS = {  # name -> (constructor kwargs, T, B, lengths)
    "2layers": (dict(num_layers=2), 5, 3, None),
    "bidirectional_lengths": (dict(num_layers=2, bidirectional=True), 5, 3, [5, 2, 3]),
    "no_bias_batch_first": (dict(num_layers=2, bias=False, batch_first=True), 4, 2, None),
    "batch1_hidden1_T1": (dict(num_layers=2, hidden_size=1), 1, 1, None),
    "unbatched": (dict(num_layers=1), 4, None, None),
    "residual": (dict(num_layers=3, residual=True), 5, 3, None),
    "residual_bidirectional_lengths": (dict(num_layers=2, bidirectional=True, residual=True), 5, 3, [5, 2, 3]),
}


def pair(name, scan, input_size=3, hidden_size=4, **kw):
    ours = getattr(dr, name)(input_size, hidden_size, dtype=np.float64, seed=0, **kw)
    ours.load_state_dict({k: 2 * v for k, v in ours.state_dict().items()})  # livelier gates
    ref = getattr(minrnn, name)(input_size, hidden_size, dtype=torch.float64, scan=scan, **kw)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ours, ref


@pytest.mark.parametrize("scan", ["sequential", "parallel"])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_torch_equals_the_numpy_engine_forward_and_backward(config, name, scan):
    kw, T, B, lengths = CONFIGS[config]
    ours, ref = pair(name, scan, **kw)
    rng = np.random.default_rng(0)
    n, H = ours.num_layers * ours.num_directions, ours.hidden_size
    x = randn(rng, (T, B, 3) if B else (T, 3))
    if ours.batch_first:
        x = np.ascontiguousarray(x.transpose(1, 0, 2))
    h0 = np.abs(randn(rng, (n, B, H) if B else (n, H)))  # a carried state is positive
    out, h_n = ours(x, h0, lengths)
    R, S = randn(rng, out.shape), randn(rng, h_n.shape)
    dx, dh0 = ours.backward(R, S)

    xt, ht = torch.from_numpy(x).requires_grad_(), torch.from_numpy(h0).requires_grad_()
    out_t, h_t = ref(xt, ht, lengths)
    ((out_t * torch.from_numpy(R)).sum() + (h_t * torch.from_numpy(S)).sum()).backward()
    np.testing.assert_allclose(out_t.detach().numpy(), out, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h_t.detach().numpy(), h_n, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(xt.grad.numpy(), dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ht.grad.numpy(), dh0, rtol=1e-10, atol=1e-12)
    assert sorted(dict(ref.named_parameters())) == sorted(ours.grads)
    for k, p in ref.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ours.grads[k], rtol=1e-10, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("name", NAMES)
def test_auto_runs_the_sequential_scan_on_a_cpu(name):
    _, auto = pair(name, "auto", num_layers=2)
    seq = getattr(minrnn, name)(3, 4, num_layers=2, dtype=torch.float64, scan="sequential")
    par = getattr(minrnn, name)(3, 4, num_layers=2, dtype=torch.float64, scan="parallel")
    seq.load_state_dict(auto.state_dict())
    par.load_state_dict(auto.state_dict())
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        a, s, p = (m(x)[0] for m in (auto, seq, par))
    assert torch.equal(a, s)
    torch.testing.assert_close(p, s, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_the_step_functions_equal_the_numpy_ones(name):
    from deeprnn import numpy_engine
    from deeprnn.torch_engine import mingru, minlstm

    cell = name.lower()
    ours = getattr(numpy_engine, f"{cell}_step_forward")
    theirs = getattr({"mingru": mingru, "minlstm": minlstm}[cell], f"{cell}_step")
    rng = np.random.default_rng(3)
    G = {"mingru": 2, "minlstm": 3}[cell] * 4
    w, b, x, h = randn(rng, (G, 3)) * 3, randn(rng, (G,)), randn(rng, (2, 3)), randn(rng, (2, 4))
    want, _ = ours(x, h, {"weight_ih": w, "bias_ih": b})
    got = theirs(*(torch.from_numpy(v) for v in (x, h, w, b)))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-14)


def test_a_single_step_runs_the_sequential_form(monkeypatch):
    def refuse(*args):
        raise AssertionError("parallel scan called")

    monkeypatch.setattr(minrnn, "parallel_scan", refuse)
    module = minrnn.MinGRU(3, 4, scan="parallel")
    module(torch.zeros(1, 2, 3))
    with pytest.raises(AssertionError, match="parallel scan called"):
        module(torch.zeros(2, 2, 3))


@pytest.mark.parametrize("name, mult", [("MinGRU", 2), ("MinLSTM", 3)])
def test_initialisation_is_torch_linear_default(name, mult):
    module = getattr(minrnn, name)(50, 400, num_layers=2)
    assert {k: tuple(v.shape) for k, v in module.named_parameters()} == {
        "weight_ih_l0": (mult * 400, 50), "bias_ih_l0": (mult * 400,),
        "weight_ih_l1": (mult * 400, 400), "bias_ih_l1": (mult * 400,)}
    for k, p in module.named_parameters():
        bound = 1 / math.sqrt(50 if "_l0" in k else 400)
        assert bound * 0.98 < p.abs().max().item() <= bound, k


def test_errors_name_the_expected_and_the_actual_value():
    with pytest.raises(ValueError, match="expected scan to be one of 'auto', 'sequential', 'parallel', got 'log'"):
        minrnn.MinGRU(3, 4, scan="log")
    with pytest.raises(ValueError, match="expected mode to be one of 'RNN_TANH', 'RNN_RELU', 'GRU', 'LSTM', got "
                                         "'MinGRU'"):
        core_step("MinGRU", Weights(torch.zeros(8, 3), None))
    module = minrnn.MinLSTM(3, 4)
    with pytest.raises(ValueError, match=r"expected hx of shape \(1, 2, 4\), got \(1, 2, 3\)"):
        module(torch.zeros(5, 2, 3), torch.zeros(1, 2, 3))
