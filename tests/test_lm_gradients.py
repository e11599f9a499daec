"""NumpyLM: forward_backward's gradients against finite differences and against torch (embedding or
one-hot -> RNN/GRU/LSTM stack -> linear head), and gradient clipping against torch's rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import numerical_grad, rel_err, require
from lm_helpers import tiny_engine

torch = require("torch")
from deeprnn.layout import CELL_CLASSES, INPUT_GATED  # noqa: E402
from deeprnn.torch_engine import minrnn  # noqa: E402  (after require: it needs torch)

V, T, B = 7, 4, 3
VARIANTS = {  # name -> ModelConfig fields
    "lstm_embedding": {"cell": "lstm", "embedding_dim": 3, "num_layers": 2, "hidden_size": 4},
    "lstm_onehot": {"cell": "lstm", "embedding_dim": 0, "num_layers": 1, "hidden_size": 4},
    "gru_embedding": {"cell": "gru", "embedding_dim": 3, "num_layers": 2, "hidden_size": 3},
    "gru_onehot": {"cell": "gru", "embedding_dim": 0, "num_layers": 1, "hidden_size": 4},
    "rnn_tanh_embedding": {"cell": "rnn", "embedding_dim": 3, "num_layers": 2, "hidden_size": 4},
    "rnn_relu_onehot": {"cell": "rnn", "nonlinearity": "relu", "embedding_dim": 0, "num_layers": 2, "hidden_size": 4},
    "mingru_embedding": {"cell": "mingru", "embedding_dim": 3, "num_layers": 2, "hidden_size": 4},
    "minlstm_onehot": {"cell": "minlstm", "embedding_dim": 0, "num_layers": 2, "hidden_size": 3},
}


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, V, size=(T, B))
    y = rng.integers(0, V, size=(T, B))
    x[0, 0] = x[1, 1]  # a repeated token: embedding rows accumulate gradients
    return x, y


def _state(engine, model, seed=1):
    """A random (non-zero) initial state, so the gradients depend on it."""
    rng = np.random.default_rng(seed)
    shape = (model["num_layers"], B, model["hidden_size"])
    h = rng.standard_normal(shape) * 0.5
    return (h, rng.standard_normal(shape) * 0.5) if model["cell"] == "lstm" else h


def _engine(variant):
    model = VARIANTS[variant]
    engine = tiny_engine(V=V, seed=3, **model)
    engine.load_state_dict({k: v * 3 for k, v in engine.state_dict().items()})  # larger weights: livelier gradients
    return engine, model


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_gradients_match_finite_differences(variant):
    engine, model = _engine(variant)
    x, y = _batch()
    state = _state(engine, model)
    engine.forward_backward(x, y, state)
    analytic = {k: g.copy() for k, g in engine.grads.items()}
    assert set(analytic) == set(engine.params)

    def loss() -> float:
        return engine.forward_backward(x, y, state)[0]

    for name, p in engine.params.items():
        err = rel_err(analytic[name], numerical_grad(loss, p))
        assert err < 1e-6, f"{variant} {name}: relative error {err:.2e}"
        assert np.linalg.norm(analytic[name]) > 0 or name.startswith("embedding"), f"{name}: zero gradient"


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gradients_with_every_dropout_match_finite_differences(cell):
    """input dropout, weight_drop (DropConnect on W_hh), dropout between layers and output dropout, with
    the masks held fixed by restoring the RNG before every forward."""
    model = {"cell": cell, "embedding_dim": 3, "num_layers": 2, "hidden_size": 3, "dropout": 0.3,
             "output_dropout": 0.3, "weight_drop": 0.5, "input_dropout": 0.4}
    engine = tiny_engine(V=V, seed=3, **model)
    x, y = _batch()
    state = _state(engine, model)
    rng = engine.rng_state()

    def loss() -> float:
        engine.set_rng_state(rng)
        return engine.forward_backward(x, y, state)[0]

    loss()
    analytic = {k: g.copy() for k, g in engine.grads.items()}
    plain = tiny_engine(V=V, seed=3, **{**model, "weight_drop": 0.0})
    plain.set_rng_state(rng)
    plain.forward_backward(x, y, state)
    for name in ("embedding.weight", "rnn.weight_hh_l0", "rnn.weight_hh_l1", "rnn.weight_ih_l1", "head.weight"):
        err = rel_err(analytic[name], numerical_grad(loss, engine.params[name]))
        assert err < 1e-6, f"{cell} {name}: relative error {err:.2e}"
    g = analytic["rnn.weight_hh_l0"]
    assert (g == 0).any() and (g != 0).any(), "about half the recurrent weights are dropped for the batch"
    assert not np.allclose(g, plain.grads["rnn.weight_hh_l0"])


def _torch_model(engine, model):
    """nn.Embedding (or one-hot) + nn.RNN/GRU/LSTM + nn.Linear with the engine's weights."""
    sd = {k: torch.from_numpy(v.copy()) for k, v in engine.state_dict().items()}
    E, H, L = model["embedding_dim"], model["hidden_size"], model["num_layers"]
    kw = {"nonlinearity": model.get("nonlinearity", "tanh")} if model["cell"] == "rnn" else {}
    name = CELL_CLASSES[model["cell"]]  # minGRU/minLSTM: torch.nn has none, the torch engine's modules
    cls = getattr(minrnn, name) if name in INPUT_GATED else getattr(torch.nn, name)
    rnn = cls(E or V, H, num_layers=L, dtype=torch.float64, **kw)
    rnn.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("rnn.")})
    head = torch.nn.Linear(H, V, dtype=torch.float64)
    head.load_state_dict({"weight": sd["head.weight"], "bias": sd["head.bias"]})
    emb = None
    if E:
        emb = torch.nn.Embedding(V, E, dtype=torch.float64)
        emb.load_state_dict({"weight": sd["embedding.weight"]})

    def forward(x, state):
        xt = torch.from_numpy(x)
        inp = emb(xt) if emb is not None else torch.nn.functional.one_hot(xt, V).double()
        hx = tuple(torch.from_numpy(s) for s in state) if isinstance(state, tuple) else torch.from_numpy(state)
        out, final = rnn(inp, hx)
        return head(out), final  # (T, B, V)

    params = {**({"embedding.weight": emb.weight} if emb is not None else {}),
              **{f"rnn.{k}": v for k, v in rnn.named_parameters()}, "head.weight": head.weight, "head.bias": head.bias}
    return forward, params


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_loss_logits_and_gradients_equal_torch(variant):
    engine, model = _engine(variant)
    x, y = _batch(seed=5)
    state = _state(engine, model, seed=6)
    forward, tparams = _torch_model(engine, model)
    z, final = forward(x, state)
    tloss = torch.nn.functional.cross_entropy(z.reshape(-1, V), torch.from_numpy(y).reshape(-1))
    tloss.backward()

    loss, our_final = engine.forward_backward(x, y, state)
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    for name, p in tparams.items():
        np.testing.assert_allclose(engine.grads[name], p.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    logits, _ = engine.logits(x, state)
    np.testing.assert_allclose(logits, z.detach().numpy(), rtol=1e-12, atol=1e-12)
    nll, _ = engine.nll(x, y, state)
    tnll = torch.nn.functional.cross_entropy(z.reshape(-1, V), torch.from_numpy(y).reshape(-1), reduction="none")
    np.testing.assert_allclose(nll, tnll.detach().numpy().reshape(T, B), rtol=1e-12, atol=1e-12)
    as_tuple = (lambda s: s if isinstance(s, tuple) else (s,))
    for ours, ref in zip(as_tuple(our_final), as_tuple(final), strict=True):
        np.testing.assert_allclose(ours, ref.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_dropout_is_used_in_training_only():
    engine = tiny_engine(V=V, seed=0, num_layers=2, dropout=0.5, output_dropout=0.5)
    x, y = _batch()
    state = engine.initial_state(B)
    l1, _ = engine.forward_backward(x, y, state)
    l2, _ = engine.forward_backward(x, y, state)
    assert l1 != l2  # fresh masks each step
    n1, _ = engine.nll(x, y, state)
    n2, _ = engine.nll(x, y, state)
    assert np.array_equal(n1, n2)  # evaluation: no dropout


# -- clipping ---------------------------------------------------------------------------------------


def _set_grads(engine, scale, seed=0):
    rng = np.random.default_rng(seed)
    for g in engine.grads.values():
        g[...] = rng.standard_normal(g.shape) * scale
    return {k: torch.from_numpy(g.copy()) for k, g in engine.grads.items()}


@pytest.mark.parametrize("scale", [10.0, 1e-3])
def test_clip_norm_matches_torch(scale):
    engine = tiny_engine(V=V)
    tgrads = _set_grads(engine, scale)
    tparams = [torch.zeros_like(g, requires_grad=True) for g in tgrads.values()]
    for p, g in zip(tparams, tgrads.values()):
        p.grad = g
    before = engine.grad_norm()
    returned = engine.clip("norm", 0.5)
    tnorm = torch.nn.utils.clip_grad_norm_(tparams, 0.5)
    assert returned == pytest.approx(before) and returned == pytest.approx(tnorm.item(), rel=1e-12)
    for (name, g), p in zip(engine.grads.items(), tparams):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-12, err_msg=name)
    after = engine.grad_norm()
    if scale > 1:
        assert after <= 0.5 and after == pytest.approx(0.5, rel=1e-5)
    else:
        assert after == before  # below the limit: untouched


def test_clip_value_clamps_each_entry():
    engine = tiny_engine(V=V)
    _set_grads(engine, 3.0)
    original = {k: g.copy() for k, g in engine.grads.items()}
    norm = engine.clip("value", 0.25)
    assert norm == pytest.approx(math.sqrt(sum(float((g ** 2).sum()) for g in original.values())))
    for k, g in engine.grads.items():
        assert np.array_equal(g, np.clip(original[k], -0.25, 0.25)), k
    assert engine.clip("none", 0.25) == pytest.approx(engine.grad_norm())


def test_non_finite_gradient_reports_non_finite_norm_and_is_not_scaled():
    engine = tiny_engine(V=V)
    _set_grads(engine, 1.0)
    engine.grads["head.bias"][0] = np.inf
    assert not math.isfinite(engine.clip("norm", 1.0))


@pytest.mark.parametrize("engine_name", ["numpy", "torch"])
@pytest.mark.parametrize("kind", ["input_dropout", "dropout", "output_dropout", "weight_drop"])
def test_each_dropout_acts_in_training_only(kind, engine_name):
    """Each kind of dropout changes the training loss (and the gradients), never the evaluation."""
    model = {"cell": "lstm", "embedding_dim": 3, "num_layers": 2, "hidden_size": 4}
    x, y = _batch()
    plain = tiny_engine(V=V, seed=3, train={"engine": engine_name}, **model)
    dropped = tiny_engine(V=V, seed=3, train={"engine": engine_name}, **model, **{kind: 0.5})
    dropped.load_state_dict(plain.state_dict())
    loss_plain, _ = plain.forward_backward(x, y, None)
    loss_dropped, _ = dropped.forward_backward(x, y, None)
    assert loss_dropped != pytest.approx(loss_plain, rel=1e-6)
    state = dropped.initial_state(B)
    assert np.array_equal(plain.nll(x, y, state)[0], dropped.nll(x, y, state)[0])
