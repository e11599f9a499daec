"""`deeprnn check hw3p1`: the common 11-785 HW3P1 edition, as one file or as the handout's folder; each
classic mistake is found, located and hinted at."""

import pytest

from deeprnn.cli import main
from deeprnn.compat.check import check_module

# A learner's HW3P1, written from the handout's equations (it does not use deeprnn). The first part is
# what the handout provides (activations, Linear); the rest is what the learner writes.
PROVIDED = '''
import numpy as np


class Sigmoid:
    def forward(self, Z):
        self.A = 1 / (1 + np.exp(-Z))
        return self.A

    def backward(self, dLdA):
        return dLdA * self.A * (1 - self.A)


class Tanh:
    def forward(self, Z):
        self.A = np.tanh(Z)
        return self.A

    def backward(self, dLdA, state=None):
        A = self.A if state is None else state
        return dLdA * (1 - A ** 2)


class Linear:
    def __init__(self, in_features, out_features):
        self.W = np.zeros((out_features, in_features))
        self.b = np.zeros((out_features, 1))

    def __call__(self, A):
        return self.forward(A)

    def forward(self, A):
        self.A, self.ones = A, np.ones((A.shape[0], 1))
        return A @ self.W.T + self.ones @ self.b.T

    def backward(self, dLdZ):
        self.dLdW = dLdZ.T @ self.A
        self.dLdb = dLdZ.T @ self.ones
        return dLdZ @ self.W
'''

RNN_CELL = '''
class RNNCell:
    def __init__(self, input_size, hidden_size):
        self.input_size, self.hidden_size = input_size, hidden_size
        self.activation = Tanh()
        h, d = hidden_size, input_size
        self.W_ih = np.random.randn(h, d)
        self.W_hh = np.random.randn(h, h)
        self.b_ih = np.random.randn(h)
        self.b_hh = np.random.randn(h)
        self.zero_grad()

    def init_weights(self, W_ih, W_hh, b_ih, b_hh):
        self.W_ih, self.W_hh, self.b_ih, self.b_hh = W_ih, W_hh, b_ih, b_hh

    def zero_grad(self):
        h, d = self.hidden_size, self.input_size
        self.dW_ih, self.dW_hh = np.zeros((h, d)), np.zeros((h, h))
        self.db_ih, self.db_hh = np.zeros(h), np.zeros(h)

    def __call__(self, x, h_prev_t):
        return self.forward(x, h_prev_t)

    def forward(self, x, h_prev_t):
        z = x @ self.W_ih.T + self.b_ih + h_prev_t @ self.W_hh.T + self.b_hh
        return self.activation.forward(z)

    def backward(self, delta, h_t, h_prev_l, h_prev_t):
        batch_size = delta.shape[0]
        dz = self.activation.backward(delta, state=h_t)
        self.dW_ih += dz.T @ h_prev_l / batch_size
        self.dW_hh += dz.T @ h_prev_t / batch_size
        self.db_ih += dz.sum(axis=0) / batch_size
        self.db_hh += dz.sum(axis=0) / batch_size
        return dz @ self.W_ih, dz @ self.W_hh
'''

