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
