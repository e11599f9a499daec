"""`deeprnn check needle`: against a tiny needle-like package (tests/needle_fixture: NumPy autograd and
hw4's sequence modules), correct as written and broken one mistake at a time."""

import shutil
from pathlib import Path

import pytest

from deeprnn.cli import main
from deeprnn.compat.check import check_module

FIXTURE = Path(__file__).parent / "needle_fixture"
MODULE = FIXTURE / "needle" / "nn" / "nn_sequence.py"
FUNCTIONS = ["RNNCell.forward", "RNNCell.backward", "RNN.forward", "RNN.backward", "LSTMCell.forward",
             "LSTMCell.backward", "LSTM.forward", "LSTM.backward"]


def run_cli(capsys, *argv):
    code = main(["check", "needle", *map(str, argv)])
    out, err = capsys.readouterr()
    assert "Traceback (most recent call last)" not in out + err
    return code, out, err


def broken_copy(tmp_path, old, new):
    """The fixture package copied, with one mistake in the learner's nn_sequence.py."""
    shutil.copytree(FIXTURE, tmp_path / "hw4", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "hw4" / "needle" / "nn" / "nn_sequence.py"
    source = path.read_text()
    assert old in source, old
    path.write_text(source.replace(old, new))
    return path


def test_a_correct_needle_passes(capsys):
    report = check_module("needle", MODULE, needle_path=FIXTURE)
    assert [f.name for f in report.functions] == FUNCTIONS and report.passed, report.format()
    code, out, _ = run_cli(capsys, MODULE, "--needle-path", FIXTURE)
    assert code == 0 and "8 of 8 functions match deeprnn: all match" in out
    assert "rnn_cells[1].W_ih.grad" in out and "lstm_cells[0].bias_hh.grad" in out and "h0.grad" in out
    assert run_cli(capsys, MODULE)[0] == 0  # --needle-path found above the file


MISTAKES = [
    ("gates in the order i, f, o, g", "i, f, g, o = ops.split(gates.reshape((batch, 4, H)), 1)",
     "i, f, o, g = ops.split(gates.reshape((batch, 4, H)), 1)", "LSTMCell.forward", "h'",
     "hint: matches the LSTM gates taken in the order i, f, o, g"),
    ("the second bias forgotten", "out = out + _row(self.bias_ih, batch) + _row(self.bias_hh, batch)",
     "out = out + _row(self.bias_ih, batch)", "RNNCell.forward", "h'",
     "smallest failing case: batch=1, input=1, hidden=1, bias=True, state=False, nonlinearity=tanh"),
    ("h0 ignored", "states = list(ops.split(h0, 0)) if h0 is not None else [None] * len(self.rnn_cells)",
     "states = [None] * len(self.rnn_cells)", "RNN.forward", "output",
     "smallest failing case: batch=1, input=1, hidden=1, bias=False, state=True, T=13, layers=2"),
    ("every layer reads X", "            inputs = outputs\n        return ops.stack(inputs, 0), (",
     "            inputs = inputs if k else inputs\n        return ops.stack(outputs, 0), (", "LSTM.forward", "output",
     "first failure: output at t=0 (batch 0, unit 0)"),
    ("the state detached", "                h = cell(x, h)\n", "                h = cell(x, None if h is None else h.detach())\n",
     "RNN.backward", "rnn_cells[0].W_hh.grad", "FAIL      RNN.backward"),
]


@pytest.mark.parametrize("mistake, old, new, function, tensor, text", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_found(tmp_path, capsys, mistake, old, new, function, tensor, text):
    path = broken_copy(tmp_path, old, new)
    report = check_module("needle", path, needle_path=tmp_path / "hw4")
    failed = {f.name: f for f in report.functions if f.status != "PASS"}
    assert function in failed and not failed[function].tensors[tensor].passed, report.format()
    code, out, _ = run_cli(capsys, path, "--needle-path", tmp_path / "hw4")
    assert code == 1 and text in out


def test_the_detached_state_passes_forward_and_fails_backward(tmp_path):
    path = broken_copy(tmp_path, "                h = cell(x, h)\n",
                       "                h = cell(x, None if h is None else h.detach())\n")
    status = {f.name: f.status for f in check_module("needle", path, needle_path=tmp_path / "hw4").functions}
    assert status["RNN.forward"] == "PASS" and status["RNN.backward"] == "FAIL"


def test_a_wrong_needle_path_is_one_line_exit_2(tmp_path, capsys):
    code, _, err = run_cli(capsys, MODULE, "--needle-path", tmp_path)
    assert code == 2 and "expected --needle-path to be the folder that holds your needle package" in err
    (tmp_path / "nn_sequence.py").write_text(MODULE.read_text())
    code, _, err = run_cli(capsys, tmp_path / "nn_sequence.py")
    assert code == 2 and "found no needle/__init__.py above" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, tmp_path / "missing.py", "--needle-path", FIXTURE)
    assert code == 2 and "no such file" in err
