"""Named presets: documented starting points, each a partial config applied over the defaults.

    deeprnn train --preset timemachine-lstm          (flags and --config files still override)
"""

from __future__ import annotations

# The d2l book's (1.0) chapter 9-10 settings: TimeMachine(batch_size=1024, num_steps=32) windows
# (10,000 train / 5,000 validation, the last batch smaller), one-hot inputs, 32 hidden units, PyTorch's
# default init, plain torch.optim.SGD, gradient clipping at global norm 1, a fresh state per batch.
# RNN: lr 1, 100 epochs; LSTM and GRU: lr 4, 50 epochs; deep (2 layers): lr 2, 100 epochs. An epoch
# is 10 batches. Source: d2l==1.0.3 (d2l/torch.py) and the d2l-pytorch-colab notebooks.
_D2L = {
    "data": {"corpus": ["timemachine"], "preprocess": "d2l", "protocol": "d2l", "num_train": 10000, "num_val": 5000},
    "model": {"num_layers": 1, "hidden_size": 32, "embedding_dim": 0, "dropout": 0.0},
    "train": {"batching": "d2l", "batch_size": 1024, "num_steps": 32, "optimizer": "sgd", "schedule": "constant",
              "clip": "norm", "clip_value": 1.0, "eval_every": 50},
}


def _d2l(cell: str, lr: float, epochs: int, layers: int = 1) -> dict:
    return {
        "data": dict(_D2L["data"]),
        "model": {**_D2L["model"], "cell": cell, "num_layers": layers},
        "train": {**_D2L["train"], "lr": lr, "max_steps": 10 * epochs},
    }


# The scratch models of issue 13's notebook, after the d2l chapter "Deep Recurrent Neural Networks"
# (d2l 1.0, section 10.3): StackedRNNScratch of RNNScratch layers (tanh) in RNNLMScratch, one-hot
# inputs, TimeMachine(batch_size=1024, num_steps=32) windows, gradient_clip_val=1, 100 epochs of 10
# batches, and the book's scratch init: every weight randn * sigma with sigma = 0.01, the output layer
# W_hq too, every bias zeros (RNNScratch, GRUScratch, RNNLMScratch.init_params). The notebook deepens
# the book's cell (there: num_hiddens=32, num_layers=2, SGD lr 2) to 4 layers of 128 units and trains
# with Adam at lr 1e-3; its 4-layer GRU is the same with GRUScratch layers.
def _d2l_scratch(cell: str) -> dict:
    preset = _d2l(cell, lr=1e-3, epochs=100, layers=4)
    preset["model"].update(hidden_size=128, init="normal", init_std=0.01)
    preset["train"]["optimizer"] = "adam"
    return preset


PRESETS: dict[str, dict] = {
    # The README's first command: about two minutes on two cores (8.6 steps/s measured), no download.
    "builtin-lstm": {
        "data": {"corpus": ["builtin"], "preprocess": "raw"},
        "model": {"cell": "lstm", "num_layers": 2, "hidden_size": 256, "embedding_dim": 64, "dropout": 0.1},
        "train": {"batch_size": 32, "num_steps": 64, "optimizer": "adamw", "lr": 3e-3, "weight_decay": 0.01,
                  "schedule": "cosine", "warmup_steps": 50, "max_steps": 1000, "eval_every": 100},
    },
    # Quality target: the Time Machine, d2l preprocessing, validation = the last 10% of the book, within
    # 10 minutes on two cores (measured 2.5 steps/s with evaluation and checkpoints included: 1400 steps
    # in about 9.5 minutes; the time budget stops a slower machine at 10). The corpus is small (156K
    # training characters), so a wide LSTM with heavy regularisation wins: DropConnect on W_hh
    # (weight_drop, as in AWD-LSTM), dropout on the embedding, between the layers and before the head.
    "timemachine-lstm": {
        "data": {"corpus": ["timemachine"], "preprocess": "d2l", "splits": [0.9, 0.1, 0.0]},
        "model": {"cell": "lstm", "num_layers": 2, "hidden_size": 512, "embedding_dim": 64, "input_dropout": 0.15,
                  "dropout": 0.3, "output_dropout": 0.35, "weight_drop": 0.5},
        "train": {"batch_size": 32, "num_steps": 64, "optimizer": "adamw", "lr": 3e-3, "weight_decay": 0.01,
                  "schedule": "cosine", "warmup_steps": 100, "max_steps": 1400, "eval_every": 200,
                  "time_budget": 600.0},
    },
    # Tiny Shakespeare in 30 minutes on two cores (issue 14): the first 90% to train, the whole last 10%
    # to validate; the time budget fits max_steps to the machine's speed (lm/budget.py), so the cosine
    # schedule always ends. Measured 2026-12-02 (README, "Tiny Shakespeare in 30 minutes"): validation
    # loss 1.457 nats/char on the torch engine; 1.448 on the numpy engine with --residual --layer-norm.
    "tinyshakespeare-lstm": {
        "data": {"corpus": ["tinyshakespeare"], "preprocess": "raw", "splits": [0.9, 0.1, 0.0]},
        "model": {"cell": "lstm", "num_layers": 2, "hidden_size": 256, "embedding_dim": 64, "dropout": 0.2,
                  "output_dropout": 0.2},
        "train": {"batch_size": 32, "num_steps": 64, "optimizer": "adamw", "lr": 3e-3, "weight_decay": 0.01,
                  "schedule": "cosine", "warmup_steps": 100, "max_steps": 30000, "eval_every": 500,
                  "time_budget": 1800.0},
    },
    "d2l-rnn": _d2l("rnn", lr=1.0, epochs=100),
    "d2l-lstm": _d2l("lstm", lr=4.0, epochs=50),
    "d2l-gru": _d2l("gru", lr=4.0, epochs=50),
    "d2l-deep-gru": _d2l("gru", lr=2.0, epochs=100, layers=2),
    "d2l-deep-rnn": _d2l("rnn", lr=2.0, epochs=100, layers=2),
    "d2l-scratch-deep-rnn": _d2l_scratch("rnn"),  # stalls near 17.07 for 550 steps (README); --init torch does not
    "d2l-scratch-deep-gru": _d2l_scratch("gru"),
}