CLASSIFIER = '''
class RNNPhonemeClassifier:
    def __init__(self, input_size, hidden_size, output_size, num_layers=2):
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.rnn = [RNNCell(input_size if i == 0 else hidden_size, hidden_size) for i in range(num_layers)]
        self.output_layer = Linear(hidden_size, output_size)
        self.hiddens = []

    def init_weights(self, rnn_weights, linear_weights):
        for i, cell in enumerate(self.rnn):
            cell.init_weights(*rnn_weights[i])
        self.output_layer.W = linear_weights[0]
        self.output_layer.b = linear_weights[1].reshape(-1, 1)

    def __call__(self, x, h_0=None):
        return self.forward(x, h_0)

    def forward(self, x, h_0=None):
        batch_size, seq_len = x.shape[0], x.shape[1]
        hidden = np.zeros((self.num_layers, batch_size, self.hidden_size)) if h_0 is None else h_0.copy()
        self.x = x
        self.hiddens = [hidden.copy()]
        for t in range(seq_len):
            inp = x[:, t, :]
            for l, cell in enumerate(self.rnn):
                hidden[l] = cell(inp, hidden[l])
                inp = hidden[l]
            self.hiddens.append(hidden.copy())
        return self.output_layer.forward(hidden[-1])

    def backward(self, delta):
        batch_size, seq_len = self.x.shape[0], self.x.shape[1]
        dh = np.zeros((self.num_layers, batch_size, self.hidden_size))
        dh[-1] = self.output_layer.backward(delta)
        for t in reversed(range(seq_len)):
            for l in reversed(range(self.num_layers)):
                h_prev_l = self.x[:, t, :] if l == 0 else self.hiddens[t + 1][l - 1]
                dx, dh[l] = self.rnn[l].backward(dh[l], self.hiddens[t + 1][l], h_prev_l, self.hiddens[t][l])
                if l > 0:
                    dh[l - 1] += dx
        return dh / batch_size
'''

GRU_CELL = '''
class GRUCell:
    def __init__(self, input_size, hidden_size):
        self.d, self.h = input_size, hidden_size
        h, d = hidden_size, input_size
        self.Wrx, self.Wzx, self.Wnx = np.random.randn(h, d), np.random.randn(h, d), np.random.randn(h, d)
        self.Wrh, self.Wzh, self.Wnh = np.random.randn(h, h), np.random.randn(h, h), np.random.randn(h, h)
        self.brx, self.bzx, self.bnx = np.random.randn(h), np.random.randn(h), np.random.randn(h)
        self.brh, self.bzh, self.bnh = np.random.randn(h), np.random.randn(h), np.random.randn(h)
        for name in ("Wrx", "Wzx", "Wnx", "Wrh", "Wzh", "Wnh", "brx", "bzx", "bnx", "brh", "bzh", "bnh"):
            setattr(self, "d" + name, np.zeros_like(getattr(self, name)))
        self.r_act, self.z_act, self.h_act = Sigmoid(), Sigmoid(), Tanh()

    def init_weights(self, Wrx, Wzx, Wnx, Wrh, Wzh, Wnh, brx, bzx, bnx, brh, bzh, bnh):
        self.Wrx, self.Wzx, self.Wnx, self.Wrh, self.Wzh, self.Wnh = Wrx, Wzx, Wnx, Wrh, Wzh, Wnh
        self.brx, self.bzx, self.bnx, self.brh, self.bzh, self.bnh = brx, bzx, bnx, brh, bzh, bnh

    def __call__(self, x, h_prev_t):
        return self.forward(x, h_prev_t)

    def forward(self, x, h_prev_t):
        self.x, self.hidden = x, h_prev_t
        self.r = self.r_act.forward(self.Wrx @ x + self.brx + self.Wrh @ h_prev_t + self.brh)
        self.z = self.z_act.forward(self.Wzx @ x + self.bzx + self.Wzh @ h_prev_t + self.bzh)
        self.n = self.h_act.forward(self.Wnx @ x + self.bnx + self.r * (self.Wnh @ h_prev_t + self.bnh))
        return (1 - self.z) * self.n + self.z * h_prev_t

    def backward(self, delta):
        delta = delta.reshape(-1)
        x, h = self.x, self.hidden
        dn = delta * (1 - self.z) * (1 - self.n ** 2)
        dz = delta * (h - self.n) * self.z * (1 - self.z)
        dr = dn * (self.Wnh @ h + self.bnh) * self.r * (1 - self.r)
        self.dWnx += np.outer(dn, x)
        self.dbnx += dn
        self.dWnh += np.outer(dn * self.r, h)
        self.dbnh += dn * self.r
        self.dWzx += np.outer(dz, x)
        self.dbzx += dz
        self.dWzh += np.outer(dz, h)
        self.dbzh += dz
        self.dWrx += np.outer(dr, x)
        self.dbrx += dr
        self.dWrh += np.outer(dr, h)
        self.dbrh += dr
        dx = dn @ self.Wnx + dz @ self.Wzx + dr @ self.Wrx
        dh = delta * self.z + (dn * self.r) @ self.Wnh + dz @ self.Wzh + dr @ self.Wrh
        return dx.reshape(1, -1), dh.reshape(1, -1)
'''

