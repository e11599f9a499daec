"""`deeprnn check` must not be fooled: a file that ends the process or hangs (even behind a bare except)
is a failure with a clear line, and the report says when a composite fails only because of a part."""

import os
import subprocess
import sys
import time

from test_compat_check_coursera import LEARNER as NOTEBOOK
from test_compat_check_mytorch import LEARNER, broken

from deeprnn.compat.check import check_module


def run_check(tmp_path, source, *argv, name="learner.py", course="mytorch", timeout=120):
    """`python -m deeprnn check` in a fresh process: a learner's code that ends or hangs the process
    must not end or hang the test."""
    path = tmp_path / name
    path.write_text(source)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, "-m", "deeprnn", "check", course, str(path), *argv], capture_output=True,
                          text=True, timeout=timeout, env=env)
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc.returncode, proc.stdout


def test_a_file_that_ends_the_process_at_import_is_a_failure(tmp_path):
    code, out = run_check(tmp_path, "import os\nprint('bye')\nos._exit(0)\n")
    assert code == 1
    assert "ERROR     importing learner.py failed: your code ended the process (exit code 0" in out
    assert "nothing was checked: MISMATCH" in out and "bye" not in out


def test_a_function_that_ends_the_process_fails_and_the_others_are_still_checked(tmp_path):
    source = broken("    def backward(self, delta, h, h_prev_l, h_prev_t):\n",
                    "    def backward(self, delta, h, h_prev_l, h_prev_t):\n        import os; os._exit(3)\n")
    path = tmp_path / "learner.py"
    path.write_text(source)
    report = check_module("mytorch", str(path))
    status = {f.name: f.status for f in report.functions}
    assert status == {"Tanh.forward": "PASS", "Tanh.backward": "PASS", "RNNCell.__init__": "PASS",
                      "RNNCell.forward": "PASS", "RNNCell.backward": "ERROR", "RNN.forward": "PASS",
                      "RNN.backward": "ERROR"}
    error = {f.name: f for f in report.functions}["RNNCell.backward"]
    assert "your code ended the process (exit code 3" in error.error.message
    assert error.error_case == {"batch": 1, "input": 1, "hidden": 1}


def test_a_bare_except_in_a_loop_does_not_swallow_the_time_limit(tmp_path):
    # in-process alarms raise inside the learner's loop, where this bare except swallows them
    source = NOTEBOOK.replace("def softmax(x):\n", "def softmax(x):\n    while True:\n        try:\n"
                                                   "            sum(range(1000))\n        except:\n            pass\n")
    line = source.splitlines().index("            sum(range(1000))") + 1
    start = time.monotonic()
    code, out = run_check(tmp_path, source, "--timeout", "0.5", course="coursera", name="notebook.py", timeout=90)
    assert code == 1 and time.monotonic() - start < 60
    assert f"ERROR     softmax\n    no result after 0.5 s (an endless loop?)  (notebook.py:{line})" in out
    assert "ERROR     rnn_cell_forward\n    no result after 0.5 s" in out  # it calls the learner's softmax
    assert "PASS      rnn_cell_backward" in out and "PASS      lstm_backward" in out  # the rest still checked


def test_a_hang_at_import_is_an_import_error(tmp_path):
    code, out = run_check(tmp_path, "import time\nwhile True:\n    try:\n        time.sleep(0.01)\n    except:\n"
                                    "        pass\n", "--timeout", "0.5")
    assert code == 1 and "ERROR     importing learner.py failed: no result after 0.5 s (an endless loop?)" in out


def test_rnn_backward_failing_only_because_of_rnncell_backward_says_so(tmp_path):
    path = tmp_path / "learner.py"
    path.write_text(broken("dz = self.activation.backward(h) * delta", "dz = delta"))  # no tanh derivative
    report = check_module("mytorch", str(path))
    res = {f.name: f for f in report.functions}
    assert res["RNNCell.backward"].status == "FAIL" and res["RNN.backward"].status == "FAIL"
    assert res["RNN.backward"].note.startswith("RNN.backward fails only because your RNNCell.backward does: with "
                                               "deeprnn's RNNCell.backward in its place, your RNN.backward matches")
    assert res["RNNCell.backward"].note is None  # its Tanh.backward passes: nothing to blame on it
    text = report.format()
    assert "    note: RNN.backward fails only because your RNNCell.backward does" in text


def test_a_composite_with_a_mistake_of_its_own_is_told_apart(tmp_path):
    source = broken("dz = self.activation.backward(h) * delta", "dz = delta")
    source = source.replace("dh[l - 1] += d_in", "dh[l - 1] += 0 * d_in")
    path = tmp_path / "learner.py"
    path.write_text(source)
    note = {f.name: f for f in check_module("mytorch", str(path)).functions}["RNN.backward"].note
    assert note.startswith("your RNNCell.backward fails too, but RNN.backward has a mistake of its own")


def test_the_cell_failing_only_because_of_tanh_backward_says_so(tmp_path):
    path = tmp_path / "learner.py"
    path.write_text(broken("return 1 - state ** 2", "return 1 - state"))
    res = {f.name: f for f in check_module("mytorch", str(path)).functions}
    assert res["Tanh.backward"].status == "FAIL"
    assert res["RNNCell.backward"].note.startswith("RNNCell.backward fails only because your Tanh.backward does")


def test_the_missing_tanh_derivative_has_a_hint(tmp_path):
    path = tmp_path / "learner.py"
    path.write_text(broken("dz = self.activation.backward(h) * delta", "dz = delta"))
    text = check_module("mytorch", str(path)).format()
    hint = "hint: equals the gradient without tanh's derivative: multiply by 1 - h², tanh' written with its output h"
    cell = text[text.index("FAIL      RNNCell.backward"):text.index("FAIL      RNN.backward")]
    assert cell.count(hint) == 6  # dx, dh_prev and the four parameter gradients
    assert hint in text[text.index("FAIL      RNN.backward"):]
    notebook = tmp_path / "notebook.py"
    notebook.write_text(NOTEBOOK.replace("dtanh = (1 - a_next ** 2) * da_next", "dtanh = da_next"))
    text = check_module("coursera", str(notebook), only=["rnn_cell_backward", "rnn_backward"]).format()
    assert text.count(hint) == 10  # dxt/dx, da_prev/da0, dWax, dWaa, dba of both functions
