"""`deeprnn check coursera`: a correct learner passes, each typical mistake is found and located."""

import json

import pytest

from deeprnn.cli import main
from deeprnn.compat.check import check_module

# A learner's notebook functions, written from the course's equations (they do not use deeprnn).
LEARNER = '''
import numpy as np
print("hello from the notebook")


def softmax(x):
    e_x = np.exp(x - np.max(x))
    return e_x / e_x.sum(axis=0)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def rnn_cell_forward(xt, a_prev, parameters):
    Wax, Waa, Wya = parameters["Wax"], parameters["Waa"], parameters["Wya"]
    ba, by = parameters["ba"], parameters["by"]
    a_next = np.tanh(np.dot(Waa, a_prev) + np.dot(Wax, xt) + ba)
    yt_pred = softmax(np.dot(Wya, a_next) + by)
    return a_next, yt_pred, (a_next, a_prev, xt, parameters)


def rnn_forward(x, a0, parameters):
    caches = []
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wya"].shape
    a = np.zeros((n_a, m, T_x))
    y_pred = np.zeros((n_y, m, T_x))
    a_next = a0
    for t in range(T_x):
        a_next, yt, cache = rnn_cell_forward(x[:, :, t], a_next, parameters)
        a[:, :, t] = a_next
        y_pred[:, :, t] = yt
        caches.append(cache)
    return a, y_pred, (caches, x)


def rnn_cell_backward(da_next, cache):
    a_next, a_prev, xt, parameters = cache
    dtanh = (1 - a_next ** 2) * da_next
    m = xt.shape[1]
    return {"dxt": np.dot(parameters["Wax"].T, dtanh), "da_prev": np.dot(parameters["Waa"].T, dtanh),
            "dWax": np.dot(dtanh, xt.T), "dWaa": np.dot(dtanh, a_prev.T),
            "dba": np.sum(dtanh, axis=1, keepdims=True)}


def rnn_backward(da, caches):
    caches, x = caches
    n_a, m, T_x = da.shape
    n_x = x.shape[0]
    dx = np.zeros((n_x, m, T_x))
    dWax, dWaa, dba = np.zeros((n_a, n_x)), np.zeros((n_a, n_a)), np.zeros((n_a, 1))
    da_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        g = rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])
        dx[:, :, t] = g["dxt"]
        da_prevt = g["da_prev"]
        dWax += g["dWax"]
        dWaa += g["dWaa"]
        dba += g["dba"]
    return {"dx": dx, "da0": da_prevt, "dWax": dWax, "dWaa": dWaa, "dba": dba}


def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    p = parameters
    concat = np.concatenate([a_prev, xt], axis=0)
    ft = sigmoid(p["Wf"] @ concat + p["bf"])
    it = sigmoid(p["Wi"] @ concat + p["bi"])
    cct = np.tanh(p["Wc"] @ concat + p["bc"])
    c_next = ft * c_prev + it * cct
    ot = sigmoid(p["Wo"] @ concat + p["bo"])
    a_next = ot * np.tanh(c_next)
    yt_pred = softmax(p["Wy"] @ a_next + p["by"])
    return a_next, c_next, yt_pred, (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)


def lstm_forward(x, a0, parameters):
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wy"].shape
    a, c, y = np.zeros((n_a, m, T_x)), np.zeros((n_a, m, T_x)), np.zeros((n_y, m, T_x))
    a_next, c_next = a0, np.zeros((n_a, m))
    caches = []
    for t in range(T_x):
        a_next, c_next, yt, cache = lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)
        a[:, :, t], c[:, :, t], y[:, :, t] = a_next, c_next, yt
        caches.append(cache)
    return a, y, c, (caches, x)


def lstm_cell_backward(da_next, dc_next, cache):
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, p = cache
    n_a = a_next.shape[0]
    tc = np.tanh(c_next)
    dot = da_next * tc * ot * (1 - ot)
    dc = dc_next + da_next * ot * (1 - tc ** 2)
    dcct = dc * it * (1 - cct ** 2)
    dit = dc * cct * it * (1 - it)
    dft = dc * c_prev * ft * (1 - ft)
    concat = np.concatenate([a_prev, xt], axis=0)
    out = {"dWf": dft @ concat.T, "dWi": dit @ concat.T, "dWc": dcct @ concat.T, "dWo": dot @ concat.T,
           "dbf": dft.sum(axis=1, keepdims=True), "dbi": dit.sum(axis=1, keepdims=True),
           "dbc": dcct.sum(axis=1, keepdims=True), "dbo": dot.sum(axis=1, keepdims=True)}
    dconcat = p["Wf"].T @ dft + p["Wi"].T @ dit + p["Wc"].T @ dcct + p["Wo"].T @ dot
    out["da_prev"], out["dxt"], out["dc_prev"] = dconcat[:n_a], dconcat[n_a:], dc * ft
    return out


def lstm_backward(da, caches):
    caches, x = caches
    n_a, m, T_x = da.shape  # as the notebook has it: da may cover fewer steps than the caches
    n_x = x.shape[0]
    dx = np.zeros((n_x, m, T_x))
    da_prevt, dc_prevt = np.zeros((n_a, m)), np.zeros((n_a, m))
    total = {}
    for t in reversed(range(T_x)):
        g = lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])
        dx[:, :, t] = g["dxt"]
        da_prevt, dc_prevt = g["da_prev"], g["dc_prev"]
        for k in ("dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo"):
            total[k] = total.get(k, 0) + g[k]
    return {"dx": dx, "da0": da_prevt, **total}
'''