PREDICTOR = '''
class CharacterPredictor:
    def __init__(self, input_dim, hidden_dim, num_classes):
        self.gru = GRUCell(input_dim, hidden_dim)
        self.projection = Linear(hidden_dim, num_classes)
        self.num_classes, self.hidden_dim = num_classes, hidden_dim
        self.projection.W = np.random.rand(num_classes, hidden_dim)

    def init_rnn_weights(self, Wrx, Wzx, Wnx, Wrh, Wzh, Wnh, brx, bzx, bnx, brh, bzh, bnh):
        self.gru.init_weights(Wrx, Wzx, Wnx, Wrh, Wzh, Wnh, brx, bzx, bnx, brh, bzh, bnh)

    def __call__(self, x, h):
        return self.forward(x, h)

    def forward(self, x, h):
        hnext = self.gru(x, h)
        logits = self.projection(hnext.reshape(1, -1)).reshape(-1)
        return logits, hnext


def inference(net, inputs):
    logits, h = [], np.zeros(net.hidden_dim)
    for x in inputs:
        l_t, h = net(x, h)
        logits.append(l_t)
    return np.array(logits)
'''

LEARNER = PROVIDED + RNN_CELL + CLASSIFIER + GRU_CELL + PREDICTOR
FUNCTIONS = ["RNNCell.__init__", "RNNCell.forward", "RNNCell.backward", "RNNPhonemeClassifier.forward",
             "RNNPhonemeClassifier.backward", "GRUCell.__init__", "GRUCell.forward", "GRUCell.backward",
             "CharacterPredictor.forward", "inference"]


def write(tmp_path, source, name="hw3p1.py"):
    path = tmp_path / name
    path.write_text(source)
    return str(path)


def broken(old, new):
    assert old in LEARNER, old  # the mistake must really be made
    return LEARNER.replace(old, new)


def run_cli(capsys, *argv):
    code = main(["check", "hw3p1", *argv])
    out, err = capsys.readouterr()
    assert "Traceback (most recent call last)" not in out + err
    return code, out, err


def test_a_correct_learner_passes_with_exit_0(tmp_path, capsys):
    report = check_module("hw3p1", write(tmp_path, LEARNER))
    assert [f.name for f in report.functions] == FUNCTIONS and report.passed, report.format()
    code, out, _ = run_cli(capsys, str(tmp_path / "hw3p1.py"))
    assert code == 0 and "10 of 10 functions match deeprnn: all match" in out


def test_the_handouts_folder_is_checked_as_it_is(tmp_path, capsys):
    """mytorch/rnn_cell.py, mytorch/gru_cell.py, models/*.py, importing each other as the handout does."""
    (tmp_path / "mytorch" / "nn").mkdir(parents=True)
    (tmp_path / "models").mkdir()
    (tmp_path / "mytorch" / "nn" / "activation.py").write_text(PROVIDED.split("class Linear")[0])
    (tmp_path / "mytorch" / "nn" / "linear.py").write_text("import numpy as np\n\nclass Linear" +
                                                           PROVIDED.split("class Linear")[1])
    head = "import numpy as np\nfrom mytorch.nn.activation import *\n"
    (tmp_path / "mytorch" / "rnn_cell.py").write_text(head + RNN_CELL)
    gru = broken("dx = dn @ self.Wnx + dz @ self.Wzx + dr @ self.Wrx", "dx = dn @ self.Wnx + dz @ self.Wzx")
    (tmp_path / "mytorch" / "gru_cell.py").write_text(head + GRU_CELL.replace(
        "dx = dn @ self.Wnx + dz @ self.Wzx + dr @ self.Wrx", "dx = dn @ self.Wnx + dz @ self.Wzx"))
    assert gru != LEARNER
    (tmp_path / "models" / "rnn_classifier.py").write_text(
        "import numpy as np\nfrom mytorch.rnn_cell import RNNCell\nfrom mytorch.nn.linear import Linear\n" + CLASSIFIER)
    (tmp_path / "models" / "char_predictor.py").write_text(  # the older handout's style of import
        "import numpy as np\nimport sys\nsys.path.append('mytorch')\nfrom gru_cell import *\nfrom nn.linear import *\n"
        + PREDICTOR)
    code, out, _ = run_cli(capsys, str(tmp_path))
    assert code == 1 and "9 of 10 functions match deeprnn: MISMATCH" in out
    assert "FAIL      GRUCell.backward" in out and "first failure: dx[0, 0] (row 0, unit 0)" in out


