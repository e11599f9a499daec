"""`deeprnn check mytorch`: a correct learner passes, each typical mistake is found and located."""

import json

import pytest

from deeprnn.cli import main
from deeprnn.compat.check import check_module

# A learner's RNN, written from the course's equations (it does not use deeprnn).
LEARNER = '''
import numpy as np
print("hello from the learner")


class Tanh:
    def forward(self, x):
        self.state = np.tanh(x)
        return self.state

    def backward(self, state=None):
        if state is None:
            state = self.state
        return 1 - state ** 2


class RNNCell:
    def __init__(self, input_size, hidden_size):
        h = hidden_size
        self.weight_ih = np.random.randn(h, input_size)
        self.weight_hh = np.random.randn(h, h)
        self.bias_ih = np.random.randn(h)
        self.bias_hh = np.random.randn(h)
        self.grad_weight_ih = np.zeros((h, input_size))
        self.grad_weight_hh = np.zeros((h, h))
        self.grad_bias_ih = np.zeros(h)
        self.grad_bias_hh = np.zeros(h)
        self.activation = Tanh()

    def forward(self, x, h):
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        return self.activation.forward(z)

    def backward(self, delta, h, h_prev_l, h_prev_t):
        batch_size = delta.shape[0]
        dz = self.activation.backward(h) * delta
        self.grad_weight_ih += dz.T @ h_prev_l
        self.grad_weight_hh += dz.T @ h_prev_t
        self.grad_bias_ih += dz.sum(axis=0)
        self.grad_bias_hh += dz.sum(axis=0)
        return dz @ self.weight_ih, dz @ self.weight_hh


class RNN:
    def __init__(self, input_size, hidden_size, num_layers=2):
        self.hidden_size = hidden_size
        self.layers = [RNNCell(input_size if i == 0 else hidden_size, hidden_size) for i in range(num_layers)]

    def forward(self, x, h_0=None):
        batch, seq_len, _ = x.shape
        n = len(self.layers)
        h = np.zeros((n, batch, self.hidden_size)) if h_0 is None else h_0
        self.x = x
        self.hiddens = [h.copy()]
        out = []
        for t in range(seq_len):
            inp = x[:, t, :]
            new = []
            for l, cell in enumerate(self.layers):
                inp = cell.forward(inp, self.hiddens[-1][l])
                new.append(inp)
            self.hiddens.append(np.array(new))
            out.append(inp)
        return np.stack(out, axis=1), self.hiddens[-1]

    def backward(self, delta):
        batch, seq_len, _ = self.x.shape
        n = len(self.layers)
        dh = np.zeros((n, batch, self.hidden_size))
        dh[-1] = delta
        dx = np.zeros_like(self.x)
        for t in range(seq_len - 1, -1, -1):
            for l in range(n - 1, -1, -1):
                inp = self.x[:, t, :] if l == 0 else self.hiddens[t + 1][l - 1]
                d_in, dh[l] = self.layers[l].backward(dh[l], self.hiddens[t + 1][l], inp, self.hiddens[t][l])
                if l == 0:
                    dx[:, t, :] = d_in
                else:
                    dh[l - 1] += d_in
        return dx, dh
'''


def write(tmp_path, source, name="learner.py"):
    path = tmp_path / name
    path.write_text(source)
    return str(path)


def broken(old, new):
    assert old in LEARNER, old  # the mistake must really be made
    return LEARNER.replace(old, new)


def run_cli(capsys, *argv):
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    assert "Traceback (most recent call last)" not in out + err
    return code, out, err


def test_a_correct_learner_passes_with_exit_0(tmp_path, capsys):
    path = write(tmp_path, LEARNER)
    report = check_module("mytorch", path)
    assert report.passed and [f.status for f in report.functions] == ["PASS"] * 7
    code, out, _ = run_cli(capsys, "mytorch", path)
    assert code == 0
    assert "7 of 7 functions match deeprnn: all match" in out and "hello from the learner" not in out
    assert "RNN.backward" in out and "layers[1].grad_weight_hh" in out and "max rel" in out


