"""The run folder as a user meets it: it works from any directory, follows a moved corpus, catches
damaged files (the best model included), admits one training at a time, and cleans up after kills."""

from __future__ import annotations

import json
import shutil
import struct

import pytest

from deeprnn.cli import main
from deeprnn.lm import checkpoint as ck
from deeprnn.lm import train as train_module
from deeprnn.lm.lock import RunLock, RunLockedError
from deeprnn.lm.train import Trainer
from lm_helpers import (
    TINY_FLAGS, Killed, assert_one_line_error, cli, kill_after_moves, no_plots, tiny_config, train_process,
    wait_for, weights, write_corpus,
)

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run trained from its own directory with relative paths: home/run on home/corpus.txt."""
    home = tmp_path_factory.mktemp("home")
    write_corpus(home, 900)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        mp.setattr(train_module, "_plot", lambda run: None)
        assert main(["train", *TINY_FLAGS, "--corpus", "corpus.txt", "--out", "run"]) == 0
    return home / "run"


@pytest.fixture
def run(trained, tmp_path):
    """A copy of the trained run with its corpus beside it, in tmp_path/home."""
    home = tmp_path / "home"
    shutil.copytree(trained.parent, home)
    config = json.loads((home / "run" / ck.CONFIG).read_text())
    config["data"]["corpus"] = [str(home / "corpus.txt")]  # the copy's own corpus
    (home / "run" / ck.CONFIG).write_text(json.dumps(config))
    return home / "run"


# -- paths -----------------------------------------------------------------------------------------------


def test_config_json_stores_the_corpus_path_absolute(trained):
    corpus = json.loads((trained / ck.CONFIG).read_text())["data"]["corpus"]
    assert corpus == [str(trained.parent / "corpus.txt")]


def test_a_run_works_from_any_directory(run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # not where it was trained
    assert cli(capsys, "eval", run)[0] == 0
    assert cli(capsys, "generate", run, "--length", "5", "--seed", "0")[0] == 0
    code, out, err = cli(capsys, "train", "--resume", run, "--max-steps", "14", "--json")
    assert code == 0, err
    assert json.loads(out)["steps"] == 14


def test_named_corpora_stay_names(tmp_path):
    trainer = Trainer(tiny_config(["builtin"], max_steps=1), tmp_path / "run", progress_bar=False, log=lambda m: None)
    trainer._unlock()
    assert json.loads((tmp_path / "run" / ck.CONFIG).read_text())["data"]["corpus"] == ["builtin"]


def test_a_moved_corpus_is_named_and_found_again_with_corpus(run, tmp_path, capsys):
    code, out, _ = cli(capsys, "eval", run, "--json")
    before = json.loads(out)["ppl"]
    moved = tmp_path / "elsewhere" / "book.txt"
    moved.parent.mkdir()
    shutil.move(run.parent / "corpus.txt", moved)
    assert_one_line_error(*cli(capsys, "eval", run)[::2], "corpus.txt", "not there", "--corpus PATH")
    assert_one_line_error(*cli(capsys, "train", "--resume", run, "--max-steps", "14")[::2], "--corpus PATH")

    code, out, err = cli(capsys, "eval", run, "--corpus", moved, "--json")
    assert code == 0, err
    assert json.loads(out)["ppl"] == before  # the same text, checked by its checksum
    code, _, err = cli(capsys, "train", "--resume", run, "--corpus", moved, "--max-steps", "14", "--no-progress")
    assert code == 0, err
    assert json.loads((run / ck.CONFIG).read_text())["data"]["corpus"] == [str(moved)]  # remembered
    assert cli(capsys, "eval", run)[0] == 0


def test_a_run_with_a_relative_corpus_path_still_works_from_where_it_was_trained(run, monkeypatch, capsys):
    config = json.loads((run / ck.CONFIG).read_text())
    config["data"]["corpus"] = ["corpus.txt"]  # how runs stored it before paths were absolute
    (run / ck.CONFIG).write_text(json.dumps(config))
    monkeypatch.chdir(run.parent)
    assert cli(capsys, "eval", "run")[0] == 0


# -- checksums ---------------------------------------------------------------------------------------------


def _flip_two_data_bytes(path):
    data = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    for i in (8 + n + 3, 8 + n + 40):  # inside the tensor data, after the JSON header
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def test_flipped_bytes_in_the_best_model_are_found(run, capsys):
    _flip_two_data_bytes(run / ck.BEST / ck.MODEL)
    line = assert_one_line_error(*cli(capsys, "eval", run)[::2], "best/model.safetensors", "damaged")
    assert line.endswith("the last checkpoint may still be good: use --last")
    assert cli(capsys, "eval", run, "--last")[0] == 0
    assert_one_line_error(*cli(capsys, "generate", run)[::2], "best/model.safetensors", "--last")


@pytest.mark.parametrize("name", [ck.MODEL, ck.OPTIM])
def test_every_safetensors_file_checks_its_own_tensors(run, name):
    """Also without trainer_state.json's checksums: the file carries the SHA-256 of its tensors."""
    _flip_two_data_bytes(run / name)
    fmt = ck.MODEL_FORMAT if name == ck.MODEL else ck.OPTIM_FORMAT
    with pytest.raises(ck.CheckpointError, match=f"{name}: expected tensors with SHA-256 .* the file is damaged"):
        ck.load_tensors(run / name, fmt)