# (mistake, old, new, failing function, failing tensor, text the report must show)
MISTAKES = [
    ("not averaged over the batch", "self.dW_ih += dz.T @ h_prev_l / batch_size", "self.dW_ih += dz.T @ h_prev_l",
     "RNNCell.backward", "dW_ih", "hint: equals the gradient summed over the batch: this handout averages"),
    ("= instead of +=", "self.dW_hh += dz.T @ h_prev_t / batch_size", "self.dW_hh = dz.T @ h_prev_t / batch_size",
     "RNNCell.backward", "dW_hh", "hint: equals the last call's gradient only: accumulate with +="),
    ("transposed weight", "h_prev_t @ self.W_hh.T", "h_prev_t @ self.W_hh",
     "RNNCell.forward", "h_t", "hint: matches W_hh used untransposed"),
    ("no tanh derivative", "dz = self.activation.backward(delta, state=h_t)", "dz = delta",
     "RNNCell.backward", "dx", "hint: equals the gradient without tanh's derivative: multiply by 1 - h²"),
    ("GRU n-gate bias outside r", "self.r * (self.Wnh @ h_prev_t + self.bnh))", "self.r * (self.Wnh @ h_prev_t) + self.bnh)",
     "GRUCell.forward", "h_t", "hint: matches b_nh outside r ⊙ (…)"),
    ("dh_0 not averaged", "return dh / batch_size", "return dh",
     "RNNPhonemeClassifier.backward", "dh_0", "hint: equals the gradient summed over the batch"),
    ("no initial state", "if h_0 is None else h_0.copy()", "if True else h_0",
     "RNNPhonemeClassifier.forward", "logits", "first failure: logits[0, 0] (batch 0, class 0)"),
]


@pytest.mark.parametrize("mistake, old, new, function, tensor, text", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_found_and_located(tmp_path, capsys, mistake, old, new, function, tensor, text):
    path = write(tmp_path, broken(old, new))
    report = check_module("hw3p1", path)
    failed = {f.name: f for f in report.functions if f.status != "PASS"}
    assert function in failed and not failed[function].tensors[tensor].passed
    code, out, _ = run_cli(capsys, path)
    assert code == 1 and f"FAIL      {function}" in out and text in out


def test_the_classifier_failing_only_because_of_the_cell_says_so(tmp_path):
    report = check_module("hw3p1", write(tmp_path, broken("dz = self.activation.backward(delta, state=h_t)",
                                                          "dz = delta")))
    note = {f.name: f for f in report.functions}["RNNPhonemeClassifier.backward"].note
    assert note.startswith("RNNPhonemeClassifier.backward fails only because your RNNCell.backward does")
    gru = check_module("hw3p1", write(tmp_path, broken("return (1 - self.z) * self.n + self.z * h_prev_t",
                                                       "return self.z * self.n + (1 - self.z) * h_prev_t")))
    res = {f.name: f for f in gru.functions}
    assert "hint: matches z and 1 - z swapped" in gru.format()
    assert res["inference"].note.startswith("inference fails only because your GRUCell.forward does")


def test_the_other_editions_check_points_here(tmp_path):
    path = write(tmp_path, LEARNER)
    report = check_module("mytorch", path, only=["RNNCell.__init__"])
    assert "missing attribute: RNNCell has no attribute 'weight_ih', but it has W_ih: the other 11-785 edition? " \
           "run deeprnn check hw3p1" in report.format()
