"""The language model on the PyTorch engine: the same model as engines/numpy.py, on torch's fused
``nn.LSTM/GRU/RNN`` kernels, with torch.optim and, under torchrun, DistributedDataParallel
(process groups: deeprnn/torch_engine/distributed.py). With ``model.layer_norm`` or ``model.residual``,
which torch.nn's fused modules do not have, the stack is deeprnn/torch_engine/stack.py's (autograd over
a Python time loop: slower, the same parameter names).

Parameter and optimizer-buffer names are the canonical ones of engines/base.py, so a checkpoint from
either engine loads in the other (tests/test_torch_engine.py checks logits, perplexity and resume).

Determinism: the dropout RNG is seeded with (seed, rank) and saved in checkpoints; on CUDA, cuDNN runs
in deterministic mode (``torch.backends.cudnn.deterministic = True``, ``benchmark = False``).
"""

from __future__ import annotations

import base64

import numpy as np

from ...checks import check_state_dict
from ...errors import ConfigError
from ...layout import CELL_CLASSES
from ...numpy_engine.optim import parse_state_dict
from ...torch_engine import distributed, minrnn, require_torch
from ...torch_engine import stack as scratch
from .base import LMEngine, build_rnn, param_shapes, stack_options

torch = require_torch()
nn, F = torch.nn, torch.nn.functional

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_NUMPY = {torch.float32: np.float32, torch.float64: np.float64}
_BUFFERS = ("exp_avg", "exp_avg_sq", "momentum_buffer")


def resolve_device(name: str) -> "torch.device":
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("expected a CUDA GPU for --device cuda, got none (torch.cuda.is_available() is False); "
                          "use --device cpu or --device auto")
    return torch.device(name)


def _join(device_kind: str) -> "distributed.World":
    """This process's place in the torchrun job (--distributed)."""
    missing = distributed.missing_environment()
    if missing:
        raise ConfigError(f"expected --distributed under torchrun (environment {', '.join(missing)}), got a plain "
                          "process; launch with: torchrun --nproc_per_node=N -m deeprnn train --engine torch --distributed ...")
    return distributed.init(device_kind)


def rnn_classes(model):
    """Where the model's recurrent stack comes from: torch.nn (fused kernels); the scratch stack when the
    config turns on one of deeprnn's own options (layer_norm, residual); minrnn for minGRU and minLSTM,
    which torch.nn lacks (with residual too)."""
    if not hasattr(nn, CELL_CLASSES[model.cell]):
        return minrnn
    return scratch if stack_options(model) else nn


class LMModule(nn.Module):
    """embedding (or one-hot) -> nn.LSTM/GRU/RNN -> dropout -> linear head; names as engines/base.py."""

    def __init__(self, model, vocab_size: int):
        super().__init__()
        self.V, self.one_hot = vocab_size, not model.embedding_dim
        if model.embedding_dim:
            self.embedding = nn.Embedding(vocab_size, model.embedding_dim)
        self.rnn = build_rnn(rnn_classes(model), model, model.embedding_dim or vocab_size, dropout=model.dropout)
        self.drop_in = nn.Dropout(model.input_dropout)
        self.drop = nn.Dropout(model.output_dropout)
        self.head = nn.Linear(model.hidden_size, vocab_size)
        self.weight_drop = model.weight_drop

    def forward(self, x, state=None):
        """x (T, B) token ids -> logits (T, B, V), final state."""
        e = F.one_hot(x, self.V).to(self.head.weight.dtype) if self.one_hot else self.embedding(x)  # (T, B, E|V)
        e = self.drop_in(e)
        if self.training and self.weight_drop > 0:  # DropConnect on W_hh, one mask per batch (AWD-LSTM)
            weights = {n: F.dropout(p, self.weight_drop) if n.startswith("weight_hh") else p
                       for n, p in self.rnn.named_parameters()}
            out, final = torch.func.functional_call(self.rnn, weights, (e, state))  # (T, B, H)
        else:
            out, final = self.rnn(e, state)  # (T, B, H)
        return self.head(self.drop(out)), final


