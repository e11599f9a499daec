"""The ``deeprnn`` command (also ``python -m deeprnn``): a thin layer over the library.

Each subcommand lives in its own module, which provides
    HELP: str                                   one line for ``deeprnn --help``
    add_arguments(parser: ArgumentParser)       its flags
    run(args: Namespace) -> int                 the exit code
Errors a user can fix (bad flags, files, corpora, checkpoints) raise ``UserError`` (or ValueError,
TypeError, FileNotFoundError, ...); they are printed as one line, with no traceback, and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "train": "deeprnn.lm.commands.train",
    "eval": "deeprnn.lm.commands.evaluate",
    "generate": "deeprnn.lm.commands.generate",
    "export": "deeprnn.lm.commands.export",
    "check": "deeprnn.compat.check",
    "serve": "deeprnn.serve.command",
}


class UserError(Exception):
    """An error caused by the user's input, reported as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's default prints usage + message and exits 2; keep it one line
        raise UserError(message if self.prog == "deeprnn" else f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="deeprnn", description="Deep RNN, GRU and LSTM language models from first principles.")
    parser.add_argument("--version", action="version", version=f"deeprnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            if e.name and e.name.startswith("deeprnn"):
                continue  # that part of deeprnn is not built yet
            raise
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    try:
        args, extra = build_parser().parse_known_args(argv)
        if extra:  # name the subcommand, as its other errors do
            raise UserError(f"deeprnn {args.command}: unrecognized arguments: {' '.join(extra)}")
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("deeprnn: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # --help and --version exit 0 through argparse
        return int(e.code or 0)
    except (UserError, ValueError, TypeError, OSError, ImportError) as e:
        print(f"deeprnn: error: {_one_line(e)}", file=sys.stderr)
        return 2


def _one_line(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if isinstance(e, OSError) and e.filename and str(e.filename) not in text:
        text = f"{text}: {e.filename}"
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