# (mistake, old, new, failing function, failing tensor, text the report must show)
MISTAKES = [
    ("wrong tanh derivative", "return 1 - state ** 2", "return 1 - state",
     "Tanh.backward", "1 - state²", "first failure: 1 - state²[0, 0] (batch 0, unit 0)"),
    ("no += accumulation", "self.grad_weight_hh += dz.T @ h_prev_t", "self.grad_weight_hh = dz.T @ h_prev_t",
     "RNNCell.backward", "grad_weight_hh", "hint: equals the last call's gradient only: accumulate with +="),
    ("batch averaging", "self.grad_weight_ih += dz.T @ h_prev_l", "self.grad_weight_ih += dz.T @ h_prev_l / batch_size",
     "RNNCell.backward", "grad_weight_ih", "smallest failing case: batch=2, input=1, hidden=2"),
    ("transposed weight", "h @ self.weight_hh.T", "h @ self.weight_hh",
     "RNNCell.forward", "h_t", "hint: matches weight_hh used untransposed"),
    ("wrong return shape", "return np.stack(out, axis=1), self.hiddens[-1]",
     "return np.stack(out, axis=0), self.hiddens[-1]",
     "RNN.forward", "output", "wrong shape: expected output of shape (1, 2, 1), got (2, 1, 1)"),
    ("missing attribute", "self.grad_bias_hh = np.zeros(h)", "self.grad_b_hh = np.zeros(h)",
     "RNNCell.__init__", "grad_bias_hh", "missing attribute: RNNCell has no attribute 'grad_bias_hh'"),
]


