"""Run folders and checkpoints: the files, no pickle, interrupted writes, damaged files."""

from __future__ import annotations

import json
import shutil
import struct
import warnings

import numpy as np
import pytest

from deeprnn.lm import checkpoint as ck
from deeprnn.lm.runs import open_run, read_config
from lm_helpers import Killed, kill_after_moves, run_trainer, tiny_config, weights, write_corpus

PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".bin", ".npy", ".npz"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished tiny run (12 steps, checkpoints at 6 and 12); copy it before damaging anything."""
    root = tmp_path_factory.mktemp("ckpt")
    cfg = tiny_config(write_corpus(root, 900), model={"num_layers": 2, "dropout": 0.1}, optimizer="adam")
    run_trainer(cfg, root / "run", plots=True)
    return root / "run"


@pytest.fixture
def run(trained, tmp_path):
    return shutil.copytree(trained, tmp_path / "run")


def test_run_folder_holds_the_documented_files(trained):
    names = {p.relative_to(trained).as_posix() for p in trained.rglob("*") if p.is_file()}
    assert names == {"config.json", "vocab.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json",
                     "best/model.safetensors", "metrics.jsonl", "curves.png"}  # no temporary or *.prev left over
    state = json.loads((trained / ck.STATE).read_text())
    assert state["format"] == ck.STATE_FORMAT and state["progress"]["step"] == 12
    assert set(state["sha256"]) == {ck.MODEL, ck.OPTIM}
    assert (trained / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    optim, _ = ck.load_tensors(trained / ck.OPTIM, ck.OPTIM_FORMAT)
    assert {"step", "carry.h", "carry.c"} <= set(optim)  # sequential batching: the carried state is saved
    assert any(k.startswith("exp_avg_sq.") for k in optim)


def test_nothing_is_pickled(trained):
    for path in trained.rglob("*"):
        if not path.is_file():
            continue
        assert path.suffix not in PICKLE_SUFFIXES, path
        head = path.read_bytes()[:16]
        assert not (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")), f"{path}: pickle"
        assert not head.startswith(b"PK"), f"{path}: a zip (torch.save) archive"
        if path.suffix == ".safetensors":
            (n,) = struct.unpack("<Q", head[:8])
            header = json.loads(path.read_bytes()[8:8 + n])
            assert header["__metadata__"]["format"] in (ck.MODEL_FORMAT, ck.OPTIM_FORMAT)
        elif path.suffix in (".json", ".jsonl"):
            for line in path.read_text().splitlines() if path.suffix == ".jsonl" else [path.read_text()]:
                json.loads(line)


def test_checkpoint_round_trip_and_open_run(trained):
    c = ck.load_checkpoint(trained)
    assert c.state["progress"]["step"] == 12 and c.state["step"] == 12
    r = open_run(trained, "last")
    assert r.which == "last" and r.step == 12
    for k, v in c.model.items():
        assert np.array_equal(r.engine.state_dict()[k], v), k
    best = open_run(trained)
    assert best.which == "best" and best.step == c.state["progress"]["best_step"]


def _save(run, step):
    ck.save_checkpoint(run, {"w": np.full(3, float(step))}, {"step": np.array([step])}, {"step": step})


def test_kill_between_moves_falls_back_to_the_previous_checkpoint(run, monkeypatch):
    before = ck.load_checkpoint(run)
    kill_after_moves(monkeypatch, 1)  # the new model is in place, its optimizer and state are not
    with pytest.raises(Killed):
        ck.save_checkpoint(run, {k: v + 1 for k, v in before.model.items()}, before.optimizer, {"step": 99})
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="interrupted.*step 12"):
        c = ck.load_checkpoint(run)
    assert c.state["step"] == 12
    for k, v in before.model.items():
        assert np.array_equal(c.model[k], v), k
    with pytest.warns(UserWarning):
        assert open_run(run, "last").step == 12


@pytest.mark.parametrize("moves", [0, 1, 2, 3])
def test_kill_at_any_move_leaves_a_consistent_checkpoint(tmp_path, monkeypatch, moves):
    _save(tmp_path, 1)
    kill_after_moves(monkeypatch, moves)
    if moves < 3:
        with pytest.raises(Killed):
            _save(tmp_path, 2)
    else:
        _save(tmp_path, 2)
    monkeypatch.undo()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = ck.load_checkpoint(tmp_path)
    assert len(caught) == (moves in (1, 2))  # a fallback to *.prev, and only then, warns
    step = 2 if moves == 3 else 1
    assert c.state["step"] == step and c.model["w"].tolist() == [step] * 3 and int(c.optimizer["step"][0]) == step


@pytest.mark.parametrize("second_kill", [0, 1, 2])
def test_a_second_interrupted_write_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, second_kill):
    """Killed mid-move, resumed from *.prev, killed again while the next checkpoint moves in: the
    *.prev files must still hold a consistent checkpoint (they used to be overwritten by the damaged set)."""
    _save(tmp_path, 1)
    kill_after_moves(monkeypatch, 1)
    with pytest.raises(Killed):
        _save(tmp_path, 2)
    kill_after_moves(monkeypatch, second_kill)
    with pytest.raises(Killed):
        _save(tmp_path, 3)
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="step 1"):
        c = ck.load_checkpoint(tmp_path)
    assert c.state["step"] == 1 and c.model["w"].tolist() == [1.0] * 3
    _save(tmp_path, 4)  # and a complete write afterwards is the new checkpoint, without leftovers
    assert ck.load_checkpoint(tmp_path).state["step"] == 4
    assert not list(tmp_path.glob("*.prev"))


# -- damaged files ------------------------------------------------------------------------------------


def _foreign_safetensors(path):
    from safetensors.numpy import save_file

    save_file({"weight": np.zeros((2, 2), np.float32)}, str(path), metadata={"format": "pt"})


DAMAGE = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "random_bytes": lambda p: p.write_bytes(np.random.default_rng(0).bytes(1000)),
    "empty": lambda p: p.write_bytes(b""),
    "foreign": _foreign_safetensors,
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("name", [ck.MODEL, ck.OPTIM])
def test_damaged_checkpoint_file_is_named(run, damage, name):
    DAMAGE[damage](run / name)
    with pytest.raises(ck.CheckpointError, match=name):
        ck.load_checkpoint(run)


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_tensor_file_is_named_even_without_checksums(run, damage):
    path = run / "best" / ck.MODEL
    DAMAGE[damage](path)
    with pytest.raises(ck.CheckpointError, match="best/model.safetensors") as e:
        ck.load_tensors(path, ck.MODEL_FORMAT)
    if damage == "foreign":
        assert "deeprnn-model/1" in str(e.value) and "'pt'" in str(e.value)
    with pytest.raises(ck.CheckpointError, match="best/model.safetensors"):
        open_run(run)


def test_foreign_file_with_matching_checksum_is_rejected(run):
    """Even a consistent set must hold deeprnn's formats (e.g. someone copied in another safetensors)."""
    _foreign_safetensors(run / ck.MODEL)
    state = json.loads((run / ck.STATE).read_text())
    state["sha256"][ck.MODEL] = ck.sha256(run / ck.MODEL)
    (run / ck.STATE).write_text(json.dumps(state))
    with pytest.raises(ck.CheckpointError, match=r"model.safetensors: expected format 'deeprnn-model/1', got 'pt'"):
        ck.load_checkpoint(run)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "\xff\xfe"])
