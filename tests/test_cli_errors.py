"""Every user error exits 2 with one line on stderr, 'deeprnn: error: ...', and no traceback."""

from __future__ import annotations

import pytest

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
    "missing_corpus": (["train", "--corpus", "{root}/missing.txt", "--out", "{root}/r1"], ["missing.txt"]),
    "corpus_too_short": (["train", *TINY_FLAGS, "--corpus", "{corpus}", "--num-steps", "5000", "--out", "{root}/r2"],
                         ["num_steps=5000"]),
    "existing_run": (["train", *TINY_FLAGS, "--corpus", "{corpus}", "--out", "{run}"], ["--overwrite"]),
    "out_is_a_file": (["train", *TINY_FLAGS, "--corpus", "{corpus}", "--out", "{root}/a_file"], ["a_file"]),
    "resume_nothing": (["train", "--resume", "{root}/empty"], ["empty/config.json"]),
    "resume_missing": (["train", "--resume", "{root}/nowhere"], ["nowhere"]),
    "resume_changes_model": (["train", "--resume", "{run}", "--hidden-size", "32"], ["model.hidden_size"]),
    "resume_changes_data": (["train", "--resume", "{run}", "--corpus", "{corpus}"], ["data.corpus"]),
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


def test_overwrite_replaces_an_existing_run(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 900)
    flags = ["train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "run", "--max-steps", "4"]
    assert cli(capsys, *flags)[0] == 0
    assert cli(capsys, *flags)[0] == 2
    assert cli(capsys, *flags, "--overwrite")[0] == 0
