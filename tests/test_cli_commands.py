"""The deeprnn command: help, train --json, eval and generate output, TOML configs, flags and presets."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys

import pytest

from deeprnn.lm.commands.options import build_config
from deeprnn.lm.config import RunConfig, merge, validate
from deeprnn.lm.generate import generate
from deeprnn.lm.presets import PRESETS
from deeprnn.lm.runs import open_run
from lm_helpers import TINY_FLAGS, cli, no_plots, train_cli_run, write_corpus

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark

SUMMARY_KEYS = {"run", "steps", "tokens", "seconds", "train_ppl", "train_bpc", "val_ppl", "val_bpc"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train_cli_run(tmp_path_factory.mktemp("cli"))


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["eval", "--help"], ["generate", "--help"]])
def test_help_exits_0(capsys, argv):
    code, out, err = cli(capsys, *argv)
    assert code == 0 and err == ""
    assert out.startswith("usage: deeprnn")
    if argv[0] == "train":
        assert "--hidden-size" in out and "--max-steps" in out and "--preset" in out


def test_python_m_deeprnn_help():
    p = subprocess.run([sys.executable, "-m", "deeprnn", "--help"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "usage: deeprnn" in p.stdout and "train" in p.stdout and "generate" in p.stdout


def test_train_json_prints_exactly_one_json_line(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 900)
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "run", "--json")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1 and out.endswith("\n")
    s = json.loads(lines[0])
    assert SUMMARY_KEYS <= set(s)
    assert s["run"] == str(tmp_path / "run") and s["steps"] == 12 and s["tokens"] == 12 * 4 * 8
    assert s["val_bpc"] == pytest.approx(math.log2(s["val_ppl"]))
    assert s["train_bpc"] == pytest.approx(math.log2(s["train_ppl"]))
    assert "[train]" in err  # logs go to stderr


def test_train_report(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 900)
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "run")
    assert code == 0, err
    assert "validation: perplexity" in out and "bits/char" in out and "uniform baseline" in out
    assert "max_steps=12 reached" in out


def test_a_word_level_run_reports_bits_per_word(tmp_path, capsys):
    """train's report, its [eval] lines and deeprnn eval all name the run's token: a word here."""
    corpus = write_corpus(tmp_path, 3000)
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--tokens", "word", "--corpus", corpus, "--out", run)
    assert code == 0, err
    shown = [line for line in err.splitlines() if line.startswith("[eval]")]
    assert len(shown) == 2 and all(" bits/word), training " in line for line in shown), shown
    reported = [line for line in out.splitlines() if line.startswith(("validation:", "uniform baseline:"))]
    assert len(reported) == 2 and all(" bits/word " in line for line in reported), out
    code, out, err = cli(capsys, "eval", run)
    assert code == 0, err
    assert [" bits/word " in line or line.endswith(" bits/word") for line in out.splitlines()] == [True] * 3, out
    assert "bits/char" not in out + err


def test_train_shows_every_validation_as_it_happens(tmp_path, capsys):
    """A user watches it learn: one stderr line per evaluation, with the numbers metrics.jsonl records."""
    corpus = write_corpus(tmp_path, 900)
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "run")
    assert code == 0, err
    shown = [line for line in err.splitlines() if line.startswith("[eval]")]
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "val_ppl" in r]
    assert [r["step"] for r in rows] == [6, 12] and len(shown) == 2
    for line, r in zip(shown, rows):
        assert line.startswith(f"[eval] step {r['step']}: validation perplexity {r['val_ppl']:.3f} "
                               f"({r['val_bpc']:.3f} bits/char), training {r['train_ppl']:.3f}")
    assert shown[0].endswith("| best so far")


def test_eval_prints_perplexity_bits_and_the_uniform_baseline(run, capsys):
    code, out, err = cli(capsys, "eval", run)
    assert code == 0, err
    first, second, _ = out.splitlines()
    assert first.startswith("val: perplexity ") and "bits/char" in first and "best weights" in first
    V = len(open_run(run).vocab)
    assert second == f"uniform baseline: perplexity {V}, {math.log2(V):.4f} bits/char"
    code, out, err = cli(capsys, "eval", run, "--json", "--split", "train", "--last")
    assert code == 0, err
    e = json.loads(out)
    assert e["split"] == "train" and e["weights"] == "last" and e["step"] == 12
    assert e["bpc"] == pytest.approx(math.log2(e["ppl"])) and e["uniform_ppl"] == V
    assert e["tokens"] == round(900 * 0.8) - 1


def test_generate_streams_prefix_and_text(run, capsys):
    code, out, err = cli(capsys, "generate", run, "--prefix", "The ", "--length", "25", "--seed", "3")
    assert code == 0, err
    assert out.startswith("The ") and out.endswith("\n") and len(out) == 4 + 25 + 1
    assert cli(capsys, "generate", run, "--prefix", "The ", "--length", "25", "--seed", "3")[1] == out
    assert cli(capsys, "generate", run, "--prefix", "The ", "--length", "25", "--seed", "4")[1] != out
    r = open_run(run)
    greedy = generate(r.engine, r.vocab, "The ", 25, temperature=0)
    assert cli(capsys, "generate", run, "--prefix", "The ", "--length", "25", "--greedy")[1] == "The " + greedy + "\n"
    sampled = generate(r.engine, r.vocab, "The ", 25, temperature=0.7, top_k=5, seed=11)
    code, out, _ = cli(capsys, "generate", run, "--prefix", "The ", "--length", "25", "--temperature", "0.7",
                       "--top-k", "5", "--seed", "11")
    assert out == "The " + sampled + "\n"


def test_generate_warns_about_unknown_prefix_characters(run, capsys):
    code, out, err = cli(capsys, "generate", run, "--prefix", "Ω ", "--length", "5", "--seed", "0")
    assert code == 0
    assert out.startswith("Ω ") and len(out) == 2 + 5 + 1
    assert err.startswith("deeprnn: warning: ") and "'Ω'" in err and "<unk>" in err and len(err.splitlines()) == 1


# -- configuration layers ---------------------------------------------------------------------------


def test_flags_win_over_config_over_preset(tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text('[model]\nhidden_size = 10\nembedding_dim = 4\n\n[train]\nlr = 0.02\nmax_steps = 4\n'
                    'batch_size = 4\nnum_steps = 8\neval_streams = 2\n')
    cfg = build_config("builtin-lstm", str(toml), {"train": {"lr": 0.03}})
    assert cfg.train.lr == 0.03  # flag
    assert cfg.model.hidden_size == 10 and cfg.train.max_steps == 4  # TOML over the preset
    assert cfg.train.weight_decay == 0.01 and cfg.model.num_layers == 2  # the preset over the defaults
    assert cfg.train.betas == RunConfig().train.betas  # the defaults
    corpus = write_corpus(tmp_path, 900)
    code, out, err = cli(capsys, "train", "--preset", "builtin-lstm", "--config", toml, "--lr", "0.03",
                         "--corpus", corpus, "--eval-every", "4", "--out", tmp_path / "run", "--json", "--no-progress")
    assert code == 0, err
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["train"]["lr"] == 0.03 and saved["model"]["hidden_size"] == 10
    assert saved["train"]["weight_decay"] == 0.01 and saved["data"]["corpus"] == [str(corpus)]
    assert json.loads(out)["steps"] == 4


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_give_valid_configs(name):
    cfg = merge(RunConfig(), PRESETS[name], name)
    validate(cfg)
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert (cfg.data.protocol == "d2l") == name.startswith("d2l")
    if name.startswith("d2l"):  # the book's settings; the scratch notebook's (issue 13) train with Adam
        assert cfg.model.embedding_dim == 0 and cfg.train.clip_value == 1.0
        assert (cfg.train.optimizer, cfg.model.init) == (("adam", "normal") if "scratch" in name else ("sgd", "torch"))
    if "scratch" in name:  # 4 layers of 128, weights N(0, 0.01²), 100 epochs of 10 batches
        assert (cfg.model.num_layers, cfg.model.hidden_size, cfg.model.init_std) == (4, 128, 0.01)
        assert (cfg.train.lr, cfg.train.max_steps, cfg.train.batch_size, cfg.train.num_steps) == (1e-3, 1000, 1024, 32)


def test_every_config_field_has_a_flag(capsys):
    out = cli(capsys, "train", "--help")[1]
    for section in (RunConfig().model, RunConfig().data, RunConfig().train):
        for name in vars(section):
            assert f"--{name.replace('_', '-')}" in out, name


def test_train_help_describes_every_setting_with_its_config_comment(capsys):
    """--help shows each field's comment from lm/config.py (the one description of a setting)."""
    from deeprnn.lm.config import SECTIONS, field_comments

    out = " ".join(cli(capsys, "train", "--help")[1].split())  # undo argparse's line wrapping
    for cls in SECTIONS.values():
        comments = field_comments(cls)
        assert set(comments) == {f.name for f in dataclasses.fields(cls)}, cls.__name__
        for name, about in comments.items():
            assert len(about) > 3 and " ".join(about.split()) in out, name
    assert "T: BPTT length of one batch (default 64)" in out