def write(tmp_path, source):
    path = tmp_path / "notebook.py"
    path.write_text(source)
    return str(path)


def broken(old, new):
    assert old in LEARNER, old
    return LEARNER.replace(old, new)


def run_cli(capsys, *argv):
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    assert "Traceback (most recent call last)" not in out + err
    return code, out, err


def test_a_correct_learner_passes_with_exit_0(tmp_path, capsys):
    path = write(tmp_path, LEARNER)
    report = check_module("coursera", path)
    assert report.passed and len(report.functions) == 9
    code, out, _ = run_cli(capsys, "coursera", path)
    assert code == 0 and "9 of 9 functions match deeprnn: all match" in out and "hello" not in out
    for name in ("softmax", "rnn_backward", "lstm_cell_backward", "cache[4] (ft)", "dbo"):
        assert name in out


MISTAKES = [
    ("wrong tanh derivative", "dtanh = (1 - a_next ** 2) * da_next", "dtanh = (1 - a_next) * da_next",
     "rnn_cell_backward", "dxt", "first failure: dxt[0, 0] (unit 0, example 0)"),
    ("transposed weight", "np.dot(Waa, a_prev)", "np.dot(Waa.T, a_prev)",
     "rnn_cell_forward", "a_next", "hint: matches Waaᵀ a_prev instead of Waa a_prev"),
    ("batch averaging", '"dWax": np.dot(dtanh, xt.T)', '"dWax": np.dot(dtanh, xt.T) / m',
     "rnn_cell_backward", "dWax", "hint: equals the gradient divided by m: sum over the examples"),
    ("no += over time", 'dWaa += g["dWaa"]', 'dWaa = g["dWaa"]',
     "rnn_backward", "dWaa", "hint: equals the first step's gradient only: sum the steps' gradients with +="),
    ("wrong return shape", '"dba": np.sum(dtanh, axis=1, keepdims=True)', '"dba": np.sum(dtanh, axis=1)',
     "rnn_cell_backward", "dba", "wrong shape: expected dba of shape (1, 1), got (1,)"),
    ("cell state not carried back", "da_prevt, dc_prevt = g[\"da_prev\"], g[\"dc_prev\"]", "da_prevt = g[\"da_prev\"]",
     "lstm_backward", "dx", "first failure: dx at t=0 (unit 0, example 0)"),
    ("wrong cache", "(a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)",
     "(a_next, c_next, a_prev, c_prev, it, ft, cct, ot, xt, parameters)",
     "lstm_cell_forward", "cache[4] (ft)", "first failure: cache[4] (ft)[0, 0]"),
]