@pytest.mark.parametrize("mistake, old, new, function, tensor, text", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_found_and_located(tmp_path, capsys, mistake, old, new, function, tensor, text):
    path = write(tmp_path, broken(old, new))
    report = check_module("mytorch", path)
    failed = {f.name: f for f in report.functions if f.status != "PASS"}
    assert function in failed and not failed[function].tensors[tensor].passed
    code, out, _ = run_cli(capsys, "mytorch", path)
    assert code == 1
    assert f"FAIL      {function}" in out and text in out


def test_a_backprop_mistake_is_located_in_time_and_layer(tmp_path, capsys):
    # forgetting the gradient that flows from layer l into layer l-1 of the same step
    path = write(tmp_path, broken("dh[l - 1] += d_in", "dh[l - 1] += 0 * d_in"))
    code, out, _ = run_cli(capsys, "mytorch", path)
    assert code == 1 and "FAIL      RNN.backward" in out and "PASS      RNNCell.backward" in out
    assert "first failure: dx at t=1 (batch 0, unit 0)" in out  # the last step of the smallest 2-layer case
    assert "first failure: dh_0 at layer 0" in out
    assert "smallest failing case: batch=1, input=2, hidden=1, layers=2, T=2" in out


def test_a_forward_mistake_is_located_in_time_and_layer(tmp_path, capsys):
    path = write(tmp_path, broken("inp = cell.forward(inp, self.hiddens[-1][l])",
                                  "inp = cell.forward(inp, self.hiddens[-1][l] * (t < 2))"))
    code, out, _ = run_cli(capsys, "mytorch", path)
    assert code == 1 and "first failure: hiddens at t=3, layer 0 (batch 0, unit 0)" in out


def test_an_exception_names_type_message_and_line_without_traceback(tmp_path, capsys):
    source = broken("        dz = self.activation.backward(h) * delta\n",
                    "        dz = self.activation.backward(h) * delta\n        raise RuntimeError('boom')\n")
    line = source.splitlines().index("        raise RuntimeError('boom')") + 1
    code, out, _ = run_cli(capsys, "mytorch", write(tmp_path, source))
    assert code == 1
    assert "ERROR     RNNCell.backward" in out and f"RuntimeError: boom  (learner.py:{line})" in out
    assert "PASS      RNNCell.forward" in out


def test_a_wrong_signature_is_named(tmp_path, capsys):
    path = write(tmp_path, broken("def backward(self, delta, h, h_prev_l, h_prev_t):",
                                  "def backward(self, delta, h, h_prev_l):"))
    code, out, _ = run_cli(capsys, "mytorch", path)
    assert code == 1 and "SIGNATURE RNNCell.backward" in out
    assert "wrong signature: expected RNNCell.backward(grad, h_t, h_prev_l, h_prev_t), " \
           "got RNNCell.backward(delta, h, h_prev_l)" in out


def test_a_missing_class_is_named(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "mytorch", write(tmp_path, broken("class RNN:", "class MyRNN:")))
    assert code == 1 and "MISSING   RNN.forward" in out and "learner.py defines no RNN" in out
    assert "PASS      RNNCell.backward" in out


def test_only_json_and_a_sibling_import(tmp_path, capsys):
    cell_part, rnn_part = LEARNER.split("class RNN:")
    (tmp_path / "rnn_cell.py").write_text(cell_part)
    path = write(tmp_path, "import numpy as np\nfrom rnn_cell import Tanh, RNNCell\n\nclass RNN:" + rnn_part, "rnn.py")
    code, out, _ = run_cli(capsys, "mytorch", path, "--only", "RNN.forward,RNN.backward", "--json")
    data = json.loads(out)
    assert code == 0 and data["passed"] and [f["name"] for f in data["functions"]] == ["RNN.forward", "RNN.backward"]
    tensors = {t["name"]: t["passed"] for t in data["functions"][0]["tensors"]}
    assert tensors == {"output": True, "h_n": True, "hiddens": True}
    # a second learner with a sibling of the same name gets its own sibling, not the first one's
    other = tmp_path / "other"
    other.mkdir()
    (other / "rnn_cell.py").write_text(broken("return 1 - state ** 2", "return 1 - state").split("class RNN:")[0])
    (other / "rnn.py").write_text((tmp_path / "rnn.py").read_text())
    assert not check_module("mytorch", str(other / "rnn.py"), only=["RNN.backward"]).passed


def test_command_line_errors_exit_2_in_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "mytorch", str(tmp_path / "nope.py"))
    assert code == 2 and "no such file" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "mytorch", write(tmp_path, LEARNER), "--only", "RNN.sideways")
    assert code == 2 and "RNN.sideways" in err
    code, _, err = run_cli(capsys, "mytorch", write(tmp_path, LEARNER), "--tol", "-1")
    assert code == 2 and "expected --tol to be a number >= 0, got -1.0" in err
    code, _, err = run_cli(capsys, "tensorflow", write(tmp_path, LEARNER))
    assert code == 2 and "invalid choice" in err
    code, _, err = run_cli(capsys, "mytorch", write(tmp_path, LEARNER), "--seed", "-1")
    assert code == 2 and "expected --seed to be an integer >= 0, got -1" in err
    code, _, err = run_cli(capsys, "mytorch", write(tmp_path, LEARNER), "--timeout", "inf")
    assert code == 2 and "expected --timeout to be a number >= 0, got inf" in err
    code, _, err = run_cli(capsys, "mytorch", str(tmp_path), "--needle-path", str(tmp_path))
    assert code == 2 and "got a folder" in err


def test_user_errors_are_deeprnn_errors(tmp_path):
    """The CLI prints DeeprnnError (and OSError) as one line; anything else is a bug with its traceback."""
    from deeprnn.compat.learner import LearnerError
    from deeprnn.errors import DeeprnnError

    assert issubclass(LearnerError, DeeprnnError)
    for kwargs in ({"rtol": -1}, {"only": ["RNN.sideways"]}, {"timeout": -2}, {"seed": -1}, {"needle_path": tmp_path}):
        with pytest.raises(DeeprnnError):
            check_module("mytorch", write(tmp_path, LEARNER), **kwargs)
    with pytest.raises(DeeprnnError, match="no such file"):
        check_module("mytorch", tmp_path / "nope.py")
