"""Every user error exits 2 with one line on stderr, 'deeprnn: error: ...', and no traceback."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from deeprnn import __version__
from deeprnn.data import DownloadError
from deeprnn.errors import ConfigError, DeeprnnError, DependencyError
from lm_helpers import TINY_FLAGS, assert_one_line_error, cli, no_plots, train_cli_run, write_corpus

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The paths the cases below name: {run}, {corpus} and {root} (with empty/, a_file and TOML files)."""
    root = tmp_path_factory.mktemp("errors")
    run = train_cli_run(root)
    (root / "empty").mkdir()
    (root / "bad.toml").write_text("[model\nhidden_size = 3\n")
    (root / "unknown.toml").write_text("[model]\ncolour = 'red'\n")
    (root / "section.toml").write_text("[optimizer]\nlr = 1\n")
    (root / "a_file").write_text("x")
    write_corpus(root, 900, "other.txt", start=5000)
    (root / "latin1.toml").write_bytes(b"[model]\n# caf\xe9\n")
    (root / "betas.toml").write_text("[train]\nbetas = [0.9, 'x']\n")
    return {"run": run, "corpus": root / "corpus.txt", "root": root}


CASES = {  # name -> (argv with {run}, {corpus}, {root} placeholders, fragments of the message)
    "no_command": ([], ["required"]),
    "unknown_command": (["fly"], ["invalid choice", "'fly'"]),
    "unknown_flag": (["train", "--frobnicate"], ["deeprnn train: unrecognized arguments: --frobnicate"]),
    "unknown_choice": (["train", "--cell", "transformer"], ["--cell", "invalid choice", "'transformer'"]),
    "unknown_preset": (["train", "--preset", "gpt"], ["--preset", "invalid choice"]),
    "not_an_int": (["train", "--hidden", "many"], ["--hidden", "invalid int value"]),
    "wrong_count": (["train", "--splits", "0.5", "0.5"], ["--splits", "expected 3 arguments"]),
    "negative_lr": (["train", "--corpus", "{corpus}", "--lr", "-1"], ["expected train.lr >= 0, got -1.0"]),
    "zero_batch": (["train", "--corpus", "{corpus}", "--batch-size", "0"], ["train.batch_size >= 1, got 0"]),
    "dropout_1": (["train", "--corpus", "{corpus}", "--dropout", "1"], ["model.dropout in [0, 1), got 1.0"]),
    "nan_lr": (["train", "--corpus", "{corpus}", "--lr", "nan"], ["train.lr to be finite"]),
    "protocol_mismatch": (["train", "--corpus", "{corpus}", "--protocol", "d2l"], ["protocol='d2l' together with"]),
    "relu_lstm": (["train", "--corpus", "{corpus}", "--nonlinearity", "relu"], ["relu is for rnn"]),
    "bad_toml": (["train", "--config", "{root}/bad.toml"], ["bad.toml: expected TOML"]),
    "unknown_toml_key": (["train", "--config", "{root}/unknown.toml"], ["unknown setting model.colour"]),
    "unknown_toml_section": (["train", "--config", "{root}/section.toml"], ["section", "'optimizer'"]),
    "missing_toml": (["train", "--config", "{root}/nope.toml"], ["nope.toml", "not found"]),
    "toml_not_utf8": (["train", "--config", "{root}/latin1.toml"], ["latin1.toml: expected TOML (UTF-8", "0xe9"]),
    "toml_betas_not_numbers": (["train", "--config", "{root}/betas.toml"], ["train.betas to be two numbers"]),
    "step_size_0": (["train", *TINY_FLAGS, "--corpus", "{corpus}", "--out", "{root}/r4", "--schedule", "step",
                     "--step-size", "0"], ["expected train.step_size >= 1, got 0"]),
    "gamma_negative": (["train", *TINY_FLAGS, "--corpus", "{corpus}", "--out", "{root}/r4", "--schedule", "step",
                        "--gamma", "-1"], ["expected train.gamma > 0 (the step schedule's decay factor), got -1.0"]),
    "missing_corpus": (["train", "--corpus", "{root}/missing.txt", "--out", "{root}/r1"], ["missing.txt"]),
    "corpus_too_short": (["train", *TINY_FLAGS, "--corpus", "{corpus}", "--num-steps", "5000", "--out", "{root}/r2"],
                         ["num_steps=5000"]),
    "existing_run": (["train", *TINY_FLAGS, "--corpus", "{corpus}", "--out", "{run}"], ["--overwrite"]),
    "out_is_a_file": (["train", *TINY_FLAGS, "--corpus", "{corpus}", "--out", "{root}/a_file"], ["a_file"]),
    "resume_nothing": (["train", "--resume", "{root}/empty"], ["empty/config.json"]),
    "resume_missing": (["train", "--resume", "{root}/nowhere"], ["nowhere"]),
    "resume_changes_model": (["train", "--resume", "{run}", "--hidden-size", "32"], ["model.hidden_size"]),
    "resume_changes_data": (["train", "--resume", "{run}", "--preprocess", "d2l"], ["data.preprocess"]),
    "resume_other_corpus": (["train", "--resume", "{run}", "--corpus", "{root}/other.txt"],
                            ["expected the corpus the run was trained on", "other.txt"]),
    "eval_other_corpus": (["eval", "{run}", "--corpus", "{root}/other.txt"], ["expected the corpus the run was trained on"]),
    "eval_threads": (["eval", "{run}", "--threads", "-2"], ["train.threads >= 1, or 0 (auto)", "got -2"]),
    "generate_threads": (["generate", "{run}", "--threads", "-2"], ["train.threads >= 1, or 0 (auto)", "got -2"]),
    "resume_with_preset": (["train", "--resume", "{run}", "--preset", "builtin-lstm"], ["only run-time flags"]),
    "eval_not_a_run": (["eval", "{root}/empty"], ["empty/config.json"]),
    "eval_a_file": (["eval", "{root}/a_file"], ["a_file", "expected a run folder"]),
    "eval_missing": (["eval", "{root}/nowhere"], ["nowhere", "no such folder"]),
    "eval_empty_split": (["eval", "{run}", "--split", "test"], ["test split", "at least 2 tokens"]),
    "generate_not_a_run": (["generate", "{root}/empty"], ["config.json"]),
    "generate_top_p": (["generate", "{run}", "--top-p", "0"], ["top_p in (0, 1], got 0.0"]),
    "generate_temperature": (["generate", "{run}", "--temperature", "-1"], ["temperature >= 0"]),
    "generate_length": (["generate", "{run}", "--length", "-3"], ["length >= 0"]),
    "generate_empty_prefix": (["generate", "{run}", "--prefix", ""], ["non-empty prefix"]),
    "generate_strict_prefix": (["generate", "{run}", "--prefix", "Ωx", "--strict"], ["'Ω'", "outside"]),
    "generate_seed": (["generate", "{run}", "--seed", "-1"], ["expected seed >= 0, got -1"]),
    "export_no_folder": (["export", "{run}", "{root}/nowhere/w.safetensors"], ["w.safetensors", "no folder"]),
    "export_to_a_folder": (["export", "{run}", "{root}/empty"], ["empty: expected a file name", "got a folder"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_errors_are_one_line(files, capsys, case):
    argv, fragments = CASES[case]
    code, out, err = cli(capsys, *[a.format(**files) for a in argv])
    assert_one_line_error(code, err, *fragments)
    assert out == ""


def test_failed_commands_leave_the_run_alone(files, capsys):
    run = files["run"]
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    for case in ("existing_run", "resume_changes_model", "eval_empty_split", "generate_strict_prefix"):
        argv, _ = CASES[case]
        assert cli(capsys, *[a.format(**files) for a in argv])[0] == 2
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_resume_of_a_damaged_run_is_one_line(tmp_path, capsys):
    run = train_cli_run(tmp_path)
    (run / "trainer_state.json").write_text("{")
    code, _, err = cli(capsys, "train", "--resume", run, "--no-progress")
    assert_one_line_error(code, err, "trainer_state.json")
    (run / "config.json").write_text('{"model": {"colour": 1}}')
    assert_one_line_error(*cli(capsys, "eval", run)[::2], "config.json", "unknown setting model.colour")


EDITS = {  # config.json edited after training -> (section, changes, command, fragments of the error)
    "hidden_size": ("model", {"hidden_size": 10}, ["train", "--resume"], ["do not fit its config.json", "head.weight"]),
    "optimizer": ("train", {"optimizer": "sgd"}, ["train", "--resume"], ["do not fit its config.json", "exp_avg"]),
    "ema": ("train", {"ema": 0.5}, ["train", "--resume"], ["deeprnn: error: expected a weight average (train.ema)"]),  # as is
    "betas": ("train", {"betas": ["x", 0.9]}, ["eval"], ["config.json: expected train.betas to be two numbers"]),
    "step_size": ("train", {"schedule": "step", "step_size": 0}, ["generate"], ["config.json: expected train.step_size"]),
}


def edited_copy(run, folder, section: str, changes: dict):
    """A copy of ``run`` in ``folder``/run whose config.json has ``changes`` in ``section``."""
    copy = folder / "run"
    shutil.copytree(run, copy)
    raw = json.loads((copy / "config.json").read_text())
    raw[section].update(changes)
    (copy / "config.json").write_text(json.dumps(raw))
    return copy


@pytest.mark.parametrize("case", sorted(EDITS))
def test_a_run_whose_config_json_was_edited_is_one_line(files, tmp_path, capsys, case):
    section, changes, command, fragments = EDITS[case]
    run = edited_copy(files["run"], tmp_path, section, changes)
    more = ["--max-steps", "20"] if command[0] == "train" else []
    assert_one_line_error(*cli(capsys, *command, run, *more)[::2], *fragments)


@pytest.mark.parametrize("missing, argv, fragments", [
    (["safetensors"], ["train", "--corpus", "{corpus}", "--out", "{root}/r3"],
     ["run folders needs safetensors: pip install 'deeprnn[lm]'"]),
    (["safetensors"], ["eval", "{run}"], ["needs safetensors: pip install 'deeprnn[lm]'"]),
    (["safetensors", "safetensors.numpy"], ["export", "{run}", "{root}/x.safetensors"],
     ["deeprnn export needs safetensors.numpy: pip install 'deeprnn[lm]'"]),
    (["tomllib", "tomli"], ["train", "--config", "{root}/unknown.toml"], ["needs tomli: pip install tomli"]),
])
def test_a_missing_optional_package_is_one_line_with_the_install_command(files, capsys, monkeypatch, missing, argv,
                                                                           fragments):
    for module in missing:
        monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    code, out, err = cli(capsys, *[a.format(**files) for a in argv])
    assert_one_line_error(code, err, *fragments)
    assert not (files["root"] / "r3").exists()


def test_a_run_trained_with_several_processes_evaluates_in_one(files, tmp_path, capsys):
    pytest.importorskip("torch")
    run = edited_copy(files["run"], tmp_path, "train", {"engine": "torch", "distributed": True})  # as torchrun writes
    code, out, err = cli(capsys, "eval", run)
    assert code == 0 and out.startswith("val: perplexity") and "torch engine" in out, err


def test_overwrite_replaces_an_existing_run(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 900)
    flags = ["train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "run", "--max-steps", "4"]
    assert cli(capsys, *flags)[0] == 0
    assert cli(capsys, *flags)[0] == 2
    assert cli(capsys, *flags, "--overwrite")[0] == 0


# -- the error boundary: user errors are one line, anything else is a bug with its traceback ---------------

BOUNDARY = {  # what a subcommand raises -> (exit code, is it a bug, fragments of the last stderr line)
    "deeprnn_error": (DeeprnnError("a thing the user can fix"), 2, False, ["deeprnn: error: a thing the user can fix"]),
    "config_error": (ConfigError("expected x >= 1, got 0"), 2, False, ["deeprnn: error: expected x >= 1, got 0"]),
    "dependency_error": (DependencyError("plots need matplotlib: pip install 'deeprnn[lm]'"), 2, False,
                         ["deeprnn: error: plots need matplotlib: pip install"]),
    "download_error": (DownloadError("timemachine.txt: download failed"), 2, False, ["timemachine.txt: download"]),
    "os_error": (FileNotFoundError(2, "No such file or directory", "x.txt"), 2, False,
                 ["deeprnn: error: [Errno 2] No such file or directory: 'x.txt'"]),
    "interrupt": (KeyboardInterrupt(), 130, False, ["deeprnn: interrupted"]),
    # no longer user errors: a plain ValueError or TypeError is a bug now
    "value_error": (ValueError("operands could not be broadcast"), 1, True, ["ValueError: operands could not"]),
    "type_error": (TypeError("unsupported operand"), 1, True, ["TypeError: unsupported operand"]),
    "import_error": (ImportError("cannot import name 'x'"), 1, True, ["ImportError: cannot import name 'x'"]),
    "key_error": (KeyError("carry.h"), 1, True, ["KeyError: 'carry.h'"]),
    "zero_division": (ZeroDivisionError("division by zero"), 1, True, ["ZeroDivisionError: division by zero"]),
}
DEBUG_AT = {"": [], "debug_first": ["--debug"], "debug_last": None}  # None: after the subcommand's arguments


def _raising(error):
    def run(args):
        raise error
    return run


@pytest.mark.parametrize("debug", sorted(DEBUG_AT))
@pytest.mark.parametrize("case", sorted(BOUNDARY))
def test_the_boundary_reports_user_errors_in_one_line_and_bugs_with_their_traceback(capsys, monkeypatch, case,
                                                                                     debug):
    import deeprnn.lm.commands.evaluate as command

    error, expected_code, bug, fragments = BOUNDARY[case]
    monkeypatch.setattr(command, "run", _raising(error))
    argv = ["eval", "runs/x"]
    argv = argv + ["--debug"] if DEBUG_AT[debug] is None else DEBUG_AT[debug] + argv
    code, out, err = cli(capsys, *argv)
    assert code == expected_code and out == "", err
    lines = err.rstrip("\n").splitlines()
    if not bug:  # one line, as the user sees it; with --debug, the traceback comes first
        assert lines[-1].startswith("deeprnn: ") and all(f in lines[-1] for f in fragments), lines[-1]
        assert ("Traceback (most recent call last)" in err) == bool(debug) and (len(lines) == 1) != bool(debug), err
        return
    assert "Traceback (most recent call last)" in err and f"{type(error).__name__}" in err, err
    report = "\n".join(lines[-2:])  # a bug: what it is, then where to report it and what to include
    assert lines[-2].startswith("deeprnn: internal error (a bug in deeprnn, not a problem with your input): ")
    assert all(f in report for f in fragments), report
    for what in ("Please report it", "the traceback above", f"deeprnn {' '.join(argv)}", f"deeprnn {__version__}",
                 "Python "):
        assert what in lines[-1], (what, lines[-1])


def test_a_command_that_fails_to_import_is_a_bug_not_a_missing_command(tmp_path, capsys, monkeypatch):
    import deeprnn.cli as cli_module

    (tmp_path / "deeprnn_broken_command.py").write_text("import deeprnn_no_such_package\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for module, missing in (("deeprnn.lm.commands.no_such_command", "deeprnn.lm.commands.no_such_command"),
                            ("deeprnn_broken_command", "deeprnn_no_such_package")):
        monkeypatch.setitem(cli_module.COMMANDS, "broken", module)
        for argv in (["--help"], ["eval", "runs/x"]):
            code, out, err = cli(capsys, *argv)
            assert code == 1 and out == "", (module, argv, err)
            assert "Traceback (most recent call last)" in err and f"No module named '{missing}'" in err
            assert "deeprnn: internal error" in err and "Please report it" in err


def test_debug_shows_the_traceback_of_an_argparse_error_too(capsys):
    code, out, err = cli(capsys, "--debug", "train", "--hidden", "many")
    assert code == 2 and "Traceback (most recent call last)" in err
    assert err.rstrip("\n").splitlines()[-1].startswith("deeprnn: error: deeprnn train: argument --hidden")
    code, out, err = cli(capsys, "train", "--debug", "--help")
    assert code == 0 and "--debug" in out and err == ""