@pytest.mark.parametrize("mistake, old, new, function, tensor, text", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_found_and_located(tmp_path, capsys, mistake, old, new, function, tensor, text):
    path = write(tmp_path, broken(old, new))
    report = check_module("coursera", path)
    failed = {f.name: f for f in report.functions if f.status != "PASS"}
    assert function in failed and not failed[function].tensors[tensor].passed
    code, out, _ = run_cli(capsys, "coursera", path)
    assert code == 1 and f"FAIL      {function}" in out and text in out


def test_an_exception_names_type_message_and_line_without_traceback(tmp_path, capsys):
    source = broken("    n_a = a_next.shape[0]\n", "    n_a = a_next.shape[0]\n    1 / 0\n")
    line = source.splitlines().index("    1 / 0") + 1
    code, out, _ = run_cli(capsys, "coursera", write(tmp_path, source))
    assert code == 1 and f"ZeroDivisionError: division by zero  (notebook.py:{line})" in out
    assert "ERROR     lstm_cell_backward" in out and "ERROR     lstm_backward" in out and "PASS      lstm_forward" in out


def test_missing_function_and_wrong_signature_are_named(tmp_path, capsys):
    source = broken("def rnn_cell_forward(xt, a_prev, parameters):", "def rnn_cell_forward(xt, parameters):")
    source = source.replace("def lstm_backward(da, caches):", "def lstm_backwards(da, caches):")
    code, out, _ = run_cli(capsys, "coursera", write(tmp_path, source))
    assert code == 1
    assert "SIGNATURE rnn_cell_forward" in out
    assert "expected rnn_cell_forward(xt, a_prev, parameters), got rnn_cell_forward(xt, parameters)" in out
    assert "MISSING   lstm_backward" in out and "notebook.py defines no lstm_backward" in out


def test_junk_results_are_reported_not_crashed_on(tmp_path, capsys):
    source = '''
import numpy as np, sys
def softmax(x):
    return None
def rnn_cell_forward(xt, a_prev, parameters):
    return np.full((3, 3), np.nan), [[1, 2], [3]], (1, 2)
def rnn_forward(x, a0, parameters):
    return 1, 2
def rnn_cell_backward(da_next, cache):
    return {"dxt": "x", "da_prev": np.nan * da_next}
def rnn_backward(da, caches):
    return [1]
def lstm_forward(x, a0, parameters):
    sys.exit(1)
def lstm_backward(da, caches):
    while True:
        pass
'''
    path = write(tmp_path, source)
    code, out, _ = run_cli(capsys, "coursera", path, "--timeout", "0.3")
    assert code == 1
    for text in ("expected an array of shape (1, 1), got NoneType",
                 "wrong shape: expected a_next of shape (1, 1), got (3, 3)",
                 "expected cache to be a tuple of 4 (a_next, a_prev, xt, parameters), got tuple of length 2",
                 "expected rnn_forward to return 3 values (a, y_pred, caches), got tuple of length 2",
                 "first failure: da_prev[0, 0] (unit 0, example 0): yours nan",
                 "missing key: the returned dict has no key 'dWax' (keys: 'dxt', 'da_prev')",
                 "expected rnn_backward to return a dict, got list",
                 "SystemExit: 1",
                 "no result after 0.3 s (an endless loop?)"):
        assert text in out, text
    data = json.loads(run_cli(capsys, "coursera", path, "--timeout", "0.3", "--json")[1])  # NaN-free JSON
    assert not data["passed"]


@pytest.mark.parametrize("source, text", [
    ("def softmax(x)\n    pass\n", "SyntaxError: expected ':'  (notebook.py:1)"),
    ("import sys\nprint('bye')\nsys.exit(3)\n", "SystemExit: 3  (notebook.py:3)"),
    ("import not_a_module_anywhere\n", "ModuleNotFoundError: No module named 'not_a_module_anywhere'  (notebook.py:1)"),
])
def test_a_file_that_does_not_import_is_reported(tmp_path, capsys, source, text):
    code, out, _ = run_cli(capsys, "coursera", write(tmp_path, source))
    assert code == 1 and f"ERROR     importing notebook.py failed: {text}" in out and "bye" not in out


# ---- Dinosaur Island: the notebook's helpers in utils.py (as the course ships them), the graded
# functions in the learner's file.
UTILS = '''
import numpy as np


def softmax(x):
    e_x = np.exp(x - np.max(x))
    return e_x / e_x.sum(axis=0)


def rnn_step_forward(parameters, a_prev, x):
    Waa, Wax, Wya, by, b = parameters["Waa"], parameters["Wax"], parameters["Wya"], parameters["by"], parameters["b"]
    a_next = np.tanh(np.dot(Wax, x) + np.dot(Waa, a_prev) + b)
    p_t = softmax(np.dot(Wya, a_next) + by)
    return a_next, p_t


def rnn_step_backward(dy, gradients, parameters, x, a, a_prev):
    gradients["dWya"] += np.dot(dy, a.T)
    gradients["dby"] += dy
    da = np.dot(parameters["Wya"].T, dy) + gradients["da_next"]
    daraw = (1 - a * a) * da
    gradients["db"] += daraw
    gradients["dWax"] += np.dot(daraw, x.T)
    gradients["dWaa"] += np.dot(daraw, a_prev.T)
    gradients["da_next"] = np.dot(parameters["Waa"].T, daraw)
    return gradients


def update_parameters(parameters, gradients, lr):
    for k in ("Wax", "Waa", "Wya", "b", "by"):
        parameters[k] += -lr * gradients["d" + k]
    return parameters


def rnn_forward(X, Y, a0, parameters, vocab_size=None):
    vocab_size = parameters["Wax"].shape[1] if vocab_size is None else vocab_size
    x, a, y_hat = {}, {-1: np.copy(a0)}, {}
    loss = 0
    for t in range(len(X)):
        x[t] = np.zeros((vocab_size, 1))
        if X[t] is not None:
            x[t][X[t]] = 1
        a[t], y_hat[t] = rnn_step_forward(parameters, a[t - 1], x[t])
        loss -= np.log(y_hat[t][Y[t], 0])
    return loss, (y_hat, a, x)


def rnn_backward(X, Y, parameters, cache):
    y_hat, a, x = cache
    gradients = {"d" + k: np.zeros_like(parameters[k]) for k in ("Wax", "Waa", "Wya", "b", "by")}
    gradients["da_next"] = np.zeros_like(a[0])
    for t in reversed(range(len(X))):
        dy = np.copy(y_hat[t])
        dy[Y[t]] -= 1
        gradients = rnn_step_backward(dy, gradients, parameters, x[t], a[t], a[t - 1])
    return gradients, a
'''

DINOS = '''
import copy
import numpy as np
from utils import *


def clip(gradients, maxValue):
    gradients = copy.deepcopy(gradients)
    dWaa, dWax, dWya, db, dby = gradients["dWaa"], gradients["dWax"], gradients["dWya"], gradients["db"], gradients["dby"]
    for gradient in [dWax, dWaa, dWya, db, dby]:
        np.clip(gradient, -maxValue, maxValue, out=gradient)
    return {"dWaa": dWaa, "dWax": dWax, "dWya": dWya, "db": db, "dby": dby}


def sample(parameters, char_to_ix, seed):
    Waa, Wax, Wya, by, b = parameters["Waa"], parameters["Wax"], parameters["Wya"], parameters["by"], parameters["b"]
    vocab_size, n_a = by.shape[0], Waa.shape[1]
    x, a_prev = np.zeros((vocab_size, 1)), np.zeros((n_a, 1))
    indices, idx, counter = [], -1, 0
    newline_character = char_to_ix["\\n"]
    while idx != newline_character and counter != 50:
        a = np.tanh(np.dot(Wax, x) + np.dot(Waa, a_prev) + b)
        y = softmax(np.dot(Wya, a) + by)
        np.random.seed(counter + seed)
        idx = np.random.choice(list(range(vocab_size)), p=y.ravel())
        indices.append(idx)
        x = np.zeros((vocab_size, 1))
        x[idx] = 1
        a_prev = a
        seed += 1
        counter += 1
    if counter == 50:
        indices.append(char_to_ix["\\n"])
    return indices


def optimize(X, Y, a_prev, parameters, learning_rate=0.01):
    loss, cache = rnn_forward(X, Y, a_prev, parameters)
    gradients, a = rnn_backward(X, Y, parameters, cache)
    gradients = clip(gradients, 5)
    parameters = update_parameters(parameters, gradients, learning_rate)
    return loss, gradients, a[len(X) - 1]
'''
DINO_FUNCTIONS = ["clip", "sample", "optimize", "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"]


def write_dinos(tmp_path, source=DINOS):
    (tmp_path / "utils.py").write_text(UTILS)
    path = tmp_path / "dinos.py"
    path.write_text(source)
    return str(path)


def test_dinosaur_island_passes_and_the_other_notebook_is_skipped(tmp_path, capsys):
    report = check_module("coursera", write_dinos(tmp_path))
    assert [f.name for f in report.functions] == DINO_FUNCTIONS and report.passed, report.format()
    assert report.skipped == [("Building your RNN step by step", "dinos.py defines none of rnn_cell_forward, "
                               "rnn_cell_backward, lstm_cell_forward, lstm_cell_backward, lstm_forward, lstm_backward")]
    code, out, _ = run_cli(capsys, "coursera", str(tmp_path / "dinos.py"))
    assert code == 0 and "SKIPPED   Building your RNN step by step" in out and "7 of 7 functions match" in out


def test_both_notebooks_in_one_file(tmp_path):
    """rnn_forward is the step-by-step one here: the Dinosaur helpers of the same name are not checked."""
    source = LEARNER + DINOS.replace("from utils import *", "").replace("rnn_forward(X, Y", "dino_forward(X, Y")
    source = source.replace("rnn_backward(X, Y", "dino_backward(X, Y") + UTILS.replace("def rnn_forward(", "def dino_forward(")
    source = source.replace("def rnn_backward(X, Y", "def dino_backward(X, Y")
    report = check_module("coursera", write(tmp_path, source))
    assert report.passed and not report.skipped and len(report.functions) == 9 + 5, report.format()


DINO_MISTAKES = [
    ("clip without out=", "np.clip(gradient, -maxValue, maxValue, out=gradient)", "np.clip(gradient, -maxValue, maxValue)",
     "clip", "dWaa", "hint: equals the gradient not clipped: np.clip returns a new array unless given out="),
    ("sampling without the seed steps", "        seed += 1\n", "",
     "sample", "indices", "first failure: indices differs from position 1 on: yours (1, 0), expected (1, 1, 0)"),
    ("no update", "    parameters = update_parameters(parameters, gradients, learning_rate)\n", "",
     "optimize", "parameters['Wax'] after the update", "smallest failing case: n_x=2, n_a=1, T=1"),
]


@pytest.mark.parametrize("mistake, old, new, function, tensor, text", DINO_MISTAKES, ids=[m[0] for m in DINO_MISTAKES])
def test_each_dinosaur_mistake_is_found(tmp_path, capsys, mistake, old, new, function, tensor, text):
    assert old in DINOS
    path = write_dinos(tmp_path, DINOS.replace(old, new))
    failed = {f.name: f for f in check_module("coursera", path).functions if f.status != "PASS"}
    assert function in failed and not failed[function].tensors[tensor].passed
    code, out, _ = run_cli(capsys, "coursera", path)
    assert code == 1 and f"FAIL      {function}" in out and text in out


def test_optimize_failing_only_because_of_clip_says_so(tmp_path):
    path = write_dinos(tmp_path, DINOS.replace("np.clip(gradient, -maxValue, maxValue, out=gradient)",
                                               "np.clip(gradient, -maxValue, maxValue)"))
    note = {f.name: f for f in check_module("coursera", path).functions}["optimize"].note
    assert note.startswith("optimize fails only because your clip does")