def test_files_written_before_tensor_checksums_still_load(tmp_path):
    from safetensors.numpy import save_file
    import numpy as np

    save_file({"w": np.arange(3.0)}, str(tmp_path / "old.safetensors"), metadata={"format": ck.MODEL_FORMAT})
    tensors, _ = ck.load_tensors(tmp_path / "old.safetensors", ck.MODEL_FORMAT)
    assert tensors["w"].tolist() == [0.0, 1.0, 2.0]


# -- one training at a time --------------------------------------------------------------------------------


def test_a_second_training_into_the_folder_fails_naming_the_pid(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 900)
    run = tmp_path / "run"
    proc = train_process(corpus, run, "--out", run, "--max-steps", "100000", "--eval-every", "5", plots=False)
    try:
        wait_for(run / ck.STATE, proc)
        code, _, err = cli(capsys, "train", "--resume", run, "--max-steps", "3", "--no-progress")  # would end at once
        assert_one_line_error(code, err, f"{run} is being trained by process {proc.pid}")
        code, _, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", run, "--overwrite")
        assert_one_line_error(code, err, f"process {proc.pid}")
        assert cli(capsys, "eval", run, "--last")[0] == 0  # reading a folder being trained is fine
    finally:
        proc.kill()  # SIGKILL: the kernel drops its lock
        proc.communicate()
    step = ck.load_checkpoint(run).state["step"]
    code, _, err = cli(capsys, "train", "--resume", run, "--max-steps", step + 1, "--no-progress")
    assert code == 0, err  # the lock of a killed training does not block
    assert not (run / ck.LOCK).exists()  # released and removed at the end


def test_the_lock_within_one_process(tmp_path):
    with RunLock(tmp_path / "run"):
        with pytest.raises(RunLockedError, match=r"being trained by process \d+"):
            RunLock(tmp_path / "run")
    with RunLock(tmp_path / "run"):  # released: free again
        pass


# -- what kills leave behind ---------------------------------------------------------------------------------


def test_stale_files_are_removed_when_training_next_opens_the_folder(run, capsys):
    stale = [run / f".{ck.MODEL}.new", run / f".{ck.STATE}.new", run / f".{ck.METRICS}.tmp-99999",
             run / ck.BEST / f".{ck.MODEL}.tmp-4242", *(run / f"{n}.prev" for n in (ck.MODEL, ck.OPTIM, ck.STATE))]
    for path in stale:
        path.write_bytes(b"left by a kill")
    (run / "notes.txt").write_text("mine")
    code, _, err = cli(capsys, "train", "--resume", run, "--max-steps", "13", "--no-progress")
    assert code == 0, err
    assert [p.name for p in stale if p.exists()] == []
    assert (run / "notes.txt").read_text() == "mine"  # not ours: left alone


def test_the_previous_checkpoint_stays_while_it_is_the_last_good_one(run, monkeypatch):
    before = ck.load_checkpoint(run)
    kill_after_moves(monkeypatch, 1)  # the model moved in, the optimizer and the state did not
    with pytest.raises(Killed):
        ck.save_checkpoint(run, before.model, before.optimizer, {**before.state, "step": 99})
    monkeypatch.undo()
    removed = ck.remove_stale_files(run)
    assert sorted(p.name for p in removed) == [f".{ck.OPTIM}.new", f".{ck.STATE}.new"]
    assert all((run / f"{n}.prev").exists() for n in (ck.MODEL, ck.OPTIM, ck.STATE))
    with pytest.warns(UserWarning, match="interrupted"):
        assert ck.load_checkpoint(run).state["step"] == before.state["step"]
    assert weights(run, f"{ck.MODEL}.prev").keys() == before.model.keys()