def test_damaged_trainer_state_is_named(run, text):
    (run / ck.STATE).write_text(text, encoding="latin-1")
    with pytest.raises(ck.CheckpointError, match="trainer_state.json"):
        ck.load_checkpoint(run)


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["model"].update(colour="red"), r"config.json: unknown setting model.colour"),
    (lambda c: c.update(extra={}), r"config.json: expected a section"),
    (lambda c: c.update(format="other/9"), r"config.json: expected format"),
    (lambda c: c["train"].update(lr="fast"), r"config.json: expected train.lr to be float"),
])
def test_bad_config_json_is_named(run, edit, match):
    cfg = json.loads((run / ck.CONFIG).read_text())
    edit(cfg)
    (run / ck.CONFIG).write_text(json.dumps(cfg))
    with pytest.raises(ck.CheckpointError, match=match):
        read_config(run)
    with pytest.raises(ck.CheckpointError, match=match):
        open_run(run)


def test_missing_pieces_are_named(run, tmp_path):
    with pytest.raises(ck.CheckpointError, match="nothing to resume"):
        ck.load_checkpoint(tmp_path / "elsewhere")
    with pytest.raises(ck.CheckpointError, match="no such folder"):
        open_run(tmp_path / "elsewhere")
    (run / ck.OPTIM).unlink()
    with pytest.raises(ck.CheckpointError, match="complete checkpoint"):
        ck.load_checkpoint(run)
    (run / ck.CONFIG).unlink()
    with pytest.raises(ck.CheckpointError, match="config.json"):
        open_run(run)


def test_weights_that_do_not_fit_the_config_are_rejected(run):
    w = weights(run, "best/" + ck.MODEL)
    w["head.bias"] = np.zeros(3, np.float32)
    ck.save_tensors(run / "best" / ck.MODEL, w, ck.MODEL_FORMAT)
    with pytest.raises(ck.CheckpointError, match="do not fit its config.json.*head.bias"):
        open_run(run)