class TorchLM(LMEngine):
    name = "torch"

    def __init__(self, model, train, vocab_size: int, params: dict):
        """``params``: the initial parameters under canonical names (every key and shape checked)."""
        self.cfg, self.V = model, vocab_size
        self.device = resolve_device(train.device)
        initial = check_state_dict(params, param_shapes(model, vocab_size), "parameters")
        self.world = _join(self.device.type) if train.distributed else distributed.World()
        if self.device.type == "cuda" and train.distributed:
            self.device = torch.device("cuda", self.world.local_rank)
            torch.cuda.set_device(self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        torch.manual_seed(train.seed * 1000 + self.world.rank)  # dropout masks
        with torch.device("meta"):  # no draws: the weights come from ``params``, once
            module = LMModule(model, vocab_size)
        self.module = module.to_empty(device=self.device).to(_DTYPES[train.dtype])
        self.load_state_dict(initial)
        self.net = self.module  # wrapped after loading: DDP starts every rank from rank 0's weights
        if self.world.size > 1:
            self.net = nn.parallel.DistributedDataParallel(self.module)
        params = list(self.module.parameters())
        if train.optimizer == "sgd":
            self.opt = torch.optim.SGD(params, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay)
        else:
            cls = torch.optim.AdamW if train.optimizer == "adamw" else torch.optim.Adam
            self.opt = cls(params, lr=train.lr, betas=tuple(train.betas), eps=train.eps, weight_decay=train.weight_decay)
        self.t = 0  # optimizer steps taken

    @property
    def rank(self) -> int:
        return self.world.rank

    # -- parameters ------------------------------------------------------------------------------
    def state_dict(self):
        return {k: v.detach().cpu().numpy().copy() for k, v in self.module.state_dict().items()}

    def load_state_dict(self, sd):
        own = self.module.state_dict()
        arrays = check_state_dict(sd, {k: tuple(v.shape) for k, v in own.items()}, "parameters")
        with torch.no_grad():
            for k, a in arrays.items():
                own[k].copy_(torch.as_tensor(a))

    @torch.no_grad()
    def max_abs_weight(self):
        return float(torch.stack([p.abs().max() for p in self.module.parameters()]).max())  # nan propagates

    # -- training ----------------------------------------------------------------------------------
    def _tensor(self, a: np.ndarray):
        if a.dtype.kind in "iu":
            a = a.astype(np.int64, copy=False)  # token ids: one_hot and embedding want int64
        return torch.as_tensor(np.ascontiguousarray(a), device=self.device)

    def initial_state(self, batch):
        L, H = self.cfg.num_layers, self.cfg.hidden_size
        h = torch.zeros(L, batch, H, device=self.device, dtype=self.module.head.weight.dtype)
        return (h, h.clone()) if self.cfg.cell == "lstm" else h

    def forward_backward(self, x, y, state):
        cols = self.world.columns(x.shape[1])  # this rank's streams
        self.net.train()
        z, final = self.net(self._tensor(x[:, cols]), state)  # (T, b, V)
        loss = F.cross_entropy(z.reshape(-1, self.V), self._tensor(y[:, cols]).reshape(-1))
        self.opt.zero_grad(set_to_none=False)
        loss.backward()  # DDP averages the gradients across ranks here
        loss = loss.detach()
        if self.world.size > 1:
            torch.distributed.all_reduce(loss)
            loss /= self.world.size
        final = tuple(s.detach() for s in final) if isinstance(final, tuple) else final.detach()
        return float(loss), final

    def _grads(self):
        return [p.grad for p in self.module.parameters() if p.grad is not None]

    def gradients(self):
        return {n: np.zeros(tuple(p.shape), _NUMPY[p.dtype]) if p.grad is None else p.grad.detach().cpu().numpy().copy()
                for n, p in self.module.named_parameters()}

    def grad_norm(self):
        return float(torch.sqrt(sum((g.double() ** 2).sum() for g in self._grads())))

    def scale_grads(self, factor):
        for g in self._grads():
            g.mul_(factor)

    def clamp_grads(self, limit):
        for g in self._grads():
            g.clamp_(-limit, limit)

    def optimizer_step(self, lr):
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        self.t += 1

    def optimizer_state_dict(self):
        out = {"step": np.array([self.t], np.int64)}
        for name, p in self.module.named_parameters():
            for b, v in self.opt.state.get(p, {}).items():
                if b in _BUFFERS and v is not None:
                    out[f"{b}.{name}"] = v.detach().cpu().numpy().copy()
        return out

    def load_optimizer_state_dict(self, sd):
        params = dict(self.module.named_parameters())
        self.t, buffers = parse_state_dict(sd, _BUFFERS, {n: tuple(p.shape) for n, p in params.items()})
        state: dict = {}
        for b, per_param in buffers.items():
            for name, a in per_param.items():
                state.setdefault(params[name], {})[b] = torch.as_tensor(a).to(params[name])
        self.opt.state.clear()
        for p, s in state.items():
            if "exp_avg" in s:
                s["step"] = torch.tensor(float(self.t))
            self.opt.state[p] = s

    def rng_state(self):
        mine = {"cpu": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode()}
        if self.device.type == "cuda":
            mine["cuda"] = base64.b64encode(torch.cuda.get_rng_state(self.device).numpy().tobytes()).decode()
        return {"torch_ranks": self.gather(mine)}

    def set_rng_state(self, state):
        ranks = state.get("torch_ranks") if isinstance(state, dict) else None
        if not ranks:  # a checkpoint from the NumPy engine: its RNG does not carry over
            torch.manual_seed(self.world.rank)
            return
        mine = ranks[self.world.rank % len(ranks)]
        torch.set_rng_state(torch.frombuffer(bytearray(base64.b64decode(mine["cpu"])), dtype=torch.uint8))
        if "cuda" in mine and self.device.type == "cuda":
            torch.cuda.set_rng_state(torch.frombuffer(bytearray(base64.b64decode(mine["cuda"])), dtype=torch.uint8),
                                     self.device)

    def gather(self, obj):
        if self.world.size == 1:
            return [obj]
        out = [None] * self.world.size
        torch.distributed.all_gather_object(out, obj)
        return out

    # -- inference ---------------------------------------------------------------------------------
    @torch.no_grad()
    def nll(self, x, y, state):
        self.module.eval()
        z, final = self.module(self._tensor(x), state)
        logp = F.log_softmax(z.double(), dim=-1)  # (T, B, V)
        nll = -logp.gather(-1, self._tensor(y).unsqueeze(-1)).squeeze(-1)
        return nll.cpu().numpy(), final

    @torch.no_grad()
    def logits(self, x, state):
        self.module.eval()
        z, final = self.module(self._tensor(x), state)
        return z.double().cpu().numpy(), final

    # -- carried state, for checkpoints (gathered across ranks) --------------------------------------
    def carry_to_numpy(self, state):
        parts = state if isinstance(state, tuple) else (state,)
        out = {}
        for key, s in zip("hc", parts):
            if self.world.size > 1:
                pieces = [torch.empty_like(s) for _ in range(self.world.size)]
                torch.distributed.all_gather(pieces, s.contiguous())
                s = torch.cat(pieces, dim=1)  # (L, B, ·) all streams
            out[key] = s.cpu().numpy()
        return out

    def carry_from_numpy(self, arrays):
        cols = self.world.columns(arrays["h"].shape[1])
        parts = tuple(self._tensor(arrays[k][:, cols]).to(self.module.head.weight.dtype)
                      for k in ("h", "c") if k in arrays)
        return parts if self.cfg.cell == "lstm" else parts[0]

    # -- processes and threads ------------------------------------------------------------------------
    def any_rank(self, flag: bool) -> bool:
        if self.world.size == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0])
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())

    def close(self, clean: bool = True) -> None:
        if self.world.size > 1:
            distributed.shutdown(clean)

    def limit_threads(self, n):
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        return lambda: torch.set_num_threads(before)
