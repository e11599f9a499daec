"""Batchers: sequential, random, shuffled and the d2l protocol; determinism and resumption."""

from __future__ import annotations

from itertools import islice

import numpy as np
import pytest

from deeprnn.data import (
    BATCH_MODES, CorpusError, D2LBatcher, RandomBatcher, SequentialBatcher, ShuffledBatcher, d2l_windows,
    make_batcher,
)

L, B, T = 1000, 4, 7
MODES = ["sequential", "random", "shuffled"]


def positions(n: int = L) -> np.ndarray:
    return np.arange(n)  # each id is its position, so x and y tell where they were cut from


def same(a, b) -> bool:
    return (np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
            and (a.carry, a.epoch, a.step) == (b.carry, b.epoch, b.step))


def test_modes_are_registered():
    assert BATCH_MODES == ("sequential", "random", "shuffled", "d2l")
    assert type(make_batcher("shuffled", positions(), B, T)) is ShuffledBatcher
    with pytest.raises(CorpusError, match="expected batching mode to be one of 'sequential', 'random', 'shuffled', 'd2l', got 'bptt'"):
        make_batcher("bptt", positions(), B, T)
    with pytest.raises(CorpusError, match="takes no options num_train"):
        make_batcher("random", positions(), B, T, num_train=5)


@pytest.mark.parametrize("mode", MODES)
def test_shapes_dtype_and_shift(mode):
    ids = (positions() * 7919) % 1009  # not monotonic, distinct
    batcher = make_batcher(mode, ids, B, T, seed=3)
    for batch in islice(batcher.iterate(), 2 * batcher.batches_per_epoch + 1):
        assert batch.x.shape == batch.y.shape == (T, B)
        assert batch.x.dtype == batch.y.dtype == np.int64
        assert np.array_equal(batch.x[1:], batch.y[:-1])  # y is x shifted one token on
        where = np.empty(ids.max() + 1, dtype=np.int64)
        where[ids] = np.arange(len(ids))
        starts = where[batch.x[0]]  # the position each column's window starts at
        for b in range(B):
            assert np.array_equal(batch.x[:, b], ids[starts[b]:starts[b] + T])
            assert np.array_equal(batch.y[:, b], ids[starts[b] + 1:starts[b] + T + 1])


@pytest.mark.parametrize("mode", MODES)
def test_deterministic_given_seed_and_epochs_differ(mode):
    a, b = make_batcher(mode, positions(), B, T, seed=11), make_batcher(mode, positions(), B, T, seed=11)
    n = a.batches_per_epoch
    assert all(same(p, q) for p, q in zip(islice(a.iterate(), 3 * n), islice(b.iterate(), 3 * n)))
    firsts = [a.batch(e * n).x for e in range(6)]
    assert any(not np.array_equal(firsts[0], f) for f in firsts[1:])  # epochs differ
    other = make_batcher(mode, positions(), B, T, seed=12)
    assert any(not np.array_equal(other.batch(s).x, a.batch(s).x) for s in range(3 * n))