def test_generate_into_a_closed_pipe_exits_quietly(run):
    """`deeprnn generate ... | head`: no error line when the reader goes away, exit 141 as `yes | head`."""
    argv = [sys.executable, "-m", "deeprnn", "generate", str(run), "--length", "1000000", "--threads", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert len(proc.stdout.read(20)) == 20  # what `head -c 20` takes, then it exits
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 141 and err == b"", err.decode()


@pytest.mark.parametrize("argv, expected", [(["--threads", "1"], [1]), (["--threads", "-1"], []),
                                            (["--threads", "0"], "auto"), ([], [1])])  # []: the run's setting (1)
@pytest.mark.parametrize("command", [["eval"], ["generate", "--length", "3"]])
def test_eval_and_generate_choose_their_threads(run, capsys, monkeypatch, command, argv, expected):
    from deeprnn.lm.engines.numpy import NumpyLM

    calls = []
    monkeypatch.setattr(NumpyLM, "limit_threads", lambda self, n: calls.append(n) or (lambda: None))
    code, _, err = cli(capsys, command[0], run, *command[1:], *argv)
    assert code == 0, err
    if expected == "auto":  # one per idle core: at least 1, at most the cores there are
        assert len(calls) == 1 and 1 <= calls[0] <= len(os.sched_getaffinity(0))
    else:
        assert calls == expected
