"""The hostile pass (issue 10): bad input to every command, as a hostile tester would type it.

Each case exits 2 with exactly one line on stderr, "deeprnn: error: ...", naming what was expected and
what was given, and no traceback. tests/test_cli_errors.py holds the first table; this one extends it
(NaN, infinity, negative, huge and empty values, wrong TOML types, conflicting flags, settings that
train garbage). Nearly every case fails before training starts; the few that train use a tiny model and
stop at their first step.
"""

from __future__ import annotations

import pytest

from deeprnn.lm import checkpoint as ck
from deeprnn.lm import train as train_module
from lm_helpers import TINY_FLAGS, assert_one_line_error, cli, no_plots, train_cli_run

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark

TOML = {  # file name -> contents: wrong types and values in a --config file
    "str_for_int": "[model]\nhidden_size = 'big'\n",
    "float_for_int": "[model]\nhidden_size = 1.5\n",
    "nan": "[train]\nlr = nan\n",
    "overflow": "[train]\nlr = 1e400\n",
    "str_for_list": "[data]\ncorpus = 'builtin'\n",
    "int_for_bool": "[train]\ndistributed = 1\n",
    "bool_for_int": "[train]\nmax_steps = true\n",
    "str_for_bool": "[train]\nallow_large_model = 'yes'\n",
    "subtable": "[model.extra]\nx = 1\n",
    "int_for_table": "model = 3\n",
    "huge_seed": "[train]\nseed = 99999999999999999999\n",
    "numbers_for_corpus": "[data]\ncorpus = [1, 2]\n",
    "empty_splits": "[data]\nsplits = []\n",
    "upper_case_cell": "[model]\ncell = 'LSTM'\n",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """{run}: a tiny trained run, {corpus}: its text, {root}: a folder with the TOML files above,
    one.txt (a single distinct character) and dir/."""
    root = tmp_path_factory.mktemp("hostile")
    run = train_cli_run(root)
    for name, text in TOML.items():
        (root / f"{name}.toml").write_text(text)
    (root / "one.txt").write_text("a" * 200)
    (root / "dir").mkdir()
    return {"run": run, "corpus": root / "corpus.txt", "root": root}


def train(*flags: str) -> list[str]:
    """A tiny training on {corpus} into a fresh folder {out}, with ``flags`` last (they win)."""
    return ["train", *TINY_FLAGS, "--corpus", "{corpus}", "--out", "{out}", *flags]


BIG = str(10**30)

CASES = {  # name -> (argv with {run}, {corpus}, {root} placeholders, fragments of the one line)
    # -- numbers out of range, refused before training ------------------------------------------------
    "lr_inf": (train("--lr", "inf"), ["expected train.lr to be finite, got inf"]),
    "dropout_inf": (train("--input-dropout", "inf"), ["expected model.input_dropout to be finite, got inf"]),
    "momentum_1": (train("--optimizer", "sgd", "--momentum", "1"), ["expected train.momentum in [0, 1), got 1.0"]),
    "adam_eps_0": (train("--optimizer", "adam", "--eps", "0"), ["train.eps > 0 for optimizer='adam'", "got 0.0"]),
    "adamw_eps_0": (train("--eps", "0"), ["expected train.eps > 0 for optimizer='adamw'"]),
    "min_lr_above_lr": (train("--lr", "0.01", "--min-lr", "0.1"),
                        ["expected train.min_lr <= train.lr", "got min_lr=0.1 and lr=0.01"]),
    "gamma_0": (train("--schedule", "step", "--gamma", "0"), ["expected train.gamma > 0", "got 0.0"]),
    "gamma_negative_unused": (train("--gamma", "-1"), ["expected train.gamma > 0", "got -1.0"]),  # cosine, unused
    "step_size_0_unused": (train("--step-size", "0"), ["expected train.step_size >= 1, got 0"]),
    "seed_negative": (train("--seed", "-1"), ["expected train.seed in [0, 4294967295]", "got -1"]),
    "seed_huge": (train("--seed", BIG), ["expected train.seed in [0, 4294967295]", f"got {BIG}"]),
    "threads_huge": (train("--threads", BIG), ["expected train.threads <= 1024", f"got {BIG}"]),
    "clip_value_0": (train("--clip-value", "0"), ["expected train.clip_value > 0, got 0.0"]),
    "ema_1": (train("--ema", "1"), ["expected train.ema in [0, 1)"]),
    "max_bad_steps_0": (train("--max-bad-steps", "0"), ["expected train.max_bad_steps >= 1, got 0"]),
    "splits_nan": (train("--splits", "nan", "0.5", "0.5"), ["split fractions must be positive", "nan"]),
    "splits_over_1": (train("--splits", "0.5", "0.5", "0.5"), ["split fractions must sum to 1", "sum 1.5"]),
    "betas_1": (train("--betas", "1", "0.9"), ["expected train.betas to be two numbers in [0, 1), got [1.0, 0.9]"]),
    "not_a_float": (train("--lr", "fast"), ["argument --lr: invalid float value: 'fast'"]),
    "empty_int": (train("--hidden", ""), ["argument --hidden-size/--hidden: invalid int value: ''"]),
    # -- sizes the machine cannot hold: the size guard, before anything is allocated -----------------------
    "hidden_100000": (train("--hidden-size", "100000"), ["expected a model that fits in the", "of memory available",
                                                         "needs about", "TiB", "--allow-large-model"]),
    "layers_huge": (train("--layers", BIG), ["needs about", "EiB"]),  # once an endless loop
    "embedding_huge": (train("--embedding", BIG), ["needs about", "EiB"]),
    "batch_huge": (train("--batch-size", BIG), ["needs about", "activations"]),
    "num_steps_huge": (train("--num-steps", BIG), ["needs about", "activations"]),
    "eval_streams_huge": (train("--eval-streams", BIG), ["needs about", "evaluation"]),
    # -- data that leaves nothing to learn -------------------------------------------------------------
    "min_freq_huge": (train("--min-freq", "100000"), ["expected a vocabulary of at least 2 tokens besides <unk>, got 0",
                                                      "(a vocabulary of 1) with data.min_freq=100000",
                                                      "the most frequent token occurs"]),
    "one_character": (train("--corpus", "{root}/one.txt"), ["2 tokens besides <unk>, got 1 (a vocabulary of 2)"]),
    "empty_corpus_name": (train("--corpus", ""), ["expected data.corpus to be a non-empty list", "['']"]),
    # -- empty paths --------------------------------------------------------------------------------
    "empty_out": (train("--out", ""), ["expected a path after --out, got ''"]),
    "empty_resume": (["train", "--resume", ""], ["expected a path after --resume, got ''"]),  # once a fresh run
    "empty_config": (["train", "--config", ""], ["expected a path after --config, got ''"]),
    "config_is_a_folder": (["train", "--config", "{root}/dir"], ["Is a directory", "dir"]),
    # -- TOML with the wrong types -------------------------------------------------------------------
    **{f"toml_{name}": (["train", "--config", f"{{root}}/{name}.toml"], [fragment]) for name, fragment in {
        "str_for_int": "expected model.hidden_size to be int, got str 'big'",
        "float_for_int": "expected model.hidden_size to be int, got float 1.5",
        "nan": "expected train.lr to be finite, got nan",
        "overflow": "expected train.lr to be finite, got inf",
        "str_for_list": "expected data.corpus to be list, got str 'builtin'",
        "int_for_bool": "expected train.distributed to be bool, got int 1",
        "bool_for_int": "expected train.max_steps to be int, got bool True",
        "str_for_bool": "expected train.allow_large_model to be bool, got str 'yes'",
        "subtable": "unknown setting model.extra",
        "int_for_table": "expected [model] to be a table, got int",
        "huge_seed": "expected train.seed in [0, 4294967295]",
        "numbers_for_corpus": "expected data.corpus to be a non-empty list of names or paths, got [1, 2]",
        "empty_splits": "expected data.splits to be three fractions",
        "upper_case_cell": "expected model.cell in ('rnn', 'gru', 'lstm', 'mingru', 'minlstm'), got 'LSTM'",
    }.items()},
    # -- resume ---------------------------------------------------------------------------------------
    "resume_changes_lr": (["train", "--resume", "{run}", "--lr", "1"], ["expected --resume to keep", "train.lr"]),
    "resume_threads_negative": (["train", "--resume", "{run}", "--threads", "-2"], ["expected train.threads >= 1, or 0 (auto) or -1", "got -2"]),
    "resume_a_file": (["train", "--resume", "{corpus}"], ["Not a directory", "config.json"]),
    # -- eval, generate, export ----------------------------------------------------------------------------
    "eval_empty_path": (["eval", ""], ["config.json: expected the run config, got no such file"]),
    "eval_unknown_split": (["eval", "{run}", "--split", "nope"], ["argument --split: invalid choice: 'nope'"]),
    "generate_temperature_inf": (["generate", "{run}", "--temperature", "inf"],
                                 ["expected a finite temperature >= 0 (0 = greedy), got inf"]),
    "generate_temperature_nan": (["generate", "{run}", "--temperature", "nan"], ["finite temperature", "got nan"]),
    "generate_greedy_and_temperature": (["generate", "{run}", "--greedy", "--temperature", "0.5"],
                                        ["expected --greedy without sampling settings", "--temperature 0.5"]),
    "generate_greedy_and_top_k": (["generate", "{run}", "--greedy", "--top-k", "3"], ["got --greedy with --top-k 3"]),
    "generate_greedy_and_top_p": (["generate", "{run}", "--greedy", "--top-p", "0.5"], ["with --top-p 0.5"]),
    "generate_top_p_nan": (["generate", "{run}", "--top-p", "nan"], ["expected top_p in (0, 1], got nan"]),
    "generate_top_p_over_1": (["generate", "{run}", "--top-p", "1.5"], ["expected top_p in (0, 1], got 1.5"]),
    "generate_top_k_negative": (["generate", "{run}", "--top-k", "-1"], ["expected top_k >= 0"]),
    "generate_length_float": (["generate", "{run}", "--length", "1.5"], ["argument --length: invalid int value"]),
    "generate_seed_float": (["generate", "{run}", "--seed", "1e3"], ["argument --seed: invalid int value: '1e3'"]),
    "export_empty_path": (["export", "{run}", ""], ["expected a file name in an existing folder, got a folder"]),
    "export_unwritable": (["export", "{run}", "/proc/x.safetensors"], ["/proc/x.safetensors: could not write it"]),
    "export_empty_run": (["export", "", "{root}/x.safetensors"], ["config.json: expected the run config"]),
    # -- settings that train garbage: stopped at their first step, nothing saved ---------------------------
    "lr_1e308_sgd": (train("--optimizer", "sgd", "--lr", "1e308"),
                     ["training diverged at step 1: the optimizer step gave weights that are not finite",
                      "no checkpoint was written", "try a lower --lr (now 1e+308)"]),
    "warmup_0_lr_1e30": (train("--warmup-steps", "0", "--lr", "1e30", "--clip", "none"),
                         ["diverged at step 1", "a weight of magnitude 1e+30", "clipping (--clip norm)"]),
    "gamma_huge": (train("--schedule", "step", "--step-size", "1", "--gamma", "1e308"),
                   ["diverged at step 2", "not finite"]),
}


SIZES = {"hidden_100000", "layers_huge", "embedding_huge", "batch_huge", "num_steps_huge", "eval_streams_huge"}


def _no_engine(*args, **kwargs):
    raise AssertionError("an engine was built for a model the size guard should have refused")


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_is_one_line(files, capsys, monkeypatch, case):
    argv, fragments = CASES[case]
    if case in SIZES:  # were the guard missing, these would allocate (or loop over 10^30 layers) until killed
        monkeypatch.setattr(train_module, "make_engine", _no_engine)
    out_dir = files["root"] / f"out-{case}"
    code, out, err = cli(capsys, *[a.format(**files, out=out_dir) for a in argv])
    err = "\n".join(line for line in err.splitlines() if not line.startswith(("[train]", "[eval]")))  # the logs
    assert_one_line_error(code, err, *fragments)
    assert out == ""
    assert not (out_dir / ck.MODEL).exists() and not (out_dir / ck.BEST).exists()  # nothing was saved


def test_no_hostile_case_touched_the_trained_run(files, capsys):
    run = files["run"]
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    for case in ("resume_changes_lr", "resume_threads_negative", "generate_greedy_and_top_k", "export_unwritable"):
        argv, _ = CASES[case]
        assert cli(capsys, *[a.format(**files, out=files["root"] / "out") for a in argv])[0] == 2
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
