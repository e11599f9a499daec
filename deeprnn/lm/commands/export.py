"""deeprnn export: a run's weights as a plain safetensors file with PyTorch's names.

    deeprnn export runs/demo lstm.safetensors            # nn.LSTM keys: weight_ih_l0, ...

    import torch, safetensors.torch as st               # then, in Python:
    m = torch.nn.LSTM(64, 256, 2); m.load_state_dict(st.load_file("lstm.safetensors"))
"""

from __future__ import annotations

from pathlib import Path

from ...errors import ConfigError

HELP = "export a run's weights (torch.nn.LSTM/GRU/RNN names) to a safetensors file"


def add_arguments(p):
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("out", metavar="OUT.safetensors")
    p.add_argument("--all", action="store_true", help="the whole model (embedding., rnn., head.) instead of the "
                   "recurrent part alone")
    p.add_argument("--last", action="store_true", help="the last checkpoint instead of the best weights")


def run(args) -> int:
    from ...layout import CELL_CLASSES, INPUT_GATED
    from ..checkpoint import load_model, write_safetensors
    from ..engines.base import rnn_params, stack_options
    from ..requirements import require
    from ..runs import read_config

    require("safetensors.numpy", "deeprnn export")
    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        raise ConfigError(f"{out}: expected a file name in an existing folder, got "
                          f"{'a folder' if out.is_dir() else f'no folder {out.parent}'}")

    cfg = read_config(args.run)
    tensors, meta = load_model(args.run, "last" if args.last else "best")
    if not args.all:
        tensors = rnn_params(tensors)
    options = stack_options(cfg.model)  # layer_norm, residual: deeprnn's scratch stack, not torch.nn's
    info = {"cell": cfg.model.cell, "num_layers": str(cfg.model.num_layers), "hidden_size": str(cfg.model.hidden_size),
            **{k: "true" for k in options}}
    write_safetensors(out, tensors, info)
    kind = CELL_CLASSES[cfg.model.cell]
    args_ = f"({', '.join(f'{k}=True' for k in options)})" if options else ""
    if kind in INPUT_GATED:
        module = f"deeprnn.torch_engine.minrnn.{kind}{args_}"
    else:
        module = f"deeprnn.torch_engine.stack.{kind}{args_}" if options else f"torch.nn.{kind}"
    print(f"wrote {args.out}: {len(tensors)} tensors ({'whole model' if args.all else f'{module} state_dict'}, "
          f"{meta.get('which', 'best')} weights)")
    return 0
