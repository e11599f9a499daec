"""The ``deeprnn`` command (also ``python -m deeprnn``): a thin layer over the library.

Each subcommand lives in its own module, which provides
    HELP: str                                   one line for ``deeprnn --help``
    add_arguments(parser: ArgumentParser)       its flags
    run(args: Namespace) -> int                 the exit code

This is the one error boundary (deeprnn/errors.py):
    DeeprnnError, OSError   something the user can fix: one line "deeprnn: error: ..." on stderr, exit 2
                            (a command line argparse rejects is a ConfigError too)
    KeyboardInterrupt       one line "deeprnn: interrupted", exit 130
    BrokenPipeError         the reader of stdout went away (``deeprnn generate ... | head``): nothing
                            printed, exit 141 (128 + SIGPIPE), what the shell reports for ``yes | head``
    anything else           a bug in deeprnn: the traceback and a line asking for a report, exit 1
    --debug                 (before or after the subcommand) the traceback of every error as well;
                            the exit codes stay
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shlex
import sys
import traceback

from .errors import ConfigError, DeeprnnError

COMMANDS = {
    "train": "deeprnn.lm.commands.train",
    "eval": "deeprnn.lm.commands.evaluate",
    "generate": "deeprnn.lm.commands.generate",
    "export": "deeprnn.lm.commands.export",
    "compare": "deeprnn.lm.commands.compare",
    "diagnose": "deeprnn.lm.commands.diagnose",
    "check": "deeprnn.compat.check",
    "serve": "deeprnn.serve.command",
}
DEBUG_HELP = "show the full traceback of any error"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's default prints usage + message and exits 2; keep it one line
        raise ConfigError(message if self.prog == "deeprnn" else f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="deeprnn", description="Deep RNN, GRU and LSTM language models from first principles.")
    parser.add_argument("--version", action="version", version=f"deeprnn {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)  # a command that fails to import is a bug: let it show
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv[:argv.index("--")] if "--" in argv else "--debug" in argv  # until parsed
    try:
        args, extra = build_parser().parse_known_args(argv)
        debug = args.debug
        if extra:  # name the subcommand, as its other errors do
            raise ConfigError(f"deeprnn {args.command}: unrecognized arguments: {' '.join(extra)}")
        return int(args._run(args) or 0)
    except SystemExit as e:  # --help and --version exit 0 through argparse
        return _exit_code(e)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("deeprnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _drop_stdout()
        return 141
    except (DeeprnnError, OSError) as e:
        if debug:
            traceback.print_exc()
        print(f"deeprnn: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the boundary: a bug shows its traceback and asks for a report
        traceback.print_exc()
        print(bug_report(e, argv), file=sys.stderr)
        return 1


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that Python's own flush at exit does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file descriptor (captured, replaced)
        pass


def _one_line(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if isinstance(e, OSError) and e.filename and str(e.filename) not in text:
        text = f"{text}: {e.filename}"
    return " ".join(text.split())


def bug_report(e: BaseException, argv: list[str]) -> str:
    """What an internal error means, where to report it and what to include (two lines)."""
    from . import __version__

    command = shlex.join(["deeprnn", *map(str, argv)])
    return (f"deeprnn: internal error (a bug in deeprnn, not a problem with your input): {type(e).__name__}: "
            f"{_one_line(e)}\n"
            f"Please report it on {_issue_tracker()}, with the traceback above, the command ({command}) and "
            f"the versions (deeprnn {__version__}, Python {platform.python_version()}, {platform.platform()}).")


def _issue_tracker() -> str:
    """The package's "Issues" project URL when its metadata names one, else the project's issue tracker."""
    from importlib import metadata

    try:
        urls = metadata.metadata("deeprnn").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:  # running from a source tree
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("issues", "bug tracker", "bugs") and url.strip():
            return url.strip()
    return "the deeprnn issue tracker"


def _exit_code(e: SystemExit) -> int:
    if e.code is None or isinstance(e.code, int):
        return int(e.code or 0)
    print(e.code, file=sys.stderr)  # sys.exit("message"), as Python itself does
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