@pytest.mark.parametrize("mode", [*MODES, "d2l"])
def test_resuming_at_any_step_sees_the_uninterrupted_batches(mode):
    options = {"num_train": 50, "num_val": 20} if mode == "d2l" else {}
    full = make_batcher(mode, positions(), B, T, seed=5, **options)
    n = full.batches_per_epoch
    run = list(islice(full.iterate(), 3 * n + 2))
    for k in [0, 1, n - 1, n, n + 1, 2 * n + 3]:
        resumed = make_batcher(mode, positions(), B, T, seed=5, **options)  # a new process: nothing cached
        tail = list(islice(resumed.iterate(start_step=k), len(run) - k))
        assert all(same(p, q) for p, q in zip(run[k:], tail))
        assert same(resumed.batch(k), run[k])
    assert [b.step for b in run] == list(range(len(run)))
    assert [b.epoch for b in run] == [s // n for s in range(len(run))]


def test_epoch_order_depends_only_on_seed_and_epoch():
    a = make_batcher("shuffled", positions(), B, T, seed=2)
    expected = np.random.default_rng([2, 4]).permutation(L - T)[:B]
    assert np.array_equal(a.batch(4 * a.batches_per_epoch).x[0], expected)


def test_sequential_streams_continue_across_batches_and_carry_flags():
    batcher = SequentialBatcher(positions(), B, T, seed=0)
    S = (L - T) // B
    assert batcher.batches_per_epoch == S // T
    offsets = set()
    for epoch in range(8):
        batches = list(batcher.epoch_batches(epoch))
        assert [b.carry for b in batches] == [False] + [True] * (len(batches) - 1)
        for prev, nxt in zip(batches, batches[1:]):
            assert np.array_equal(nxt.x[0], prev.x[-1] + 1)  # each stream continues where it stopped
            assert np.array_equal(nxt.x[0], prev.y[-1])
        streams = np.concatenate([b.x for b in batches])  # (n*T, B)
        offset = int(streams[0, 0])
        offsets.add(offset)
        assert 0 <= offset < T
        for s in range(B):  # stream s is one contiguous run starting at offset + s*S
            assert np.array_equal(streams[:, s], np.arange(offset + s * S, offset + s * S + len(streams)))
    assert len(offsets) > 1  # the offset is drawn per epoch


def test_random_windows_are_non_overlapping_from_one_offset():
    batcher = RandomBatcher(positions(), B, T, seed=1)
    n_windows = (L - T) // T
    assert batcher.batches_per_epoch == n_windows // B
    offsets = set()
    for epoch in range(6):
        batches = list(batcher.epoch_batches(epoch))
        assert not any(b.carry for b in batches)
        starts = np.concatenate([b.x[0] for b in batches])
        offset = int(starts.min() % T)
        offsets.add(offset)
        assert 0 <= offset < T and np.all(starts % T == offset)
        assert len(set(starts.tolist())) == len(starts)  # distinct windows, so never overlapping
        assert starts.max() + T + 1 <= L
        assert not np.array_equal(starts, np.sort(starts))  # shuffled
    assert len(offsets) > 1


def test_shuffled_visits_every_window_once_per_epoch():
    ids = positions(10 * B + T)  # L - T windows, a multiple of B
    batcher = ShuffledBatcher(ids, B, T, seed=4)
    assert batcher.batches_per_epoch == 10
    for epoch in range(3):
        batches = list(batcher.epoch_batches(epoch))
        assert not any(b.carry for b in batches)
        starts = np.concatenate([b.x[0] for b in batches])
        assert sorted(starts.tolist()) == list(range(10 * B))


def test_incomplete_trailing_batches_are_dropped():
    batcher = ShuffledBatcher(positions(10 * B + T + B - 1), B, T)
    assert batcher.batches_per_epoch == 10
    assert batcher.batch(10).epoch == 1


@pytest.mark.parametrize("cls, minimum", [(SequentialBatcher, (B + 1) * T), (RandomBatcher, (B + 1) * T),
                                          (ShuffledBatcher, B + T)])
def test_too_short_corpus_and_bad_sizes_are_errors(cls, minimum):
    cls(positions(minimum), B, T)  # just enough for one batch
    with pytest.raises(CorpusError, match=f"batch_size={B}, num_steps={T} needs at least {minimum} tokens; "
                                          f"got {minimum - 1}"):
        cls(positions(minimum - 1), B, T)
    with pytest.raises(CorpusError, match="expected batch_size >= 1, got 0"):
        cls(positions(), 0, T)
    with pytest.raises(CorpusError, match="expected num_steps >= 1, got 0"):
        cls(positions(), B, 0)
    with pytest.raises(CorpusError, match="expected num_steps to be an int, got float 2.5"):
        cls(positions(), B, 2.5)
    with pytest.raises(CorpusError, match="expected start_step >= 0, got -1"):
        next(cls(positions(), B, T).iterate(start_step=-1))


def test_d2l_windows_equal_the_books_formula():
    corpus = ((positions(60) * 31) % 17).tolist()
    num_steps = 5
    array = np.array([corpus[i:i + num_steps + 1] for i in range(len(corpus) - num_steps)])
    X, Y = d2l_windows(corpus, num_steps)
    assert np.array_equal(X, array[:, :-1]) and np.array_equal(Y, array[:, 1:])
    assert X.shape == (55, 5)


def test_d2l_train_rows_are_shuffled_per_epoch_and_val_rows_in_order():
    corpus = (positions(200) * 37) % 29
    X, Y = d2l_windows(corpus, T)
    train = D2LBatcher(corpus, 16, T, num_train=100, num_val=40, seed=9)
    assert train.batches_per_epoch == 7  # ceil(100 / 16): the last batch has 4 rows, as in the book
    orders = []
    for epoch in range(2):
        batches = list(train.epoch_batches(epoch))
        assert [b.x.shape for b in batches] == [(T, 16)] * 6 + [(T, 4)]
        assert not any(b.carry for b in batches)
        rows = np.random.default_rng([9, epoch]).permutation(100)
        assert np.array_equal(np.concatenate([b.x for b in batches], axis=1), X[rows].T)
        assert np.array_equal(np.concatenate([b.y for b in batches], axis=1), Y[rows].T)
        orders.append(rows)
    assert sorted(orders[0]) == list(range(100)) and not np.array_equal(orders[0], orders[1])

    val = D2LBatcher(corpus, 16, T, num_train=100, num_val=40, split="val", drop_last=True)
    assert val.batches_per_epoch == 2
    x = np.concatenate([b.x for b in val.epoch_batches(0)], axis=1)
    assert np.array_equal(x, X[100:132].T)


def test_d2l_protocol_errors():
    with pytest.raises(CorpusError, match=r"needs num_train \+ num_val = 15000 windows of num_steps=7, but 200 tokens "
                                          r"give only 193"):
        D2LBatcher(positions(200), B, T)
    with pytest.raises(CorpusError, match="expected d2l split to be one of 'train', 'val', got 'test'"):
        D2LBatcher(positions(200), B, T, num_train=10, num_val=10, split="test")
    with pytest.raises(CorpusError, match="val split has 10 windows, fewer than batch_size=16"):
        D2LBatcher(positions(200), 16, T, num_train=100, num_val=10, split="val", drop_last=True)
