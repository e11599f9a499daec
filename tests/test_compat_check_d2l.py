"""`deeprnn check d2l`: a learner's PyTorch scratch RNN with the book's names passes; each mistake is
found in the output, state, gradient or text it breaks."""

import numpy as np
import pytest

from deeprnn.cli import main
from deeprnn.compat import d2l
from deeprnn.compat.check import check_module
from deeprnn.data import Vocab

torch = pytest.importorskip("torch")

# A learner's code, as the book's chapters write it (with torch.nn.Module where the book has d2l.Module).
LEARNER = '''
import torch
from torch import nn
from torch.nn import functional as F


class RNNScratch(nn.Module):
    def __init__(self, num_inputs, num_hiddens, sigma=0.01):
        super().__init__()
        self.num_inputs, self.num_hiddens, self.sigma = num_inputs, num_hiddens, sigma
        self.W_xh = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)
        self.W_hh = nn.Parameter(torch.randn(num_hiddens, num_hiddens) * sigma)
        self.b_h = nn.Parameter(torch.zeros(num_hiddens))

    def forward(self, inputs, state=None):
        if state is None:
            state = torch.zeros((inputs.shape[1], self.num_hiddens), device=inputs.device)
        else:
            state, = state
        outputs = []
        for X in inputs:
            state = torch.tanh(torch.matmul(X, self.W_xh) + torch.matmul(state, self.W_hh) + self.b_h)
            outputs.append(state)
        return outputs, state


class StackedRNNScratch(nn.Module):
    def __init__(self, num_inputs, num_hiddens, num_layers, sigma=0.01):
        super().__init__()
        self.num_inputs, self.num_hiddens, self.num_layers, self.sigma = num_inputs, num_hiddens, num_layers, sigma
        self.rnns = nn.Sequential(*[RNNScratch(num_inputs if i == 0 else num_hiddens, num_hiddens, sigma)
                                    for i in range(num_layers)])

    def forward(self, inputs, Hs=None):
        outputs = inputs
        if Hs is None:
            Hs = [None] * self.num_layers
        for i in range(self.num_layers):
            outputs, Hs[i] = self.rnns[i](outputs, Hs[i])
            outputs = torch.stack(outputs, 0)
        return outputs, Hs


class RNNLMScratch(nn.Module):
    def __init__(self, rnn, vocab_size, lr=0.01):
        super().__init__()
        self.rnn, self.vocab_size, self.lr = rnn, vocab_size, lr
        self.W_hq = nn.Parameter(torch.randn(self.rnn.num_hiddens, self.vocab_size) * self.rnn.sigma)
        self.b_q = nn.Parameter(torch.zeros(self.vocab_size))

    def one_hot(self, X):
        return F.one_hot(X.T, self.vocab_size).type(torch.float32)

    def output_layer(self, rnn_outputs):
        outputs = [torch.matmul(H, self.W_hq) + self.b_q for H in rnn_outputs]
        return torch.stack(outputs, 1)

    def forward(self, X, state=None):
        embs = self.one_hot(X)
        rnn_outputs, _ = self.rnn(embs, state)
        return self.output_layer(rnn_outputs)

    def predict(self, prefix, num_preds, vocab, device=None):
        state, outputs = None, [vocab[prefix[0]]]
        for i in range(len(prefix) + num_preds - 1):
            X = torch.tensor([[outputs[-1]]], device=device)
            embs = self.one_hot(X)
            rnn_outputs, state = self.rnn(embs, state)
            if i < len(prefix) - 1:
                outputs.append(vocab[prefix[i + 1]])
            else:
                Y = self.output_layer(rnn_outputs)
                outputs.append(int(Y.argmax(axis=2).reshape(1)))
        return ''.join([vocab.idx_to_token[i] for i in outputs])
'''


def write(tmp_path, source):
    path = tmp_path / "rnn_scratch.py"
    path.write_text(source)
    return str(path)


def broken(old, new):
    assert old in LEARNER, old
    return LEARNER.replace(old, new)


def test_a_correct_learner_passes(tmp_path, capsys):
    report = check_module("d2l", write(tmp_path, LEARNER))
    assert report.passed and len(report.functions) == 10, report.format()
    assert main(["check", "d2l", str(tmp_path / "rnn_scratch.py")]) == 0
    out = capsys.readouterr().out
    assert "(float32, seed 0, rtol 0.0001, atol 1e-05)" in out and "10 of 10 functions match deeprnn" in out
    assert "dW_xh" in out and "drnns.1.W_hh" in out and "drnn.b_h" in out and "predict(prefix, num_preds, vocab)" in out


MISTAKES = [
    ("state detached", "state = torch.tanh(torch.matmul(X, self.W_xh) + torch.matmul(state, self.W_hh) + self.b_h)",
     "state = torch.tanh(torch.matmul(X, self.W_xh) + torch.matmul(state.detach(), self.W_hh) + self.b_h)",
     "RNNScratch gradients", "dW_hh"),
    ("transposed W_hh", "torch.matmul(state, self.W_hh)", "torch.matmul(state, self.W_hh.T)",
     "RNNScratch.forward", "outputs"),
    ("layers all read the input", "outputs, Hs[i] = self.rnns[i](outputs, Hs[i])",
     "outputs, Hs[i] = self.rnns[i](inputs if i == 0 else torch.zeros_like(outputs), Hs[i])",
     "StackedRNNScratch.forward", "outputs"),
    ("no bias in the output layer", "torch.matmul(H, self.W_hq) + self.b_q for H", "torch.matmul(H, self.W_hq) for H",
     "RNNLMScratch.output_layer", "output_layer(rnn_outputs)"),
    ("predict without warm-up", "outputs.append(vocab[prefix[i + 1]])", "outputs.append(vocab[prefix[0]])",
     "RNNLMScratch.predict", "predict(prefix, num_preds, vocab)"),
]


@pytest.mark.parametrize("mistake, old, new, function, tensor", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_is_found(tmp_path, mistake, old, new, function, tensor):
    report = check_module("d2l", write(tmp_path, broken(old, new)))
    failed = {f.name: f for f in report.functions if f.status != "PASS"}
    assert function in failed and not failed[function].tensors[tensor].passed, report.format()


@pytest.fixture
def float64_torch():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def test_the_reference_matches_the_books_torch_code_and_autograd(float64_torch):
    """deeprnn.compat.d2l's forward, BPTT and predict against the book's code run in torch (float64)."""
    namespace = {}
    exec(LEARNER, namespace)  # noqa: S102 - the book's code above, as the learner has it
    rng = np.random.default_rng(0)
    mine = d2l.RNNLMScratch(d2l.StackedRNNScratch(5, 3, 2, sigma=0.5, seed=0), 5, seed=1)
    theirs = namespace["RNNLMScratch"](namespace["StackedRNNScratch"](5, 3, 2), 5).double()
    theirs.one_hot = lambda X: torch.nn.functional.one_hot(X.T, 5).double()  # the book's is float32
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(mine.named_parameters()[name]))
    X = rng.integers(0, 5, (2, 4))
    R = rng.standard_normal((2, 4, 5))
    logits = theirs(torch.from_numpy(X))
    (logits * torch.from_numpy(R)).sum().backward()
    np.testing.assert_allclose(mine(X), logits.detach().numpy(), rtol=1e-12)
    mine.backward(R)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(mine.grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)
    vocab = Vocab(list("abcd"))
    assert mine.predict("ab", 6, vocab) == theirs.predict("ab", 6, vocab)
