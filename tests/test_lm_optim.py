"""SGD / Adam / AdamW against torch.optim, state_dict round trips, and the learning-rate schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deeprnn.lm.config import TrainConfig
from deeprnn.lm.schedule import learning_rate
from conftest import require
from deeprnn.numpy_engine.optim import SGD, Adam, AdamW, make_optimizer

torch = require("torch")

SHAPES = {"w": (3, 4), "b": (4,)}
LRS = [0.1, 0.05, 0.2, 0.01, 0.07, 0.03]  # a different lr each step, as a schedule gives

CASES = {
    "sgd": (lambda p, g: SGD(p, g), lambda ps: torch.optim.SGD(ps, lr=0.1)),
    "sgd_momentum": (lambda p, g: SGD(p, g, momentum=0.9), lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
    "sgd_momentum_wd": (lambda p, g: SGD(p, g, momentum=0.8, weight_decay=0.1),
                        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.8, weight_decay=0.1)),
    "sgd_wd": (lambda p, g: SGD(p, g, weight_decay=0.3), lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=0.3)),
    "adam": (lambda p, g: Adam(p, g, betas=(0.8, 0.95), eps=1e-6),
             lambda ps: torch.optim.Adam(ps, lr=0.1, betas=(0.8, 0.95), eps=1e-6)),
    "adam_wd": (lambda p, g: Adam(p, g, weight_decay=0.1), lambda ps: torch.optim.Adam(ps, lr=0.1, weight_decay=0.1)),
    "adamw": (lambda p, g: AdamW(p, g, weight_decay=0.1), lambda ps: torch.optim.AdamW(ps, lr=0.1, weight_decay=0.1)),
}
TORCH_BUFFERS = {"momentum_buffer", "exp_avg", "exp_avg_sq"}


def _grads(step: int) -> dict:
    rng = np.random.default_rng([7, step])
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


def _ours(case: str, params: dict, steps, opt=None):
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    opt = opt or CASES[case][0](params, grads)
    opt.grads = grads
    for i in steps:
        for k, g in _grads(i).items():
            grads[k][...] = g
        opt.step(LRS[i])
    return opt


def _initial() -> dict:
    rng = np.random.default_rng(3)
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_optimizer_matches_torch(case):
    params = _initial()
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}  # float64
    topt = CASES[case][1](list(tparams.values()))
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    opt = CASES[case][0](params, grads)
    for i, lr in enumerate(LRS):
        for k, g in _grads(i).items():
            grads[k][...] = g
            tparams[k].grad = torch.tensor(g)
        opt.step(lr)
        topt.param_groups[0]["lr"] = lr
        topt.step()
        for k in params:
            np.testing.assert_allclose(params[k], tparams[k].detach().numpy(), rtol=1e-12, atol=1e-14,
                                       err_msg=f"{case} step {i} {k}")
    # the buffers carry torch.optim's names and values
    sd = opt.state_dict()
    assert int(sd["step"][0]) == len(LRS)
    for k, tp in tparams.items():
        for buf, value in topt.state[tp].items():
            if buf in TORCH_BUFFERS:
                np.testing.assert_allclose(sd[f"{buf}.{k}"], value.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", sorted(CASES))
def test_state_dict_round_trip_continues_identically(case):
    straight = _initial()
    _ours(case, straight, range(6))

    first = _initial()
    saved = _ours(case, first, range(3)).state_dict()
    saved = {k: v.copy() for k, v in saved.items()}
    params = {k: v.copy() for k, v in first.items()}
    fresh = CASES[case][0](params, {k: np.zeros_like(v) for k, v in params.items()})
    fresh.load_state_dict(saved)
    assert fresh.t == 3
    _ours(case, params, range(3, 6), fresh)
    for k in straight:
        assert np.array_equal(params[k], straight[k]), k


def test_load_state_dict_rejects_foreign_keys_and_shapes():
    params = _initial()
    opt = Adam(params, {k: np.zeros_like(v) for k, v in params.items()})
    with pytest.raises(ValueError, match="'step'"):
        opt.load_state_dict({})
    with pytest.raises(ValueError, match="momentum_buffer.w"):
        opt.load_state_dict({"step": np.array([1]), "momentum_buffer.w": np.zeros((3, 4))})
    with pytest.raises(ValueError, match=r"exp_avg.b of shape"):
        opt.load_state_dict({"step": np.array([1]), "exp_avg.b": np.zeros(5)})
    with pytest.raises(ValueError, match="'rmsprop'"):
        make_optimizer("rmsprop", params, params)


# -- schedules ------------------------------------------------------------------------------------


def test_constant_and_step_schedules():
    t = TrainConfig(schedule="constant", lr=0.3, max_steps=100)
    assert {learning_rate(s, t) for s in (0, 1, 50, 99, 500)} == {0.3}
    t = TrainConfig(schedule="step", lr=0.8, step_size=10, gamma=0.5, max_steps=100)
    assert [learning_rate(s, t) for s in (0, 9, 10, 19, 20, 35)] == [0.8, 0.8, 0.4, 0.4, 0.2, 0.1]


def test_cosine_schedule_with_warmup():
    t = TrainConfig(schedule="cosine", lr=1.0, min_lr=0.1, warmup_steps=10, max_steps=110)
    assert learning_rate(0, t) == pytest.approx(0.1)  # first warm-up step: lr / warmup_steps
    assert learning_rate(4, t) == pytest.approx(0.5)
    assert learning_rate(9, t) == pytest.approx(1.0)  # end of warm-up: the peak
    assert learning_rate(10, t) == pytest.approx(1.0)
    assert learning_rate(60, t) == pytest.approx(0.55)  # half-way: the mean of lr and min_lr
    assert learning_rate(110, t) == pytest.approx(0.1)  # max_steps: min_lr
    assert learning_rate(500, t) == pytest.approx(0.1)  # and it stays there
    warm = [learning_rate(s, t) for s in range(10)]
    decay = [learning_rate(s, t) for s in range(10, 111)]
    assert all(a < b for a, b in zip(warm, warm[1:]))
    assert all(a > b for a, b in zip(decay, decay[1:]))
    assert min(decay) >= 0.1 - 1e-12


def test_cosine_without_warmup_starts_at_lr():
    t = TrainConfig(schedule="cosine", lr=2.0, min_lr=0.0, warmup_steps=0, max_steps=4)
    got = [learning_rate(s, t) for s in range(5)]
    want = [1.0 + math.cos(math.pi * s / 4) for s in range(5)]
    assert got == pytest.approx(want)
