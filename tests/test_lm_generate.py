"""Generation: greedy = argmax, seeds, top-k / top-p / temperature, <unk> never sampled, prefixes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from deeprnn.data import Vocab
from deeprnn.lm.generate import check_sampling, encode_prefix, generate, sample_next
from lm_helpers import tiny_engine

TEXT = "the quick brown fox jumps over the lazy dog. "


@pytest.fixture(scope="module")
def model():
    vocab = Vocab(TEXT)
    engine = tiny_engine(V=len(vocab), seed=1, num_layers=1, hidden_size=8)
    sd = engine.state_dict()
    sd["head.weight"] *= 8  # a peaked, input-dependent distribution
    engine.load_state_dict(sd)
    return engine, vocab


def _greedy_by_hand(engine, vocab, prefix, length):
    z, state = engine.logits(vocab.encode(prefix)[:, None], engine.initial_state(1))
    out = []
    for _ in range(length):
        last = z[-1, 0].copy()
        last[vocab.unk] = -np.inf
        nxt = int(np.argmax(last))
        out.append(nxt)
        z, state = engine.logits(np.array([[nxt]]), state)
    return vocab.decode(out)


def test_greedy_is_argmax_and_deterministic(model):
    engine, vocab = model
    want = _greedy_by_hand(engine, vocab, "the ", 30)
    got = generate(engine, vocab, "the ", 30, temperature=0)
    assert got == want and len(got) == 30
    assert generate(engine, vocab, "the ", 30, temperature=0, seed=5) == got
    assert generate(engine, vocab, "the ", 30, top_k=1, seed=9) == got  # top-k = 1 is greedy
    assert generate(engine, vocab, "the ", 30, top_p=1e-9, seed=9) == got  # a tiny nucleus is greedy


def test_seed_fixes_the_sample(model):
    engine, vocab = model
    a = generate(engine, vocab, "the ", 60, temperature=1.5, seed=0)
    assert generate(engine, vocab, "the ", 60, temperature=1.5, seed=0) == a
    assert generate(engine, vocab, "the ", 60, temperature=1.5, seed=1) != a


def test_on_text_streams_every_piece(model):
    engine, vocab = model
    pieces = []
    text = generate(engine, vocab, "fox", 12, seed=3, on_text=pieces.append)
    assert len(pieces) == 12 and "".join(pieces) == text


def _freq(z, n=20000, **kw):
    rng = np.random.default_rng(0)
    return np.bincount([sample_next(z, rng, **kw) for _ in range(n)], minlength=len(z)) / n


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_temperature_scales_the_distribution(temperature):
    z = np.array([0.0, 1.0, 2.0, 0.5])
    f = _freq(z, temperature=temperature)
    np.testing.assert_allclose(f, _softmax(z / temperature), atol=0.015)


def test_lower_temperature_is_more_peaked():
    z = np.array([0.0, 1.0, 2.0, 0.5])
    assert _freq(z, 5000, temperature=0.3)[2] > _freq(z, 5000, temperature=1.0)[2] > _freq(z, 5000, temperature=3.0)[2]


def test_top_k_and_top_p_restrict_the_support():
    z = np.log(np.array([0.4, 0.3, 0.2, 0.1]))
    f = _freq(z, 10000, top_k=2)
    assert f[2] == f[3] == 0
    np.testing.assert_allclose(f[:2], [4 / 7, 3 / 7], atol=0.02)
    f = _freq(z, 10000, top_p=0.65)  # 0.4 + 0.3 >= 0.65: the two most likely
    assert f[2] == f[3] == 0
    np.testing.assert_allclose(f[:2], [4 / 7, 3 / 7], atol=0.02)
    f = _freq(z, 10000, top_p=0.75)  # needs the third as well
    assert f[3] == 0 and f[2] > 0.15


def test_greedy_sample_next_is_argmax():
    z = np.random.default_rng(2).standard_normal(30)
    assert sample_next(z, np.random.default_rng(0), temperature=0) == int(np.argmax(z))


def test_extreme_finite_temperatures_still_sample():
    z = np.random.default_rng(2).standard_normal(30) * 50
    rng = np.random.default_rng(0)
    with np.errstate(all="raise"):  # no overflow on the way (z / 1e-320 used to be inf - inf = nan)
        assert {sample_next(z, rng, temperature=1e-320) for _ in range(20)} == {int(np.argmax(z))}
        assert len({sample_next(z, rng, temperature=1e308) for _ in range(200)}) > 20  # all but uniform


def test_unk_is_never_sampled(model):
    engine, vocab = model
    z = np.zeros(len(vocab))
    z[vocab.unk] = 50.0  # overwhelmingly the most likely
    rng = np.random.default_rng(0)
    assert vocab.unk not in {sample_next(z, rng, banned=(vocab.unk,)) for _ in range(200)}
    assert sample_next(z, rng, temperature=0, banned=(vocab.unk,)) != vocab.unk
    sd = engine.state_dict()
    sd["head.bias"][vocab.unk] = 100.0
    eng = tiny_engine(V=len(vocab), seed=1, num_layers=1, hidden_size=8)
    eng.load_state_dict(sd)
    for kw in ({"temperature": 0}, {"temperature": 1.0, "seed": 0}, {"top_k": 3, "seed": 1}, {"top_p": 0.5, "seed": 2}):
        assert "<unk>" not in generate(eng, vocab, "the ", 40, **kw), kw


def test_unknown_prefix_tokens_warn_and_map_or_raise(model):
    engine, vocab = model
    with pytest.warns(UserWarning, match=r"\['Z'\].*<unk>"):
        ids = encode_prefix(vocab, "aZb")
    assert ids.tolist() == [vocab["a"], vocab.unk, vocab["b"]]
    with pytest.raises(ValueError, match=r"outside"):
        encode_prefix(vocab, "aZb", unknown="error")
    with pytest.raises(ValueError, match=r"outside"):
        generate(engine, vocab, "Zebra", 5, unknown="error")
    with pytest.warns(UserWarning):
        assert len(generate(engine, vocab, "Zebra", 5, seed=0)) == 5


def test_empty_prefix_and_bad_sampling_settings_raise(model):
    engine, vocab = model
    with pytest.raises(ValueError, match="non-empty prefix"):
        generate(engine, vocab, "", 5)
    for kw, msg in (({"temperature": -1}, "temperature"), ({"top_k": -1}, "top_k"), ({"top_p": 0}, "top_p"),
                    ({"top_p": 1.5}, "top_p"), ({"length": -1}, "length")):
        args = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "length": 5, **kw}
        with pytest.raises(ValueError, match=msg):
            check_sampling(**args)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert generate(engine, vocab, "the", 0) == ""


def test_sample_stream_is_the_loop_of_generate_and_samples_only_when_read(model):
    from deeprnn.lm.generate import sample_stream

    engine, vocab = model
    calls = []

    class Counting:
        def logits(self, x, state):
            calls.append(x.shape)
            return engine.logits(x, state)

        def initial_state(self, batch):
            return engine.initial_state(batch)

    pieces = sample_stream(Counting(), vocab, vocab.encode("the "), 25, temperature=0.9, top_k=5, seed=4)
    assert calls == []  # nothing runs before the first piece is asked for
    first = next(pieces)
    assert calls == [(4, 1)]  # the warm-up on the prefix, then one token sampled
    text = first + "".join(pieces)
    assert text == generate(engine, vocab, "the ", 25, temperature=0.9, top_k=5, seed=4)
    assert len(calls) == 25  # the warm-up and 24 steps: the last token needs no prediction after it
