"""``deeprnn check mytorch|coursera PATH``: compare a learner's implementation with deeprnn's.

The learner's file is imported (its folder goes on sys.path for sibling imports), then each of its
functions or classes is run next to deeprnn's on random float64 inputs over a grid of shapes (batch 1,
hidden 1, several layers and lengths). The report gives, per function and per tensor, pass or fail
with the max abs and max rel differences; for a failure, the first failing element of the smallest
failing case, and a hint when the value matches a typical mistake. Exit code 0 only when everything
matches, 1 otherwise (2 for a bad command line or a file that does not exist).

    from deeprnn.compat.check import check_module
    report = check_module("mytorch", "hw3/rnn.py")
    print(report.format()); report.passed
"""

from __future__ import annotations

import importlib
import json
import math

import numpy as np

from ..errors import ConfigError
from .learner import Learner, LearnerError
from .report import FunctionResult, Report

HELP = "check your own RNN code (CMU 11-785 mytorch or deeplearning.ai) against deeprnn"
COURSES = {"mytorch": "deeprnn.compat.grid_mytorch", "coursera": "deeprnn.compat.grid_coursera"}
RTOL, ATOL = 1e-6, 1e-8


def add_arguments(parser) -> None:
    parser.add_argument("course", choices=tuple(COURSES), help="whose API the file implements")
    parser.add_argument("path", help="the learner's Python file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--tol", type=float, default=RTOL, metavar="RTOL", help=f"relative tolerance (default {RTOL:g})")
    parser.add_argument("--atol", type=float, default=ATOL, help=f"absolute tolerance (default {ATOL:g})")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated functions to check, e.g. RNNCell.forward")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="time limit of each call of the learner's code (default 10)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args) -> int:
    for flag, value in (("--tol", args.tol), ("--atol", args.atol), ("--timeout", args.timeout)):
        if not value >= 0:
            raise ConfigError(f"expected {flag} >= 0, got {value}")
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    report = check_module(args.course, args.path, seed=args.seed, rtol=args.tol, atol=args.atol, only=only,
                          timeout=args.timeout)
    print(json.dumps(_finite(report.to_dict()), indent=2) if args.json else report.format())
    return 0 if report.passed else 1


def checks(course: str) -> list:
    """The (name, case keys, function) checks of a course, and its grid."""
    if course not in COURSES:
        raise ConfigError(f"expected course to be one of {', '.join(COURSES)}, got {course!r}")
    module = importlib.import_module(COURSES[course])
    return module.CHECKS, module.GRID


def check_module(course: str, path, seed: int = 0, rtol: float = RTOL, atol: float = ATOL, only=None,
                 timeout: float = 10.0) -> Report:
    """Run every check of ``course`` ('mytorch' or 'coursera') on the learner's file ``path``.

    ``only``: names of the functions to check (default: all); ``timeout``: seconds per call of the
    learner's code (0: no limit). Raises FileNotFoundError for a missing file and ValueError for
    unknown names; anything the learner's code does ends up in the Report.
    """
    table, grid = checks(course)
    if only is not None:
        unknown = sorted(set(only) - {name for name, _, _ in table})
        if unknown:
            raise ConfigError(f"expected --only names among {', '.join(n for n, _, _ in table)}, got {', '.join(unknown)}")
        table = [c for c in table if c[0] in only]
    report = Report(course, str(path), seed, rtol, atol)
    with Learner(path, timeout) as learner:
        report.import_error = learner.import_error
        for name, keys, fn in table if learner.import_error is None else []:
            report.functions.append(_run(learner, name, keys, fn, grid, seed, rtol, atol))
    return report


def _run(learner, name, keys, fn, grid, seed, rtol, atol) -> FunctionResult:
    """One function over the distinct cases of the grid, smallest first; stops at the learner's first error."""
    res, cases = FunctionResult(name), {}
    for i, cfg in enumerate(grid):
        cases.setdefault(tuple(cfg[k] for k in keys), i)
    for values, i in sorted(cases.items(), key=lambda item: (math.prod(item[0]), sum(item[0]))):
        case = dict(zip(keys, values))
        rng = np.random.default_rng([seed, i])  # the same inputs for every function at a given grid row
        try:
            pairs = fn(learner, case, rng)
        except LearnerError as e:
            res.error, res.error_case = e, case
            break
        except Exception as e:  # noqa: BLE001 - a bug of the checker must not crash the command
            res.error = LearnerError("internal", f"internal error in deeprnn check ({type(e).__name__}: {e}); "
                                                 "please report it with your file")
            res.error_case = case
            break
        for exp, got in pairs:
            res.tensor(exp.name).add(exp, got, case, rtol, atol)
    return res


def _finite(obj):
    """NaN and inf as strings, so that --json prints valid JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
