"""``deeprnn check COURSE PATH``: compare a learner's implementation with deeprnn's.

Courses: ``mytorch`` and ``hw3p1`` (CMU 11-785, both editions), ``coursera`` (deeplearning.ai week 1),
``d2l`` (the d2l.ai scratch RNN, PyTorch) and ``needle`` (CMU 10-414 hw4). The learner's code runs in a
child process (supervise.py), its folder first on sys.path for sibling imports. Each function or class
is run next to deeprnn's on random inputs over a grid of shapes (batch 1, hidden 1, several layers and
lengths). The report gives, per function and per tensor, pass or fail with the max abs and max rel
differences; for a failure, the first failing element of the smallest failing case, and a hint when the
value matches a typical mistake. Exit code 0 only when everything matches, 1 otherwise (2 for a bad
command line or a file that does not exist). ``--format gradescope`` and ``--format junit`` write what
autograders read.

    from deeprnn.compat.check import check_module
    report = check_module("hw3p1", "handout/")
    print(report.format()); report.passed
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from ..errors import ConfigError
from . import formats
from .runner import Job
from .spec import COURSES
from .supervise import run_job

HELP = "check your own RNN code (CMU 11-785, deeplearning.ai, d2l, needle) against deeprnn"
FORMATS = ("text", "json", "gradescope", "junit")


def add_arguments(parser) -> None:
    parser.add_argument("course", choices=tuple(COURSES), help="whose API the code implements: " +
                        "; ".join(f"{k}: {c.title}" for k, c in COURSES.items()))
    parser.add_argument("path", help="your Python file (hw3p1: or the handout's folder)")
    parser.add_argument("--needle-path", metavar="DIR",
                        help="needle: the folder that holds your needle package (default: found above PATH)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--tol", type=float, metavar="RTOL",
                        help="relative tolerance (default 1e-6; 1e-4 for the float32 courses d2l and needle)")
    parser.add_argument("--atol", type=float, help="absolute tolerance (default 1e-8; d2l 1e-5, needle 5e-5)")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated functions to check, e.g. RNNCell.forward")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="time limit of each call of your code (default 10; 0: none)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (default), json, gradescope (writes results.json) or junit (XML)")
    parser.add_argument("--output", metavar="FILE",
                        help="where --format gradescope or junit writes (default results.json; junit: stdout)")
    parser.add_argument("--json", action="store_true", help="the same as --format json")


def run(args) -> int:
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    report = check_module(args.course, args.path, seed=args.seed, rtol=args.tol, atol=args.atol, only=only,
                          timeout=args.timeout, needle_path=args.needle_path)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print(json.dumps(_finite(report.to_dict()), indent=2))
    elif fmt == "gradescope":
        formats.write(args.output or "results.json", formats.gradescope(report))
        print(report.format())
    elif fmt == "junit":
        xml = formats.junit(report)
        if args.output:
            formats.write(args.output, xml)
            print(report.format())
        else:
            sys.stdout.write(xml)
    else:
        print(report.format())
    return 0 if report.passed else 1


def names(course: str) -> list[str]:
    """Every function ``course`` checks, in order."""
    return [c.name for g in course_spec(course).groups() for c in g.checks]


def course_spec(course: str):
    if course not in COURSES:
        raise ConfigError(f"expected course to be one of {', '.join(COURSES)}, got {course!r}")
    return COURSES[course]


def check_module(course: str, path, seed: int = 0, rtol: float | None = None, atol: float | None = None,
                 only=None, timeout: float = 10.0, needle_path=None):
    """Run every check of ``course`` on the learner's code at ``path``; returns a Report.

    ``rtol``/``atol``: None for the course's defaults; ``only``: names of the functions to check
    (default: all); ``timeout``: seconds per call of the learner's code (0: no limit); ``needle_path``:
    the folder holding the learner's needle package. Raises ConfigError (a DeeprnnError) for a bad
    argument, a missing file or unknown names; anything the learner's code does ends up in the Report.
    """
    spec = course_spec(course)
    rtol = spec.tolerance[0] if rtol is None else rtol
    atol = spec.tolerance[1] if atol is None else atol
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"expected --seed to be an integer >= 0, got {seed!r}")
    for flag, value in (("--tol", rtol), ("--atol", atol), ("--timeout", timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            raise ConfigError(f"expected {flag} to be a number >= 0, got {value}")
    if not Path(path).exists():
        raise ConfigError(f"expected PATH to be your Python file, got {path} (no such file or folder)")
    if Path(path).is_dir() and not spec.files:
        raise ConfigError(f"expected PATH to be a Python file for {course}, got a folder: {path}")
    if only is not None:
        known = names(course)
        unknown = [n for n in only if n not in known]
        if unknown:
            raise ConfigError(f"expected --only names among {', '.join(known)}, got {', '.join(unknown)}")
        only = tuple(only)
    package_root = _package_root(spec, path, needle_path)
    job = Job(course, str(Path(path).resolve()), int(seed), float(rtol), float(atol), only, float(timeout),
              package_root)
    report = run_job(job)
    report.path, report.dtype = str(path), spec.dtype  # as given
    return report


def _package_root(spec, path, given) -> str | None:
    """The folder holding the learner's package (needle): --needle-path, or the nearest one above PATH."""
    if spec.package is None:
        if given is not None:
            raise ConfigError(f"expected --needle-path only with the needle course, got it for {spec.title}")
        return None
    if given is not None:
        root = Path(given)
        if not (root / spec.package / "__init__.py").is_file():
            raise ConfigError(f"expected --needle-path to be the folder that holds your {spec.package} package "
                              f"({spec.package}/__init__.py), got {given}")
        return str(root.resolve())
    for folder in Path(path).resolve().parents:
        if (folder / spec.package / "__init__.py").is_file():
            return str(folder)
    raise ConfigError(f"expected --needle-path DIR (the folder that holds your {spec.package} package), "
                      f"got none, and found no {spec.package}/__init__.py above {path}")


def _finite(obj):
    """NaN and inf as strings, so that --json prints valid JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
