"""Torch parity at the edges: a batch of size 0 gives empty outputs, states and gradients with torch's
shapes (NumPy and torch engines, layers and cells); a sequence of length 0 is refused, as torch does,
with a message that says T must be at least 1."""

from __future__ import annotations

import numpy as np
import pytest

import deeprnn as dr
from conftest import KIND_NAMES, as_tuple, make_cell, make_layer, torch_cell, torch_layer

torch = pytest.importorskip("torch")


def shapes(*arrays) -> list:
    return [tuple(a.shape) for a in arrays]


@pytest.mark.parametrize("kind", KIND_NAMES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_an_empty_batch_gives_torchs_empty_outputs(kind, batch_first):
    model = make_layer(kind, I=3, H=4, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = np.zeros((0, 5, 3) if batch_first else (5, 0, 3))
    out, final = model(x)
    with torch.no_grad():
        ref_out, ref_final = torch_layer(model)(torch.from_numpy(x))
    assert shapes(out, *as_tuple(final)) == shapes(ref_out, *as_tuple(ref_final))
    assert out.dtype == np.float64 and out.size == 0
    dx, dstate0 = model.backward(np.zeros_like(out))
    assert shapes(dx, *as_tuple(dstate0)) == shapes(x, *as_tuple(final))
    assert not any(g.any() for g in model.grads.values())  # nothing to learn from no examples


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_an_empty_batch_through_a_cell(kind):
    cell = make_cell(kind, I=3, H=4)
    x = np.zeros((0, 3))
    state = as_tuple(cell(x))
    with torch.no_grad():
        ref = as_tuple(torch_cell(cell)(torch.from_numpy(x)))
    assert shapes(*state) == shapes(*ref) == [(0, 4)] * len(ref)
    dx, dprev = cell.backward(*[np.zeros((0, 4))] * len(state))
    assert shapes(dx, *as_tuple(dprev)) == [(0, 3)] + [(0, 4)] * len(state)


def test_the_torch_engine_takes_an_empty_batch_too():
    from deeprnn.torch_engine.stack import LSTM

    out, (h_n, c_n) = LSTM(3, 4, num_layers=2)(torch.zeros(5, 0, 3))
    assert shapes(out, h_n, c_n) == [(5, 0, 4), (2, 0, 4), (2, 0, 4)]
    with pytest.raises(ValueError, match=r"got \(0, 2, 3\) \(T must be at least 1\)"):
        LSTM(3, 4)(torch.zeros(0, 2, 3))


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_a_sequence_of_length_0_is_refused_like_torch(kind):
    model = make_layer(kind, I=3, H=4)
    with pytest.raises(RuntimeError, match="sequence length to be larger than 0"):
        torch_layer(model)(torch.zeros(0, 2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"^expected x of shape \(T, B, 3\) or \(T, 3\), got \(0, 2, 3\) "
                                         r"\(T must be at least 1\)$"):
        model(np.zeros((0, 2, 3)))
